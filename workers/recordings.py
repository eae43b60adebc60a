"""The ``intake`` queue's recording job: download a webhook voicemail's audio, then transcribe it.

A Twilio recording webhook is not retried by Twilio when we fail, so a download that fails
during the webhook must not lose the call: the voicemail is stored without audio (caller, line
and recording URL kept) and this job downloads it with RQ's retries and backoff. After the last
attempt, or at once when retrying cannot help (the host is no longer allowed), the transcript
shows the download error.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from intake.core import runtime as runtime_module
from intake.core.db.models import Message, Transcript
from intake.core.jobs import TRANSCRIBE_MESSAGE
from intake.core.runtime import Runtime
from intake.core.states import ERROR_LIMIT, finish_transcript
from intake.core.twilio import fetch_recording as download_recording
from intake.core.voicemail_tickets import audio_content_type, recording_pending
from intake.domain import TranscriptState
from intake.errors import RejectedError

log = logging.getLogger(__name__)

FETCH_TIMEOUT_S = 60.0


def fetch_recording(message_id: int) -> str:
    """Download and store a recording that is still missing (queue ``intake``)."""
    runtime = runtime_module.current()
    with runtime.db.session() as session:
        message = session.get(Message, message_id)
        if message is None or not recording_pending(message):
            return "skipped: no recording to fetch"
        url = str(message.extra["recording_url"])
        account_sid = message.extra.get("account_sid")
        attempts = int(message.extra.get("fetch_attempts", 0)) + 1
        message.extra = {**message.extra, "fetch_attempts": attempts}
    settings = runtime.settings
    token = settings.twilio_auth_token
    try:
        fetched = download_recording(
            url,
            allowed_hosts=settings.recording_hosts,
            max_bytes=settings.max_audio_bytes,
            timeout_s=FETCH_TIMEOUT_S,
            basic_auth=(str(account_sid), token) if account_sid and token else None,
        )
    except RejectedError as exc:
        _give_up(runtime, message_id, f"The recording could not be downloaded: {exc}.")
        return f"failed: {exc}"
    except Exception as exc:
        if attempts > settings.job_retries:
            _give_up(runtime, message_id, f"{exc.__class__.__name__}: {exc}")
        raise
    digest = runtime.blobs.put(fetched.data)
    content_type = audio_content_type(fetched.data[:64], "", fetched.content_type)
    with runtime.db.session() as session:
        message = session.get(Message, message_id)
        transcript = session.scalar(select(Transcript).where(Transcript.message_id == message_id))
        if message is None or transcript is None:
            return "skipped: message deleted"
        message.raw_sha256 = digest
        message.raw_size = len(fetched.data)
        message.raw_content_type = content_type
        transcript.audio_sha256 = digest
        transcript.audio_content_type = content_type
    log.info("recording of voicemail %s downloaded (%d bytes)", message_id, len(fetched.data))
    runtime.jobs.enqueue(TRANSCRIBE_MESSAGE, message_id)
    return f"downloaded {len(fetched.data)} bytes"


def _give_up(runtime: Runtime, message_id: int, reason: str) -> None:
    with runtime.db.session() as session:
        transcript = session.scalar(select(Transcript).where(Transcript.message_id == message_id))
        if transcript is not None:
            finish_transcript(transcript, TranscriptState.FAILED, reason[:ERROR_LIMIT])
    log.warning("recording of voicemail %s not downloaded: %s", message_id, reason)
