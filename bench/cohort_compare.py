"""Bench: the cohort comparison (rollout/cohort_compare.py) and the rollout page that shows it, at scale.

    .venv/bin/python bench/cohort_compare.py [--bars 10000] [--sales 5000000] [--repeat 7]

Uses its own database `bartender_bench_cohort` (created and seeded with `seed_demo` on first use: the dev database
is never touched; set DATABASE_URL to use another). Puts the rollout at 4b, started 12 hours ago (so the window
holds 12 hours of both cohorts' sales and the 12 hours before), then prints the median and max of `repeat` runs
of: the comparison read afresh (what the autopilot and the beat do), the gates on stored figures, one autopilot
tick that only waits, and the rollout page as a product owner gets it (Django test client, full page and the
polled partial) on the stored figures, with its query count, and once with figures too old to use.
"""

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "bartender_bench_cohort"


def use_database(*, bars: int, sales: int) -> None:
    from benchdb import panel_environment, use_bench_database

    use_bench_database(BENCH_DB)
    panel_environment()
    import django

    django.setup()
    from django.core.management import call_command

    # Pages name their static files through the manifest, as in production: build it (a fresh clone has none).
    call_command("collectstatic", interactive=False, verbosity=0)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)

    call_command("standin", "--phase2", verbosity=0)  # the stand-in BarTender, after Phase 2
    from adminpanel.models import Bar
    from demo.seeding import seed_demo

    if Bar.objects.count() < bars:
        started = time.perf_counter()
        report = seed_demo(bars=bars, sales=sales)
        print(f"seeded {report.bars_created} bars and about {sales} sales in {time.perf_counter() - started:.0f} s")
        with django.db.connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def timed(fn, repeat: int) -> tuple[float, float, object]:
    runs, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs), max(runs), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=10_000)
    parser.add_argument("--sales", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    use_database(bars=args.bars, sales=args.sales)

    from django.conf import settings
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client
    from django.utils import timezone
    from guardian.shortcuts import assign_perm

    from adminpanel.models import Sale, User
    from monitoring.models import CheckStatus, HealthRun
    from rollout.models import CohortSnapshot, FeatureFlag, RolloutState, RolloutStep, ensure_default_flags
    from rollout.stages import autopilot, services
    from rollout.stages.cohort_compare import compare_cohorts
    from rollout.stages.gates import evaluate_gates

    settings.ALLOWED_HOSTS = ["*"]
    ensure_default_flags()
    user, _ = User.objects.get_or_create(username="bench-cohort", defaults={"is_superuser": True})
    user.groups.add(Group.objects.get_or_create(name="product")[0])
    for flag in FeatureFlag.objects.all():
        assign_perm("rollout.flip_flag", user, flag)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE rollout_bar_changes, rollout_steps, rollout_events, rollout_notifications, "
                       "feature_flag_bars CASCADE")  # fmt: skip
        cursor.execute(
            "UPDATE bars SET settings = settings - 'operatingMode' WHERE settings->>'operatingMode' = 'simplified'"
        )
    FeatureFlag.objects.update(kill_switch_engaged=False, enabled_globally=False)
    RolloutState.objects.update(stage="off", paused=False, soak_started_at=None, autopilot_enabled=False)
    HealthRun.objects.create(started_at=timezone.now(), finished_at=timezone.now(), status=CheckStatus.OK)

    def version():
        return RolloutState.objects.get().version

    services.advance_stage(actor=user, expected_version=version())
    services.advance_stage(actor=user, expected_version=version(), override_reason="bench")
    started = timezone.now() - timezone.timedelta(hours=12)
    RolloutStep.objects.update(created_at=started)
    RolloutState.objects.update(soak_started_at=started)
    HealthRun.objects.create(started_at=timezone.now(), finished_at=timezone.now(), status=CheckStatus.OK)

    window_sales = Sale.objects.filter(created_at__gt=started - timezone.timedelta(hours=12)).count()
    state = RolloutState.objects.get()
    median, worst, result = timed(lambda: compare_cohorts(now=timezone.now(), state=state), args.repeat)
    print(f"sales: {Sale.objects.count()} in all, {window_sales} in the 24 h the comparison reads")
    switched, control = result.switched, result.control
    print(f"switched: {switched.bars} bars, {switched.sales} sales; not yet switched: {control.bars} bars, "
          f"{control.sales} sales → {result.verdict_label}")  # fmt: skip
    print(f"compare_cohorts: median {median:.0f} ms, max {worst:.0f} ms over {args.repeat} runs")
    median, worst, _ = timed(
        lambda: evaluate_gates(state=state, now=timezone.now(), entering_next_stage=True), args.repeat
    )
    print(f"evaluate_gates (all four): median {median:.0f} ms, max {worst:.0f} ms")
    autopilot.enable_autopilot(actor=user, batch_size=None, reason="bench")
    median, worst, tick = timed(lambda: autopilot.tick(), args.repeat)
    print(f"autopilot tick ({tick.action}): median {median:.0f} ms, max {worst:.0f} ms")

    client = Client()
    client.force_login(user)
    compare_cohorts(now=timezone.now(), state=RolloutState.objects.get())  # what the beat stores every minute
    client.get("/rollout/")
    connection.force_debug_cursor = True
    connection.queries_log.clear()
    client.get("/rollout/")
    queries = len(connection.queries_log)
    connection.force_debug_cursor = False
    median, worst, _ = timed(lambda: client.get("/rollout/"), args.repeat)
    print(f"rollout page (stored figures): median {median:.0f} ms, max {worst:.0f} ms, {queries} queries")
    median, worst, _ = timed(lambda: client.get("/rollout/", headers={"HX-Request": "true"}), args.repeat)
    print(f"rollout page, polled partial (stored figures): median {median:.0f} ms, max {worst:.0f} ms")

    def stale_page():
        CohortSnapshot.objects.update(computed_at=timezone.now() - timezone.timedelta(hours=1))
        return client.get("/rollout/")

    median, worst, _ = timed(stale_page, 3)
    print(f"rollout page (figures too old, read afresh): median {median:.0f} ms, max {worst:.0f} ms")


if __name__ == "__main__":
    main()
