"""Voicemail in the customers' languages, end to end: upload, transcribe, classify, show."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from intake.core.runtime import Runtime
from intake.domain import Role
from tests.conftest import add_person, json_of, login, make_app, run_jobs
from tests.voicemail.conftest import SHARED_AUDIO
from transcribe import Transcriber

MANDARIN_CLIP = SHARED_AUDIO / "mindaudio" / "BAC009S0002W0122.wav"
FRENCH = "Bonjour, je vous appelle au sujet de ma commande qui n'est toujours pas arrivée."


def upload(client: FlaskClient, headers: dict[str, str], audio: bytes, to: str) -> int:
    data: dict[str, Any] = {
        "audio": (io.BytesIO(audio), "voicemail.wav", "audio/wav"),
        "from": "+8613800138000",
        "to": to,
    }
    response = client.post("/api/voicemail", data=data, headers=headers)
    assert response.status_code == 201, response.data
    ticket_id = json_of(response)["id"]
    assert isinstance(ticket_id, int)
    return ticket_id


def ticket_after_jobs(
    runtime: Runtime, client: FlaskClient, headers: dict[str, str], ticket_id: int
) -> dict[str, Any]:
    run_jobs(runtime, "transcribe", "classify")
    return json_of(client.get(f"/api/tickets/{ticket_id}", headers=headers))


@pytest.fixture
def mandarin_wav() -> bytes:
    if not MANDARIN_CLIP.is_file():
        pytest.skip(f"shared audio not found at {MANDARIN_CLIP}")
    return MANDARIN_CLIP.read_bytes()


def test_a_mandarin_voicemail_becomes_a_simplified_chinese_ticket_classified_in_chinese(
    runtime: Runtime,
    client: FlaskClient,
    auth_headers: dict[str, str],
    mandarin_wav: bytes,
    speech_model: Transcriber,
) -> None:
    ticket_id = upload(client, auth_headers, mandarin_wav, to="+15550009999")
    ticket = ticket_after_jobs(runtime, client, auth_headers, ticket_id)
    transcript = ticket["messages"][0]["transcript"]
    assert transcript["status"] == "done", transcript
    assert transcript["language"] == "zh" and transcript["language_source"] == "detected"
    text = transcript["text"]
    assert sum("\u4e00" <= ch <= "\u9fff" for ch in text) >= 10, text
    # Simplified, not Traditional: the clip's 经济 would be 經濟 in Traditional characters.
    assert not any(ch in text for ch in "經濟這個們會")
    assert ticket["language"] == "zh-Hans"  # the classifier read the Chinese words


def test_an_admin_set_line_language_is_trusted_without_detection(
    runtime: Runtime,
    client: FlaskClient,
    auth_headers: dict[str, str],
    mandarin_wav: bytes,
    speech_model: Transcriber,
) -> None:
    add_person(runtime, "boss@example.com", Role.ADMIN)
    admin = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    login(admin, "boss@example.com")
    saved = admin.post(
        "/admin/voicemail/languages",
        data={"languages": "+1 (555) 000-7777 = zh"},
        follow_redirects=True,
    )
    assert "1 line language(s) saved" in saved.get_data(as_text=True)
    refused = admin.post("/admin/voicemail/languages", data={"languages": "+15550007777 chinese"})
    assert refused.status_code == 302
    ticket_id = upload(client, auth_headers, mandarin_wav, to="+15550007777")
    transcript = ticket_after_jobs(runtime, client, auth_headers, ticket_id)["messages"][0][
        "transcript"
    ]
    assert transcript["status"] == "done" and transcript["language"] == "zh"
    assert transcript["language_source"] == "hint"


def french_wav(directory: Path) -> bytes:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.fail("espeak-ng is not installed (Debian package espeak-ng, in .ci/apt-packages)")
    path = directory / "french.wav"
    subprocess.run([espeak, "-v", "fr", "-w", str(path), FRENCH], check=True, timeout=60)
    return path.read_bytes()


def test_speech_in_a_language_without_a_model_is_marked_and_never_classified_as_words(
    runtime: Runtime,
    client: FlaskClient,
    auth_headers: dict[str, str],
    speech_model: Transcriber,
    tmp_path: Path,
) -> None:
    ticket_id = upload(client, auth_headers, french_wav(tmp_path), to="+15550009999")
    ticket = ticket_after_jobs(runtime, client, auth_headers, ticket_id)
    message = ticket["messages"][0]
    transcript = message["transcript"]
    assert transcript["status"] == "unsupported_language", transcript
    assert transcript["reason"] == "language not supported (fr)"
    assert not transcript["text"] and not message["text"]
    assert ticket["language"] != "fr"  # nothing was decoded for the classifier to read
    browser = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    login(browser, "agent@example.com")
    page = browser.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert "language not supported (fr)" in page
