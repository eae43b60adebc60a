from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from intake.core.db.models import Customer, Message, Transcript
from intake.core.runtime import Runtime
from tests.conftest import add_person, login, make_app, run_jobs
from tests.voicemail.conftest import CORRUPT_AUDIO
from transcribe import Transcriber


def body(response: TestResponse) -> dict[str, Any]:
    data = response.get_json()
    assert isinstance(data, dict), response.data
    return data


def upload(client: FlaskClient, headers: dict[str, str], audio: bytes, **form: str) -> Any:
    data: dict[str, Any] = {
        "audio": (io.BytesIO(audio), "voicemail.wav", "audio/wav"),
        "from": "(555) 201-0123",
        "to": "+15550009999",
        **form,
    }
    return client.post("/api/voicemail", data=data, headers=headers)


def test_uploaded_voicemail_answers_201_with_a_ticket_whose_transcript_arrives_later(
    runtime: Runtime,
    client: FlaskClient,
    auth_headers: dict[str, str],
    speech_wav: bytes,
    speech_model: Transcriber,
) -> None:
    response = upload(client, auth_headers, speech_wav, caller_name="Jane Doe")
    assert response.status_code == 201, response.json
    ticket_id = body(response)["id"]
    assert body(response)["url"] == f"/api/tickets/{ticket_id}"
    before = body(client.get(f"/api/tickets/{ticket_id}", headers=auth_headers))
    assert before["channel"] == "voicemail"
    assert before["customer"]["phone"] == "+15552010123"
    assert before["messages"][0]["transcript"]["status"] == "pending"

    run_jobs(runtime, "transcribe")

    after = body(client.get(f"/api/tickets/{ticket_id}", headers=auth_headers))
    message = after["messages"][0]
    transcript = message["transcript"]
    assert transcript["status"] == "done"
    assert "dialed" in transcript["text"].lower()
    assert transcript["segments"] and transcript["segments"][0]["start"] >= 0
    assert transcript["language"] == "en" and transcript["model"] == "base"
    assert message["from"] == "+15552010123" and message["from_name"] == "Jane Doe"
    assert message["to"] == ["+15550009999"]


def test_caller_is_matched_to_the_existing_customer_with_that_phone_number(
    runtime: Runtime, client: FlaskClient, auth_headers: dict[str, str], speech_wav: bytes
) -> None:
    with runtime.db.session() as session:
        session.add(Customer(phone="+15552010123", name="Known Caller", tier="vip"))
    response = upload(client, auth_headers, speech_wav, **{"from": "+1 555-201-0123"})
    ticket = body(client.get(f"/api/tickets/{body(response)['id']}", headers=auth_headers))
    assert ticket["customer"]["name"] == "Known Caller"
    assert ticket["customer"]["tier"] == "vip"
    with runtime.db.session() as session:
        assert len(session.scalars(select(Customer)).all()) == 1


