"""Changes made in the Django admin are audited like changes made in the panel."""

from html.parser import HTMLParser

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.db.models import Q
from django.test import RequestFactory
from django.urls import reverse
from guardian.shortcuts import get_perms_for_model

from adminpanel.models import AuditLog, BarMember, MemberRole, PanelEvent
from adminpanel.permissions import MANAGE_BAR_MAPPINGS
from mappings.models import MappingImport
from monitoring.models import ContactTier
from rollout.models import FeatureFlag
from tests.factories import BarFactory, ServerFactory, UserFactory

pytestmark = pytest.mark.django_db


def _bar_form(bar, **changes):
    data = {
        "name": bar.name,
        "settings": '{"operatingMode": "simplified"}',
        "is_internal": "",
        "created_at_0": bar.created_at.strftime("%Y-%m-%d"),
        "created_at_1": bar.created_at.strftime("%H:%M:%S"),
        "members-TOTAL_FORMS": "0",
        "members-INITIAL_FORMS": "0",
        "members-MIN_NUM_FORMS": "0",
        "members-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


def test_the_admin_never_changes_a_bar_or_its_members(client, superuser):
    """BarTender's rows are the product's (issue 20): a bar's admin page shows them and carries the object
    permissions; posting changes or a new member writes nothing to the product's tables."""
    bar = BarFactory(name="Maquis Soleil")
    server = ServerFactory()
    client.force_login(superuser)
    data = _bar_form(
        bar,
        name="Renamed",
        **{
            "members-TOTAL_FORMS": "1",
            "members-0-user": str(server.pk),
            "members-0-role": MemberRole.SERVER,
            "members-0-is_active": "on",
        },
    )
    client.post(f"/django-admin/adminpanel/bar/{bar.pk}/change/", data)
    bar.refresh_from_db()
    assert bar.name == "Maquis Soleil" and bar.settings == {}
    assert not BarMember.objects.filter(bar=bar).exists()
    assert client.get("/django-admin/adminpanel/bar/add/").status_code == 403


def test_granting_an_object_permission_in_the_admin_is_audited(client, superuser):
    bar = BarFactory()
    manager = UserFactory(username="granted")
    client.force_login(superuser)
    url = f"/django-admin/adminpanel/bar/{bar.pk}/permissions/user-manage/{manager.pk}/"
    response = client.post(url, {"permissions": ["manage_bar_mappings"]})
    assert response.status_code == 302
    assert manager.has_perm(MANAGE_BAR_MAPPINGS, bar)
    event = PanelEvent.objects.get(action="admin.permissions.adminpanel.bar")
    assert event.before == {"holder": "user:granted", "permissions": []}
    assert event.after == {"holder": "user:granted", "permissions": ["manage_bar_mappings"]}


def test_the_admin_never_deletes_a_bar(client, superuser):
    bar = BarFactory(name="Closing bar")
    client.force_login(superuser)
    response = client.post(f"/django-admin/adminpanel/bar/{bar.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    bar.refresh_from_db()
    assert not PanelEvent.objects.filter(action="admin.delete.adminpanel.bar").exists()


def test_passwords_never_reach_the_audit_trail(client, superuser):
    user = UserFactory(username="someone")
    client.force_login(superuser)
    client.post(
        f"/django-admin/adminpanel/user/{user.pk}/change/",
        {
            "username": "someone",
            "display_name": "Renamed",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "10:00:00",
            "is_active": "on",
        },
    )
    event = PanelEvent.objects.get(action="admin.change.adminpanel.user")
    assert event.after["display_name"] == "Renamed"
    assert "password" not in event.before and "password" not in event.after


# --- The whole registry: every ModelAdmin's add, change and delete leaves a panel_events row ------------------
class _FormFields(HTMLParser):
    """What a browser would submit for the admin's main form: every named input, select and textarea."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.data.setdefault(name, []).append(attrs.get("value", "on" if attrs.get("type") == "checkbox" else ""))
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in attrs:
            self.data[self._select].append(attrs.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = [""]

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea][0] += data


def _form_of(response) -> dict[str, list[str]]:
    parser = _FormFields()
    parser.feed(response.content.decode())
    parser.data.pop("csrfmiddlewaretoken", None)
    return {name: values for name, values in parser.data.items() if not name.startswith("_")}


def _walk_world():
    bar = BarFactory(name="Walk Bar")
    server = ServerFactory(username="walk_server")
    BarMember.objects.create(bar=bar, user=server, role=MemberRole.SERVER)
    return {"bar": bar, "server": server}


# What each model's add and change forms need on top of what the form already shows. A model registered in the
# admin without an entry here fails the walk: whoever registers one must show that it is audited.
ADD = {
    "auth.group": lambda w: {"name": ["Walkers"]},
    "rollout.alerttrigger": lambda w: {"name": ["walk-alertmanager"]},
    "adminpanel.user": lambda w: {
        "username": ["walker"],
        "password1": ["Walk-pass-12345"],
        "password2": ["Walk-pass-12345"],
        "usable_password": ["true"],
    },
    "adminpanel.apiclient": lambda w: {"name": ["walk-pos"], "bars": [str(w["bar"].pk)]},
    "mappings.servernamemapping": lambda w: {
        "bar": [str(w["bar"].pk)],
        "server_name": ["Walker"],
        "user": [str(w["server"].pk)],
    },
    "monitoring.contacttier": lambda w: {"name": ["Walk tier"], "position": ["9"], "responsibility": ["walks"]},
    "monitoring.contact": lambda w: {
        "tier": [str(ContactTier.objects.order_by("position").first().pk)],
        "name": ["Walker Contact"],
        "email": ["walker@example.com"],
        "position": ["5"],
        "is_active": ["on"],
    },
}
CHANGE = {
    "auth.group": {"name": ["Walkers renamed"]},
    "adminpanel.user": {"display_name": ["Renamed walker"]},
    "adminpanel.apiclient": {"name": ["walk-pos-2"]},
    "mappings.servernamemapping": {"server_name": ["Walker Two"]},
    "monitoring.contacttier": {"responsibility": ["walks further"]},
    "monitoring.contact": {"name": ["Walker Contact Two"]},
    "rollout.alerttrigger": {"name": ["walk-alertmanager-2"], "may_pull_kill_switch": ["on"]},
}
# Models whose admin permits no add (reference data, append-only trails, previews made on the bar's page, and
# BarTender's own rows, which the panel never writes through its admin).
NO_ADD = {
    "adminpanel.bar",
    "adminpanel.auditlog",
    "adminpanel.panelevent",
    "mappings.mappingimport",
    "rollout.featureflag",
    "axes.accessattempt",
    "axes.accesslog",
    "axes.accessfailurelog",
}
# An existing object of these, for the change and delete steps when the admin cannot add one.
EXISTING = {
    "adminpanel.panelevent": lambda w: PanelEvent.objects.create(actor_name="x", action="x", target_type="x"),
    "adminpanel.bar": lambda w: w["bar"],
    "adminpanel.auditlog": lambda w: AuditLog.objects.create(bar=w["bar"], level="error", error_message="walk"),
    "mappings.mappingimport": lambda w: MappingImport.objects.create(
        bar=w["bar"], created_by=UserFactory(username="walk_importer"), content="server_name,username\n"
    ),
    "rollout.featureflag": lambda w: FeatureFlag.objects.order_by("key").first(),
    "axes.accessattempt": lambda w: AccessAttempt.objects.create(
        username="walker", ip_address="127.0.0.1", user_agent="walk", path_info="/", failures_since_start=3
    ),
    "axes.accesslog": lambda w: AccessLog.objects.create(username="walker", ip_address="127.0.0.1", user_agent="walk"),
    "axes.accessfailurelog": lambda w: AccessFailureLog.objects.create(
        username="walker", ip_address="127.0.0.1", user_agent="walk", locked_out=False
    ),
}


# Objects the audit trail can name (PanelEvent.bar, PanelEvent.actor): deleting one it names is refused, so the
# delete step then deletes a fresh one.
FRESH = {"adminpanel.user": lambda: UserFactory()}


def _events() -> int:
    return PanelEvent.objects.count()


@pytest.mark.parametrize("model_admin", list(admin.site._registry.values()), ids=lambda a: a.model._meta.label_lower)
def test_every_registered_model_admin_audits_each_add_change_and_delete_it_permits(client, superuser, model_admin):
    label = model_admin.model._meta.label_lower
    info = model_admin.model._meta.app_label, model_admin.model._meta.model_name
    assert label in ADD or label in NO_ADD, f"{label} is registered in the admin: say how the walk adds one"
    world = _walk_world()
    client.force_login(superuser)
    request = RequestFactory().get("/")
    request.user = superuser

    if model_admin.has_add_permission(request):
        url = reverse("admin:{}_{}_add".format(*info))
        data = {**_form_of(client.get(url)), **ADD[label](world)}
        before = _events()
        response = client.post(url, data)
        assert response.status_code == 302, response.content.decode()[:3000]
        assert _events() > before, f"adding a {label} left no panel_events row"
        obj = model_admin.model._default_manager.order_by("-pk").first()
    else:
        assert label in NO_ADD
        assert client.get(reverse("admin:{}_{}_add".format(*info))).status_code == 403
        obj = EXISTING[label](world)

    if model_admin.has_change_permission(request, obj):
        url = reverse("admin:{}_{}_change".format(*info), args=[obj.pk])
        editable = CHANGE.get(label)
        if editable:
            data = {**_form_of(client.get(url)), **editable}
            before = _events()
            response = client.post(url, data)
            assert response.status_code == 302, response.content.decode()[:3000]
            assert _events() > before, f"changing a {label} left no panel_events row"
        else:
            # Nothing on the form can change (every field read-only): the object-permission screen is the change.
            grantee = UserFactory(username="walk_grantee")
            codename = next(p.codename for p in get_perms_for_model(obj))
            before = _events()
            url = reverse("admin:{}_{}_permissions_manage_user".format(*info), args=[obj.pk, grantee.pk])
            assert client.post(url, {"permissions": [codename]}).status_code == 302
            assert _events() > before, f"granting a permission on a {label} left no panel_events row"

    if model_admin.has_delete_permission(request, obj):
        if PanelEvent.objects.filter(Q(bar_id=obj.pk) | Q(actor_id=obj.pk)).exists() if label in FRESH else False:
            # The audit trail names this one (a bar its events concern, a user who acted): refused, with why.
            refused = client.post(reverse("admin:{}_{}_delete".format(*info), args=[obj.pk]), {"post": "yes"})
            assert refused.status_code == 200 and "append-only" in refused.content.decode()
            assert model_admin.model._default_manager.filter(pk=obj.pk).exists()
            obj = FRESH[label]()
        before = _events()
        response = client.post(reverse("admin:{}_{}_delete".format(*info), args=[obj.pk]), {"post": "yes"})
        assert response.status_code == 302, response.content.decode()[:3000]
        assert not model_admin.model._default_manager.filter(pk=obj.pk).exists()
        assert _events() > before, f"deleting a {label} left no panel_events row"
    else:
        refused = client.post(reverse("admin:{}_{}_delete".format(*info), args=[obj.pk]), {"post": "yes"})
        assert refused.status_code == 403
        assert model_admin.model._default_manager.filter(pk=obj.pk).exists()


def test_feature_flags_cannot_be_added_or_deleted_in_the_admin(client, superuser):
    client.force_login(superuser)
    flags = list(FeatureFlag.objects.values_list("key", flat=True))
    assert client.get("/django-admin/rollout/featureflag/add/").status_code == 403
    assert client.post("/django-admin/rollout/featureflag/add/", {"key": ""}).status_code == 403
    flag = FeatureFlag.objects.first()
    assert client.post(f"/django-admin/rollout/featureflag/{flag.pk}/delete/", {"post": "yes"}).status_code == 403
    changelist = client.post(
        "/django-admin/rollout/featureflag/",
        {"action": "delete_selected", "_selected_action": [flag.pk], "post": "yes"},
    )
    assert changelist.status_code in (200, 302)
    assert sorted(FeatureFlag.objects.values_list("key", flat=True)) == sorted(flags)
    assert client.get("/rollout/").status_code == 200


def test_changing_a_groups_permissions_or_a_users_groups_is_audited(client, superuser):
    from django.contrib.auth.models import Group, Permission

    group = Group.objects.get(name="support")
    permission = Permission.objects.get(codename="trigger_rollback")
    client.force_login(superuser)
    url = f"/django-admin/auth/group/{group.pk}/change/"
    data = {**_form_of(client.get(url)), "permissions": [str(permission.pk)]}
    assert client.post(url, data).status_code == 302
    event = PanelEvent.objects.get(action="admin.change.auth.group")
    assert event.before["permissions"] == [] and event.after["permissions"] == [str(permission)]


def test_changing_a_password_in_the_admin_is_audited_without_the_password(client, superuser):
    user = UserFactory(username="forgetful")
    client.force_login(superuser)
    response = client.post(
        f"/django-admin/adminpanel/user/{user.pk}/password/",
        {"password1": "New-pass-98765", "password2": "New-pass-98765", "usable_password": "true"},
    )
    assert response.status_code == 302
    event = PanelEvent.objects.get(action="admin.change.adminpanel.user", target_id=str(user.pk))
    assert event.after == {"password": "(changed)"}
    assert "New-pass" not in str(event.before) + str(event.after)


def test_a_bar_or_user_the_audit_trail_names_is_not_deleted_and_the_admin_says_why(client, superuser):
    from adminpanel.audit import record_event

    bar, actor = BarFactory(name="Named Bar"), UserFactory(username="acted")
    record_event(actor=actor, action="mapping.create", target=bar, bar=bar)
    client.force_login(superuser)
    page = client.post(f"/django-admin/adminpanel/user/{actor.pk}/delete/", {"post": "yes"})
    assert page.status_code == 200
    assert "append-only: deactivate it instead of deleting it" in page.content.decode()
    bulk = client.post(
        "/django-admin/adminpanel/user/", {"action": "delete_selected", "_selected_action": [actor.pk], "post": "yes"}
    )
    assert bulk.status_code == 200 and "append-only" in bulk.content.decode()
    bar.refresh_from_db()
    actor.refresh_from_db()
    assert not PanelEvent.objects.filter(action__startswith="admin.delete").exists()


def test_deleting_a_stale_import_records_its_size_not_the_uploaded_file(client, superuser):
    bar = BarFactory()
    content = "server_name,username\n" + "Aïcha,aicha\n" * 500
    pending = MappingImport.objects.create(bar=bar, created_by=superuser, filename="big.csv", content=content)
    client.force_login(superuser)
    response = client.post(f"/django-admin/mappings/mappingimport/{pending.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    event = PanelEvent.objects.get(action="admin.delete.mappings.mappingimport")
    assert event.before["content"] == f"({len(content):,} characters)" and event.before["filename"] == "big.csv"
