"""The incident pages: who sees and does what (managers get 403 everywhere and change nothing), bad input gets a
clear message and changes nothing, the downloads, and the links from the home page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from adminpanel.models import PanelEvent
from monitoring.incidents import escalation
from monitoring.incidents import services as incidents
from monitoring.models import Incident, IncidentNotification, IncidentUpdate

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(product_user, chain):
    return incidents.open_incident(actor=product_user, severity="high", issue="Errors on sale creation")


def routes(pk):
    gets = [
        reverse("monitoring:incidents"),
        reverse("monitoring:incident_new"),
        reverse("monitoring:contacts"),
        reverse("monitoring:root_cause"),
        reverse("monitoring:root_cause_rows", args=["errors"]),
        reverse("monitoring:root_cause_csv", args=["orphans"]),
        reverse("monitoring:incident", args=[pk]),
        reverse("monitoring:incident_live", args=[pk]),
        reverse("monitoring:incident_text", args=[pk]),
        reverse("monitoring:incident_markdown", args=[pk]),
        reverse("monitoring:incident_root_cause", args=[pk]),
        reverse("monitoring:incident_root_cause_rows", args=[pk, "fallbacks"]),
        reverse("monitoring:incident_root_cause_csv", args=[pk, "errors"]),
    ]
    posts = [
        (reverse("monitoring:incident_new"), {"severity": "critical", "issue": "x", "next_update_in": "30"}),
        (reverse("monitoring:incident_acknowledge", args=[pk]), {}),
        (reverse("monitoring:incident_update", args=[pk]), {"status": "resolved", "severity": "high", "message": "x"}),
        (reverse("monitoring:incident_send", args=[pk]), {"tier": "1"}),
    ]
    return gets, posts


@pytest.mark.parametrize("who", ["manager", "plain_user"])
def test_managers_and_users_without_a_role_get_403_everywhere_and_change_nothing(client_for, request, who, incident):
    client = client_for(request.getfixturevalue(who))
    gets, posts = routes(incident.pk)
    for url in gets:
        assert client.get(url).status_code == 403, url
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    incident.refresh_from_db()
    assert incident.status == "investigating" and incident.acknowledged_at is None
    assert Incident.objects.count() == 1 and not IncidentUpdate.objects.exists()
    assert IncidentNotification.objects.count() == 1
    assert PanelEvent.objects.filter(action__startswith="incident").count() == 1


def test_support_product_and_admins_see_every_incident_page(client_for, readers, incident):
    gets, _ = routes(incident.pk)
    for user in readers:
        client = client_for(user)
        for url in gets:
            assert client.get(url).status_code == 200, (user.username, url)


def test_support_opens_an_incident_from_the_form(client_for, support_user, chain):
    response = client_for(support_user).post(
        reverse("monitoring:incident_new"),
        {"severity": "critical", "issue": "Orphaned sales since 14:00", "next_update_in": "15"},
    )
    incident = Incident.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("monitoring:incident", args=[incident.pk])
    assert incident.owner == support_user and incident.severity == "critical"
    assert incident.next_update_at is not None


def test_the_open_form_refuses_bad_input_with_messages_and_opens_nothing(client_for, support_user, manager, chain):
    client = client_for(support_user)
    url = reverse("monitoring:incident_new")
    cases = [
        ({"severity": "critical", "issue": ""}, "This field is required"),
        ({"severity": "doom", "issue": "x"}, "Select a valid choice"),
        ({"severity": "high", "issue": "x\x00y"}, "Null characters are not allowed"),
        ({"severity": "high", "issue": "x", "owner": manager.username}, "handles incidents"),
        ({"severity": "high", "issue": "x", "started_at": "yesterday-ish"}, "Enter a valid date/time"),
        ({"severity": "high", "issue": "x", "started_at": "2001-01-01T10:00"}, "more than 30 days ago"),
        ({"severity": "high", "issue": "x", "next_update_in": "7"}, "Select a valid choice"),
    ]
    for data, message in cases:
        response = client.post(url, data)
        assert response.status_code == 400, data
        assert message in response.content.decode(), data
    assert not Incident.objects.exists()


def test_posting_an_update_through_the_page_shows_it_and_the_new_status(client_for, support_user, incident):
    client = client_for(support_user)
    response = client.post(
        reverse("monitoring:incident_update", args=[incident.pk]),
        {
            "status": "mitigating",
            "severity": "critical",
            "message": "Flags off; errors falling.",
            "next_update_in": "30",
        },
        follow=True,
    )
    html = response.content.decode()
    assert response.status_code == 200 and "Update posted." in html
    assert 'id="incident-status" data-status="mitigating"' in html and "Flags off; errors falling." in html
    assert "Status: Mitigating" in html  # the communication template follows


def test_a_bad_update_is_refused_with_a_message_and_changes_nothing(client_for, support_user, incident):
    client = client_for(support_user)
    url = reverse("monitoring:incident_update", args=[incident.pk])
    response = client.post(url, {"status": "exploded", "severity": "high", "message": "x"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    response = client.post(url, {"status": "mitigating", "severity": "high", "message": ""})
    assert response.status_code == 400 and "This field is required" in response.content.decode()
    assert not IncidentUpdate.objects.exists()
    incident.refresh_from_db()
    assert incident.status == "investigating"


def test_updating_a_resolved_incident_says_so(client_for, support_user, incident):
    client = client_for(support_user)
    url = reverse("monitoring:incident_update", args=[incident.pk])
    client.post(url, {"status": "resolved", "severity": "high", "message": "done"})
    response = client.post(url, {"status": "mitigating", "severity": "high", "message": "again"}, follow=True)
    assert "This incident is resolved" in response.content.decode()
    assert IncidentUpdate.objects.count() == 1


def test_an_unknown_incident_is_a_404_not_a_500(client_for, support_user, chain):
    client = client_for(support_user)
    assert client.get(reverse("monitoring:incident", args=[999999])).status_code == 404
    assert client.post(reverse("monitoring:incident_acknowledge", args=[999999])).status_code == 404
    assert client.get(reverse("monitoring:incident_root_cause", args=[999999])).status_code == 404


def test_sending_the_template_from_the_page(client_for, support_user, incident, chain):
    client = client_for(support_user)
    url = reverse("monitoring:incident_send", args=[incident.pk])
    response = client.post(url, {"tier": str(chain[1].pk)}, follow=True)
    assert "queued for the DevOps/Database team" in response.content.decode()
    assert IncidentNotification.objects.filter(kind="communication", tier=chain[1]).count() == 1
    response = client.post(url, {"tier": "not-a-tier"}, follow=True)
    assert "Nothing was sent: Choose a tier of the contact chain." in response.content.decode()
    assert IncidentNotification.objects.filter(kind="communication").count() == 1


def test_the_template_downloads_as_text_and_markdown(client_for, support_user, incident):
    client = client_for(support_user)
    text = client.get(reverse("monitoring:incident_text", args=[incident.pk]))
    assert text["Content-Type"].startswith("text/plain")
    assert text["Content-Disposition"] == f'attachment; filename="incident-{incident.pk}.txt"'
    assert text.content.decode().startswith("INCIDENT: Mode Switching Deployment Issue\n\nTime: ")
    markdown = client.get(reverse("monitoring:incident_markdown", args=[incident.pk]))
    assert markdown["Content-Type"].startswith("text/markdown")
    assert markdown.content.decode().startswith("# INCIDENT: Mode Switching Deployment Issue")


def test_the_incident_page_shows_the_template_the_copy_button_and_its_static_script(client_for, support_user, incident):
    html = client_for(support_user).get(reverse("monitoring:incident", args=[incident.pk])).content.decode()
    assert 'id="communication-text">INCIDENT: Mode Switching Deployment Issue' in html
    assert 'data-copy-target="communication-text"' in html and 'role="status" aria-live="polite"' in html
    assert "/static/js/incidents.js" in html
    for forbidden in ("<style", "style=", "onclick=", "<script>"):
        assert forbidden not in html.split("<main>", 1)[1], forbidden


def test_the_live_part_refreshes_while_open_and_stops_once_resolved(client_for, support_user, incident):
    client = client_for(support_user)
    live = client.get(reverse("monitoring:incident_live", args=[incident.pk]), HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 30s"' in live.content.decode()
    incidents.post_update(actor=support_user, incident_id=incident.pk, status="resolved", message="done")
    live = client.get(reverse("monitoring:incident_live", args=[incident.pk]), HTTP_HX_REQUEST="true")
    assert (
        "hx-trigger" not in live.content.decode() and "Frozen when the incident was resolved" in live.content.decode()
    )


def test_the_list_shows_open_incidents_and_explains_when_there_are_none(client_for, support_user, incident):
    client = client_for(support_user)
    html = client.get(reverse("monitoring:incidents")).content.decode()
    assert f'id="incident-row-{incident.pk}"' in html
    incidents.post_update(actor=support_user, incident_id=incident.pk, status="resolved", message="done")
    html = client.get(reverse("monitoring:incidents")).content.decode()
    assert "No open incident. When the kill switch fires" in html
    html = client.get(reverse("monitoring:incidents") + "?state=resolved").content.decode()
    assert f'id="incident-row-{incident.pk}"' in html


def test_the_home_page_lists_open_incidents_and_links_the_root_cause(client_for, product_user, incident):
    html = client_for(product_user).get("/").content.decode()
    assert 'id="incidents-home"' in html and f"/incidents/{incident.pk}/" in html
    assert 'href="/incidents/root-cause/" id="home-root-cause"' in html


def test_the_contact_chain_page_lists_tiers_in_order_with_people(client_for, support_user, superuser, chain):
    html = client_for(support_user).get(reverse("monitoring:contacts")).content.decode()
    assert html.index("1. Development team") < html.index("2. DevOps/Database team") < html.index("3. Product/Business")
    assert "Dev On-call" in html and "+225 01 02 03 04" in html and "edit-chain" not in html
    html = client_for(superuser).get(reverse("monitoring:contacts")).content.decode()
    assert 'id="edit-chain"' in html


def test_the_page_shows_each_notification_and_its_delivery(client_for, support_user, incident):
    escalation.run_incident_clock(now=timezone.now())
    later = timezone.now() + timedelta(hours=2)
    escalation.run_incident_clock(now=later)
    html = client_for(support_user).get(reverse("monitoring:incident", args=[incident.pk])).content.decode()
    assert 'data-kind="opened" data-delivery="delivered"' in html
    assert 'data-kind="escalation" data-delivery="delivered"' in html
    assert "Escalated to the next tier" in html  # the history, in words


def test_a_bar_managers_home_page_shows_no_incident(client_for, manager, incident):
    html = client_for(manager).get("/").content.decode()
    assert 'id="incidents-home"' not in html and "/incidents/" not in html


def test_the_page_says_when_the_clock_has_stopped_refreshing_the_impact(client_for, support_user, incident):
    url = reverse("monitoring:incident", args=[incident.pk])
    assert "the incident clock is not running" not in client_for(support_user).get(url).content.decode()
    Incident.objects.filter(pk=incident.pk).update(impact_measured_at=timezone.now() - timedelta(minutes=10))
    assert "the incident clock is not running" in client_for(support_user).get(url).content.decode()
