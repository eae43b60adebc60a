"""content_fingerprint: transit noise is the same message; anything the author wrote is not."""

from __future__ import annotations

from intake.mail.fingerprint import content_fingerprint

MAIL = (
    b"From: Alice <alice@customer.org>\r\n"
    b"To: support@example.com\r\n"
    b"Subject: Order 1234\r\n"
    b"Message-ID: <fp-1@customer.org>\r\n"
    b"\r\n"
    b"Where is my order?\r\n"
)


def test_line_endings_and_trace_fields_do_not_change_it() -> None:
    relayed = (
        b"Return-Path: <alice@customer.org>\n"
        b"Received: from relay2.customer.org\n"
        b"\tby mx.example.com with ESMTP id 42;\n"
        b"\tFri, 20 Nov 2026 09:31:00 +0000\n"
        b"X-Spam-Status: No, score=0.1\n" + MAIL.replace(b"\r\n", b"\n")
    )
    assert content_fingerprint(relayed) == content_fingerprint(MAIL)
    assert content_fingerprint(MAIL.replace(b"\r\n", b"\r")) == content_fingerprint(MAIL)


def test_other_body_or_author_headers_change_it() -> None:
    assert content_fingerprint(MAIL.replace(b"my order", b"my refund")) != content_fingerprint(MAIL)
    assert content_fingerprint(MAIL.replace(b"Order 1234", b"Order 1235")) != content_fingerprint(
        MAIL
    )
    # Only transit fields are ignored: even re-folding an author's header is other content.
    assert content_fingerprint(MAIL.replace(b"To: ", b"To:  \r\n ")) != content_fingerprint(MAIL)


def test_a_message_without_a_body_or_headers_still_has_one() -> None:
    assert content_fingerprint(b"Subject: x\r\n") != content_fingerprint(b"Subject: y\r\n")
    assert content_fingerprint(b"\r\nonly a body") != content_fingerprint(b"\r\nanother body")
