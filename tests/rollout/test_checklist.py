"""Stage 4a's Internal Testing Checklist (runbook 4.1): each item fails without its evidence and passes with it;
attesting is refused without the permission or with a bad link and changes nothing; 4b's gate holds until the
checklist is complete and names what is missing."""

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from adminpanel.models import PanelEvent
from mappings.resolve import UnknownServerName
from mappings.services import record_resolution_refusal
from rollout import errors
from rollout.killswitch import services as kill_switch_services
from rollout.models import EventKind, RolloutEvent
from rollout.records import services as record_services
from rollout.runbook import attestations, checklist
from rollout.stages import services as stage_services
from rollout.stages.gates import CHECKLIST_4A
from tests.factories import (
    AuditLogFactory,
    BarFactory,
    BarMemberFactory,
    ConsignmentFactory,
    ReturnFactory,
    SaleFactory,
    ServerFactory,
    ServerNameMappingFactory,
    advance,
    backdate_soak,
    grant_owner,
    make_product,
    meet_4a_checklist,
    state,
)

ANALYTICS_LINK = "https://tickets.example.com/QA-42"


@pytest.fixture
def test_bar(owner, fresh_run):
    """Stage 4a live on "Test Bar 1" (internal), with two servers, Ana and Ben, mapped by name."""
    bar = BarFactory(is_internal=True, name="Test Bar 1")
    BarFactory.create_batch(4)
    advance(owner)
    for name in ("Ana", "Ben"):
        server = ServerFactory(username=name.lower(), display_name=name)
        BarMemberFactory(bar=bar, user=server)
        ServerNameMappingFactory(bar=bar, server_name=name, user=server)
    return bar


def server(name):
    return ServerFactory(username=name.lower())


def sell(bar, name, count=1, *, server_id=True, **fields):
    """Sales as BarTender records them in simplified mode: the typed name and the server it resolved to."""
    return SaleFactory.create_batch(count, bar=bar, server_name=name, server=server(name) if server_id else None,
                                    **fields)  # fmt: skip


def item(key):
    return next(result for result in checklist.build().items if result.key == key)


def test_before_4a_every_item_waits_for_the_stage(owner):
    result = checklist.build()
    assert not result.complete and result.done == 0
    assert all("Stage 4a has not started" in entry.why for entry in result.items)


# --- 1. Sales created in simplified mode --------------------------------------------------------------------------


def test_sales_made_before_4a_or_in_other_bars_do_not_count(test_bar):
    sell(test_bar, "Ana", created_at=timezone.now() - timedelta(days=2))
    SaleFactory(bar=BarFactory(), server=server("Ana"))
    entry = item(checklist.SALES_CREATED)
    assert not entry.passed and "No sale with a server_id in the test bars yet" in entry.why


def test_sales_with_a_server_in_the_test_bar_tick_the_first_item_with_their_count(test_bar):
    sell(test_bar, "Ana", 3)
    entry = item(checklist.SALES_CREATED)
    assert entry.passed and entry.why == "3 sales in the test bars, 3 with a server_id."
    assert ("Test bars", "Test Bar 1") in entry.figures


# --- 2. server_id populated correctly -----------------------------------------------------------------------------


def test_a_sale_whose_server_is_not_its_names_mapping_is_caught(test_bar):
    sell(test_bar, "Ana", 2)
    wrong = SaleFactory(bar=test_bar, server_name="Ana", server=server("Ben"))
    entry = item(checklist.SERVER_ID_CORRECT)
    assert not entry.passed and f"#{wrong.pk} “Ana”" in entry.why and entry.why.startswith("1 of 3 sampled")


def test_a_sale_without_server_id_in_a_test_bar_is_caught(test_bar):
    sell(test_bar, "Ana", 2)
    sell(test_bar, "Ana", server_id=False)
    entry = item(checklist.SERVER_ID_CORRECT)
    assert not entry.passed and entry.why == "1 sale in the test bars without server_id."


