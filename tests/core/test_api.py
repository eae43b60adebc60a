from __future__ import annotations

from flask.testing import FlaskClient

from intake.core.accept import accept_email
from intake.core.db.admin_models import Correction
from intake.core.runtime import Runtime
from intake.domain import Source
from tests.conftest import json_of, run_jobs
from tests.mailfactory import make_mail


def deliver(runtime: Runtime, raw: bytes) -> None:
    accept_email(
        runtime, raw, source=Source.SMTP, envelope_from=None, recipients=["support@example.com"]
    )
    run_jobs(runtime, "intake")


def test_api_without_a_token_answers_401(client: FlaskClient) -> None:
    response = client.get("/api/tickets")
    assert response.status_code == 401
    assert response.json == {
        "error": "unauthorized",
        "message": "send Authorization: Bearer <token>",
    }


def test_api_with_a_wrong_token_answers_401(client: FlaskClient) -> None:
    response = client.get("/api/tickets", headers={"Authorization": "Bearer itk_nope"})
    assert response.status_code == 401


def test_ticket_list_and_detail_show_the_thread_with_attachments(
    runtime: Runtime, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    from email.message import EmailMessage
    from email.policy import SMTP

    mail = EmailMessage()
    mail["From"] = "Bo <bo@customer.org>"
    mail["To"] = "support@example.com"
    mail["Subject"] = "Invoice question"
    mail["Message-ID"] = "<inv-1@customer.org>"
    mail.set_content("Please see the attached invoice.")
    mail.add_attachment(
        b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="Rechnung März.pdf"
    )
    deliver(runtime, mail.as_bytes(policy=SMTP))

    listing = client.get("/api/tickets", headers=auth_headers)
    assert listing.status_code == 200
    (ticket,) = json_of(listing)["tickets"]
    assert ticket["subject"] == "Invoice question"
    assert ticket["channel"] == "email" and ticket["status"] == "new"
    assert ticket["customer"]["email"] == "bo@customer.org"
    assert ticket["customer"]["type"] == "potential"
    for field in (
        "priority",
        "priority_reasons",
        "sentiment",
        "sentiment_score",
        "language",
        "confidence",
        "needs_review",
        "assignee",
        "sla_due_at",
        "created_at",
        "category",
    ):
        assert field in ticket

    detail = json_of(client.get(f"/api/tickets/{ticket['id']}", headers=auth_headers))
    (message,) = detail["messages"]
    assert message["from"] == "bo@customer.org" and message["direction"] == "inbound"
    assert message["text"].strip() == "Please see the attached invoice."
    (attachment,) = message["attachments"]
    assert attachment["filename"] == "Rechnung März.pdf"
    assert attachment["content_type"] == "application/pdf"
    assert message["transcript"] is None


def test_ticket_list_filters_by_status_and_search(
    runtime: Runtime, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    deliver(runtime, make_mail(subject="Broken zipper", body="The zipper broke."))
    deliver(runtime, make_mail(subject="Where is my parcel", body="No parcel yet."))
    found = json_of(client.get("/api/tickets?q=zipper", headers=auth_headers))["tickets"]
    assert [t["subject"] for t in found] == ["Broken zipper"]
    assert (
        json_of(client.get("/api/tickets?status=resolved", headers=auth_headers))["tickets"] == []
    )


def test_auto_replies_are_hidden_from_the_default_queue(
    runtime: Runtime, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    deliver(runtime, make_mail(subject="Away", headers={"Auto-Submitted": "auto-replied"}))
    assert json_of(client.get("/api/tickets", headers=auth_headers))["tickets"] == []
    shown = json_of(client.get("/api/tickets?automatic=1", headers=auth_headers))["tickets"]
    assert len(shown) == 1 and shown[0]["automatic"]


def test_patch_changes_status_and_records_category_corrections(
    runtime: Runtime, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    deliver(runtime, make_mail())
    ticket_id = json_of(client.get("/api/tickets", headers=auth_headers))["tickets"][0]["id"]
    response = client.patch(
        f"/api/tickets/{ticket_id}",
        json={"status": "pending", "category": "service_issue", "priority": "high"},
        headers=auth_headers,
    )
    assert response.status_code == 200
    assert json_of(response)["status"] == "pending"
    assert (
        json_of(response)["category"] == "service_issue" and json_of(response)["priority"] == "high"
    )
    with runtime.db.session() as session:
        fields = sorted(c.field for c in session.query(Correction))
        assert fields == ["category", "priority"]


def test_patch_with_an_unknown_value_is_refused_with_422(
    runtime: Runtime, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    deliver(runtime, make_mail())
    ticket_id = json_of(client.get("/api/tickets", headers=auth_headers))["tickets"][0]["id"]
    response = client.patch(
        f"/api/tickets/{ticket_id}", json={"status": "done"}, headers=auth_headers
    )
    assert response.status_code == 422


def test_healthz_reports_database_and_redis(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": True, "redis": True}
