"""Recognise voicemail-to-email messages and read the caller out of them (pure, no I/O).

Asterisk's ``app_voicemail`` (and FreePBX, which uses it) sends by default::

    Subject: [PBX]: New message 3 in mailbox 100
    X-Asterisk-CallerID: 5551234567
    X-Asterisk-CallerIDName: Jane Doe
    X-Asterisk-VM-Message-Num: 3
    X-Asterisk-VM-Duration: 12
    ...
    Dear Support:
        just wanted to let you know you were just left a 0:12 long message (number 3)
    in mailbox 100 from "Jane Doe" <5551234567>, on Monday, November 23, 2026 ...

with the recording attached as ``msg0002.wav``, body and headers often ISO-8859-1. Admins may
also mark other senders or mailboxes as voicemail sources (a carrier's voicemail-to-email, a
PBX with custom templates): their mail counts as a voicemail when it carries audio, and the
caller is read from whatever the text offers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from intake.mail.model import ParsedAttachment, ParsedEmail

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".mp3", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".gsm", ".amr", ".au", ".webm"}
)

_SUBJECT = re.compile(r"new message\s+(\d+)\s+in mailbox\s+([\w@.+-]+)", re.IGNORECASE)
_BODY_FROM = re.compile(
    r"\bmessage \(number (\d+)\)\s+in mailbox\s+([\w@.+-]+)\s+from\s+(.+?),\s+on\s",
    re.IGNORECASE | re.DOTALL,
)
_BODY_DURATION = re.compile(r"\ba\s+(\d+:\d{2}(?::\d{2})?)\s+long\b", re.IGNORECASE)
# FreePBX-style bodies: "From:<tab>"Jane" <555...>" and "Length:<tab>12 seconds".
_LABELLED_FROM = re.compile(r"^\s*(?:from|caller(?:\s*id)?)\s*:\s*(.+?)\s*$", re.I | re.M)
_LABELLED_LENGTH = re.compile(r"^\s*(?:length|duration)\s*:\s*(\d+)", re.IGNORECASE | re.MULTILINE)
_CALLERID = re.compile(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$')
_PHONE = re.compile(r"(?<![\w@])(\+?\d[\d ().-]{4,}\d)(?![\w@])")
_UNKNOWN = {"", "unknown", "<unknown>", "an unknown caller", "anonymous", "restricted", "private"}


@dataclass(frozen=True)
class CallerId:
    number: str | None
    name: str | None


@dataclass(frozen=True)
class VoicemailMail:
    """What a voicemail-to-email message says about the call."""

    kind: str  # "asterisk" or "marked_source"
    caller_number: str | None
    caller_name: str | None
    mailbox: str | None
    message_number: int | None
    duration_s: int | None
    audio: ParsedAttachment | None  # None: the PBX is set up not to attach the recording


def parse_callerid(value: str | None) -> CallerId:
    """Split an Asterisk caller id such as ``"Jane Doe" <5551234567>`` into name and number."""
    text = " ".join((value or "").split())
    if text.lower() in _UNKNOWN:
        return CallerId(None, None)
    match = _CALLERID.match(text)
    if match:
        name, number = match.group(1).strip(), match.group(2).strip()
    elif any(ch.isalpha() for ch in text):
        phone = _PHONE.search(text)
        number = phone.group(1) if phone else ""
        name = text.replace(number, "").strip(" -,") if number else text
    else:
        name, number = "", text
    number = "" if number.lower() in _UNKNOWN else number
    name = "" if name.lower() in _UNKNOWN or name == number else name
    return CallerId(number or None, name or None)


def is_audio_attachment(part: ParsedAttachment) -> bool:
    content_type = part.content_type.lower()
    suffix = PurePosixPath(part.filename.lower()).suffix
    return bool(part.data) and (content_type.startswith("audio/") or suffix in AUDIO_EXTENSIONS)


def pick_audio(parsed: ParsedEmail) -> ParsedAttachment | None:
    """The recording: Asterisk's ``msgNNNN.*`` first, else the largest audio attachment."""
    audio = [part for part in parsed.attachments if is_audio_attachment(part)]
    if not audio:
        return None
    named = [p for p in audio if re.fullmatch(r"msg\d+\.\w+", p.filename.lower())]
    return (named or sorted(audio, key=lambda part: -len(part.data)))[0]


