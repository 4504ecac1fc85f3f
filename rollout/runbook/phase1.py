"""Runbook Phase 1 facts the panel measures itself: the feature flags verified off (1.3) and the rollback
rehearsal (1.1, "Test rollback scenario: revert feature flag and verify no data loss"). The backup and the load
test live in rollout/backups/dumps.py and rollout/runbook/load_test.py.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from adminpanel.models import AuthUser, Bar, BarMember, MemberRole
from adminpanel.panel_schema import product_has_server_id
from rollout import permissions
from rollout.flags.selectors import read_flags_for_bar
from rollout.killswitch import services as kill_switch_services
from rollout.models import DEFAULT_FLAGS, FeatureFlag, RolloutState, Stage
from rollout.stages import services as stage_services

FLAGS_SQL = """
SELECT f.key, f.enabled_globally, f.kill_switch_engaged,
       (SELECT count(*) FROM feature_flag_bars fb WHERE fb.featureflag_id = f.id)
FROM feature_flags f
ORDER BY f.key
"""
REHEARSAL_SALES = 60
REHEARSAL_REASON = "Rollback rehearsal (runbook 1.1): kill switch pulled while only the rehearsal bar has the flags"
RELEASE_REASON = "Rollback rehearsal (runbook 1.1): kill switch released, allow-lists back as they were"


class StepRefused(Exception):
    """The step may not run now; the message says why and what to do."""


@dataclass(frozen=True)
class Outcome:
    passed: bool
    summary: str
    result: dict


# --- 1.3 Feature flags verified off ------------------------------------------------------------------------
def verify_flags_off() -> Outcome:
    """Both runbook flags off for every bar and no bar allow-listed, read in one statement (one snapshot)."""
    with connection.cursor() as cursor:
        cursor.execute(FLAGS_SQL)
        rows = cursor.fetchall()
    flags = {
        key: {"enabled_globally": on, "kill_switch": killed, "allow_listed": listed} for key, on, killed, listed in rows
    }
    problems = [f"{key} does not exist" for key in DEFAULT_FLAGS if key not in flags]
    for key, flag in flags.items():
        if flag["enabled_globally"] and not flag["kill_switch"]:
            problems.append(f"{key} is on for every bar")
        if flag["allow_listed"]:
            problems.append(f"{key} is on for {flag['allow_listed']} allow-listed bar(s)")
    read_at = timezone.now()
    shown = timezone.localtime(read_at)
    if problems:
        summary = "Flags are not off: " + "; ".join(problems) + "."
    else:
        summary = f"Both flags off for every bar, no bar allow-listed (read {shown:%Y-%m-%d %H:%M:%S %Z})."
    return Outcome(not problems, summary, {"flags": flags, "read_at": read_at.isoformat(), "problems": problems})


# --- 1.1 Rollback rehearsal ----------------------------------------------------------------------------------
CHECKSUM_SQL = """
SELECT count(*),
       coalesce(md5(string_agg(id::text || ':' || bar_id::text || ':' || amount::text || ':' || created_at::text
                               || ':' || coalesce(server_name, ''), ',' ORDER BY id)), ''),
       coalesce(md5(string_agg(id::text || ':' || coalesce({server_id}::text, '-'), ',' ORDER BY id)), '')
