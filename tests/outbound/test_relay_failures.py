"""The relay is down or refuses: the reply stays on the ticket, visibly, until it goes out."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from rq.job import Job, JobStatus
from sqlalchemy import select

from intake.core.db.models import Delivery, Ticket
from intake.core.jobs import SEND_MESSAGE
from intake.core.runtime import Runtime, set_current
from intake.domain import DeliveryState
from tests.conftest import add_person, deliver, json_of, make_app, make_runtime, run_jobs
from tests.mailfactory import make_mail
from tests.outbound.conftest import Relay
from workers.outbound import send_message, sweep_outbound
from workers.sweeper import run_scheduler


@pytest.fixture
def agent(runtime: Runtime) -> tuple[FlaskClient, dict[str, str]]:
    token = add_person(runtime, "sam@example.com")
    return make_app(runtime).test_client(), {"Authorization": f"Bearer {token}"}


def ticket_with_customer_mail(runtime: Runtime) -> int:
    message = deliver(runtime, make_mail(), "intake")
    assert message.ticket_id is not None
    return message.ticket_id


def reply(client: FlaskClient, headers: dict[str, str], ticket_id: int) -> dict[str, object]:
    response = client.post(
        f"/api/tickets/{ticket_id}/replies", json={"text": "On its way."}, headers=headers
    )
    assert response.status_code == 202, response.data
    return json_of(response)


def delivery_of(
    client: FlaskClient, headers: dict[str, str], ticket_id: int, message_id: object
) -> dict[str, object]:
    detail = json_of(client.get(f"/api/tickets/{ticket_id}", headers=headers))
    message = next(m for m in detail["messages"] if m["id"] == message_id)
    delivery = message["delivery"]
    assert isinstance(delivery, dict)
    return delivery


def test_relay_down_then_back_the_reply_waits_visibly_and_goes_out_once(
    runtime: Runtime, relay: Relay, agent: tuple[FlaskClient, dict[str, str]]
) -> None:
    client, headers = agent
    ticket_id = ticket_with_customer_mail(runtime)
    run_jobs(runtime, "outbound")  # the acknowledgement, while the relay is up
    relay.stop()

    queued = reply(client, headers, ticket_id)
    run_jobs(runtime, "outbound")
    delivery = delivery_of(client, headers, ticket_id, queued["id"])
    assert delivery["state"] == "queued" and delivery["attempts"] == 1
    assert f"cannot connect to 127.0.0.1:{relay.port}" in str(delivery["error"])
    assert "Connection refused" in str(delivery["error"])
    # RQ holds the job for its backoff (5 s, 30 s, 2 min, ...).
    job = Job.fetch(SEND_MESSAGE.job_id(str(queued["id"])), connection=runtime.jobs.connection)
    assert job.get_status() == JobStatus.SCHEDULED

    relay.start()
    retried = client.post(f"/api/tickets/{ticket_id}/replies/{queued['id']}/retry", headers=headers)
    assert retried.status_code == 202
    run_jobs(runtime, "outbound")
    delivery = delivery_of(client, headers, ticket_id, queued["id"])
    assert delivery["state"] == "sent" and delivery["error"] is None
    assert [r.text for r in relay.received][1:] == ["On its way.\n"]  # after the acknowledgement

    # The backoff retry RQ still held, or any duplicate job, finds it sent and sends nothing.
    runtime.jobs.enqueue_anew(SEND_MESSAGE, int(str(queued["id"])))
    run_jobs(runtime, "outbound")
    assert len(relay.received) == 2
    again = client.post(f"/api/tickets/{ticket_id}/replies/{queued['id']}/retry", headers=headers)
    assert again.status_code == 409


def test_a_temporary_refusal_is_shown_with_the_relays_words_and_retried_from_the_page(
    runtime: Runtime, relay: Relay, agent: tuple[FlaskClient, dict[str, str]]
) -> None:
    client, headers = agent
    ticket_id = ticket_with_customer_mail(runtime)
    relay.sink.refuse = "451 4.3.0 Mail server temporarily rejected message"
    queued = reply(client, headers, ticket_id)
    run_jobs(runtime, "outbound")
    delivery = delivery_of(client, headers, ticket_id, queued["id"])
    assert delivery["state"] == "queued"
    assert delivery["error"] == "DATA: 451 4.3.0 Mail server temporarily rejected message"

    page = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    page.post("/login", data={"email": "sam@example.com", "password": "sam@example.com-pw"})
    html = page.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert "451 4.3.0 Mail server temporarily rejected message" in html
    assert "Retry now" in html

    relay.sink.refuse = None
    answer = page.post(f"/tickets/{ticket_id}/messages/{queued['id']}/retry")
    assert answer.status_code == 302
    run_jobs(runtime, "outbound")
    assert delivery_of(client, headers, ticket_id, queued["id"])["state"] == "sent"
    assert [r.text for r in relay.received] == ["On its way.\n"]
    with runtime.db.session() as session:
        # The acknowledgement, refused at the same time, waits for its own backoff.
        states = session.execute(select(Delivery.kind, Delivery.state, Delivery.attempts)).all()
        assert sorted(tuple(row) for row in states) == [
            ("acknowledgement", DeliveryState.QUEUED, 1),
            ("reply", DeliveryState.SENT, 1),
        ]


def test_a_permanent_refusal_fails_at_once_and_is_never_dropped(
    runtime: Runtime, relay: Relay, agent: tuple[FlaskClient, dict[str, str]]
) -> None:
    client, headers = agent
    ticket_id = ticket_with_customer_mail(runtime)
    run_jobs(runtime, "outbound")
    relay.sink.refuse_rcpt = "550 5.1.1 <alice@customer.org>: Recipient address rejected"
    queued = reply(client, headers, ticket_id)
    run_jobs(runtime, "outbound")
    delivery = delivery_of(client, headers, ticket_id, queued["id"])
    assert delivery["state"] == "failed" and delivery["attempts"] == 1
    assert delivery["error"] == (
        "RCPT TO <alice@customer.org>: 550 5.1.1 <alice@customer.org>: Recipient address rejected"
    )
    job = Job.fetch(SEND_MESSAGE.job_id(str(queued["id"])), connection=runtime.jobs.connection)
    assert job.get_status() == JobStatus.FINISHED  # no pointless retries


def test_after_the_last_attempt_the_reply_is_failed_with_the_last_answer(
    tmp_path: Path, database_url: str, redis_url: str, relay: Relay
) -> None:
    runtime = make_runtime(
        tmp_path,
        database_url,
        redis_url,
        INTAKE_OUTBOUND_SMTP_URL=f"smtp://127.0.0.1:{relay.port}",
        INTAKE_JOB_RETRIES="1",
    )
    set_current(runtime)
    try:
        token = add_person(runtime, "sam@example.com")
        client, headers = make_app(runtime).test_client(), {"Authorization": f"Bearer {token}"}
        ticket_id = ticket_with_customer_mail(runtime)
        run_jobs(runtime, "outbound")
        relay.sink.refuse = "421 4.7.0 Try again later"
        queued = reply(client, headers, ticket_id)
        message_id = int(str(queued["id"]))
        with pytest.raises(Exception, match="421 4.7.0"):
            send_message(message_id)  # the first attempt: RQ would retry
        assert send_message(message_id) == "failed: DATA: 421 4.7.0 Try again later"
        delivery = delivery_of(client, headers, ticket_id, message_id)
        assert delivery["state"] == "failed" and delivery["attempts"] == 2
        assert send_message(message_id).startswith("skipped")
    finally:
        set_current(None)
        runtime.close()


def test_redis_down_when_replying_the_sweeper_sends_it_later(
    tmp_path: Path, database_url: str, redis_url: str, relay: Relay
) -> None:
    url = f"smtp://127.0.0.1:{relay.port}"
    online = make_runtime(tmp_path, database_url, redis_url, INTAKE_OUTBOUND_SMTP_URL=url)
    set_current(online)
    try:
        ticket_id = ticket_with_customer_mail(online)
        run_jobs(online, "outbound")
    finally:
        set_current(None)
        online.close()
    offline = make_runtime(
        tmp_path, database_url, "redis://127.0.0.1:1/0", INTAKE_OUTBOUND_SMTP_URL=url
    )
    token = add_person(offline, "sam@example.com")
    client = make_app(offline).test_client()
    queued = reply(client, {"Authorization": f"Bearer {token}"}, ticket_id)
    offline.close()

    online = make_runtime(tmp_path, database_url, redis_url, INTAKE_OUTBOUND_SMTP_URL=url)
    set_current(online)
    try:
        with online.db.session() as session:
            delivery = session.scalars(
                select(Delivery).where(Delivery.message_id == queued["id"])
            ).one()
            assert delivery.state == DeliveryState.QUEUED
            delivery.updated_at = delivery.updated_at.replace(year=delivery.updated_at.year - 1)
        assert sweep_outbound(online) == 1
        run_jobs(online, "outbound")
        with online.db.session() as session:
            row = session.scalars(select(Delivery).where(Delivery.message_id == queued["id"])).one()
            assert row.state == DeliveryState.SENT
            assert session.get(Ticket, ticket_id) is not None
        assert [r.text for r in relay.received][-1] == "On its way.\n"
    finally:
        set_current(None)
        online.close()


def test_when_the_relay_returns_the_backoff_retry_delivers_without_anyone_acting(
    runtime: Runtime, relay: Relay, agent: tuple[FlaskClient, dict[str, str]]
) -> None:
    client, headers = agent
    ticket_id = ticket_with_customer_mail(runtime)
    run_jobs(runtime, "outbound")
    relay.stop()
    queued = reply(client, headers, ticket_id)
    run_jobs(runtime, "outbound")
    assert delivery_of(client, headers, ticket_id, queued["id"])["state"] == "queued"
    relay.start()
    # The sweeper's RQ scheduler puts the job back on its queue once its 5 s backoff is over.
    stop = threading.Event()
    scheduler = threading.Thread(target=run_scheduler, args=(runtime, stop, 0.2), daemon=True)
    scheduler.start()
    try:
        deadline = time.monotonic() + 30
        while delivery_of(client, headers, ticket_id, queued["id"])["state"] != "sent":
            assert time.monotonic() < deadline, "the retry never came"
            run_jobs(runtime, "outbound")
            time.sleep(0.5)
    finally:
        stop.set()
        scheduler.join(timeout=10)
    assert [r.text for r in relay.received][1:] == ["On its way.\n"]
