"""Voicemail-to-email messages byte for byte as Asterisk's app_voicemail writes them."""

from __future__ import annotations

import base64

BOUNDARY = "----voicemail_31001795421700"


def asterisk_mail(
    wav: bytes | None,
    *,
    caller_number: str = "5552010123",
    caller_name: str = "José Müller",
    with_vm_headers: bool = True,
    message_number: int = 3,
    to: str = "support@example.com",
) -> bytes:
    """Asterisk's default template: ISO-8859-1 text, raw 8-bit X- headers, msgNNNN.wav."""
    callerid = f'"{caller_name}" <{caller_number}>' if caller_name else caller_number
    headers = [
        "Date: Mon, 23 Nov 2026 09:15:02 +0100",
        'From: "Asterisk PBX" <asterisk@pbx.example.com>',
        f'To: "Support Team" <{to}>',
        f"Subject: [PBX]: New message {message_number} in mailbox 100",
        f"Message-ID: <Asterisk-{message_number}-1795421700-100-4242@pbx>",
    ]
    if with_vm_headers:
        headers += [
            f"X-Asterisk-VM-Message-Num: {message_number}",
            "X-Asterisk-VM-Server-Name: ",
            "X-Asterisk-VM-Context: default",
            "X-Asterisk-VM-Extension: 100",
            "X-Asterisk-VM-Priority: 1",
            "X-Asterisk-VM-Caller-channel: SIP/trunk-00000001",
            f"X-Asterisk-VM-Caller-ID-Num: {caller_number}",
            f"X-Asterisk-VM-Caller-ID-Name: {caller_name}",
            "X-Asterisk-VM-Duration: 3",
            "X-Asterisk-VM-Category: ",
            "X-Asterisk-VM-Message-Type: Cop",
            "X-Asterisk-VM-Orig-date: Monday, November 23, 2026 at 09:15:00 AM",
            "X-Asterisk-VM-Orig-time: 1795421700",
            f"X-Asterisk-CallerID: {caller_number}",
            f"X-Asterisk-CallerIDName: {caller_name}",
        ]
    body = (
        "Dear Support Team:\n\n"
        "\tjust wanted to let you know you were just left a 0:03 long message "
        f"(number {message_number})\n"
        f"in mailbox 100 from {callerid}, on Monday, November 23, 2026 at 09:15:00 AM so you "
        "might\nwant to check it when you get a chance.  Thanks!\n\n\t\t\t\t--Asterisk\n"
    )
    parts = [
        "\n".join(headers),
        "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{BOUNDARY}"',
        "",
        "This is a multi-part message in MIME format.",
        "",
        f"--{BOUNDARY}",
        "Content-Type: text/plain; charset=ISO-8859-1",
        "Content-Transfer-Encoding: 8bit",
        "",
        body,
    ]
    if wav is not None:
        name = f"msg{message_number - 1:04d}.wav"
        encoded = base64.encodebytes(wav).decode("ascii")
        parts += [
            f"--{BOUNDARY}",
            f'Content-Type: audio/x-wav; name="{name}"',
            "Content-Transfer-Encoding: base64",
            "Content-Description: Voicemail sound attachment.",
            f'Content-Disposition: attachment; filename="{name}"',
            "",
            encoded,
        ]
    parts.append(f"--{BOUNDARY}--")
    return "\r\n".join("\n".join(parts).split("\n")).encode("iso-8859-1") + b"\r\n"
