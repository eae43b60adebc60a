"""POST /api/tickets/<id>/replies: attachments in JSON, forwarding the customer's, bad input."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from email.policy import SMTP

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from intake.core.db.models import Attachment, Delivery
from intake.core.runtime import Runtime
from tests.conftest import add_person, deliver, json_of, make_app, run_jobs
from tests.outbound.conftest import Relay


@pytest.fixture
def api(runtime: Runtime) -> tuple[FlaskClient, dict[str, str]]:
    token = add_person(runtime, "sam@example.com")
    return make_app(runtime).test_client(), {"Authorization": f"Bearer {token}"}


def mail_with_photo() -> bytes:
    message = EmailMessage()
    message["From"] = "Alice Customer <alice@customer.org>"
    message["Reply-To"] = "Alice at home <alice.home@customer.org>"
    message["To"] = "support@example.com"
    message["Subject"] = "Broken lamp"
    message["Message-ID"] = "<lamp-1@customer.org>"
    message.set_content("The lamp arrived broken, photo attached.\n")
    message.add_attachment(
        b"\x89PNG fake photo", maintype="image", subtype="png", filename="lamp.png"
    )
    return message.as_bytes(policy=SMTP)


def test_json_attachments_and_a_customers_attachment_go_to_the_reply_to_address(
    runtime: Runtime, relay: Relay, api: tuple[FlaskClient, dict[str, str]]
) -> None:
    client, headers = api
    ticket_id = deliver(runtime, mail_with_photo(), "intake", "outbound").ticket_id
    with runtime.db.session() as session:
        photo_id = session.scalar(select(Attachment.id).where(Attachment.filename == "lamp.png"))
    response = client.post(
        f"/api/tickets/{ticket_id}/replies",
        json={
            "text": "我们会寄一个新的台灯。",
            "cc": "repairs@partner.example",
            "attachments": [
                photo_id,
                {
                    "filename": "退货单.pdf",
                    "content_type": "application/pdf",
                    "content_base64": base64.b64encode(b"%PDF-1.4 form").decode(),
                },
            ],
        },
        headers=headers,
    )
    assert response.status_code == 202, response.data
    body = json_of(response)
    # New files first, then those sent on from the ticket.
    assert [a["filename"] for a in body["attachments"]] == ["退货单.pdf", "lamp.png"]
    run_jobs(runtime, "outbound")
    reply = relay.received[-1]
    # The acknowledgement and the reply both answer the Reply-To address.
    assert [r.recipients for r in relay.received] == [
        ["alice.home@customer.org"],
        ["alice.home@customer.org", "repairs@partner.example"],
    ]
    assert reply.header("To") == "Alice at home <alice.home@customer.org>"
    assert reply.text == "我们会寄一个新的台灯。\n"
    assert [(a.get_filename(), a.get_content()) for a in reply.message.iter_attachments()] == [
        ("退货单.pdf", b"%PDF-1.4 form"),
        ("lamp.png", b"\x89PNG fake photo"),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": "   "}, "a reply needs some text"),
        ({"text": "hi", "cc": ["not an address"]}, "not an email address"),
        ({"text": "hi", "cc": [1]}, "cc must be a list of addresses"),
        ({"text": "hi", "attachments": [99999]}, "attachment 99999 is not on ticket"),
        ({"text": "hi", "attachments": [{"content_base64": "%%%"}]}, "not valid base64"),
        ({"text": "hi", "attachments": "x"}, "attachments must be a list"),
        ({"txt": "hi"}, 'send JSON {"text"'),
    ],
)
def test_bad_replies_are_refused_with_a_reason_and_nothing_is_queued(
    runtime: Runtime,
    relay: Relay,
    api: tuple[FlaskClient, dict[str, str]],
    body: dict[str, object],
    message: str,
) -> None:
    client, headers = api
    ticket_id = deliver(runtime, mail_with_photo(), "intake").ticket_id
    response = client.post(f"/api/tickets/{ticket_id}/replies", json=body, headers=headers)
    assert response.status_code == 422
    assert message in str(json_of(response)["message"])
    with runtime.db.session() as session:
        kinds = session.scalars(select(Delivery.kind)).all()
    assert kinds == ["acknowledgement"]


def test_unknown_tickets_and_messages_are_404(
    runtime: Runtime, relay: Relay, api: tuple[FlaskClient, dict[str, str]]
) -> None:
    client, headers = api
    assert (
        client.post("/api/tickets/99999/replies", json={"text": "x"}, headers=headers).status_code
        == 404
    )
    ticket_id = deliver(runtime, mail_with_photo(), "intake").ticket_id
    missing = client.post(f"/api/tickets/{ticket_id}/replies/99999/retry", headers=headers)
    assert missing.status_code == 404 and json_of(missing)["error"] == "not_found"