def test_server_ids_matching_their_mappings_pass(test_bar):
    sell(test_bar, "Ana", 2)
    SaleFactory(bar=test_bar, server_name="  BEN ", server=server("Ben"))  # typed otherwise: the normalised name
    entry = item(checklist.SERVER_ID_CORRECT)
    assert entry.passed and "all 3 sampled match the mapping" in entry.why


# --- 3. Mapping resolution ---------------------------------------------------------------------------------------


def test_sales_without_a_typed_name_show_no_resolution(test_bar):
    SaleFactory(bar=test_bar, server=server("Ana"), server_name=None)
    entry = item(checklist.MAPPING_RESOLUTION)
    assert not entry.passed and "No typed server name has resolved" in entry.why


def test_a_typed_name_resolved_through_its_mapping_passes(test_bar):
    sell(test_bar, "Ana")
    entry = item(checklist.MAPPING_RESOLUTION)
    assert entry.passed and ("Sampled names resolved by a mapping", "1") in entry.figures


# --- 4. Error blocking -------------------------------------------------------------------------------------------


def test_no_refused_name_means_error_blocking_was_not_tried(test_bar):
    sell(test_bar, "Ana")
    entry = item(checklist.ERROR_BLOCKING)
    assert not entry.passed and "try an unknown server name" in entry.why


def test_a_refusal_with_a_sale_that_got_through_without_server_fails(test_bar):
    record_resolution_refusal(bar=test_bar, name="Zed", error=UnknownServerName("No Zed", name="Zed"), source="pos")
    sell(test_bar, "Zed", server_id=False)
    entry = item(checklist.ERROR_BLOCKING)
    assert not entry.passed and "1 sale got through without a server_id" in entry.why


def test_a_refusal_written_by_the_resolver_passes_and_is_shown(test_bar):
    sell(test_bar, "Ana")
    record_resolution_refusal(bar=test_bar, name="Zed", error=UnknownServerName("No Zed", name="Zed"), source="pos")
    entry = item(checklist.ERROR_BLOCKING)
    assert entry.passed and ("Latest refused", "“Zed” (unknown_server_name)") in entry.figures


# --- 5. Per-server figures, attested ------------------------------------------------------------------------------


def test_per_server_figures_are_shown_but_wait_for_a_persons_attestation(test_bar):
    sell(test_bar, "Ana", 3, amount=1000)
    sell(test_bar, "Ben", 1, amount=250)
    entry = item(checklist.SERVER_ANALYTICS)
    assert entry.table == [("Ana", "3", "3,000.00"), ("Ben", "1", "250.00")]
    assert not entry.passed and "attest it here with a link" in entry.why


def test_an_attestation_with_a_link_ticks_the_analytics_item_and_is_audited(test_bar, owner):
    sell(test_bar, "Ana")
    event = attestations.attest_item(actor=owner, item=checklist.SERVER_ANALYTICS, url=ANALYTICS_LINK,
                                     note="Totals match the app's Analytics tab")  # fmt: skip
    entry = item(checklist.SERVER_ANALYTICS)
    assert entry.passed and entry.attestation["url"] == ANALYTICS_LINK and entry.attestation["by"] == "owner"
    assert (event.kind, event.actor, event.reason) == (EventKind.CHECKLIST_ATTEST, owner, "Totals match the app's "
                                                       "Analytics tab")  # fmt: skip
    assert event.before == {"item": "server_analytics", "attestation": None} and event.after["url"] == ANALYTICS_LINK
    audit = PanelEvent.objects.get(action="rollout.checklist_attest")
    assert audit.after["url"] == ANALYTICS_LINK and audit.reason == "Totals match the app's Analytics tab"


def test_an_attestation_from_before_4a_started_again_does_not_count(test_bar, owner):
    sell(test_bar, "Ana")
    attestations.attest_item(actor=owner, item=checklist.SERVER_ANALYTICS, url=ANALYTICS_LINK, note="ok")
    stage_services.rollback_stage(actor=owner, expected_version=state().version, reason="again")
    advance(owner)
    sell(test_bar, "Ana")
    assert not item(checklist.SERVER_ANALYTICS).passed


