"""One demo login per role, for the bring-up command."""

from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from guardian.shortcuts import assign_perm

from adminpanel.models import AuthUser, Bar, BarMember, MemberRole, User
from adminpanel.permissions import FLIP_FLAG, MANAGE_BAR_MAPPINGS
from adminpanel.roles import PRODUCT, SUPPORT, ensure_role_groups
from monitoring.models import Contact, ContactTier
from monitoring.models.incidents import ensure_contact_tiers
from rollout.models import FeatureFlag, ensure_default_flags

# One reachable person per tier of the runbook's contact chain, so incidents tell someone from the first run
# (mail goes to the console unless EMAIL_HOST is set). Admins replace them in the Django admin.
DEMO_CONTACTS = {
    1: ("Dev on call (demo)", "dev-oncall@example.com", "+225 07 00 00 01"),
    2: ("DBA on call (demo)", "dba-oncall@example.com", "+225 07 00 00 02"),
    3: ("Product lead (demo)", "product-lead@example.com", "+225 07 00 00 03"),
}


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    can: str


def ensure_demo_logins(*, password: str, managed_bar_count: int = 3) -> list[DemoLogin]:
    """Create or refresh the demo accounts (password reset each time) and return what each may do."""
    ensure_role_groups()
    ensure_default_flags()
    ensure_contact_tiers()
    with transaction.atomic():
        for tier in ContactTier.objects.filter(position__in=DEMO_CONTACTS, contacts__isnull=True):
            name, email, phone = DEMO_CONTACTS[tier.position]
            Contact.objects.create(tier=tier, name=name, email=email, phone=phone)
        admin = _user("admin", "Ada Admin", password, is_superuser=True, is_staff=True)
        support = _user("support", "Sam Support", password)
        support.groups.add(Group.objects.get(name=SUPPORT))
        product = _user("product", "Pat Product", password)
        product.groups.add(Group.objects.get(name=PRODUCT))
        for flag in FeatureFlag.objects.all():
            assign_perm(FLIP_FLAG, product, flag)
        product.user_permissions.add(
            *Permission.objects.filter(
                content_type__app_label="rollout", codename__in=["trigger_rollback", "override_gate", "apply_migration"]
            )
        )
        manager = _user("manager", "Max Manager", password)
        # The manager's panel account is linked to their own BarTender user, a manager member of the bars.
        if manager.bartender_user_id is None:
            manager.bartender_user, _ = AuthUser.objects.get_or_create(
                email="max.manager@demo.bartender.test",
                defaults={"raw_user_meta_data": {"username": "manager", "full_name": "Max Manager"}},
            )
            manager.save(update_fields=["bartender_user"])
        bars = list(Bar.objects.order_by("-is_internal", "name")[:managed_bar_count])
        for bar in bars:
            BarMember.objects.update_or_create(
                bar=bar, user_id=manager.bartender_user_id, defaults={"role": MemberRole.MANAGER, "is_active": True}
            )
            assign_perm(MANAGE_BAR_MAPPINGS, manager, bar)
    bar_names = ", ".join(bar.name for bar in bars) or "no bars yet (run seed_demo first)"
    return [
        DemoLogin(admin.username, "superuser", "everything, including the Django admin"),
        DemoLogin(support.username, "support", "read every log, check and record"),
        DemoLogin(
            product.username, "product owner", "apply the runbook's migrations, flip flags, advance stages, kill switch"
        ),
        DemoLogin(manager.username, "bar manager", f"edit the server names of {bar_names}"),
    ]


def _user(username: str, display_name: str, password: str, **flags) -> User:
    user, _ = User.objects.get_or_create(username=username, defaults={"display_name": display_name, **flags})
    user.set_password(password)
    user.is_active = True
    user.save()
    return user


