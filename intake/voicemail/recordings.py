"""Recordings the webhook could not download at once: the transcription job fetches them.

A Twilio recording webhook is not retried by Twilio when we fail, so a download that fails
during the webhook must not lose the call: the voicemail is accepted without audio (caller,
line and recording URL kept), and the ``transcribe`` job downloads it with RQ's retries and
backoff before transcribing. After the last attempt the transcript shows the download error.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from intake.db.models import Message, Transcript
from intake.errors import RejectedError
from intake.runtime import Runtime
from intake.voicemail.link import audio_content_type
from intake.voicemail.twilio import fetch_recording

log = logging.getLogger(__name__)

FETCH_TIMEOUT_S = 60.0


def fetch_pending_recording(runtime: Runtime, message_id: int) -> str | None:
    """Download and store a recording that is still missing.

    Returns None when the audio is (now) stored, or a reason that retrying cannot fix (the host
    is no longer allowed). Raises RecordingFetchError for failures worth retrying.
    """
    with runtime.db.session() as session:
        message = session.get(Message, message_id)
        if message is None or message.raw_size or not message.extra.get("recording_url"):
            return None
        url = str(message.extra["recording_url"])
        account_sid = message.extra.get("account_sid")
    settings = runtime.settings
    token = settings.twilio_auth_token
    try:
        fetched = fetch_recording(
            url,
            allowed_hosts=settings.recording_hosts,
            max_bytes=settings.max_audio_bytes,
            timeout_s=FETCH_TIMEOUT_S,
            basic_auth=(str(account_sid), token) if account_sid and token else None,
        )
    except RejectedError as exc:
        return f"The recording could not be downloaded: {exc}."
    digest = runtime.blobs.put(fetched.data)
    content_type = audio_content_type(fetched.data[:64], "", fetched.content_type)
    with runtime.db.session() as session:
        message = session.get(Message, message_id)
        transcript = session.scalar(select(Transcript).where(Transcript.message_id == message_id))
        if message is None or transcript is None:
            return None
        message.raw_sha256 = digest
        message.raw_size = len(fetched.data)
        message.raw_content_type = content_type
        transcript.audio_sha256 = digest
        transcript.audio_content_type = content_type
    log.info("recording of voicemail %s downloaded (%d bytes)", message_id, len(fetched.data))
    return None
