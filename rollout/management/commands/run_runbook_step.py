"""Run one runbook step the panel runs (Phase 1, Phase 3's check) here and now, with the cockpit's record of it.

    manage.py run_runbook_step backup
    manage.py run_runbook_step flags_off
    manage.py run_runbook_step load_test --rate 100 --seconds 60
    manage.py run_runbook_step rollback_rehearsal --as <product owner>
    manage.py run_runbook_step deploy_check --build <hash>

Exit status 0 when the step passed, 1 when it failed or was refused. The run shows on the cockpit like one asked
for there (asked "via command"); the rehearsal acts as the --as user, whose permissions it checks.
"""

from django.core.management.base import BaseCommand, CommandError

from adminpanel.models import User
from rollout.errors import RolloutError
from rollout.models import RunbookRun
from rollout.runbook import runs, steps
from rollout.runbook.phase1 import StepRefused


class Command(BaseCommand):
    help = "Run a runbook step (backup, flags_off, load_test, rollback_rehearsal, deploy_check) in this process."

    def add_arguments(self, parser):
        parser.add_argument("step", choices=list(steps.EXECUTED))
        parser.add_argument("--rate", type=int, help="load_test: sales per second (default LOAD_TEST_RATE)")
        parser.add_argument("--seconds", type=int, help="load_test: duration (default LOAD_TEST_SECONDS)")
        parser.add_argument("--build", default="", help="deploy_check: the build hash you deployed")
        parser.add_argument("--as", dest="username", default="", help="who runs it (rollback_rehearsal needs one)")

    def handle(self, *args, step, rate, seconds, build, username, **options):
        run = run_step(self, step=step, username=username,
                       parameters={"rate": rate, "seconds": seconds, "build_hash": build})  # fmt: skip
        if run.status != RunbookRun.Status.PASSED:
            raise CommandError(f"{run.get_step_display()} failed: {run.summary or run.error}")


def run_step(command: BaseCommand, *, step: str, username: str = "", parameters: dict | None = None) -> RunbookRun:
    """Ask for the run as a command (the operator's shell is the permission), then do it here, echoing progress."""
    actor = None
    if username:
        actor = User.objects.filter(username=username, is_active=True).first()
        if actor is None:
            raise CommandError(f"No active user {username!r}.")
    parameters = {key: value for key, value in (parameters or {}).items() if value not in (None, "")}
    try:
        run = runs.request_run(actor=actor, step=step, parameters=parameters, confirm=True, via="command")
    except (StepRefused, RolloutError) as exc:
        raise CommandError(str(exc)) from exc
    command.stdout.write(f"{run.get_step_display()}: run #{run.pk}")
    run = runs.execute_run(run_id=run.pk, echo=lambda pct, note: command.stdout.write(f"  {pct:3d} %  {note}"))
    style = command.style.SUCCESS if run.status == RunbookRun.Status.PASSED else command.style.ERROR
    command.stdout.write(style(f"{run.get_status_display()}: {run.summary or run.error}"))
    return run