# --- 6. Consignments and returns ----------------------------------------------------------------------------------


def test_consignments_without_returns_leave_the_item_open(test_bar):
    ConsignmentFactory(bar=test_bar, server=server("Ana"))
    entry = item(checklist.CONSIGNMENTS_RETURNS)
    assert not entry.passed and entry.why == "No return with a server_id in the test bars yet."


def test_a_return_without_server_id_is_caught(test_bar):
    ConsignmentFactory(bar=test_bar, server=server("Ana"))
    ReturnFactory(bar=test_bar, server=server("Ana"))
    ReturnFactory(bar=test_bar, server=None)
    entry = item(checklist.CONSIGNMENTS_RETURNS)
    assert not entry.passed and entry.why == "0 consignments and 1 return without server_id."


def test_consignments_and_returns_with_server_id_pass(test_bar):
    ConsignmentFactory(bar=test_bar, server=server("Ana"))
    ReturnFactory(bar=test_bar, server=server("Ben"))
    assert item(checklist.CONSIGNMENTS_RETURNS).passed


# --- 7. Role filtering, as a sampled server under RLS -------------------------------------------------------------


def test_one_servers_sales_alone_cannot_show_filtering(test_bar):
    sell(test_bar, "Ana", 2)
    entry = item(checklist.ROLE_FILTERING)
    assert not entry.passed and "Only Ana has sales in that bar" in entry.why


def test_a_sampled_server_sees_only_their_own_sales_under_rls(test_bar):
    sell(test_bar, "Ana", 3)
    sell(test_bar, "Ben", 2)
    entry = item(checklist.ROLE_FILTERING)
    assert entry.passed and entry.why == "Ana sees their 3 sales and none of the other 2."
    assert ("Seen as Ana under RLS", "3 own, 0 of others") in entry.figures


def test_a_policy_that_lets_servers_see_the_whole_bar_is_caught(test_bar):
    sell(test_bar, "Ana", 3)
    sell(test_bar, "Ben", 2)
    with connection.cursor() as cursor:  # a faulty policy, rolled back with the test's transaction
        cursor.execute("CREATE POLICY sales_select_everyone ON public.sales FOR SELECT TO authenticated USING (true)")
    entry = item(checklist.ROLE_FILTERING)
    assert not entry.passed and entry.why == "Ana sees 2 sales of other people under RLS."


def test_checking_as_a_server_leaves_the_panels_session_as_it_was(test_bar):
    sell(test_bar, "Ana", 3)
    sell(test_bar, "Ben", 2)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_setting('request.jwt.claims', true)")
        before = cursor.fetchone()
        item(checklist.ROLE_FILTERING)
        cursor.execute("SELECT current_user, current_setting('request.jwt.claims', true)")
        assert cursor.fetchone() == before


# --- 8. Logs without errors ---------------------------------------------------------------------------------------


def test_an_error_log_in_a_test_bar_is_caught(test_bar):
    AuditLogFactory(bar=test_bar, level="error", error_type="sale_insert_failed")
    entry = item(checklist.LOGS_CLEAN)
    assert not entry.passed and ("Most frequent", "sale_insert_failed (1)") in entry.figures


def test_the_refusals_provoked_on_purpose_are_not_errors_to_worry_about(test_bar):
    record_resolution_refusal(bar=test_bar, name="Zed", error=UnknownServerName("No Zed", name="Zed"), source="pos")
    AuditLogFactory(bar=BarFactory(), level="error", error_type="elsewhere")  # not a test bar
    assert item(checklist.LOGS_CLEAN).passed


# --- Attestation refused ------------------------------------------------------------------------------------------


def test_attesting_without_the_permission_is_refused_and_changes_nothing(test_bar, support_user):
    sell(test_bar, "Ana")
    with pytest.raises(errors.NotAllowed):
        attestations.attest_item(actor=support_user, item=checklist.SERVER_ANALYTICS, url=ANALYTICS_LINK, note="x")
    bare = make_product(username="no_flags")
    with pytest.raises(errors.NotAllowed):
        attestations.attest_item(actor=bare, item=checklist.SERVER_ANALYTICS, url=ANALYTICS_LINK, note="x")
    assert not RolloutEvent.objects.filter(kind=EventKind.CHECKLIST_ATTEST).exists()


