"""Direct-FK guardian permission tables for bars (the generic table is slow at 100k+ objects)."""

from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from adminpanel.models.bartender import Bar


class BarUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Bar, on_delete=models.CASCADE, db_constraint=False)


class BarGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Bar, on_delete=models.CASCADE, db_constraint=False)
