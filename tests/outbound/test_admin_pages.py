"""Admins edit canned responses and acknowledgements through the forms; agents cannot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from intake.core.acknowledgements import load_ack_settings
from intake.core.canned import fill_placeholders
from intake.core.db.admin_models import CannedResponse
from intake.core.db.models import Mailbox
from intake.core.runtime import Runtime, set_current
from intake.domain import Role
from tests.conftest import add_person, login, make_app, make_runtime


@pytest.fixture
def site(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> Iterator[tuple[Runtime, FlaskClient, FlaskClient]]:
    runtime = make_runtime(tmp_path, sqlite_url, redis_url)
    set_current(runtime)
    add_person(runtime, "boss@example.com", Role.ADMIN)
    add_person(runtime, "sam@example.com", Role.AGENT)
    app = make_app(runtime, WTF_CSRF_ENABLED=False)
    admin, agent = app.test_client(), app.test_client()
    login(admin, "boss@example.com")
    login(agent, "sam@example.com")
    yield runtime, admin, agent
    set_current(None)
    runtime.close()


def titles(runtime: Runtime) -> list[tuple[str, str]]:
    with runtime.db.session() as session:
        rows = session.scalars(select(CannedResponse).order_by(CannedResponse.id))
        return [(r.title, r.language) for r in rows]


def test_the_shipped_canned_responses_are_english_and_chinese(
    site: tuple[Runtime, FlaskClient, FlaskClient],
) -> None:
    runtime, admin, _ = site
    assert {language for _, language in titles(runtime)} == {"en", "zh"}
    page = admin.get("/admin/canned").get_data(as_text=True)
    assert "已收到，正在处理" in page and "{customer_name}" in page


def test_an_admin_adds_edits_and_deletes_a_canned_response(
    site: tuple[Runtime, FlaskClient, FlaskClient],
) -> None:
    runtime, admin, _ = site
    added = admin.post(
        "/admin/canned",
        data={"title": "Refund done", "language": "en", "body": "Hi {customer_name}, refunded."},
    )
    assert added.status_code == 302
    with runtime.db.session() as session:
        row = session.scalars(
            select(CannedResponse).where(CannedResponse.title == "Refund done")
        ).one()
        row_id = row.id
    admin.post(
        f"/admin/canned/{row_id}",
        data={"title": "退款完成", "language": "zh", "body": "{customer_name}，您好：已退款。"},
    )
    assert ("退款完成", "zh") in titles(runtime)
    refused = admin.post("/admin/canned", data={"title": "x", "language": "fr", "body": "y"})
    assert "Not added: language must be one of en, zh" in admin.get(
        refused.headers["Location"]
    ).get_data(as_text=True)
    admin.post(f"/admin/canned/{row_id}/delete")
    assert "退款完成" not in [t for t, _ in titles(runtime)]
    assert admin.post("/admin/canned/99999/delete").status_code == 404


def test_agents_cannot_edit_canned_responses_or_acknowledgements(
    site: tuple[Runtime, FlaskClient, FlaskClient],
) -> None:
    runtime, _, agent = site
    before = titles(runtime)
    assert agent.get("/admin/canned").status_code == 403
    assert (
        agent.post("/admin/canned", data={"title": "t", "language": "en", "body": "b"}).status_code
        == 403
    )
    assert agent.post("/admin/acknowledgements", data={}).status_code == 403
    assert titles(runtime) == before


def test_an_admin_switches_acknowledgements_and_edits_their_texts(
    site: tuple[Runtime, FlaskClient, FlaskClient],
) -> None:
    runtime, admin, _ = site
    with runtime.db.session() as session:
        session.add(Mailbox(name="shop", addresses=["help@shop.test"]))
        session.add(Mailbox(name="press", addresses=["press@shop.test"]))
    page = admin.get("/admin/acknowledgements").get_data(as_text=True)
    assert "No outbound relay is configured" in page and "我们已收到您的来信" in page
    with runtime.db.session() as session:
        shop_id = session.scalar(select(Mailbox.id).where(Mailbox.name == "shop"))
    form = {
        f"mailbox_{shop_id}": "1",  # press and mail by domain: off
        "en_subject": "Got it: {subject}",
        "en_body": "Hello {customer_name}, ticket {ticket_id}, answer within {response_time}.",
        "zh_subject": "已收到：{subject}",
        "zh_body": "{customer_name}，您好：工单 {ticket_id}。",
    }
    assert admin.post("/admin/acknowledgements", data=form).status_code == 302
    with runtime.db.session() as session:
        ack = load_ack_settings(session)
        switches = dict(session.execute(select(Mailbox.name, Mailbox.acknowledge)).all())
    assert ack.domain_mail is False and switches == {"shop": True, "press": False}
    assert ack.templates["en"].subject == "Got it: {subject}"
    assert ack.templates["zh"].body == "{customer_name}，您好：工单 {ticket_id}。"
    empty = admin.post("/admin/acknowledgements", data={**form, "zh_body": ""})
    assert "needs a subject and a body" in admin.get(empty.headers["Location"]).get_data(
        as_text=True
    )
    with runtime.db.session() as session:
        assert load_ack_settings(session).templates["zh"].body.startswith("{customer_name}")


def test_placeholders_fill_only_what_they_know() -> None:
    values = {"customer_name": "Alice", "ticket_id": "7", "agent_name": "Sam"}
    assert fill_placeholders("Hi {customer_name} #{ticket_id} {unknown} {} {{x}}", values) == (
        "Hi Alice #7 {unknown} {} {{x}}"
    )
