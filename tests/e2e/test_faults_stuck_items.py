"""Every stuck or failed item shows on an admin page with a retry button that works.

Stuck: a message whose job was lost (a worker died after taking it), or one claimed by a worker
that died; a transcript claimed by a worker that died. What a live worker is processing right
now gets no button, and a forged retry of it changes nothing.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from intake.core.accept import accept_email
from intake.core.db.base import utcnow
from intake.core.db.models import Message, Transcript
from intake.core.heartbeat import Heartbeat, process_name
from intake.core.jobs import JobQueue
from intake.core.runtime import Runtime
from intake.core.voicemail_accept import store_voicemail, voicemail_ticket_now
from intake.domain import MessageState, ProcessRole, Role, Source, TranscriptState
from tests.conftest import add_person, login, make_app, run_jobs
from tests.mailfactory import make_mail
from tests.voicemail.conftest import pcm_wav
from workers.sweeper import sweep_once

DEAD = "host-that-died:4242"


@pytest.fixture
def admin(runtime: Runtime) -> FlaskClient:
    add_person(runtime, "admin@example.com", Role.ADMIN)
    client = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    login(client, "admin@example.com")
    return client


@pytest.fixture
def live_worker(runtime: Runtime) -> Iterator[str]:
    heartbeat = Heartbeat(runtime.jobs.connection, ProcessRole.WORKER, queues=["intake"]).start()
    yield heartbeat.name
    heartbeat.stop()


def stored_message(runtime: Runtime) -> int:
    accepted = accept_email(
        runtime, make_mail(), source=Source.SMTP, envelope_from=None, recipients=["a@example.com"]
    )
    return accepted.message_id


def set_message(runtime: Runtime, message_id: int, **values: object) -> None:
    with runtime.db.session() as session:
        session.execute(update(Message).where(Message.id == message_id).values(**values))


def message_state(runtime: Runtime, message_id: int) -> MessageState:
    with runtime.db.session() as session:
        message = session.get(Message, message_id)
        assert message is not None
        return message.state


def retry_buttons(page: str, path: str) -> set[int]:
    return {int(found) for found in re.findall(rf'action="/admin/{path}/(\d+)/retry"', page)}


def test_stuck_and_failed_messages_get_a_retry_button_but_a_live_workers_does_not(
    runtime: Runtime, admin: FlaskClient, live_worker: str
) -> None:
    lost = stored_message(runtime)
    # What a worker killed right after taking the job leaves: the job on no queue.
    runtime.jobs.connection.delete(runtime.jobs.queue(JobQueue.INTAKE).key)
    orphaned = stored_message(runtime)
    set_message(runtime, orphaned, state=MessageState.PROCESSING, claimed_by=DEAD, attempts=1)
    failed = stored_message(runtime)
    set_message(runtime, failed, state=MessageState.FAILED, attempts=6, error="boom")
    working = stored_message(runtime)
    set_message(runtime, working, state=MessageState.PROCESSING, claimed_by=live_worker)

    page = admin.get("/admin/intake").get_data(as_text=True)
    assert retry_buttons(page, "intake") == {lost, orphaned, failed}
    assert "boom" in page

    # A forged retry of what a live worker holds changes nothing.
    response = admin.post(f"/admin/intake/{working}/retry", follow_redirects=True)
    assert "being processed now" in response.get_data(as_text=True)
    assert message_state(runtime, working) == MessageState.PROCESSING

    for message_id in (lost, orphaned, failed):
        response = admin.post(f"/admin/intake/{message_id}/retry", follow_redirects=True)
        assert f"Message {message_id} queued again." in response.get_data(as_text=True)
    run_jobs(runtime, "intake")
    assert [message_state(runtime, m) for m in (lost, orphaned, failed)] == [
        MessageState.PROCESSED
    ] * 3
    page = admin.get("/admin/intake").get_data(as_text=True)
    assert retry_buttons(page, "intake") == set()


def test_a_transcript_held_by_a_dead_worker_gets_a_retry_button(
    runtime: Runtime, admin: FlaskClient
) -> None:
    stored = store_voicemail(
        runtime,
        io.BytesIO(pcm_wav(b"\x00\x00" * 8000)),
        filename="vm.wav",
        content_type="audio/wav",
        caller="+15552010123",
        called=None,
        source=Source.API,
    )
    voicemail_ticket_now(runtime, stored.message_id)
    with runtime.db.session() as session:
        session.execute(
            update(Transcript)
            .where(Transcript.message_id == stored.message_id)
            .values(state=TranscriptState.RUNNING, claimed_by=process_name())
        )
    heartbeat = Heartbeat(runtime.jobs.connection, ProcessRole.WORKER).start()
    try:  # this process beats, so it is transcribing: no button
        page = admin.get("/admin/voicemail").get_data(as_text=True)
        assert retry_buttons(page, "transcripts") == set()
        assert admin.post(f"/admin/transcripts/{stored.message_id}/retry").status_code == 302
        with runtime.db.session() as session:
            state = session.scalar(select(Transcript.state))
        assert state == TranscriptState.RUNNING
    finally:
        heartbeat.stop()
    # It died.
    page = admin.get("/admin/voicemail").get_data(as_text=True)
    assert retry_buttons(page, "transcripts") == {stored.message_id}
    admin.post(f"/admin/transcripts/{stored.message_id}/retry")
    with runtime.db.session() as session:
        transcript = session.scalars(select(Transcript)).one()
        assert (transcript.state, transcript.claimed_by) == (TranscriptState.PENDING, None)
    job_ids = runtime.jobs.queue(JobQueue.TRANSCRIBE).job_ids
    assert f"transcribe-message-{stored.message_id}" in job_ids


def test_a_job_left_in_rqs_intermediate_list_is_enqueued_anew_and_dropped_from_it(
    runtime: Runtime,
) -> None:
    """A one-queue worker takes jobs with BLMOVE into an intermediate list; dying there, it
    leaves the id behind, where RQ's own cleanup would later fail the new copy."""
    message_id = stored_message(runtime)
    queue = runtime.jobs.queue(JobQueue.INTAKE)
    job_id = f"ingest-message-{message_id}"
    connection = runtime.jobs.connection
    assert connection.lmove(queue.key, queue.intermediate_queue_key) == job_id.encode()
    waited = runtime.settings.recovery.lost_after + timedelta(seconds=1)
    set_message(runtime, message_id, received_at=utcnow() - waited)
    assert sweep_once(runtime) >= 1
    assert queue.job_ids == [job_id]
    assert connection.lrange(queue.intermediate_queue_key, 0, -1) == []
    run_jobs(runtime, "intake")
    assert message_state(runtime, message_id) == MessageState.PROCESSED