def is_asterisk_mail(parsed: ParsedEmail) -> bool:
    if any(name.lower().startswith("x-asterisk-") for name, _ in parsed.headers):
        return True
    has_audio = pick_audio(parsed) is not None
    return has_audio and bool(_SUBJECT.search(parsed.subject) or _BODY_FROM.search(parsed.text))


def detect_voicemail(parsed: ParsedEmail, *, marked_source: bool = False) -> VoicemailMail | None:
    """The voicemail in this mail, or None when it is ordinary mail.

    ``marked_source``: an admin marked the sender or mailbox as a voicemail source; such mail is a
    voicemail only when it carries audio (a text-only note from the same sender stays an email).
    """
    audio = pick_audio(parsed)
    if is_asterisk_mail(parsed):
        return _asterisk(parsed, audio)
    if marked_source and audio is not None:
        caller = _caller_from_text(parsed)
        return VoicemailMail(
            kind="marked_source",
            caller_number=caller.number,
            caller_name=caller.name,
            mailbox=None,
            message_number=None,
            duration_s=_labelled_duration(parsed.text),
            audio=audio,
        )
    return None


def _asterisk(parsed: ParsedEmail, audio: ParsedAttachment | None) -> VoicemailMail:
    header_caller = _merge(
        CallerId(
            _clean(parsed.header("X-Asterisk-VM-Caller-ID-Num")),
            _clean(parsed.header("X-Asterisk-VM-Caller-ID-Name")),
        ),
        _header_callerid(parsed),
    )
    subject = _SUBJECT.search(parsed.subject)
    body = _BODY_FROM.search(parsed.text)
    body_caller = parse_callerid(body.group(3)) if body else _caller_from_text(parsed)
    caller = _merge(header_caller, body_caller)
    number_text = (
        _clean(parsed.header("X-Asterisk-VM-Message-Num"))
        or (subject.group(1) if subject else None)
        or (body.group(1) if body else None)
    )
    mailbox = (
        _clean(parsed.header("X-Asterisk-VM-Extension"))
        or (subject.group(2) if subject else None)
        or (body.group(2) if body else None)
    )
    return VoicemailMail(
        kind="asterisk",
        caller_number=caller.number,
        caller_name=caller.name,
        mailbox=mailbox,
        message_number=int(number_text) if number_text and number_text.isdigit() else None,
        duration_s=_asterisk_duration(parsed),
        audio=audio,
    )


def _header_callerid(parsed: ParsedEmail) -> CallerId:
    """``X-Asterisk-CallerID`` holds the number; older versions put ``"Name" <num>`` there."""
    combined = parse_callerid(parsed.header("X-Asterisk-CallerID"))
    name = _clean(parsed.header("X-Asterisk-CallerIDName"))
    return CallerId(combined.number, name if name and name != combined.number else combined.name)


def _merge(first: CallerId, second: CallerId) -> CallerId:
    return CallerId(first.number or second.number, first.name or second.name)


def _clean(value: str | None) -> str | None:
    text = " ".join((value or "").split())
    return None if text.lower() in _UNKNOWN else text


def _caller_from_text(parsed: ParsedEmail) -> CallerId:
    labelled = _LABELLED_FROM.search(parsed.text)
    if labelled:
        caller = parse_callerid(labelled.group(1))
        if caller.number:
            return caller
    for text in (parsed.subject, parsed.text):
        phone = _PHONE.search(text)
        if phone:
            return CallerId(phone.group(1).strip(), None)
    return CallerId(None, None)


def _asterisk_duration(parsed: ParsedEmail) -> int | None:
    header = _clean(parsed.header("X-Asterisk-VM-Duration"))
    if header and header.isdigit():
        return int(header)
    match = _BODY_DURATION.search(parsed.text)
    if match:
        seconds = 0
        for part in match.group(1).split(":"):
            seconds = seconds * 60 + int(part)
        return seconds
    return _labelled_duration(parsed.text)


def _labelled_duration(text: str) -> int | None:
    match = _LABELLED_LENGTH.search(text)
    return int(match.group(1)) if match else None
