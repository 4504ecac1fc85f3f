"""The backfill's vocabulary: the tables it walks (one phase each), and the reasons a row's direct route failed.

Resolution, in this fixed order (the first step that gives a server wins):

1. **Direct route.** Sales and consignments: the typed ``server_name``, normalised by
   :func:`mappings.resolve.normalize_server_name` (Python stays the single definition: each batch's distinct
   names are normalised here and joined to ``server_name_mappings.normalized_name`` as an ``unnest`` list),
   looked up in that bar's mappings. The mapped user must still be an active account and an active
   ``server``/``manager`` member of the bar (as the resolver demands). Returns: the ``server_id`` of the sale
   they return (sales are backfilled first, so a return follows its sale).
2. **Fallback: the recording user** (``created_by``) when they are an active ``server`` member of that bar
   with an active account.
3. Otherwise ``server_id`` stays NULL.

The log row says why the direct route failed (``fallback_reason``, from :data:`FALLBACK_REASONS`, checked in
that order) and ``fallback_used = true``; ``resolved_server_id`` then tells whether the fallback found
someone. A row resolved directly has ``fallback_used = false`` and no reason. Vocabulary:

- ``no_server_name``: no name typed (NULL, or blank once normalised);
- ``unmapped_name``: the bar has no mapping for the normalised name;
- ``mapping_user_deleted``: the mapping points to an account that is gone or deactivated;
- ``inactive_member``: the mapped user is no longer an active server/manager member of the bar;
- ``no_sale``: a return with no sale;
- ``sale_unresolved``: a return whose sale has no ``server_id``;
- ``failed: <error>``: the row could not be written (its batch failed, and so did the row alone);
  ``server_id`` is left untouched.
"""

from dataclasses import dataclass

from backfill.models import BackfillRun

NO_SERVER_NAME = "no_server_name"
UNMAPPED_NAME = "unmapped_name"
MAPPING_USER_DELETED = "mapping_user_deleted"
INACTIVE_MEMBER = "inactive_member"
NO_SALE = "no_sale"
SALE_UNRESOLVED = "sale_unresolved"
FAILED_PREFIX = "failed: "
# The fixed order in which the direct route's failures are checked (sales/consignments, then returns).
FALLBACK_REASONS = (NO_SERVER_NAME, UNMAPPED_NAME, MAPPING_USER_DELETED, INACTIVE_MEMBER, NO_SALE, SALE_UNRESOLVED)
FALLBACK_REASON_LABELS = {
    NO_SERVER_NAME: "No server name typed",
    UNMAPPED_NAME: "Name not mapped in this bar",
    MAPPING_USER_DELETED: "Mapped account deleted or deactivated",
    INACTIVE_MEMBER: "Mapped user no longer an active member",
    NO_SALE: "Return without a sale",
    SALE_UNRESOLVED: "Return whose sale has no server",
}
# The recording user counts as the fallback only with this role.
FALLBACK_ROLE = "server"
DIRECT_ROLES = ("server", "manager")


@dataclass(frozen=True)
class Source:
    """One table the backfill walks: its phase, its log column, and whether it has a typed name."""

    phase: str
    table: str
    log_column: str
    has_server_name: bool


SOURCES = (
    Source(BackfillRun.Phase.SALES, "sales", "sale_id", True),
    Source(BackfillRun.Phase.CONSIGNMENTS, "consignments", "consignment_id", True),
    Source(BackfillRun.Phase.RETURNS, "returns", "return_id", False),
)
SOURCE_BY_PHASE = {s.phase: s for s in SOURCES}
NEXT_PHASE = {
    BackfillRun.Phase.SALES: BackfillRun.Phase.CONSIGNMENTS,
    BackfillRun.Phase.CONSIGNMENTS: BackfillRun.Phase.RETURNS,
    BackfillRun.Phase.RETURNS: BackfillRun.Phase.DONE,
}