def test_the_attest_view_refuses_a_user_without_the_permission(test_bar, client_for, support_user):
    response = client_for(make_product(username="no_flags")).post(
        reverse("rollout:checklist_attest"), {"item": "server_analytics", "url": ANALYTICS_LINK, "note": "x"}
    )
    assert response.status_code == 403
    assert not RolloutEvent.objects.filter(kind=EventKind.CHECKLIST_ATTEST).exists()


@pytest.mark.parametrize(
    "url, says",
    [
        ("", "Give a link to what you looked at"),
        ("not a link", "“not a link” is not a web address: give an http or https link."),
        ("ftp://files.example.com/x.png", "is not a web address"),
        ("javascript:alert(1)", "is not a web address"),
    ],
)
def test_a_missing_or_bad_link_is_said_on_the_page_and_changes_nothing(test_bar, client_for, owner, url, says):
    sell(test_bar, "Ana")
    response = client_for(owner).post(
        reverse("rollout:checklist_attest"), {"item": "server_analytics", "url": url, "note": "looked"}, follow=True
    )
    assert response.status_code == 200 and says in response.content.decode()
    assert "Nothing was attested" in response.content.decode()
    assert not RolloutEvent.objects.filter(kind=EventKind.CHECKLIST_ATTEST).exists()


def test_a_measured_item_cannot_be_attested_by_hand(test_bar, owner):
    with pytest.raises(errors.InvalidRequest, match="measured by the panel"):
        attestations.attest_item(actor=owner, item=checklist.ROLE_FILTERING, url=ANALYTICS_LINK, note="trust me")


def test_an_attestation_needs_a_note(test_bar, owner):
    with pytest.raises(errors.InvalidRequest, match="Say in a note"):
        attestations.attest_item(actor=owner, item=checklist.SERVER_ANALYTICS, url=ANALYTICS_LINK, note="  ")


# --- The gate to 4b -----------------------------------------------------------------------------------------------


def test_4b_waits_for_the_checklist_and_names_the_missing_items(test_bar, owner):
    backdate_soak()
    with pytest.raises(errors.GateClosed) as refused:
        advance(owner)
    (gate,) = [gate for gate in refused.value.gates if gate.name == CHECKLIST_4A]
    assert "Missing: " in gate.why and "Test role-based filtering" in gate.why and "Verify analytics" in gate.why
    assert state().stage == "4a"


def test_4b_opens_once_the_checklist_is_complete(test_bar, owner):
    backdate_soak()
    meet_4a_checklist()
    result = advance(owner)
    assert result.applied and state().stage == "4b"
    (gate,) = [gate for gate in result.gates if gate.name == CHECKLIST_4A]
    assert gate.passed and gate.evidence == {"done": 8, "of": 8, "missing": []}


def test_the_checklist_is_not_asked_before_4a(owner, fresh_run):
    BarFactory(is_internal=True)
    result = advance(owner)
    assert result.applied and CHECKLIST_4A not in [gate.name for gate in result.gates]


# --- Decisions ----------------------------------------------------------------------------------------------------


def test_a_decision_is_recorded_as_such_with_its_reason_and_refused_without_permission(test_bar, owner, support_user):
    event = attestations.record_decision(actor=owner, decision="proceed", reason="4a checklist complete")
    assert (event.kind, event.after["decision"]) == (EventKind.DECISION, "proceed")
    assert event.reason == "4a checklist complete" and event.actor == owner
    with pytest.raises(errors.NotAllowed):
        attestations.record_decision(actor=support_user, decision="abort", reason="no")
    with pytest.raises(errors.InvalidRequest):
        attestations.record_decision(actor=owner, decision="maybe", reason="?")
    assert RolloutEvent.objects.filter(kind=EventKind.DECISION).count() == 1


