import pytest
from django.core.management import call_command

from monitoring.models import HealthRun

pytestmark = pytest.mark.django_db


def exit_code(**kwargs):
    with pytest.raises(SystemExit) as exc:
        call_command("healthcheck", **kwargs)
    return exc.value.code


def test_exit_code_is_0_when_all_is_ok(db, capsys):
    assert exit_code() == 0
    assert HealthRun.objects.get().trigger == "command"
    assert "server_id_coverage" in capsys.readouterr().out


def test_exit_code_is_1_on_a_warning_and_2_on_a_critical(make_sales, quick_notifications):
    make_sales(100, 97)
    assert exit_code(quiet=True) == 1
    make_sales(100, 80)
    assert exit_code(quiet=True) == 2


def test_exit_code_is_4_when_another_run_holds_the_lock(monkeypatch):
    monkeypatch.setattr("monitoring.services._try_lock", lambda: False)
    assert exit_code() == 4
    assert not HealthRun.objects.exists()
