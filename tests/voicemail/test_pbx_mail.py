from __future__ import annotations

import base64
from collections.abc import Callable

from sqlalchemy import select

from intake.collectors.smtp import process_smtp_message
from intake.core.db.admin_models import AppSetting
from intake.core.db.models import Customer, Mailbox, Message, Ticket, Transcript
from intake.core.jobs import JobQueue
from intake.core.runtime import Runtime
from tests.conftest import add_person, login, make_app, run_jobs
from tests.voicemail.conftest import pcm_wav
from tests.voicemail.pbxmail import asterisk_mail
from transcribe import Transcriber


def deliver(runtime: Runtime, raw: bytes, sender: str = "asterisk@pbx.example.com") -> int:
    stored = process_smtp_message(runtime, sender, ["support@example.com"], raw)
    run_jobs(runtime, JobQueue.INTAKE.value)
    return stored[0].message_id


def test_asterisk_voicemail_mail_by_smtp_becomes_a_transcribed_voicemail_ticket(
    runtime: Runtime, speech_wav: bytes, speech_model: Transcriber
) -> None:
    message_id = deliver(runtime, asterisk_mail(speech_wav))
    with runtime.db.session() as session:
        message = session.get(Message, message_id)
        assert message is not None and message.ticket is not None
        assert message.channel == "voicemail" and message.ticket.channel == "voicemail"
        assert message.caller_number == "+15552010123"
        assert message.caller_name == "José Müller"
        assert message.ticket.subject == "Voicemail from José Müller (+15552010123)"
        assert message.transcript is not None
        assert message.transcript.state == "pending"
        assert message.transcript.audio_filename == "msg0002.wav"
        assert message.transcript.audio_content_type == "audio/wav"
        customer = message.ticket.customer
        assert customer is not None and customer.phone == "+15552010123"
        # The PBX's own address is not the customer.
        assert session.scalar(select(Customer).where(Customer.email.is_not(None))) is None
    run_jobs(runtime, JobQueue.TRANSCRIBE.value)
    with runtime.db.session() as session:
        transcript = session.scalars(select(Transcript)).one()
        assert transcript.state == "done"
        assert "dialed" in (transcript.text or "").lower()
        message = session.get(Message, message_id)
        assert message is not None and message.new_text == transcript.text
        assert "just wanted to let you know" in (message.text or "")
        ticket_id = message.ticket_id
    token = add_person(runtime, "agent@example.com")
    client = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    listed = client.get(
        "/api/tickets?channel=voicemail", headers={"Authorization": f"Bearer {token}"}
    )
    assert [t["id"] for t in listed.get_json()["tickets"]] == [ticket_id]
    login(client, "agent@example.com")
    page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert f'src="/messages/{message_id}/audio"' in page and "msg0002.wav" in page
    assert 'href="tel:+15552010123"' in page and "dialed" in page.lower()


def test_asterisk_mail_without_recording_is_a_voicemail_ticket_without_transcript(
    runtime: Runtime,
) -> None:
    message_id = deliver(runtime, asterisk_mail(None))
    with runtime.db.session() as session:
        message = session.get(Message, message_id)
        assert message is not None and message.channel == "voicemail"
        assert message.transcript is None and message.ticket is not None
    assert runtime.jobs.queue(JobQueue.TRANSCRIBE).count == 0


def test_mail_with_audio_to_a_mailbox_marked_as_voicemail_source_is_a_voicemail(
    runtime: Runtime,
) -> None:
    with runtime.db.session() as session:
        session.add(
            Mailbox(name="voicemail", addresses=["support@example.com"], is_voicemail_source=True)
        )
    raw = (
        b"From: vm@carrier.example\r\nTo: support@example.com\r\nSubject: Voicemail from"
        b" +1 555 201 0123\r\nMessage-ID: <vm-1@carrier.example>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nYou have a new voicemail.\r\n--b\r\n"
        b'Content-Type: audio/wav; name="vm.wav"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + base64.encodebytes(pcm_wav(b"\x00\x00" * 800))
        + b"--b--\r\n"
    )
    message_id = deliver(runtime, raw, sender="vm@carrier.example")
    with runtime.db.session() as session:
        message = session.get(Message, message_id)
        assert message is not None and message.channel == "voicemail"
        assert message.caller_number == "+15552010123"
        assert message.transcript is not None and message.transcript.audio_filename == "vm.wav"


def test_mail_from_a_sender_marked_as_voicemail_source_is_a_voicemail(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        session.add(AppSetting(key="voicemail_senders", value={"senders": ["pbx@office.example"]}))
    raw = asterisk_mail(pcm_wav(b"\x00\x00" * 800), with_vm_headers=False)
    raw = raw.replace(b"New message 3 in mailbox 100", b"Voicemail for you")
    raw = raw.replace(b"(number 3)\r\nin mailbox 100 from", b"from")
    message_id = deliver(runtime, raw, sender="pbx@office.example")
    with runtime.db.session() as session:
        message = session.get(Message, message_id)
        assert message is not None and message.channel == "voicemail"
        assert message.extra["pbx"] == "marked_source"


def test_voicemail_mail_with_audio_over_the_limit_keeps_the_audio_and_fails_transcription(
    make_voicemail_runtime: Callable[..., Runtime], speech_wav: bytes, speech_model: Transcriber
) -> None:
    runtime = make_voicemail_runtime(INTAKE_MAX_AUDIO_BYTES="8192")
    message_id = deliver(runtime, asterisk_mail(speech_wav))
    run_jobs(runtime, JobQueue.TRANSCRIBE.value)
    with runtime.db.session() as session:
        transcript = session.scalars(select(Transcript)).one()
        assert transcript.state == "failed"
        assert transcript.error is not None and "limit is" in transcript.error
        assert runtime.blobs.get(transcript.audio_sha256) == speech_wav
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.channel == "voicemail"
        message = session.get(Message, message_id)
        assert message is not None and message.ticket_id == ticket.id