def test_the_decision_view_refuses_a_user_without_the_permission(test_bar, client_for):
    response = client_for(make_product(username="no_flags")).post(
        reverse("rollout:decision_record"), {"decision": "abort", "reason": "no"}
    )
    assert response.status_code == 403
    assert not RolloutEvent.objects.filter(kind=EventKind.DECISION).exists()


@pytest.mark.parametrize(
    "data, says",
    [
        ({"reason": "why not"}, "No decision was recorded: choose one and say why."),
        ({"decision": "maybe", "reason": "?"}, "No decision was recorded: "),
        ({"decision": "x" * 40, "reason": "?"}, "No decision was recorded: "),
    ],
)
def test_a_bad_decision_is_said_on_the_page_and_records_nothing(test_bar, client_for, owner, data, says):
    response = client_for(owner).post(reverse("rollout:decision_record"), data, follow=True)
    assert response.status_code == 200 and says in response.content.decode()
    assert not RolloutEvent.objects.filter(kind=EventKind.DECISION).exists()


def test_the_decision_view_records_one_and_says_so(test_bar, client_for, owner):
    response = client_for(owner).post(
        reverse("rollout:decision_record"), {"decision": "proceed", "reason": "checklist complete"}, follow=True
    )
    assert "Decision recorded:" in response.content.decode()
    assert RolloutEvent.objects.filter(kind=EventKind.DECISION, reason="checklist complete").count() == 1


def test_grant_owner_is_what_attesting_needs(test_bar):
    flipper = grant_owner(make_product(username="flipper"))
    sell(test_bar, "Ana")
    assert attestations.attest_item(actor=flipper, item=checklist.SERVER_ANALYTICS, url=ANALYTICS_LINK, note="ok")


# --- The deployment record -----------------------------------------------------------------------------------------


def test_the_record_shows_the_checklist_time_boxes_and_decisions_on_its_page_and_in_markdown(test_bar, owner,
                                                                                             client_for):  # fmt: skip
    record = record_services.create_record(actor=owner, deployer=owner, reviewer=make_product(username="reviewer"),
                                    started_at=timezone.now() - timedelta(hours=1))  # fmt: skip
    sell(test_bar, "Ana")
    attestations.record_decision(actor=owner, decision="abort", reason="the POS build is wrong")
    client = client_for(owner)
    page = client.get(reverse("rollout:record", args=[record.pk])).content.decode()
    markdown = client.get(reverse("rollout:record_markdown", args=[record.pk])).content.decode()
    for text in (page, markdown):
        assert "Stage 4a Internal Testing Checklist: " in text and "Create sales in simplified mode" in text
        assert "Time box 2 hours (runbook)" in text and "Time box 1-3 days (runbook)" in text
        assert "Abort the deployment" in text and "the POS build is wrong" in text
        assert "Proceed" in text and "stage advanced" in text  # starting 4a was a decision too, said as what it was
    assert "- [x] Create sales in simplified mode" in markdown and "- [ ] Verify analytics" in markdown


def test_a_batch_inside_a_stage_and_the_rehearsals_kill_switch_are_no_decisions(owner, fresh_run):
    from rollout.records import facts

    BarFactory.create_batch(3, is_internal=True)
    record = record_services.create_record(actor=owner, deployer=owner, reviewer=make_product(username="reviewer"),
                                    started_at=timezone.now() - timedelta(hours=1))  # fmt: skip
    kill_switch_services.pull_kill_switch(actor=owner, reason="Rollback rehearsal", rehearsal=True)
    kill_switch_services.release_kill_switch(actor=owner, reason="done")
    stage_services.resume_rollout(actor=owner, reason="done")
    advance(owner, batch_size=1)
    advance(owner, batch_size=1)
    stage_services.rollback_stage(actor=owner, expected_version=state().version, reason="numbers look wrong")
    decisions = facts.record_decisions(record)
    assert [(d["decision"], d["stage"], d["how"]) for d in decisions] == [
        ("proceed", "4a", "stage advanced"),
        ("rollback", "4a", "stage rolled back"),
    ]
    assert decisions[-1]["reason"] == "numbers look wrong"
