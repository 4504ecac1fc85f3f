"""What each runbook step the panel knows is: its title, what it does, who may ask for it, its shell equivalent."""

from dataclasses import dataclass

from rollout.models import RunbookStep


@dataclass(frozen=True)
class StepSpec:
    step: str
    number: str
    title: str
    what: str
    command: str
    waivable: bool = True
    confirm: str = ""  # a risky step names its blast radius; the person ticks it once


STEP_SPECS = {
    RunbookStep.BACKUP: StepSpec(
        RunbookStep.BACKUP,
        "1.2",
        "Database backup",
        "pg_dump --format=custom of the whole database into BACKUP_DIR, then read back with pg_restore --list.",
        "manage.py backup_database",
    ),
    RunbookStep.FLAGS_OFF: StepSpec(
        RunbookStep.FLAGS_OFF,
        "1.3",
        "Feature flags verified off",
        "Reads both flags and their allow-lists from the database now: both must be off, no bar allow-listed.",
        "manage.py run_runbook_step flags_off",
    ),
    RunbookStep.LOAD_TEST: StepSpec(
        RunbookStep.LOAD_TEST,
        "1.1",
        "Load test under Row Level Security",
        "Inserts sales at the set rate as a non-owner database role under RLS into a scratch bar it creates and "
        "removes, and reports p50/p95/p99 insert and select latency against the 50 ms target.",
        "manage.py run_runbook_step load_test --rate 100 --seconds 60",
        confirm="Yes: add this load to the production database now (the scratch bar and its sales are removed).",
    ),
    RunbookStep.ROLLBACK_REHEARSAL: StepSpec(
        RunbookStep.ROLLBACK_REHEARSAL,
        "1.1",
        "Rollback rehearsal",
        "Pulls the real kill switch and releases it while only a rehearsal bar has the flags, checking that bar's "
        "sales and server_ids by checksum before, during and after.",
        "manage.py run_runbook_step rollback_rehearsal --as <username>",
        confirm="Yes: pull the kill switch for every bar and release it (both flags are off for real bars now).",
    ),
    RunbookStep.TEST_SUITE: StepSpec(
        RunbookStep.TEST_SUITE,
        "1.1 / 3.1",
        "Test suite and build (CI run)",
        "The BarTender test suite, build, type-check and lint run in CI, not here: record the CI run's link and "
        "its result.",
        "",
    ),
    RunbookStep.DEPLOY_CHECK: StepSpec(
        RunbookStep.DEPLOY_CHECK,
        "3.2",
        "Code deployment verified",
        "Polls BARTENDER_HEALTH_URL until it answers 200 with the build hash you deployed, then starts the "
        "15-minute monitoring window.",
        "manage.py run_runbook_step deploy_check --build <hash>",
    ),
}
EXECUTED = (
    RunbookStep.BACKUP,
    RunbookStep.FLAGS_OFF,
    RunbookStep.LOAD_TEST,
    RunbookStep.ROLLBACK_REHEARSAL,
    RunbookStep.DEPLOY_CHECK,
)
