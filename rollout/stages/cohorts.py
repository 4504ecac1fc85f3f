"""Which bars each stage covers: internal bars (4a), a stable hash bucket of the bar id (4b), all bars (4c).

The bucket is the first 32 bits of md5(bar id) mod 100: stable across runs, processes and PostgreSQL versions,
computed in SQL so that a stage switches thousands of bars in one statement. Never `id < max(id)/2`.
"""

import hashlib
import uuid

from django.conf import settings

from rollout.models import Stage

BUCKETS = 100


def bar_bucket(bar_id: uuid.UUID | str) -> int:
    """The bar's cohort bucket 0-99, as Python computes it (the SQL below computes the same)."""
    return int(hashlib.md5(str(bar_id).encode(), usedforsecurity=False).hexdigest()[:8], 16) % BUCKETS


def bucket_sql(alias: str = "bars") -> str:
    return f"mod(('x' || substr(md5({alias}.id::text), 1, 8))::bit(32)::bigint, {BUCKETS})"


def cohort_sql(stage: str, alias: str = "bars") -> str:
    """A SQL condition on `alias` that holds for the bars of the stage's cohort (no parameters)."""
    stage = Stage(stage)
    if stage == Stage.OFF:
        return "false"
    if stage == Stage.INTERNAL:
        return f"{alias}.is_internal"
    if stage == Stage.HALF:
        return f"{bucket_sql(alias)} < {int(settings.ROLLOUT_HALF_PERCENT)}"
    return "true"


def in_cohort(stage: str, bar) -> bool:
    stage = Stage(stage)
    if stage == Stage.OFF:
        return False
    if stage == Stage.INTERNAL:
        return bar.is_internal
    if stage == Stage.HALF:
        return bar_bucket(bar.pk) < settings.ROLLOUT_HALF_PERCENT
    return True