def ensure_demo_deployment(*, username: str = "product", load_test_seconds: int = 5) -> list[str]:
    """Bring the demo deployment to the point a newcomer should find it: Phase 1 done by the panel (a real backup
    read back, the flags verified off, a short load test, a rollback rehearsal; the CI run waived, since no CI runs
    here), Phase 2 done through the panel (the runbook's six migrations applied and verified one by one, the demo's
    managers mapping their servers' names after step 2, the backfill over every bar finished, the validation passed
    after it), Phase 3 waiting for the deployer's build hash. Idempotent: a step already passed (or waived, or
    applied) is not done again. Returns one line per step, in words."""
    from backfill.backfill import active_run, run_backfill
    from backfill.models import ValidationRun
    from backfill.phase2 import runner as phase2_runner
    from backfill.phase2.steps import STEPS
    from backfill.validation import run_validation
    from demo.seeding import seed_mappings
    from rollout.backups.restores import execute_restore, request_scratch_restore
    from rollout.models import DatabaseRestore, RunbookRun, RunbookStep
    from rollout.runbook import runs, steps
    from rollout.runbook.phase2_gate import apply_checked, dry_run_blocker
    from rollout.stages.gates import latest_full_backfill

    actor = User.objects.get(username=username)
    lines = []
    done = {RunbookRun.Status.PASSED, RunbookRun.Status.WAIVED}

    def latest(step):
        return RunbookRun.objects.filter(step=step).order_by("-created_at", "-id").first()

    if (run := latest(RunbookStep.TEST_SUITE)) is None or run.status not in done:
        run = runs.waive_step(
            actor=actor,
            step=RunbookStep.TEST_SUITE,
            reason="Demo bring-up: no BarTender CI runs here. Record the real CI run before a real deployment.",
        )
    lines.append(f"1.1 CI run: {run.get_status_display().lower()}")
    phase1 = [
        (RunbookStep.LOAD_TEST, {"rate": 100, "seconds": load_test_seconds}),
        (RunbookStep.ROLLBACK_REHEARSAL, {}),
        (RunbookStep.BACKUP, {}),
        (RunbookStep.FLAGS_OFF, {}),
    ]
    for step, parameters in phase1:
        run = latest(step)
        if run is None or run.status not in done:
            run = runs.request_run(actor=actor, step=step, parameters=parameters, confirm=True, via="demo")
            run = runs.execute_run(run_id=run.pk) or run
        lines.append(f"{steps.STEP_SPECS[step].number} {steps.STEP_SPECS[step].title}: {run.summary or run.status}")
    pending = [step for step in STEPS if step.version not in phase2_runner.applied_versions()]
    if any(dry_run_blocker(step.version) for step in pending):
        restore = request_scratch_restore(actor=actor, kind=DatabaseRestore.Kind.DRY_RUN,
                                          reason="Demo bring-up: Phase 2's dry run on a scratch copy")  # fmt: skip
        restore = execute_restore(restore_id=restore.pk) or restore
        timings = ", ".join(f"{row['step']}: {row['duration_ms']} ms" for row in restore.steps)
        lines.append(f"2.1 dry run #{restore.pk}, scratch copy: {restore.status} ({timings}) {restore.error}".rstrip())
        if restore.status != DatabaseRestore.Status.PASSED:
            return lines
    for step in STEPS:
        if step.version in phase2_runner.applied_versions():
            lines.append(f"2.1 step {step.number} {step.filename}: applied")
            continue
        run = apply_checked(version=step.version, actor=actor)
        verdict = "verified" if run.passed else f"VERIFICATION FAILED ({run.error or run.verification})"
        lines.append(f"2.1 step {step.number} {step.filename}: applied in {run.duration_ms} ms, {verdict}")
        if not run.passed:
            return lines
        if step.number == 2:
            lines.append(f"    the demo's managers mapped {seed_mappings()} server names")
    backfill = latest_full_backfill()
    if backfill is None or backfill.status != backfill.Status.FINISHED or active_run() is not None:
        backfill = run_backfill(started_by=actor)
    lines.append(f"2.1 backfill run #{backfill.pk}: {backfill.get_status_display().lower()}, {backfill.rows_done} rows")
    validation = ValidationRun.objects.order_by("-started_at", "-id").first()
    if (
        validation is None
        or not validation.passed
        or (backfill.finished_at and validation.started_at < backfill.finished_at)
    ):
        validation = run_validation(run_by=actor)
    lines.append(f"2.2 validation #{validation.pk}: {'passed' if validation.passed else 'FAILED'}")
    lines.append("3 code deployment: waiting for the deployer's build hash (the cockpit's next action)")
    return lines
