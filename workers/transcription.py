"""The ``transcribe`` queue's job: a voicemail's audio in, its transcript on the ticket.

The speech model is loaded once per worker process (``workers.run`` calls ``warm_up``) and reused by
every job: the worker is a ``SimpleWorker``, so jobs run in this process.

Bad audio (empty, damaged, too large or too long) is a property of the file, not a passing
fault: the transcript is marked failed with the library's reason at once, without retries. Any
other error (model files missing, database down) is retried by RQ with backoff; after the last
attempt the transcript shows as failed with that error, and an admin can retry it.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import select

from intake.core import runtime as runtime_module
from intake.core.db.base import utcnow
from intake.core.db.models import Message, Transcript
from intake.core.jobs import CLASSIFY_TICKET, FETCH_RECORDING
from intake.core.metrics import observe_transcription
from intake.core.runtime import Runtime
from intake.core.settings import Settings
from intake.core.speech_settings import language_hint, speech_vocabulary
from intake.core.states import claim_transcript, finish_transcript, release_transcript
from intake.core.voicemail_tickets import recording_pending
from intake.domain import TranscriptState
from transcribe import ModelLoadError, Transcriber, TranscriptionError, WhisperConfig
from transcribe.audio import load_audio
from transcribe.model import SpeechResult

log = logging.getLogger(__name__)


_models: dict[WhisperConfig, Transcriber] = {}
_models_lock = threading.Lock()


def whisper_config(settings: Settings) -> WhisperConfig:
    w = settings.whisper
    return WhisperConfig(
        model=w.model,
        language_models=w.language_models,
        detector_model=w.detector_model,
        models_dir=str(settings.models_dir),
        device=w.device,
        compute_type=w.compute_type,
        beam_size=w.beam_size,
        language=w.language,
        cpu_threads=w.cpu_threads,
        vad=w.vad,
        max_bytes=settings.max_audio_bytes,
    )


def get_transcriber(settings: Settings) -> Transcriber:
    """The process's loaded model for these settings (loaded on first use)."""
    config = whisper_config(settings)
    with _models_lock:
        transcriber = _models.get(config)
        if transcriber is None:
            transcriber = Transcriber(config)
            _models[config] = transcriber
        return transcriber


def warm_up(runtime: Runtime) -> None:
    """Load the model before the first job; a failure is logged and retried by the jobs."""
    try:
        get_transcriber(runtime.settings)
    except TranscriptionError as exc:
        log.error("speech model not loaded: %s", exc)


def transcribe_message(message_id: int) -> str:
    """Transcribe one voicemail message's audio (queue ``transcribe``)."""
    runtime = runtime_module.current()
    with runtime.db.session() as session:
        message = session.get(Message, message_id)
        if message is not None and recording_pending(message):
            # Swept before its recording arrived: the download job enqueues this one again.
            runtime.jobs.enqueue(FETCH_RECORDING, message_id)
            return "waiting for the recording"
    if not claim_transcript(runtime, message_id):
        return "skipped: no pending transcript"
    try:
        with runtime.db.session() as session:
            transcript = session.scalars(
                select(Transcript).where(Transcript.message_id == message_id)
            ).one()
            path = runtime.blobs.path(transcript.audio_sha256)
        with runtime.db.session() as session:
            vocabulary = speech_vocabulary(session)
            message = session.get(Message, message_id)
            hint = language_hint(session, message) if message is not None else None
        transcriber = get_transcriber(runtime.settings)
        try:
            audio = load_audio(
                path,
                max_bytes=runtime.settings.max_audio_bytes,
                max_duration_s=transcriber.config.max_duration_s,
            )
            started = time.monotonic()
            speech = transcriber.transcribe_array(audio, vocabulary=vocabulary, language_hint=hint)
            observe_transcription(time.monotonic() - started, speech.duration)
            result: SpeechResult | TranscriptionError = speech
        except TranscriptionError as exc:
            if isinstance(exc, ModelLoadError):
                raise  # the deployment's fault, not the file's: retry
            result = exc
        ticket_id = _store(runtime, message_id, result)
    except Exception as exc:
        release_transcript(runtime, message_id, f"{exc.__class__.__name__}: {exc}")
        raise
    # Classified even without words: rules, the caller's tier and "voicemail" still apply.
    if ticket_id is not None:
        runtime.jobs.enqueue(CLASSIFY_TICKET, ticket_id)
    if isinstance(result, TranscriptionError):
        log.warning("voicemail %s not transcribed: %s", message_id, result)
        return f"failed: {result}"
    return f"{result.status}: {len(result.text)} characters"


def _store(
    runtime: Runtime, message_id: int, result: SpeechResult | TranscriptionError
) -> int | None:
    with runtime.db.session() as session:
        transcript = session.scalars(
            select(Transcript).where(Transcript.message_id == message_id)
        ).one()
        message = session.get(Message, message_id)
        assert message is not None
        if isinstance(result, TranscriptionError):
            finish_transcript(transcript, TranscriptState.FAILED, str(result))
        else:
            _apply(transcript, result)
            finish_transcript(transcript, result.status, None)
            # Search and classification read message text: only words the guards trust (an
            # unclear transcript's candidate words stay on the transcript, hidden by default).
            message.new_text = result.text or None
            if message.raw_content_type != "message/rfc822":
                message.text = result.text or None
        if message.ticket is not None:
            message.ticket.updated_at = utcnow()
            if isinstance(result, SpeechResult) and result.text and result.language:
                message.ticket.language = message.ticket.language or result.language
        return message.ticket_id


def _apply(transcript: Transcript, result: SpeechResult) -> None:
    transcript.text = result.text or None
    transcript.language = result.language or None
    transcript.language_probability = result.language_probability
    transcript.language_source = result.language_source or None
    transcript.duration = result.duration
    transcript.segments = result.to_dict()["segments"]
    transcript.model = result.model
    transcript.low_confidence = result.low_confidence
    transcript.reason = result.reason or None
    transcript.candidate_text = result.candidate_text or None
