from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select, update

from intake.core.db.base import utcnow
from intake.core.db.models import Transcript
from intake.core.jobs import JobQueue
from intake.core.runtime import Runtime
from intake.core.speech_settings import speech_vocabulary
from intake.core.voicemail_accept import store_voicemail, voicemail_ticket_now
from intake.domain import Role, Source
from tests.conftest import add_person, login, make_app, run_jobs
from tests.voicemail.conftest import CORRUPT_AUDIO
from transcribe import ModelLoadError, Transcriber
from workers.sweeper import sweep_once
from workers.transcription import transcribe_message


@dataclass(frozen=True)
class Uploaded:
    message_id: int
    ticket_id: int


def accept(runtime: Runtime, audio: bytes, caller: str = "+15552010123") -> Uploaded:
    """What the upload API does: store the voicemail, then open its ticket at once."""
    stored = store_voicemail(
        runtime,
        io.BytesIO(audio),
        filename="vm.wav",
        content_type="audio/wav",
        caller=caller,
        called="+15550009999",
        source=Source.API,
    )
    return Uploaded(stored.message_id, voicemail_ticket_now(runtime, stored.message_id))


def transcript_of(runtime: Runtime, message_id: int) -> Transcript:
    with runtime.db.session() as session:
        row = session.scalars(select(Transcript).where(Transcript.message_id == message_id)).one()
        session.expunge(row)
        return row


def test_finished_transcript_enqueues_classification_of_its_ticket(
    sqlite_runtime: Runtime, speech_wav: bytes, speech_model: Transcriber
) -> None:
    accepted = accept(sqlite_runtime, speech_wav)
    assert transcribe_message(accepted.message_id).startswith("done")
    classify = sqlite_runtime.jobs.queue(JobQueue.CLASSIFY)
    assert f"classify-ticket-{accepted.ticket_id}" in classify.job_ids
    assert transcribe_message(accepted.message_id).startswith("skipped")


def test_missing_model_is_retried_then_marked_failed_with_the_reason(
    make_voicemail_runtime: Callable[..., Runtime], tmp_path: Path, speech_wav: bytes
) -> None:
    runtime = make_voicemail_runtime(
        INTAKE_WHISPER_MODEL=str(tmp_path / "no-such-model"), INTAKE_JOB_RETRIES="1"
    )
    accepted = accept(runtime, speech_wav)
    with pytest.raises(ModelLoadError):
        transcribe_message(accepted.message_id)
    first = transcript_of(runtime, accepted.message_id)
    assert first.state == "pending" and "nor a model directory" in (first.error or "")
    with pytest.raises(ModelLoadError):
        transcribe_message(accepted.message_id)
    last = transcript_of(runtime, accepted.message_id)
    assert last.state == "failed" and last.attempts == 2
    assert "no-such-model" in (last.error or "")


