"""RFC 822 composition, byte by byte: headers, threading, encodings, attachments."""

from __future__ import annotations

import base64
import email
import re
from datetime import UTC, datetime
from email import policy

import pytest

from intake.errors import RejectedError
from intake.mail.compose import (
    MAX_REFERENCES,
    OutgoingAttachment,
    OutgoingMail,
    checked_address,
    compose,
    make_message_id,
    reply_subject,
    tagged_subject,
    thread_references,
)
from intake.mail.model import Address
from intake.mail.parse import parse_email

WHEN = datetime(2026, 12, 1, 18, 30, 5, tzinfo=UTC)


def mail(**changes: object) -> OutgoingMail:
    values: dict[str, object] = {
        "sender": Address("", "support@shop.example"),
        "to": (Address("Alice Customer", "alice@customer.org"),),
        "subject": "Re: Order 1234 has not arrived [#42]",
        "text": "Hello Alice,\n\nyour parcel left today.\n",
        "message_id": "abc123@shop.example",
        "date": WHEN,
        "in_reply_to": "orig-1@customer.org",
        "references": ("root@customer.org", "orig-1@customer.org"),
    }
    values.update(changes)
    return OutgoingMail(**values)  # type: ignore[arg-type]


def header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def test_a_reply_has_exactly_the_threading_headers_and_crlf_line_ends() -> None:
    raw = compose(mail())
    head = header_block(raw)
    assert head.split(b"\r\n")[:4] == [
        b"From: support@shop.example",
        b"To: Alice Customer <alice@customer.org>",
        b"Subject: Re: Order 1234 has not arrived [#42]",
        b"Date: Tue, 01 Dec 2026 18:30:05 +0000",
    ]
    assert b"\r\nMessage-ID: <abc123@shop.example>\r\n" in head
    assert b"\r\nIn-Reply-To: <orig-1@customer.org>\r\n" in head
    assert b"\r\nReferences: <root@customer.org> <orig-1@customer.org>\r\n" in head
    assert b"Auto-Submitted" not in head
    assert b"\r\nMIME-Version: 1.0\r\n" in head
    assert b'Content-Type: text/plain; charset="utf-8"' in head
    assert b"Content-Transfer-Encoding: 7bit" in head
    assert raw.endswith(b"your parcel left today.\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")  # no bare LF anywhere
    parsed = parse_email(raw)
    assert parsed.message_id == "abc123@shop.example"
    assert parsed.in_reply_to == ("orig-1@customer.org",)
    assert parsed.references == ("root@customer.org", "orig-1@customer.org")


def test_chinese_subject_names_and_body_are_encoded_and_read_back_intact() -> None:
    text = "张先生，您好：\n\n您的订单已发货，预计三天内送达。\n\n此致\n客服小王\n"
    raw = compose(
        mail(
            to=(Address("张三", "zhang@customer.cn"),),
            cc=(Address("李四 (经理)", "li@customer.cn"),),
            subject="回复：订单没有收到 [#42]",
            text=text,
        )
    )
    head = header_block(raw)
    assert head.isascii()  # RFC 2047 encoded words, no raw 8-bit in headers
    assert b"=?utf-8?" in head
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert body.isascii()  # base64 or quoted-printable, safe for any relay
    parsed = parse_email(raw)
    assert parsed.subject == "回复：订单没有收到 [#42]"
    assert parsed.to[0].name == "张三" and parsed.to[0].email == "zhang@customer.cn"
    assert parsed.cc[0].name == "李四 (经理)"
    assert parsed.text.strip() == text.strip()
    stdlib = email.message_from_bytes(raw, policy=policy.default)
    assert stdlib.get_content_charset() == "utf-8"
    assert stdlib["Subject"] == "回复：订单没有收到 [#42]"


def test_an_acknowledgement_says_it_was_auto_submitted_rfc_3834() -> None:
    raw = compose(
        mail(
            auto_submitted="auto-replied",
            extra_headers=(("X-Auto-Response-Suppress", "All"),),
        )
    )
    head = header_block(raw)
    assert b"\r\nAuto-Submitted: auto-replied\r\n" in head
    assert b"\r\nX-Auto-Response-Suppress: All\r\n" in head
    # Our own parser treats it as automatic: our acknowledgements never open tickets.
    assert "auto_reply" in parse_email(raw).flags


