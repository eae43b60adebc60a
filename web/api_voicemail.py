"""Voicemail upload API and the Twilio-compatible recording webhook.

Both answer only after the audio is durably stored and the ticket exists (the intake step runs
at once for the new message: ``voicemail_ticket_now``); the transcript arrives later
(``transcribe`` queue) and shows on ``GET /api/tickets/<id>``. A recording that cannot be
downloaded during the webhook is fetched by the ``fetch_recording`` job.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from intake.core.accept import Accepted
from intake.core.twilio import (
    RecordingFetchError,
    TwilioRecording,
    fetch_recording,
    validate_signature,
)
from intake.core.voicemail_accept import parse_timestamp, store_voicemail, voicemail_ticket_now
from intake.domain import Source
from intake.errors import RejectedError, StorageError
from web.auth import token_required
from web.context import get_runtime

log = logging.getLogger(__name__)
bp = Blueprint("api_voicemail", __name__)

TWILIO_FETCH_TIMEOUT_S = 10.0
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _error(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify(error=code, message=message), status


def _accepted_json(accepted: Accepted, ticket_id: int) -> dict[str, Any]:
    return {
        "id": ticket_id,
        "ticket_id": ticket_id,
        "message_id": accepted.message_id,
        "duplicate": accepted.duplicate,
        # The transcript fills in on the ticket once the transcribe queue has run.
        "url": url_for("api.ticket", ticket_id=ticket_id),
    }


def idempotency_key() -> str | None:
    """The client's Idempotency-Key, scoped to its user: two clients may both send "1"."""
    key = (request.headers.get("Idempotency-Key") or "").strip()
    return f"api-user-{g.api_user.id}:{key}" if key else None


@bp.post("/api/voicemail")
@token_required
def upload() -> tuple[Response, int]:
    audio = request.files.get("audio")
    if audio is None or (not audio.filename and not audio.mimetype):
        return _error(400, "bad_request", "send the recording as the multipart field 'audio'")
    caller = (request.form.get("from") or "").strip()
    if not caller:
        return _error(400, "bad_request", "'from' (the caller's number) is required")
    received_raw = (request.form.get("received_at") or "").strip()
    try:
        received_at = parse_timestamp(received_raw) if received_raw else None
    except ValueError as exc:
        return _error(400, "bad_request", f"received_at: {exc}")
    runtime = get_runtime()
    try:
        accepted = store_voicemail(
            runtime,
            audio.stream,
            filename=audio.filename or "voicemail",
            content_type=audio.mimetype,
            caller=caller,
            called=(request.form.get("to") or "").strip() or None,
            caller_name=request.form.get("caller_name"),
            received_at=received_at,
            source=Source.API,
            dedup_key=idempotency_key(),
        )
        ticket_id = voicemail_ticket_now(runtime, accepted.message_id)
    except RejectedError as exc:
        return _error(413, "too_large", str(exc))
    except StorageError as exc:
        log.error("voicemail upload not stored: %s", exc)
        return _error(503, "unavailable", "the voicemail could not be stored; try again later")
    return jsonify(_accepted_json(accepted, ticket_id)), 200 if accepted.duplicate else 201


def _signed_url() -> str:
    """The URL Twilio called, as it saw it (``INTAKE_BASE_URL`` when behind a proxy)."""
    base = get_runtime().settings.base_url
    if base:
        return base.rstrip("/") + request.full_path.rstrip("?")
    return request.url


@bp.post("/api/voicemail/twilio")
def twilio_webhook() -> ResponseReturnValue:
    settings = get_runtime().settings
    if not settings.twilio_auth_token:
        return _error(404, "not_found", "the Twilio webhook is not configured")
    params = [(name, value) for name, values in request.form.lists() for value in values]
    signature = request.headers.get("X-Twilio-Signature", "")
    if not validate_signature(settings.twilio_auth_token, _signed_url(), params, signature):
        log.warning("Twilio webhook with a bad signature from %s", request.remote_addr)
        return _error(403, "forbidden", "invalid X-Twilio-Signature")
    status = (request.form.get("RecordingStatus") or "completed").strip().lower()
    if status != "completed":
        # "absent" (nothing recorded) or "failed": there is no voicemail to keep.
        log.info("Twilio recording callback with status %s ignored", status)
        return EMPTY_TWIML, 200, {"Content-Type": "text/xml; charset=utf-8"}
    try:
        recording = TwilioRecording.from_form(request.form)
    except RejectedError as exc:
        return _error(400, "bad_request", str(exc))
    audio = b""
    fetch_error: str | None = None
    try:
        fetched = fetch_recording(
            recording.recording_url,
            allowed_hosts=settings.recording_hosts,
            max_bytes=settings.max_audio_bytes,
            timeout_s=TWILIO_FETCH_TIMEOUT_S,
            basic_auth=(recording.account_sid, settings.twilio_auth_token)
            if recording.account_sid
            else None,
        )
    except RejectedError as exc:
        log.error("Twilio recording %s refused: %s", recording.recording_sid, exc)
        return _error(403, "host_not_allowed", str(exc))
    except RecordingFetchError as exc:
        # Twilio does not retry this webhook: keep the call, the transcription job downloads
        # the recording with retries (workers.recordings).
        log.warning("Twilio recording %s not fetched yet: %s", recording.recording_sid, exc)
        fetch_error = str(exc)
        content_type = "audio/wav"
    else:
        audio, content_type = fetched.data, fetched.content_type
    try:
        accepted = store_voicemail(
            get_runtime(),
            audio,
            filename=f"{recording.recording_sid}.{_extension(content_type)}",
            content_type=content_type,
            caller=recording.caller,
            called=recording.called,
            caller_name=recording.caller_name,
            source=Source.WEBHOOK,
            dedup_key=recording.recording_sid,
            extra={
                "recording_sid": recording.recording_sid,
                "recording_url": recording.recording_url,
                "recording_duration_s": recording.duration_s,
                "account_sid": recording.account_sid,
                "fetch_error": fetch_error,
            },
        )
        ticket_id = voicemail_ticket_now(get_runtime(), accepted.message_id)
    except StorageError as exc:
        log.error("Twilio recording %s not stored: %s", recording.recording_sid, exc)
        return _error(503, "unavailable", "the voicemail could not be stored; try again later")
    headers = {
        "Content-Type": "text/xml; charset=utf-8",
        "X-Intake-Ticket-Id": str(ticket_id),
        "X-Intake-Message-Id": str(accepted.message_id),
    }
    return EMPTY_TWIML, 200, headers


def _extension(content_type: str) -> str:
    return {"audio/mpeg": "mp3", "audio/ogg": "ogg", "audio/flac": "flac"}.get(content_type, "wav")


@bp.errorhandler(413)
def too_large(error: Any) -> tuple[Response, int]:
    limit = get_runtime().settings.max_audio_bytes
    return _error(413, "too_large", f"the upload is larger than the limit of {limit} bytes")
