"""Regression tests for defects found in review: each input once broke a promise."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from rq.job import Job, JobStatus
from sqlalchemy import select, update

from intake.cli.supervisor import without_password
from intake.collectors.smtp import process_smtp_message
from intake.core.accept import accept_email
from intake.core.db.base import utcnow
from intake.core.db.models import Customer, Mailbox, Message, Ticket
from intake.core.heartbeat import Heartbeat
from intake.core.jobs import CLASSIFY_TICKET, JobQueue
from intake.core.runtime import Runtime
from intake.core.states import claim_message, release_abandoned
from intake.domain import MessageState, ProcessRole, Source
from intake.errors import StorageError
from tests.conftest import deliver, run_jobs
from tests.mailfactory import make_mail
from web.auth import local_target
from workers.sweeper import sweep_once, sweep_unclassified


def test_an_order_number_in_ticket_tag_form_opens_a_ticket_instead_of_failing(
    runtime: Runtime,
) -> None:
    message = deliver(runtime, make_mail(subject="Order [#20261122000123] missing"))
    assert message.state == MessageState.PROCESSED and message.ticket_id is not None


def test_a_ticket_id_beyond_the_integer_column_is_a_404(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    assert client.get("/api/tickets/99999999999", headers=auth_headers).status_code == 404


def test_over_long_header_values_are_cut_to_their_columns_not_lost(runtime: Runtime) -> None:
    name = "N" * 300
    message = deliver(runtime, make_mail(sender=f"{name} <long@customer.org>"))
    assert message.state == MessageState.PROCESSED
    with runtime.db.session() as session:
        customer = session.scalars(select(Customer)).one()
        assert customer.name == name[:200]
        # The raw message keeps the whole value.
        assert name.encode() in runtime.blobs.get(message.raw_sha256)


def test_a_recipient_gone_between_rcpt_and_data_gets_a_temporary_failure(
    runtime: Runtime,
) -> None:
    with pytest.raises(StorageError, match="no longer accepted"):
        process_smtp_message(runtime, "a@customer.org", ["help@gone.test"], make_mail())
    with runtime.db.session() as session:
        session.add(Mailbox(name="help", addresses=["help@gone.test"]))
    (stored,) = process_smtp_message(runtime, "a@customer.org", ["help@gone.test"], make_mail())
    assert not stored.duplicate


def test_a_classification_asked_for_while_one_runs_runs_again(runtime: Runtime) -> None:
    assert runtime.jobs.enqueue(CLASSIFY_TICKET, 7)
    Job.fetch("classify-ticket-7", connection=runtime.jobs.connection).set_status(JobStatus.STARTED)
    assert runtime.jobs.enqueue(CLASSIFY_TICKET, 7)
    assert "classify-ticket-7-again" in runtime.jobs.queue(JobQueue.CLASSIFY).job_ids


def test_the_sweeper_classifies_a_ticket_whose_enqueue_was_lost(runtime: Runtime) -> None:
    message = deliver(runtime, make_mail())  # the classify job is queued but never run
    runtime.jobs.queue(JobQueue.CLASSIFY).empty()  # type: ignore[no-untyped-call]
    with runtime.db.session() as session:
        ticket = session.get(Ticket, message.ticket_id)
        assert ticket is not None and ticket.classified_at is None
        ticket.created_at = utcnow() - timedelta(minutes=5)
    assert sweep_unclassified(runtime) == 1
    run_jobs(runtime, "classify")
    with runtime.db.session() as session:
        ticket = session.get(Ticket, message.ticket_id)
        assert ticket is not None and ticket.classified_at is not None


def test_a_status_change_is_no_first_response(
    runtime: Runtime, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    # The customer heard nothing: only a reply sent or a call-back logged stops that clock.
    message = deliver(runtime, make_mail())
    client.patch(f"/api/tickets/{message.ticket_id}", json={"status": "open"}, headers=auth_headers)
    with runtime.db.session() as session:
        ticket = session.get(Ticket, message.ticket_id)
        assert ticket is not None and ticket.status == "open"
        assert ticket.first_response_at is None


@pytest.mark.parametrize(
    "target",
    ["//evil.example", "/\t/evil.example", "/\\evil.example", "https://evil.example/", "evil"],
)
def test_login_never_redirects_off_site(target: str) -> None:
    assert local_target(target, "/") == "/"


def test_login_redirects_to_a_local_page() -> None:
    assert local_target("/tickets/3?x=1", "/") == "/tickets/3?x=1"


def test_startup_summary_masks_passwords() -> None:
    assert without_password("postgresql://intake:S3cret@db:5432/x") == (
        "postgresql://intake:***@db:5432/x"
    )
    assert "R3dis" not in without_password("redis://:R3dis@cache:6379/0")


def test_a_job_lost_between_dequeue_and_start_is_enqueued_again_by_the_sweeper(
    runtime: Runtime,
) -> None:
    """A worker died after RQ popped the job but before it started it: the record says queued,
    the job is on no queue. The row, not the record, decides."""
    accepted = accept_email(
        runtime, make_mail(), source=Source.SMTP, envelope_from=None, recipients=["a@example.com"]
    )
    queue = runtime.jobs.queue(JobQueue.INTAKE)
    job_id = f"ingest-message-{accepted.message_id}"
    assert runtime.jobs.connection.lrem(queue.key, 0, job_id) == 1  # what the dying worker did
    assert Job.fetch(job_id, connection=runtime.jobs.connection).get_status() == "queued"
    assert sweep_once(runtime) == 0  # just stored: its own enqueue is trusted for now
    assert job_id not in queue.job_ids
    with runtime.db.session() as session:
        session.execute(
            update(Message).values(
                received_at=utcnow() - runtime.settings.recovery.lost_after - timedelta(seconds=1)
            )
        )
    assert sweep_once(runtime) == 1
    assert job_id in queue.job_ids
    run_jobs(runtime, "intake")
    with runtime.db.session() as session:
        message = session.get(Message, accepted.message_id)
        assert message is not None and message.state == MessageState.PROCESSED


def test_only_claims_of_processes_that_stopped_beating_are_handed_back(runtime: Runtime) -> None:
    accepted = accept_email(
        runtime, make_mail(), source=Source.SMTP, envelope_from=None, recipients=["a@example.com"]
    )
    heartbeat = Heartbeat(runtime.jobs.connection, ProcessRole.WORKER).start()
    assert claim_message(runtime, accepted.message_id)
    claimed_long_ago = utcnow() - runtime.settings.recovery.abandoned_after - timedelta(seconds=1)
    with runtime.db.session() as session:
        session.execute(update(Message).values(claimed_at=claimed_long_ago))
    assert release_abandoned(runtime, utcnow()) == []  # this process still beats
    heartbeat.stop()
    assert release_abandoned(runtime, utcnow()) == [("message", accepted.message_id)]
    with runtime.db.session() as session:
        message = session.get(Message, accepted.message_id)
        assert message is not None and message.state == MessageState.RECEIVED
        assert message.claimed_by is None
