from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from intake.core.db.models import Message, Transcript
from intake.core.jobs import JobQueue
from intake.core.runtime import Runtime
from intake.core.twilio import (
    RecordingFetchError,
    compute_signature,
    fetch_recording,
    host_allowed,
    validate_signature,
)
from intake.errors import RejectedError
from tests.conftest import make_app, run_jobs
from transcribe import Transcriber
from workers.recordings import fetch_recording as fetch_recording_job

TOKEN = "twilio-test-auth-token"
WEBHOOK = "http://localhost/api/voicemail/twilio"


class RecordingServer:
    def __init__(self, recordings: dict[str, bytes]) -> None:
        self.recordings = recordings
        self.auth_headers: list[str | None] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's hook name
                outer.auth_headers.append(self.headers.get("Authorization"))
                if self.path.startswith("/redirect"):
                    self.send_response(302)
                    self.send_header("Location", "http://evil.example/stolen")
                    self.end_headers()
                    return
                body = outer.recordings.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "audio/x-wav")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def recording_server(speech_wav: bytes) -> Iterator[RecordingServer]:
    server = RecordingServer({"/Recordings/RE0001": speech_wav})
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def body(response: TestResponse) -> dict[str, Any]:
    data = response.get_json()
    assert isinstance(data, dict), response.data
    return data


def form_for(url: str, sid: str = "RE0001") -> dict[str, str]:
    return {
        "AccountSid": "AC0001",
        "CallSid": "CA0001",
        "RecordingSid": sid,
        "RecordingUrl": url,
        "RecordingDuration": "3",
        "From": "+15552010123",
        "To": "+15550009999",
    }


