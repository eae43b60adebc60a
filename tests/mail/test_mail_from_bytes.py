"""From headers with raw 8-bit bytes that are not valid UTF-8 keep their address (issue 11).

Each case is built from bytes, as the SMTP collector receives them, and goes through the whole
pure parser (``parse_email``).
"""

from __future__ import annotations

import pytest

from intake.mail.parse import parse_email

ADDRESS = "jerome@customer.org"


def mail(from_value: bytes, content_type: bytes = b"text/plain; charset=us-ascii") -> bytes:
    return (
        b"From: " + from_value + b"\r\n"
        b"To: support@example.com\r\n"
        b"Subject: hello\r\n"
        b"Message-ID: <bytes-1@customer.org>\r\n"
        b"Content-Type: " + content_type + b"\r\n"
        b"\r\n"
        b"body\r\n"
    )


def test_damaged_utf8_name_keeps_the_address_and_shows_replacement_characters() -> None:
    # "Jérôme" in UTF-8 with the two bytes of "ô" replaced by invalid ones (0xFF 0xFE).
    parsed = parse_email(mail(b"J\xc3\xa9r\xff\xfeme <" + ADDRESS.encode() + b">"))
    assert parsed.from_addr is not None
    assert parsed.from_addr.email == ADDRESS
    assert parsed.from_addr.name == "Jér\ufffd\ufffdme"


def test_invalid_bytes_under_a_declared_utf8_charset_become_replacement_characters() -> None:
    parsed = parse_email(
        mail(b"J\xff\xfeme <" + ADDRESS.encode() + b">", b"text/plain; charset=utf-8")
    )
    assert parsed.from_addr is not None
    assert (parsed.from_addr.email, parsed.from_addr.name) == (ADDRESS, "J\ufffd\ufffdme")


@pytest.mark.parametrize(
    "from_value",
    [
        # A truncated UTF-8 character followed by "(": the parenthesis opens a comment that
        # never closes and used to swallow the address.
        b"J\xc3( <jerome@customer.org>",
        # No angle brackets around the address.
        b"J\xff\xfeme jerome@customer.org",
        b'"J\xc3\xa9r\xc3" <jerome@customer.org>',
        b"jerome@customer.org (J\xff\xfeme)",
    ],
)
def test_the_address_survives_invalid_utf8_in_the_name(from_value: bytes) -> None:
    parsed = parse_email(mail(from_value))
    assert parsed.from_addr is not None and parsed.from_addr.email == ADDRESS
    assert parsed.from_addr.name.startswith("J")


def test_a_charset_that_is_not_ascii_compatible_does_not_eat_the_header_syntax() -> None:
    # Raw Latin-1 bytes, body declared UTF-16: decoding the header as UTF-16 would succeed on
    # an even number of bytes and leave no "<", "@" or ">" to find the address by.
    parsed = parse_email(
        mail(b"J\xe9r\xf4me <" + ADDRESS.encode() + b">", b"text/plain; charset=utf-16")
    )
    assert parsed.from_addr is not None
    assert (parsed.from_addr.email, parsed.from_addr.name) == (ADDRESS, "Jérôme")


def test_raw_latin1_and_valid_utf8_names_still_decode_as_before() -> None:
    latin1 = parse_email(mail(b"J\xe9r\xf4me <" + ADDRESS.encode() + b">"))
    utf8 = parse_email(mail("Jérôme".encode() + b" <" + ADDRESS.encode() + b">"))
    for parsed in (latin1, utf8):
        assert parsed.from_addr is not None
        assert (parsed.from_addr.email, parsed.from_addr.name) == (ADDRESS, "Jérôme")
