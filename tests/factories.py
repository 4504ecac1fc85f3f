"""factory-boy factories for the BarTender schema and panel users."""

import re
from datetime import timedelta

import factory
from django.contrib.auth.models import Group
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from adminpanel.models import (
    ApiClient,
    AuditLog,
    AuthUser,
    Bar,
    BarMember,
    Consignment,
    MemberRole,
    MigrationServerIdLog,
    Return,
    Sale,
    User,
)
from adminpanel.permissions import FLIP_FLAG, MANAGE_BAR_MAPPINGS
from adminpanel.roles import PRODUCT, SUPPORT
from backfill.models import BackfillRun, ValidationRun
from mappings.models import ServerNameMapping
from monitoring.models import PhaseWindow
from rollout.models import (
    DatabaseBackup,
    EventKind,
    FeatureFlag,
    RolloutBarChange,
    RolloutEvent,
    RolloutState,
    RolloutStep,
    RunbookRun,
    RunbookStep,
)

PASSWORD = "test-pass-123"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Faker("first_name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):
        if create:
            self.save()


class ServerFactory(factory.django.DjangoModelFactory):
    """A BarTender user (``auth.users``): a server, a bar member, a sale's server or creator, a mapping's target, as
    opposed to a panel login (UserFactory, make_manager, make_support, make_product). ``username`` and
    ``display_name`` go where Supabase keeps them (``raw_user_meta_data``)."""

    class Meta:
        model = AuthUser
        django_get_or_create = ("email",)

    class Params:
        username = factory.Sequence(lambda n: f"server{n}")
        display_name = factory.Faker("first_name")
        is_active = True

    email = factory.LazyAttribute(lambda o: f"{o.username}@bartender.test")
    # Supabase has no "inactive" flag: a disabled account is a banned one.
    banned_until = factory.LazyAttribute(lambda o: None if o.is_active else timezone.now() + timedelta(days=36500))
    raw_user_meta_data = factory.LazyAttribute(lambda o: {"username": o.username, "full_name": o.display_name})


def bartender_user_of(user) -> AuthUser:
    """The BarTender user behind a panel account (created and linked on first use), or the BarTender user itself."""
    if isinstance(user, AuthUser):
        return user
    if user.bartender_user_id is None:
        user.bartender_user = ServerFactory(username=user.username, display_name=user.display_name)
        user.save(update_fields=["bartender_user"])
    return user.bartender_user


class BarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bar

    name = factory.Sequence(lambda n: f"Bar {n}")
    settings = factory.LazyFunction(dict)


class BarMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BarMember

    bar = factory.SubFactory(BarFactory)
    user = factory.SubFactory(ServerFactory)
    role = MemberRole.SERVER


class SaleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sale

    bar = factory.SubFactory(BarFactory)
    amount = 1500
    created_at = factory.LazyFunction(timezone.now)


class ConsignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Consignment

    bar = factory.SubFactory(BarFactory)
    amount = 2000


class ReturnFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Return

    bar = factory.SubFactory(BarFactory)
    amount = 500


class AuditLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditLog

    level = AuditLog.Level.ERROR
    error_type = "server_id_resolution"
    error_message = "Unknown server name"


class ServerNameMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServerNameMapping

    bar = factory.SubFactory(BarFactory)
    server_name = factory.Sequence(lambda n: f"Server {n}")
    user = factory.SubFactory(ServerFactory)


def make_manager(bar: Bar, **kwargs) -> User:
    """A bar manager: a panel account holding `mappings.manage_bar_mappings` on the bar, linked to a BarTender user
    who is an active `manager` member of it."""
    user = UserFactory(**kwargs)
    BarMember.objects.create(bar=bar, user=bartender_user_of(user), role=MemberRole.MANAGER)
    assign_perm(MANAGE_BAR_MAPPINGS, user, bar)
    return user


def make_support(**kwargs) -> User:
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=SUPPORT))
    return user


def make_product(**kwargs) -> User:
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=PRODUCT))
    return user


# --- Helpers shared by several test modules ------------------------------------------------------------


def issue_api_token(name: str = "pos-test") -> str:
    """A new API client's raw bearer token (only its hash is stored), allowed on every bar."""
    client = ApiClient(name=name, all_bars=True)
    raw = client.issue_token()
    client.save()
    return raw


def grant_owner(user, *perms):
    """Give the user `perms` (default flip_flag) on both flags."""
    for flag in FeatureFlag.objects.all():
        for perm in perms or (FLIP_FLAG,):
            assign_perm(perm, user, flag)
    return user


def state() -> RolloutState:
    return RolloutState.objects.get(pk=RolloutState.SINGLETON_ID)


def backdate_soak(hours: float = 25, *, traffic: int | None = 250) -> None:
    """As if the current stage had run for `hours`: its soak started and its steps ran that long ago, and (unless
    `traffic` is None) both cohorts sold `traffic` sales in the window and as many just before it, every one with
    a server_id and no error: a healthy stage whose cohort comparison says "no evidence of harm"."""
    RolloutState.objects.filter(pk=1).update(soak_started_at=timezone.now() - timedelta(hours=hours))
    RolloutStep.objects.filter(rolled_back_at__isnull=True).update(created_at=timezone.now() - timedelta(hours=hours))
    if traffic:
        seed_traffic(switched=traffic, control=traffic, hours=hours)