def test_admin_retry_puts_a_failed_transcript_back_on_the_queue(
    runtime: Runtime, speech_model: Transcriber
) -> None:
    accepted = accept(runtime, CORRUPT_AUDIO)
    run_jobs(runtime, JobQueue.TRANSCRIBE.value)
    assert transcript_of(runtime, accepted.message_id).state == "failed"
    add_person(runtime, "admin@example.com", Role.ADMIN)
    client = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    login(client, "admin@example.com")
    page = client.get(f"/tickets/{accepted.ticket_id}").get_data(as_text=True)
    assert "Transcription failed: The audio could not be" in page
    assert f"/admin/transcripts/{accepted.message_id}/retry" in page
    assert "failed" in client.get("/admin/voicemail").get_data(as_text=True)
    response = client.post(
        f"/admin/transcripts/{accepted.message_id}/retry",
        data={"next": f"/tickets/{accepted.ticket_id}"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/tickets/{accepted.ticket_id}")
    again = transcript_of(runtime, accepted.message_id)
    assert again.state == "pending" and again.attempts == 0 and again.error is None
    job_ids = runtime.jobs.queue(JobQueue.TRANSCRIBE).job_ids
    assert f"transcribe-message-{accepted.message_id}" in job_ids


def test_agents_cannot_retry_transcripts_or_edit_the_vocabulary(runtime: Runtime) -> None:
    add_person(runtime, "agent@example.com")
    client = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    login(client, "agent@example.com")
    assert client.post("/admin/transcripts/1/retry").status_code == 403
    assert client.post("/admin/voicemail/vocabulary", data={"terms": "x"}).status_code == 403


def test_admin_vocabulary_is_passed_to_the_recognizer(
    sqlite_runtime: Runtime,
    speech_wav: bytes,
    speech_model: Transcriber,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_person(sqlite_runtime, "admin@example.com", Role.ADMIN)
    client = make_app(sqlite_runtime, WTF_CSRF_ENABLED=False).test_client()
    login(client, "admin@example.com")
    client.post(
        "/admin/voicemail/vocabulary", data={"terms": "Acme Widgets\n\nZyntrax\nacme widgets\n"}
    )
    with sqlite_runtime.db.session() as session:
        assert speech_vocabulary(session) == ("Acme Widgets", "Zyntrax")
    assert "Zyntrax" in client.get("/admin/voicemail").get_data(as_text=True)
    seen: list[Sequence[str]] = []
    original = speech_model.transcribe_array

    def spy(
        audio: np.ndarray[Any, Any],
        *,
        vocabulary: Sequence[str] = (),
        language_hint: str | None = None,
    ) -> Any:
        seen.append(vocabulary)
        return original(audio, vocabulary=vocabulary, language_hint=language_hint)

    monkeypatch.setattr(speech_model, "transcribe_array", spy)
    accepted = accept(sqlite_runtime, speech_wav)
    transcribe_message(accepted.message_id)
    assert seen == [("Acme Widgets", "Zyntrax")]


def test_sweeper_re_enqueues_a_pending_transcript_whose_job_was_lost(
    sqlite_runtime: Runtime, speech_wav: bytes
) -> None:
    accepted = accept(sqlite_runtime, speech_wav)
    queue = sqlite_runtime.jobs.queue(JobQueue.TRANSCRIBE)
    queue.empty()  # type: ignore[no-untyped-call]
    with sqlite_runtime.db.session() as session:
        session.execute(update(Transcript).values(updated_at=utcnow() - timedelta(minutes=1)))
    assert sweep_once(sqlite_runtime) == 1
    assert f"transcribe-message-{accepted.message_id}" in queue.job_ids


def test_sweeper_takes_back_a_transcript_left_running_by_a_dead_worker(
    sqlite_runtime: Runtime, speech_wav: bytes, speech_model: Transcriber
) -> None:
    accepted = accept(sqlite_runtime, speech_wav)
    sqlite_runtime.jobs.queue(JobQueue.TRANSCRIBE).empty()  # type: ignore[no-untyped-call]
    with sqlite_runtime.db.session() as session:
        session.execute(
            update(Transcript).values(state="running", updated_at=utcnow() - timedelta(hours=3))
        )
    assert sweep_once(sqlite_runtime) == 1
    run_jobs(sqlite_runtime, JobQueue.TRANSCRIBE.value)
    assert transcript_of(sqlite_runtime, accepted.message_id).state == "done"


def test_transcribe_worker_preloads_the_model_and_drains_its_queue(
    sqlite_runtime: Runtime, speech_wav: bytes, speech_model: Transcriber
) -> None:
    from workers.run import run_worker
    from workers.transcription import get_transcriber

    accepted = accept(sqlite_runtime, speech_wav)
    run_worker(sqlite_runtime, ["transcribe"], burst=True)
    assert transcript_of(sqlite_runtime, accepted.message_id).state == "done"
    assert get_transcriber(sqlite_runtime.settings) is speech_model  # one model per process