def test_signature_matches_twilios_documented_example() -> None:
    params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ]
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert compute_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert validate_signature("12345", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert validate_signature(
        "12345",
        "https://mycompany.com:443/myapp.php?foo=1&bar=2",
        params,
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ=",
    )
    assert not validate_signature("12345", url, params[:-1], "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not validate_signature("54321", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not validate_signature("12345", url, params, "")


def test_recording_hosts_match_exactly_or_by_wildcard_subdomain() -> None:
    allowed = ("api.twilio.com", "*.media.example", "127.0.0.1")
    assert host_allowed("https://api.twilio.com/2010-04-01/Recordings/RE1", allowed)
    assert host_allowed("https://eu1.media.example/r", allowed)
    assert host_allowed("http://127.0.0.1:8000/r", allowed)
    assert not host_allowed("https://api.twilio.com.evil.example/r", allowed)
    assert not host_allowed("https://media.example.evil/r", allowed)
    assert not host_allowed("file:///etc/passwd", allowed)
    assert not host_allowed("https://169.254.169.254/latest", allowed)


def test_fetch_refuses_hosts_and_redirects_outside_the_allow_list(
    recording_server: RecordingServer,
) -> None:
    with pytest.raises(RejectedError):
        fetch_recording(
            recording_server.url("/Recordings/RE0001"), allowed_hosts=("x",), max_bytes=10**6
        )
    with pytest.raises(RejectedError, match="redirect"):
        fetch_recording(
            recording_server.url("/redirect"), allowed_hosts=("127.0.0.1",), max_bytes=10**6
        )


def test_fetch_stops_at_the_size_limit_and_reports_http_errors(
    recording_server: RecordingServer,
) -> None:
    with pytest.raises(RecordingFetchError, match="limit"):
        fetch_recording(
            recording_server.url("/Recordings/RE0001"), allowed_hosts=("127.0.0.1",), max_bytes=100
        )
    with pytest.raises(RecordingFetchError, match="404"):
        fetch_recording(
            recording_server.url("/Recordings/missing"), allowed_hosts=("127.0.0.1",), max_bytes=100
        )


def post_webhook(
    runtime: Runtime, form: dict[str, str], signature: str | None = None
) -> TestResponse:
    client = make_app(runtime).test_client()
    signature = signature or compute_signature(TOKEN, WEBHOOK, form.items())
    return client.post(WEBHOOK, data=form, headers={"X-Twilio-Signature": signature})


def test_signed_twilio_webhook_fetches_the_recording_and_opens_a_transcribed_ticket(
    make_voicemail_runtime: Callable[..., Runtime],
    recording_server: RecordingServer,
    speech_wav: bytes,
    speech_model: Transcriber,
) -> None:
    runtime = make_voicemail_runtime(
        INTAKE_TWILIO_AUTH_TOKEN=TOKEN, INTAKE_RECORDING_HOSTS="127.0.0.1"
    )
    response = post_webhook(runtime, form_for(recording_server.url("/Recordings/RE0001")))
    assert response.status_code == 200, response.data
    assert b"<Response>" in response.data
    ticket_id = int(response.headers["X-Intake-Ticket-Id"])
    assert recording_server.auth_headers[0] is not None  # Twilio media auth: AccountSid + token
    run_jobs(runtime, JobQueue.TRANSCRIBE.value)
    with runtime.db.session() as session:
        message = session.scalars(select(Message)).one()
        assert message.ticket_id == ticket_id and message.source == "webhook"
        assert message.caller_number == "+15552010123"
        assert runtime.blobs.get(message.raw_sha256) == speech_wav
        assert message.transcript is not None and message.transcript.state == "done"
        assert "dialed" in (message.transcript.text or "").lower()
    again = post_webhook(runtime, form_for(recording_server.url("/Recordings/RE0001")))
    assert again.headers["X-Intake-Ticket-Id"] == str(ticket_id)


def test_twilio_webhook_with_a_bad_signature_is_refused_and_stores_nothing(
    make_voicemail_runtime: Callable[..., Runtime], recording_server: RecordingServer
) -> None:
    runtime = make_voicemail_runtime(
        INTAKE_TWILIO_AUTH_TOKEN=TOKEN, INTAKE_RECORDING_HOSTS="127.0.0.1"
    )
    form = form_for(recording_server.url("/Recordings/RE0001"))
    forged = compute_signature("not-the-token", WEBHOOK, form.items())
    assert post_webhook(runtime, form, forged).status_code == 403
    assert recording_server.auth_headers == []
    with runtime.db.session() as session:
        assert session.scalar(select(func.count(Message.id))) == 0


def test_twilio_webhook_pointing_at_a_host_outside_the_allow_list_is_refused(
    make_voicemail_runtime: Callable[..., Runtime], recording_server: RecordingServer
) -> None:
    runtime = make_voicemail_runtime(
        INTAKE_TWILIO_AUTH_TOKEN=TOKEN, INTAKE_RECORDING_HOSTS="api.twilio.com"
    )
    response = post_webhook(runtime, form_for(recording_server.url("/Recordings/RE0001")))
    assert response.status_code == 403
    assert "INTAKE_RECORDING_HOSTS" in body(response)["message"]
    assert recording_server.auth_headers == []
    with runtime.db.session() as session:
        assert session.scalar(select(func.count(Transcript.id))) == 0


def test_recording_not_downloadable_yet_is_kept_as_a_ticket_and_fetched_by_the_job(
    make_voicemail_runtime: Callable[..., Runtime],
    recording_server: RecordingServer,
    speech_wav: bytes,
    speech_model: Transcriber,
) -> None:
    runtime = make_voicemail_runtime(
        INTAKE_TWILIO_AUTH_TOKEN=TOKEN, INTAKE_RECORDING_HOSTS="127.0.0.1"
    )
    url = recording_server.url("/Recordings/RE0002")
    response = post_webhook(runtime, form_for(url, sid="RE0002"))
    assert response.status_code == 200
    ticket_id = int(response.headers["X-Intake-Ticket-Id"])
    with runtime.db.session() as session:
        message = session.scalars(select(Message)).one()
        assert message.ticket_id == ticket_id and message.caller_number == "+15552010123"
        assert message.raw_size == 0 and "404" in message.extra["fetch_error"]
    recording_server.recordings["/Recordings/RE0002"] = speech_wav
    # The recording job (intake queue) downloads it and enqueues the transcription.
    run_jobs(runtime, JobQueue.INTAKE, JobQueue.TRANSCRIBE)
    with runtime.db.session() as session:
        message = session.scalars(select(Message)).one()
        assert runtime.blobs.get(message.raw_sha256) == speech_wav
        assert message.transcript is not None and message.transcript.state == "done"
        assert message.transcript.audio_sha256 == message.raw_sha256
        assert message.transcript.audio_content_type == "audio/wav"


def test_recording_that_never_downloads_ends_as_a_failed_transcript_with_the_reason(
    make_voicemail_runtime: Callable[..., Runtime], recording_server: RecordingServer
) -> None:
    runtime = make_voicemail_runtime(
        INTAKE_TWILIO_AUTH_TOKEN=TOKEN, INTAKE_RECORDING_HOSTS="127.0.0.1", INTAKE_JOB_RETRIES="1"
    )
    response = post_webhook(runtime, form_for(recording_server.url("/Recordings/gone")))
    message_id = int(response.headers["X-Intake-Message-Id"])
    for _ in range(2):
        with pytest.raises(RecordingFetchError):
            fetch_recording_job(message_id)
    with runtime.db.session() as session:
        transcript = session.scalars(select(Transcript)).one()
        assert transcript.state == "failed" and "HTTP 404" in (transcript.error or "")


def test_recording_callback_without_a_recording_opens_no_ticket(
    make_voicemail_runtime: Callable[..., Runtime], recording_server: RecordingServer
) -> None:
    runtime = make_voicemail_runtime(
        INTAKE_TWILIO_AUTH_TOKEN=TOKEN, INTAKE_RECORDING_HOSTS="127.0.0.1"
    )
    form = {**form_for(recording_server.url("/Recordings/RE0001")), "RecordingStatus": "absent"}
    assert post_webhook(runtime, form).status_code == 200
    missing = {k: v for k, v in form_for("").items() if k != "RecordingUrl"}
    assert post_webhook(runtime, missing).status_code == 400
    assert recording_server.auth_headers == []
    with runtime.db.session() as session:
        assert session.scalar(select(func.count(Message.id))) == 0


def test_twilio_webhook_is_off_until_an_auth_token_is_configured(
    make_voicemail_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_voicemail_runtime()
    assert post_webhook(runtime, form_for("http://127.0.0.1/x"), "sig").status_code == 404
