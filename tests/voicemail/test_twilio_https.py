"""Twilio credentials (basic auth) go only over https or to loopback, never in clear."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from intake.core.db.models import Message
from intake.core.runtime import Runtime
from intake.core.twilio import (
    RecordingFetchError,
    compute_signature,
    credentials_may_go_to,
    fetch_recording,
)
from intake.errors import RejectedError
from tests.conftest import make_app

TOKEN = "twilio-test-auth-token"
WEBHOOK = "http://localhost/api/voicemail/twilio"
CREDENTIALS = ("AC0001", TOKEN)
# A name that never resolves (RFC 6761): had the fetch tried the network, it would fail to
# connect (RecordingFetchError) instead of being refused up front (RejectedError).
NOWHERE = "recordings.invalid"


@pytest.fixture
def audio_server() -> Iterator[tuple[str, list[str | None]]]:
    """A loopback server: /audio answers bytes, /hop redirects to /audio on ``localhost``."""
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server's hook name
            seen.append(self.headers.get("Authorization"))
            if self.path == "/hop":
                self.send_response(302)
                self.send_header("Location", f"http://localhost:{port}/audio")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "audio/x-wav")
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"RIFF")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", seen
    server.shutdown()
    server.server_close()


def test_which_urls_may_receive_credentials() -> None:
    assert credentials_may_go_to("https://api.twilio.com/2010-04-01/Recordings/RE1")
    assert credentials_may_go_to("http://127.0.0.1:8000/r")
    assert credentials_may_go_to("http://[::1]:8000/r")
    assert credentials_may_go_to("http://localhost/r")
    assert not credentials_may_go_to("http://api.twilio.com/2010-04-01/Recordings/RE1")
    assert not credentials_may_go_to("http://10.0.0.5/r")
    assert not credentials_may_go_to("http://localhost.evil.example/r")
    assert not credentials_may_go_to("ftp://api.twilio.com/r")


def test_credentials_are_refused_over_plain_http_before_any_connection() -> None:
    with pytest.raises(RejectedError, match="plain http.*must be https"):
        fetch_recording(
            f"http://{NOWHERE}/Recordings/RE1",
            allowed_hosts=(NOWHERE,),
            max_bytes=10**6,
            basic_auth=CREDENTIALS,
        )
    # Without credentials the same URL is tried (and fails on the network): only the
    # credentials made the difference.
    with pytest.raises(RecordingFetchError):
        fetch_recording(
            f"http://{NOWHERE}/Recordings/RE1", allowed_hosts=(NOWHERE,), max_bytes=10**6
        )


def test_loopback_gets_the_credentials_and_a_redirect_target_does_not(
    audio_server: tuple[str, list[str | None]],
) -> None:
    base, seen = audio_server
    allowed = ("127.0.0.1", "localhost")
    fetched = fetch_recording(
        f"{base}/audio", allowed_hosts=allowed, max_bytes=100, basic_auth=CREDENTIALS
    )
    assert fetched.data == b"RIFF"
    assert seen[-1] is not None and seen[-1].startswith("Basic ")
    fetch_recording(f"{base}/hop", allowed_hosts=allowed, max_bytes=100, basic_auth=CREDENTIALS)
    assert seen[-2] is not None  # the first host asked
    assert seen[-1] is None  # the host it redirected to


def test_twilio_webhook_with_an_http_recording_url_is_refused_and_stores_nothing(
    make_voicemail_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_voicemail_runtime(INTAKE_TWILIO_AUTH_TOKEN=TOKEN, INTAKE_RECORDING_HOSTS=NOWHERE)
    form = {
        "AccountSid": CREDENTIALS[0],
        "CallSid": "CA0001",
        "RecordingSid": "RE0001",
        "RecordingUrl": f"http://{NOWHERE}/Recordings/RE0001",
        "RecordingDuration": "3",
        "From": "+15552010123",
        "To": "+15550009999",
    }
    signature = compute_signature(TOKEN, WEBHOOK, form.items())
    response = (
        make_app(runtime)
        .test_client()
        .post(WEBHOOK, data=form, headers={"X-Twilio-Signature": signature})
    )
    assert response.status_code == 403
    assert "https" in response.get_data(as_text=True)
    with runtime.db.session() as session:
        assert session.scalar(select(func.count(Message.id))) == 0
