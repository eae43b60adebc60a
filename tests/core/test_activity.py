"""The activity log: every change with who, when, old and new value, in the API and the page."""

from __future__ import annotations

from flask.testing import FlaskClient

from intake.core.runtime import Runtime
from tests.conftest import add_person, deliver, json_of, login, make_app
from tests.mailfactory import make_mail


def test_every_change_is_logged_with_actor_old_and_new(
    runtime: Runtime, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    add_person(runtime, "lin@example.com")
    ticket_id = deliver(runtime, make_mail(), "intake").ticket_id
    changes = {
        "status": "open",
        "priority": "urgent",
        "category": "billing",
        "assignee": "lin@example.com",
        "group": "tier-2",
        "tags": ["refund", "vip"],
    }
    response = client.patch(f"/api/tickets/{ticket_id}", json=changes, headers=auth_headers)
    assert response.status_code == 200
    events = json_of(client.get(f"/api/tickets/{ticket_id}", headers=auth_headers))["events"]
    logged = {e["field"]: (e["old"], e["new"]) for e in events if e["kind"] == "change"}
    assert logged == {
        "status": ("new", "open"),
        "priority": ("medium", "urgent"),
        "category": (None, "billing"),
        "assignee": (None, "lin@example.com"),
        "group": (None, "tier-2"),
        "tags": ([], ["refund", "vip"]),
    }
    assert {e["actor"] for e in events if e["kind"] == "change"} == {"agent@example.com"}
    assert all(e["at"] for e in events)


def test_setting_the_same_values_again_logs_nothing(
    runtime: Runtime, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    ticket_id = deliver(runtime, make_mail(), "intake").ticket_id
    same = {"status": "new", "priority": "medium", "group": "", "tags": [], "assignee": ""}
    assert client.patch(f"/api/tickets/{ticket_id}", json=same, headers=auth_headers).status_code
    events = json_of(client.get(f"/api/tickets/{ticket_id}", headers=auth_headers))["events"]
    assert [e for e in events if e["kind"] == "change"] == []


def test_the_ticket_page_shows_the_timeline(runtime: Runtime) -> None:
    client = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    add_person(runtime, "ana@example.com")
    login(client, "ana@example.com")
    ticket_id = deliver(runtime, make_mail(), "intake").ticket_id
    client.post(f"/tickets/{ticket_id}", data={"status": "pending"})
    html = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    timeline = html.split('id="timeline"')[1]
    assert "ana@example.com" in timeline and "changed status" in timeline
    assert "<code>new</code>" in timeline and "<code>pending</code>" in timeline