def test_upload_without_audio_or_caller_is_refused_with_a_clear_error(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    no_audio = client.post("/api/voicemail", data={"from": "+15552010123"}, headers=auth_headers)
    assert no_audio.status_code == 400 and "audio" in body(no_audio)["message"]
    no_caller = upload(client, auth_headers, b"RIFF", **{"from": ""})
    assert no_caller.status_code == 400 and "from" in body(no_caller)["message"]
    bad_time = upload(client, auth_headers, b"RIFF", received_at="yesterday")
    assert bad_time.status_code == 400 and "received_at" in body(bad_time)["message"]


def test_upload_without_a_token_is_refused(client: FlaskClient, speech_wav: bytes) -> None:
    assert upload(client, {}, speech_wav).status_code == 401


def test_retried_upload_with_the_same_idempotency_key_returns_the_first_ticket(
    client: FlaskClient, auth_headers: dict[str, str], speech_wav: bytes
) -> None:
    headers = {**auth_headers, "Idempotency-Key": "pbx-call-42"}
    first = upload(client, headers, speech_wav)
    again = upload(client, headers, speech_wav)
    assert first.status_code == 201 and again.status_code == 200
    assert body(again)["id"] == body(first)["id"] and body(again)["duplicate"] is True


def test_two_clients_using_the_same_idempotency_key_get_two_tickets(
    runtime: Runtime, client: FlaskClient, auth_headers: dict[str, str], speech_wav: bytes
) -> None:
    other = {"Authorization": f"Bearer {add_person(runtime, 'pbx2@example.com')}"}
    first = upload(client, {**auth_headers, "Idempotency-Key": "1"}, speech_wav)
    second = upload(client, {**other, "Idempotency-Key": "1"}, speech_wav + b"\0" * 64)
    assert first.status_code == 201 and second.status_code == 201
    assert body(first)["id"] != body(second)["id"]


def test_a_sip_uri_caller_and_a_long_name_are_kept_not_refused(
    runtime: Runtime, client: FlaskClient, auth_headers: dict[str, str], speech_wav: bytes
) -> None:
    caller = "sip:+15551234567@acme-support.sip.twilio.com"
    response = upload(
        client, auth_headers, speech_wav, **{"from": caller, "caller_name": "C" * 300}
    )
    assert response.status_code == 201
    with runtime.db.session() as session:
        message = session.scalars(select(Message)).one()
        assert message.caller_number and caller.startswith(message.caller_number)
        assert message.extra["caller_raw"] == caller


def test_audio_larger_than_the_limit_is_refused_with_413_and_nothing_stored(
    make_voicemail_runtime: Callable[..., Runtime], speech_wav: bytes
) -> None:
    runtime = make_voicemail_runtime(INTAKE_MAX_AUDIO_BYTES="4096")
    token = add_person(runtime, "agent@example.com")
    client = make_app(runtime).test_client()
    response = upload(client, {"Authorization": f"Bearer {token}"}, speech_wav)
    assert response.status_code == 413
    assert "4096" in body(response)["message"]
    with runtime.db.session() as session:
        assert session.scalars(select(Message)).all() == []


def test_corrupt_audio_still_makes_a_ticket_with_the_audio_kept_and_a_failed_transcript(
    runtime: Runtime,
    client: FlaskClient,
    auth_headers: dict[str, str],
    speech_model: Transcriber,
) -> None:
    response = upload(client, auth_headers, CORRUPT_AUDIO)
    assert response.status_code == 201
    run_jobs(runtime, "transcribe")
    ticket = body(client.get(f"/api/tickets/{body(response)['id']}", headers=auth_headers))
    transcript = ticket["messages"][0]["transcript"]
    assert transcript["status"] == "failed"
    assert "could not be" in transcript["error"] and transcript["text"] is None
    with runtime.db.session() as session:
        row = session.scalars(select(Transcript)).one()
        assert runtime.blobs.get(row.audio_sha256) == CORRUPT_AUDIO
        assert row.attempts == 1  # bad audio is not retried


def test_empty_audio_gets_a_ticket_that_says_the_file_is_empty(
    runtime: Runtime,
    client: FlaskClient,
    auth_headers: dict[str, str],
    speech_model: Transcriber,
) -> None:
    response = upload(client, auth_headers, b"")
    assert response.status_code == 201
    run_jobs(runtime, "transcribe")
    ticket = body(client.get(f"/api/tickets/{body(response)['id']}", headers=auth_headers))
    transcript = ticket["messages"][0]["transcript"]
    assert transcript["status"] == "failed" and "empty" in transcript["error"]


def test_silence_is_marked_no_speech_without_any_text(
    runtime: Runtime,
    client: FlaskClient,
    auth_headers: dict[str, str],
    silence_wav: bytes,
    speech_model: Transcriber,
) -> None:
    response = upload(client, auth_headers, silence_wav)
    run_jobs(runtime, "transcribe")
    ticket = body(client.get(f"/api/tickets/{body(response)['id']}", headers=auth_headers))
    message = ticket["messages"][0]
    assert message["transcript"]["status"] == "no_speech"
    assert message["transcript"]["text"] is None and message["transcript"]["segments"] == []
    assert message["text"] is None
    add_person(runtime, "viewer@example.com")
    browser = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    login(browser, "viewer@example.com")
    page = browser.get(f"/tickets/{body(response)['id']}").get_data(as_text=True)
    assert "No speech detected." in page and "data-start=" not in page


def test_ticket_page_plays_the_audio_with_range_requests_and_links_the_caller(
    runtime: Runtime, auth_headers: dict[str, str], speech_wav: bytes, speech_model: Transcriber
) -> None:
    client = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    response = upload(client, auth_headers, speech_wav)
    run_jobs(runtime, "transcribe")
    with runtime.db.session() as session:
        message_id = session.scalars(select(Message.id)).one()
    login(client, "agent@example.com")
    page = client.get(f"/tickets/{body(response)['id']}").get_data(as_text=True)
    assert f'src="/messages/{message_id}/audio"' in page
    assert 'href="tel:+15552010123"' in page
    assert "data-start=" in page and "dialed" in page.lower()
    # Closed after reading: the answer streams the stored file.
    with client.get(f"/messages/{message_id}/audio", headers={"Range": "bytes=0-99"}) as partial:
        assert partial.status_code == 206
        assert partial.headers["Content-Type"] == "audio/wav"
        assert partial.data == speech_wav[:100]
        assert partial.headers["Content-Range"] == f"bytes 0-99/{len(speech_wav)}"


def test_g711_mu_law_telephone_audio_is_transcribed(
    runtime: Runtime,
    client: FlaskClient,
    auth_headers: dict[str, str],
    mulaw_wav: bytes,
    speech_model: Transcriber,
) -> None:
    assert mulaw_wav[20:22] == b"\x07\x00"  # WAVE_FORMAT_MULAW
    response = upload(client, auth_headers, mulaw_wav)
    run_jobs(runtime, "transcribe")
    ticket = body(client.get(f"/api/tickets/{body(response)['id']}", headers=auth_headers))
    transcript = ticket["messages"][0]["transcript"]
    assert transcript["status"] == "done" and "dialed" in transcript["text"].lower()