def switched_bars() -> list:
    """Bars the rollout switched and has not rolled back (the cohort comparison's switched side)."""
    ids = RolloutBarChange.objects.filter(rolled_back_at__isnull=True).values_list("bar_id", flat=True)
    return list(Bar.objects.filter(pk__in=ids, settings__operatingMode="simplified"))


def control_bars() -> list:
    """Bars without an operating mode (the comparison's "not yet switched" side)."""
    return list(Bar.objects.filter(settings__operatingMode__isnull=True))


def seed_traffic(
    *, switched: int, control: int, hours: float = 25, switched_coverage: float = 1.0, switched_errors: int = 0,
    switched_before: int | None = None, control_before: int | None = None, now=None,
) -> None:  # fmt: skip
    """Sales of both cohorts: `switched` / `control` in the comparison window (at `hours`/2 ago), as many (or the
    given `*_before`) in the same length of time just before it, with `switched_coverage` of the switched side's
    window sales carrying a server_id and `switched_errors` error logs on switched bars."""
    now = now or timezone.now()
    server = ServerFactory(username="traffic_server")
    window = min(hours, 24)
    after_at, before_at = now - timedelta(hours=window / 2), now - timedelta(hours=window * 1.5)
    sales = []
    for bars, count, before, coverage in (
        (switched_bars(), switched, switched if switched_before is None else switched_before, switched_coverage),
        (control_bars(), control, control if control_before is None else control_before, 1.0),
    ):
        if not bars:
            continue
        with_server = round(count * coverage)
        for i in range(count):
            sales.append(Sale(bar=bars[i % len(bars)], server=server if i < with_server else None, amount=100,
                              created_at=after_at))  # fmt: skip
        for i in range(before):
            sales.append(Sale(bar=bars[i % len(bars)], server=server, amount=100, created_at=before_at))
    Sale.objects.bulk_create(sales, batch_size=2000)
    bars = switched_bars()
    AuditLog.objects.bulk_create(
        AuditLog(bar=bars[i % len(bars)], level="error", error_type="crash", error_message="boom", created_at=after_at)
        for i in range(switched_errors if bars else 0)
    )


def advance(user, **kwargs):
    """Advance with the version the user would have seen on the page."""
    from rollout.stages import services

    return services.advance_stage(actor=user, expected_version=state().version, **kwargs)


def mode(bar):
    bar.refresh_from_db()
    return bar.operating_mode


def set_coverage(bar, pct):
    """Make exactly `pct` of the bar's 100 sales carry a server_id."""
    ids = list(Sale.objects.filter(bar=bar).order_by("id").values_list("id", flat=True))
    server = Sale.objects.exclude(server=None).values_list("server", flat=True).first()
    Sale.objects.filter(id__in=ids[:pct]).update(server=server)
    Sale.objects.filter(id__in=ids[pct:]).update(server=None)


def flags_on(bar):
    """The bar's flags on, as the rollout switches a bar: simplified mode, and allow-listed on both flags."""
    bar.settings = {**(bar.settings or {}), "operatingMode": "simplified"}
    bar.save(update_fields=["settings"])
    for flag in FeatureFlag.objects.all():
        flag.allowed_bars.add(bar)
    return bar


def backfilled_history(*, at=None) -> BackfillRun:
    """A finished backfill over every bar that began at `at` (now): the sales made before its minute are the
    backfilled history the coverage checks count whatever the flags."""
    at = at or timezone.now()
    return BackfillRun.objects.create(
        status=BackfillRun.Status.FINISHED, phase=BackfillRun.Phase.DONE, configured_batch_size=5000, batch_size=5000,
        started_at=at, updated_at=at, finished_at=at,
    )  # fmt: skip


def audit_logs(count, *, minutes_ago=1, **fields):
    at = timezone.now() - timedelta(minutes=minutes_ago)
    AuditLog.objects.bulk_create(AuditLog(created_at=at, **fields) for _ in range(count))


def member(bar, user, role=MemberRole.SERVER, is_active=True):
    BarMember.objects.create(bar=bar, user=bartender_user_of(user), role=role, is_active=is_active)
    return user


def snapshot():
    """The backfill's whole visible outcome: every server_id and every log row (without ids and times)."""
    with connection.cursor() as cursor:
        state = {}
        for table in ("sales", "consignments", "returns"):
            cursor.execute(f"SELECT id, server_id FROM {table} ORDER BY id")
            state[table] = cursor.fetchall()
    logs = sorted(
        MigrationServerIdLog.objects.values_list(
            "sale_id",
            "consignment_id",
            "return_id",
            "bar_id",
            "server_name",
            "resolved_server_id",
            "fallback_used",
            "fallback_reason",
        ),
        key=repr,
    )
    return state, logs


