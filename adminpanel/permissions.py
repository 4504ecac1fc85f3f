"""The names of the object permissions the apps check (DESIGN.md section 3).

``mappings.manage_bar_mappings`` is granted on ``Bar`` objects but declared on the proxy
``mappings.BarMappingScope`` (see ``mappings.access.guardian_content_type``).
"""

MANAGE_BAR_MAPPINGS = "mappings.manage_bar_mappings"
FLIP_FLAG = "rollout.flip_flag"
TRIGGER_ROLLBACK = "rollout.trigger_rollback"
OVERRIDE_GATE = "rollout.override_gate"
APPLY_MIGRATION = "rollout.apply_migration"
