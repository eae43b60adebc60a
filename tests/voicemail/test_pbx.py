from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage

from intake.mail.parse import parse_email
from intake.mail.pbx import detect_voicemail, parse_callerid
from tests.mailfactory import make_mail
from tests.voicemail.conftest import pcm_wav
from tests.voicemail.pbxmail import asterisk_mail

WAV = pcm_wav(b"\x01\x00" * 800)


def test_asterisk_mail_gives_caller_number_name_mailbox_and_the_msg_attachment() -> None:
    found = detect_voicemail(parse_email(asterisk_mail(WAV)))
    assert found is not None
    assert found.kind == "asterisk"
    assert found.caller_number == "5552010123"
    assert found.caller_name == "José Müller"
    assert (found.mailbox, found.message_number, found.duration_s) == ("100", 3, 3)
    assert found.audio is not None and found.audio.filename == "msg0002.wav"
    assert found.audio.data == WAV


def test_asterisk_mail_without_vm_headers_is_read_from_subject_and_iso_8859_1_body() -> None:
    raw = asterisk_mail(WAV, with_vm_headers=False, caller_name="Zoë Ångström")
    assert b"Zo\xeb \xc5ngstr\xf6m" in raw
    found = detect_voicemail(parse_email(raw))
    assert found is not None
    assert found.caller_number == "5552010123" and found.caller_name == "Zoë Ångström"
    assert (found.mailbox, found.message_number, found.duration_s) == ("100", 3, 3)


def test_asterisk_mail_from_an_unknown_caller_has_no_number() -> None:
    raw = asterisk_mail(
        WAV, with_vm_headers=False, caller_number="an unknown caller", caller_name=""
    )
    found = detect_voicemail(parse_email(raw))
    assert found is not None and found.caller_number is None and found.caller_name is None


def test_asterisk_mail_without_attachment_is_a_voicemail_without_audio() -> None:
    found = detect_voicemail(parse_email(asterisk_mail(None)))
    assert found is not None and found.audio is None and found.caller_number == "5552010123"


def test_ordinary_mail_with_a_wav_attachment_is_not_a_voicemail() -> None:
    message = email.message_from_bytes(
        make_mail(subject="Recording of the noise my printer makes"), policy=policy.default
    )
    assert isinstance(message, EmailMessage)
    message.add_attachment(WAV, maintype="audio", subtype="wav", filename="noise.wav")
    parsed = parse_email(message.as_bytes())
    assert len(parsed.attachments) == 1
    assert detect_voicemail(parsed) is None


def test_mail_from_a_marked_source_with_audio_is_a_voicemail_with_the_labelled_caller() -> None:
    raw = (
        b"From: voicemail@carrier.example\r\nTo: support@example.com\r\n"
        b"Subject: New voicemail (2)\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nThere is a new voicemail in mailbox 200:\r\n\r\n"
        b'\tFrom:\t"Acme Corp" <+44 20 7946 0958>\r\n\tLength:\t17 seconds\r\n\r\n--b\r\n'
        b'Content-Type: audio/mpeg; name="vm.mp3"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        b"SUQzBAAAAAAAI1RTU0UAAAAPAAADTGF2ZjU4Ljc2LjEwMAAAAAAAAAAAAAAA\r\n--b--\r\n"
    )
    assert detect_voicemail(parse_email(raw)) is None
    found = detect_voicemail(parse_email(raw), marked_source=True)
    assert found is not None and found.kind == "marked_source"
    assert found.caller_number == "+44 20 7946 0958" and found.caller_name == "Acme Corp"
    assert found.duration_s == 17
    assert found.audio is not None and found.audio.filename == "vm.mp3"


def test_mail_from_a_marked_source_without_audio_stays_an_email() -> None:
    assert detect_voicemail(parse_email(make_mail()), marked_source=True) is None


def test_caller_ids_in_the_forms_pbxs_write_them() -> None:
    cases = {
        '"Jane Doe" <5551234567>': ("5551234567", "Jane Doe"),
        "Jane Doe <+15551234567>": ("+15551234567", "Jane Doe"),
        "5551234567": ("5551234567", None),
        '"" <5551234567>': ("5551234567", None),
        '"5551234567" <5551234567>': ("5551234567", None),
        "<unknown>": (None, None),
        "Anonymous": (None, None),
        "": (None, None),
        "Reception 0049 30 1234567": ("0049 30 1234567", "Reception"),
    }
    for value, expected in cases.items():
        caller = parse_callerid(value)
        assert (caller.number, caller.name) == expected, value