def meet_phase1(*, at=None) -> None:
    """Phase 1 done, as the runbook steps store it: the backup (read back), the flags read off, the load test and
    the rehearsal passed."""
    at = at or timezone.now() - timedelta(hours=3)
    for step in (RunbookStep.BACKUP, RunbookStep.FLAGS_OFF, RunbookStep.LOAD_TEST, RunbookStep.ROLLBACK_REHEARSAL):
        run = RunbookRun.objects.create(step=step, status=RunbookRun.Status.PASSED, created_at=at, started_at=at,
                                        finished_at=at, requested_by_name="deployer")  # fmt: skip
        if step == RunbookStep.BACKUP:
            DatabaseBackup.objects.create(run=run, path="/backups/phase1.dump", verified=True, created_at=at)


def meet_runbook_prerequisites(*, at=None, phase1: bool = True) -> None:
    """What stage 4a needs from Phases 1, 2 and 3: Phase 1 done, a finished backfill over every bar, a passing
    validation after it, and a passed Phase 3 window (rows as those features store them)."""
    at = at or timezone.now() - timedelta(hours=2)
    if phase1:
        meet_phase1(at=at - timedelta(hours=1))
    BackfillRun.objects.create(
        status=BackfillRun.Status.FINISHED, phase=BackfillRun.Phase.DONE, configured_batch_size=5000, batch_size=5000,
        started_at=at, updated_at=at, finished_at=at,
    )  # fmt: skip
    ValidationRun.objects.create(started_at=at + timedelta(minutes=5), passed=True, run_by_name="validator")
    PhaseWindow.objects.create(
        kind=PhaseWindow.Kind.PHASE3, started_at=at + timedelta(minutes=10), ends_at=at + timedelta(minutes=25),
        verdict=PhaseWindow.Verdict.PASSED, verdict_at=at + timedelta(minutes=26), summary={"runs": 3, "worst": {}},
    )  # fmt: skip


def meet_4a_checklist(*, attested_by: str = "tester") -> Bar:
    """Stage 4a's Internal Testing Checklist met, as BarTender and the panel store it, in an internal bar of its own
    already in simplified mode (so the cohort figures of the bars the rollout switched stay as the test set them):
    two mapped servers with sales carrying their server_id, a refused name in the audit logs, a consignment and a
    return with server_id, and the analytics item attested (a timeline event). Needs stage 4a live."""
    bar = BarFactory(is_internal=True, name="Checklist test bar", settings={"operatingMode": "simplified"})
    start = RolloutStep.objects.filter(stage="4a", rolled_back_at__isnull=True).order_by("created_at").first()
    at = max(start.created_at, timezone.now() - timedelta(minutes=30))
    for n, count in enumerate((3, 2)):
        server = ServerFactory(username=f"checklist_server{n}_{str(bar.pk)[:6]}", display_name=f"Tester {n}")
        BarMember.objects.get_or_create(bar=bar, user=server, defaults={"role": MemberRole.SERVER})
        mapping = ServerNameMappingFactory(bar=bar, server_name=f"Tester {n} {str(bar.pk)[:6]}", user=server)
        for _ in range(count):
            SaleFactory(bar=bar, server=server, server_name=mapping.server_name, created_at=at)
    ConsignmentFactory(bar=bar, server=server, server_name=mapping.server_name, created_at=at)
    ReturnFactory(bar=bar, server=server, created_at=at)
    AuditLogFactory(bar=bar, created_at=at, payload={"name": "Nobody", "code": "unknown_server_name"})
    RolloutEvent.objects.create(
        kind=EventKind.CHECKLIST_ATTEST, actor_name=attested_by, reason="Per-server totals match the app's analytics.",
        after={"item": "server_analytics", "url": "https://tickets.example.com/4a-analytics"}, created_at=at,
    )  # fmt: skip
    return bar


def confirmed_post(client, url: str, data: dict, **kwargs):
    """POST a risky rollout action through its one confirmation: the first POST answers the confirmation page (the
    blast radius, nothing changed), the second carries the signed token that page gave."""
    first = client.post(url, data)
    assert first.status_code == 200, f"expected the confirmation page, got {first.status_code}"
    match = re.search(r'name="confirm_token" value="([^"]+)"', first.content.decode())
    assert match, "the confirmation page carries no token"
    return client.post(url, {**data, "confirm_token": match.group(1)}, **kwargs)


def token_from(client, url: str = "") -> str:
    """The confirmation token of the page at `url` (the home page's cockpit by default), as a browser would post it:
    bound to the client's user, the action and the state the page showed (adminpanel.confirmations)."""
    page = client.get(url or reverse("home")).content.decode()
    match = re.search(r'name="confirm_token" value="([^"]+)"', page)
    assert match, f"{url or 'home'} carries no confirmation token"
    return match.group(1)


def confirmed_full_backfill(client, data: dict, **kwargs):
    """Start an all-bars backfill as the page does: the first POST answers the row-count confirmation, the second
    posts back its hidden fields (the counts shown and the token bound to them and to the user)."""
    url = reverse("backfill:backfill_start")
    first = client.post(url, data).content.decode()
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', first))
    assert hidden.get("confirm_token"), "the confirmation page carries no token"
    return client.post(url, {**data, **hidden}, **kwargs)
