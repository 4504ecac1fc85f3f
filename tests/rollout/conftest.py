import pytest
from django.utils import timezone

from adminpanel.permissions import FLIP_FLAG, OVERRIDE_GATE, TRIGGER_ROLLBACK
from monitoring.models import CheckStatus, HealthRun
from rollout.models import ENABLE_SWITCHING_MODE, SHOW_SWITCHING_MODE_UI, FeatureFlag
from tests.factories import grant_owner, make_product, meet_runbook_prerequisites


@pytest.fixture(autouse=True)
def runbook_prerequisites_met(request, db):
    """The rollout tests start where the runbook has Phases 1, 2 and 3 behind it; tests of those prerequisites
    (test_prerequisites.py) remove what they test, and modules that run Phase 1's steps themselves
    (`pytest.mark.runs_phase1`) start with none of its runs."""
    meet_runbook_prerequisites(phase1=request.node.get_closest_marker("runs_phase1") is None)


@pytest.fixture(autouse=True)
def backup_dir(settings, tmp_path):
    """Backups of the test database go to the test's own directory."""
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.BACKUP_DIR


@pytest.fixture
def enable_flag(db):
    return FeatureFlag.objects.get(key=ENABLE_SWITCHING_MODE)


@pytest.fixture
def ui_flag(db):
    return FeatureFlag.objects.get(key=SHOW_SWITCHING_MODE_UI)


@pytest.fixture
def owner(db):
    """A product owner who may flip both flags, advance, override gates and pull the kill switch."""
    return grant_owner(make_product(username="owner"), FLIP_FLAG, OVERRIDE_GATE, TRIGGER_ROLLBACK)


@pytest.fixture
def fresh_run(db):
    now = timezone.now()
    return HealthRun.objects.create(started_at=now, finished_at=now, status=CheckStatus.OK)
