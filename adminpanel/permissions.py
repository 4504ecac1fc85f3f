"""Object-permission plumbing shared by the apps.

The design asks for the permission ``mappings.manage_bar_mappings`` on ``Bar`` objects. Bar lives in
the core app, so its own permissions would be labelled ``adminpanel.*``; the permission is therefore
declared on the proxy ``mappings.BarMappingScope`` and guardian is told to file Bar objects under that
proxy's content type. Every other model keeps its ordinary content type.
"""

from django.contrib.contenttypes.models import ContentType

MANAGE_BAR_MAPPINGS = "mappings.manage_bar_mappings"
FLIP_FLAG = "rollout.flip_flag"
TRIGGER_ROLLBACK = "rollout.trigger_rollback"
OVERRIDE_GATE = "rollout.override_gate"


def guardian_content_type(obj) -> ContentType:
    """GUARDIAN_GET_CONTENT_TYPE hook: Bar (instance or class) → the mappings proxy's content type."""
    from adminpanel.models import Bar
    from mappings.models import BarMappingScope

    model = obj if isinstance(obj, type) else type(obj)
    if issubclass(model, Bar):
        return ContentType.objects.get_for_model(BarMappingScope, for_concrete_model=False)
    return ContentType.objects.get_for_model(obj)
