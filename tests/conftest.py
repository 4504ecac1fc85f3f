import pytest

from tests.factories import BarFactory, UserFactory, issue_api_token, make_manager, make_product, make_support

# BarTender's own tables, emptied after a test that commits (Django's flush only knows the panel's tables).
PRODUCT_TABLES = (
    "auth.users", "public.bars", "public.bar_members", "public.sales", "public.consignments", "public.returns",
    "public.audit_logs", "public.server_name_mappings", "public.migration_server_id_log",
)  # fmt: skip


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database holds the Supabase-shaped stand-in of BarTender with the runbook's six migrations applied
    by the panel's Phase 2 machinery (and its reviewed support SQL), beside the panel's own schema."""
    from django.db import connection

    from adminpanel.standin import create_standin
    from backfill.phase2.runner import apply_all

    with django_db_blocker.unblock():
        create_standin(connection=connection)
        apply_all(connection=connection)


@pytest.fixture(autouse=True)
def product_tables_emptied_after_committing_tests(request, django_db_blocker):
    yield
    marker = request.node.get_closest_marker("django_db")
    committing = {"transactional_db", "live_server"} & set(request.fixturenames) or (
        marker is not None and marker.kwargs.get("transaction")
    )
    if committing:
        from django.db import connection

        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(PRODUCT_TABLES)} RESTART IDENTITY CASCADE")



@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2 costs ~0.5 s per user; tests need logins, not slow hashes."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_api_token_cache(settings):
    """Tokens remembered by adminpanel.api_auth must not outlive the test that issued them. Ordinary tests never
    commit, so no revocation would ever be notified: they remember no token (tests/test_api_auth.py turns the
    cache on with its listener)."""
    from adminpanel.api_auth import clear_token_cache

    settings.API_TOKEN_CACHE_SECONDS = 0
    clear_token_cache()
    yield
    clear_token_cache()


@pytest.fixture(autouse=True)
def fresh_cohort_figures(settings):
    """Tests seed sales and judge at once: read the cohort figures afresh every time, never the stored ones.
    tests/rollout/test_cohort_compare.py checks the stored figures with their own age."""
    settings.ROLLOUT_COHORT_MAX_AGE_SECONDS = 0


@pytest.fixture(autouse=True)
def change_listener_closed_after_each_test():
    """A LISTEN connection (adminpanel.pg_notify) left open would hold the test database when it is dropped."""
    yield
    from adminpanel.pg_notify import listener

    if listener._thread is not None:
        listener.stop()


@pytest.fixture(autouse=True)
def no_stale_flags_kept():
    """The flag API's last known answers (rollout/stale_flags.py) are per process: none leaks between tests."""
    from rollout.flags.stale_flags import stale_flags

    stale_flags.clear()
    yield
    stale_flags.clear()


@pytest.fixture(autouse=True)
def no_flag_cache(settings):
    """Ordinary tests never commit, so no change notification would ever reach the flag cache: read the database.
    tests/rollout/test_flag_cache.py turns it on in committing tests."""
    settings.ROLLOUT_FLAG_CACHE = False


@pytest.fixture
def bar(db):
    return BarFactory(name="Maquis Baobab")


@pytest.fixture
def other_bar(db):
    return BarFactory(name="Chez Fatou")


@pytest.fixture
def manager(bar):
    return make_manager(bar, username="manager_a")


@pytest.fixture
def support_user(db):
    return make_support(username="support_a")


@pytest.fixture
def product_user(db):
    return make_product(username="product_a")


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def plain_user(db):
    return UserFactory(username="nobody")


@pytest.fixture
def client_for(client):
    """Log the test client in as the given user and return it."""

    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def readers(support_user, product_user, superuser):
    return [support_user, product_user, superuser]


@pytest.fixture
def bar_manager_only(bar):
    return make_manager(bar, username="manager_only")


@pytest.fixture
def api_token(db):
    """The raw bearer token of a new API client."""
    return issue_api_token()


@pytest.fixture
def eager_celery(settings):
    """Celery tasks run in-process (CELERY_TASK_ALWAYS_EAGER), for tests that go through a task (the backfill's
    chain, the runbook steps). The app's conf is remembered before the override, so nothing eager leaks."""
    from config.celery import app as celery_app

    before = celery_app.conf.task_always_eager
    settings.CELERY_TASK_ALWAYS_EAGER = True
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


@pytest.fixture(autouse=True, scope="session")
def client_api_contract():
    """Every client-API answer a test gets through Django's test client is checked against the OpenAPI document
    (tests/openapi_contract.py): the contract cannot drift without the suite failing."""
    from django.test.client import Client

    from tests.openapi_contract import check_django_response

    original = Client.request

    def request(self, **request):
        response = original(self, **request)
        check_django_response(response)
        return response

    Client.request = request
    yield
    Client.request = original