FROM sales WHERE bar_id = %s
"""


def checksums(bar_id) -> dict:
    """The bar's sales (rows) and their server_ids, each as one md5 over the rows in id order (before Phase 2
    there is no server_id yet: every row counts as without one)."""
    server_id = "server_id" if product_has_server_id() else "NULL"
    with connection.cursor() as cursor:
        cursor.execute(CHECKSUM_SQL.format(server_id=server_id), [bar_id])
        count, sales, server_ids = cursor.fetchone()
    return {"sales": count, "sales_md5": sales, "server_ids_md5": server_ids}


def _flags_on(bar_id) -> dict[str, bool]:
    reading = read_flags_for_bar(str(bar_id))
    return dict(reading.flags) if reading else {}


def check_rehearsal_allowed(actor) -> None:
    state = RolloutState.objects.filter(pk=RolloutState.SINGLETON_ID).first()
    if state is not None and state.stage != Stage.OFF:
        raise StepRefused(
            f"Stage {state.get_stage_display()} is live: pulling the kill switch now is a real rollback, "
            "not a rehearsal."
        )
    flags = list(FeatureFlag.objects.all())
    if any(flag.kill_switch_engaged for flag in flags):
        raise StepRefused("The kill switch is already engaged: release it on the rollout page first.")
    if any(flag.enabled_globally for flag in flags):
        raise StepRefused("A flag is on for every bar: the rehearsal would switch it off for everyone.")
    if actor is None or not (permissions.can_trigger_rollback(actor) and permissions.can_operate_stages(actor)):
        raise StepRefused(
            "The rehearsal pulls and releases the real kill switch: it needs a product owner holding "
            "rollout.trigger_rollback and rollout.flip_flag on both flags."
        )


def _make_rehearsal_bar(tag: str) -> Bar:
    """A bar in simplified mode with a manager, two servers and sales carrying server_ids, on both allow-lists."""
    with transaction.atomic():
        bar = Bar.objects.create(name=f"Rollback rehearsal bar {tag}", settings={"operatingMode": "simplified"})
        people = []
        for n, role in enumerate((MemberRole.MANAGER, MemberRole.SERVER, MemberRole.SERVER)):
            user = AuthUser.objects.create(
                email=f"rehearsal-{tag}-{n}@rehearsal.invalid",
                raw_user_meta_data={"username": f"rehearsal-{tag}-{n}", "full_name": f"Rehearsal {role} {n}"},
            )
            BarMember.objects.create(bar=bar, user=user, role=role)
            people.append(user)
        with connection.cursor() as cursor:
            server_id = product_has_server_id()
            insert = (
                "INSERT INTO sales (bar_id, created_by, server_name, amount, created_at, server_id) "
                "VALUES (%s, %s, %s, %s, now(), %s)"
                if server_id
                else "INSERT INTO sales (bar_id, created_by, server_name, amount, created_at) "
                "VALUES (%s, %s, %s, %s, now())"
            )
            cursor.executemany(
                insert,
                [
                    (bar.pk, people[0].pk, people[1 + n % 2].display_name, 1000 + n * 100)
                    + ((people[1 + n % 2].pk,) if server_id else ())
                    for n in range(REHEARSAL_SALES)
                ],
            )
        for flag in FeatureFlag.objects.all():
            flag.allowed_bars.add(bar)
    return bar


def _remove_rehearsal_bar(bar: Bar) -> None:
    with transaction.atomic():
        users = list(BarMember.objects.filter(bar=bar).values_list("user_id", flat=True))
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM sales WHERE bar_id = %s", [bar.pk])
        for flag in FeatureFlag.objects.all():
            flag.allowed_bars.remove(bar)
        BarMember.objects.filter(bar=bar).delete()
        AuthUser.objects.filter(pk__in=users).delete()
        bar.delete()


def rehearse_rollback(
    *, actor, progress: Callable[[int, str], None], while_pulled: Callable[[Bar], None] | None = None
) -> Outcome:
    """Pull the real kill switch and release it, with a rehearsal bar that has both flags on and sales with
    server_ids; passes when the flag API turned the bar off and back on and the bar's sales and server_ids hash
    the same before, during and after. The rehearsal bar and its rows are removed in every case.

    `while_pulled(bar)` runs while the switch is pulled (tests use it to prove that a change is caught).
    """
    check_rehearsal_allowed(actor)
    state = RolloutState.objects.get(pk=RolloutState.SINGLETON_ID)
    was_paused = state.paused
    tag = uuid.uuid4().hex[:8]
    bar = _make_rehearsal_bar(tag)
    pulled = False
    try:
        progress(15, f"rehearsal bar {bar.name} ready with {REHEARSAL_SALES} sales")
        before, flags_before = checksums(bar.pk), _flags_on(bar.pk)
        pulled = kill_switch_services.pull_kill_switch(actor=actor, reason=REHEARSAL_REASON, rehearsal=True)
        progress(45, "kill switch pulled: both flags off for every bar")
        if while_pulled is not None:
            while_pulled(bar)
        during, flags_during = checksums(bar.pk), _flags_on(bar.pk)
        _release(actor, was_paused=was_paused)
        pulled = False
        progress(80, "kill switch released: the allow-lists are back")
        after, flags_after = checksums(bar.pk), _flags_on(bar.pk)
    finally:
        if pulled:
            _release(actor, was_paused=was_paused)
        _remove_rehearsal_bar(bar)
    problems = []
    if not all(flags_before.values()) or not flags_before:
        problems.append("the rehearsal bar did not have both flags on before the switch")
    if any(flags_during.values()):
        problems.append("a flag stayed on for the rehearsal bar while the switch was pulled")
    if flags_after != flags_before:
        problems.append("the flags did not come back on for the rehearsal bar after the release")
    if during != before:
        problems.append("the bar's sales or server_ids changed while the switch was pulled")
    if after != before:
        problems.append("the bar's sales or server_ids differ after the release")
    result = {
        "bar": bar.name,
        "checksums": {"before": before, "during": during, "after": after},
        "flags": {"before": flags_before, "during": flags_during, "after": flags_after},
        "problems": problems,
    }
    if problems:
        return Outcome(False, "Rehearsal failed: " + "; ".join(problems) + ".", result)
    return Outcome(
        True,
        f"Kill switch pulled and released; {before['sales']} sales and their server_ids unchanged "
        f"(md5 {before['server_ids_md5'][:12]}…), flags off while pulled and back after.",
        result,
    )


def _release(actor, *, was_paused: bool) -> None:
    """Undo the rehearsal's kill switch: each flag back to allow-list only, and the rollout unpaused if it was."""
    kill_switch_services.release_kill_switch(actor=actor, reason=RELEASE_REASON)
    if not was_paused:
        stage_services.resume_rollout(actor=actor, reason=RELEASE_REASON)