def test_attachments_make_a_multipart_mixed_with_encoded_file_names() -> None:
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 4
    raw = compose(
        mail(
            attachments=(
                OutgoingAttachment("invoice 1234.pdf", "application/pdf", pdf),
                OutgoingAttachment("发票.txt", "text/plain", "发票内容".encode()),
            )
        )
    )
    assert re.search(rb'Content-Type: multipart/mixed; boundary="[^"]+"', raw)
    parsed = parse_email(raw)
    assert [(a.filename, a.content_type, a.data) for a in parsed.attachments] == [
        ("invoice 1234.pdf", "application/pdf", pdf),
        ("发票.txt", "text/plain", "发票内容".encode()),
    ]
    assert parsed.text.strip() == "Hello Alice,\n\nyour parcel left today."
    assert base64.b64encode(pdf[:48]) in raw


def test_header_injection_through_subject_or_name_is_impossible() -> None:
    raw = compose(
        mail(
            subject="Hi\r\nBcc: victim@evil.example",
            to=(Address("Eve\r\nBcc: x@evil.example", "alice@customer.org"),),
        )
    )
    assert b"\r\nBcc:" not in header_block(raw)
    assert parse_email(raw).subject == "Hi Bcc: victim@evil.example"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "alice",
        "alice@",
        "@customer.org",
        "a b@customer.org",
        "alice@localhost",
        "a..b@x.org",
        "alice@customer.org\r\nBcc: x@y.org",
        "用户@customer.cn",
    ],
)
def test_addresses_we_cannot_send_to_are_refused(bad: str) -> None:
    with pytest.raises(RejectedError):
        checked_address(bad)
    with pytest.raises(RejectedError):
        compose(mail(to=(Address("", bad),)))


def test_addresses_are_trimmed_and_their_domain_lower_cased() -> None:
    assert checked_address(" <Alice.Smith+tag@Customer.ORG> ") == "Alice.Smith+tag@customer.org"


def test_the_message_id_is_in_the_domain_of_the_from_address() -> None:
    assert make_message_id("Support@Shop.Example", "t0k3n") == "t0k3n@shop.example"
    one, two = make_message_id("a@shop.example"), make_message_id("a@shop.example")
    assert one != two and one.endswith("@shop.example")


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Order 1234 has not arrived", "Re: Order 1234 has not arrived [#42]"),
        ("Re: Order 1234 [#42]", "Re: Order 1234 [#42]"),
        ("[#42] Order 1234", "Re: [#42] Order 1234"),
        ("RE: Order", "RE: Order [#42]"),
        ("回复：订单", "回复：订单 [#42]"),
        ("Order [#7]", "Re: Order [#7] [#42]"),
        ("", "Re: [#42]"),
    ],
)
def test_the_reply_subject_keeps_or_adds_the_ticket_tag(subject: str, expected: str) -> None:
    assert reply_subject(subject, 42) == expected


def test_tagged_subject_adds_the_tag_once() -> None:
    assert tagged_subject("We received your message [#5]", 5) == "We received your message [#5]"
    assert tagged_subject("We received your message", 5) == "We received your message [#5]"


def test_references_keep_the_root_and_the_latest_ids() -> None:
    assert thread_references("b@x", ["a@x"]) == ("a@x", "b@x")
    assert thread_references("a@x", ["a@x"]) == ("a@x",)
    assert thread_references(None, []) == ()
    long = [f"{i}@x" for i in range(50)]
    refs = thread_references("last@x", long)
    assert len(refs) == MAX_REFERENCES
    assert refs[0] == "0@x" and refs[-1] == "last@x" and refs[-2] == "49@x"


def test_a_mail_without_recipients_or_with_a_naive_date_is_refused() -> None:
    with pytest.raises(RejectedError):
        compose(mail(to=()))
    with pytest.raises(ValueError):
        compose(mail(date=datetime(2026, 12, 1, 18, 0)))
