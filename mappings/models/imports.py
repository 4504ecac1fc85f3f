"""A CSV import between its preview and its application (the uploaded text is kept, never re-uploaded)."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from adminpanel.models import Bar


class MappingImport(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bar = models.ForeignKey(Bar, on_delete=models.CASCADE, db_constraint=False, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    filename = models.CharField(max_length=255, blank=True)
    content = models.TextField(help_text="The uploaded file, decoded from UTF-8.")
    summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "mapping_imports"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["bar", "created_by", "created_at"], name="mapping_imports_owner_idx")]

    def __str__(self):
        return f"import {self.filename or self.pk} into {self.bar_id}"
