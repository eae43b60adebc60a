import base64
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from intake.domain import MessageFlag
from intake.mail.model import Address
from intake.mail.parse import header_block, parse_email, peek_message_id, synthetic_message_id

DATA = Path(__file__).resolve().parents[1] / "data" / "mail"


def msg(text: str) -> bytes:
    return text.lstrip("\n").replace("\n", "\r\n").encode()


SIMPLE = msg("""
From: "=?utf-8?q?J=C3=BCrgen_M=C3=BCller?=" <Juergen@Example.COM>
To: Support <support@help.example>, other@Example.org
Cc: boss@example.net
Reply-To: j.private@example.com
Subject: =?utf-8?B?RHJ1Y2tlciBrYXB1dHQ=?=
 [#42]
Date: Mon, 03 Jun 2024 12:00:00 +0200
Message-ID: <abc.123@mail.example.com>
In-Reply-To: <prev@help.example>
References: <first@help.example>
 <prev@help.example>
Content-Type: text/plain; charset=utf-8

Der Drucker ist kaputt.

On Mon, 3 Jun 2024 at 10:00, Support <support@help.example> wrote:
> How can we help?
""")


def test_simple_message_headers_are_decoded() -> None:
    parsed = parse_email(SIMPLE)
    assert parsed.message_id == "abc.123@mail.example.com"
    assert not parsed.message_id_synthetic
    assert parsed.subject == "Drucker kaputt [#42]"
    assert parsed.from_addr == Address(name="Jürgen Müller", email="Juergen@example.com")
    assert parsed.reply_to == Address(name="", email="j.private@example.com")
    assert parsed.to == (
        Address(name="Support", email="support@help.example"),
        Address(name="", email="other@example.org"),
    )
    assert parsed.cc == (Address(name="", email="boss@example.net"),)
    assert parsed.date == datetime(2024, 6, 3, 10, 0, tzinfo=UTC)
    assert parsed.in_reply_to == ("prev@help.example",)
    assert parsed.references == ("first@help.example", "prev@help.example")
    assert parsed.flags == frozenset()
    assert parsed.header("message-id") == "<abc.123@mail.example.com>"
    assert ("Subject", "Drucker kaputt [#42]") in parsed.headers


def test_simple_message_text_and_new_text_are_split() -> None:
    parsed = parse_email(SIMPLE)
    assert parsed.text.startswith("Der Drucker ist kaputt.\n\nOn Mon")
    assert "\r" not in parsed.text
    assert parsed.new_text == "Der Drucker ist kaputt."
    assert parsed.html is None


def test_missing_message_id_gets_a_stable_synthetic_one() -> None:
    raw = msg("From: a@example.com\nSubject: hi\n\nbody\n")
    parsed = parse_email(raw)
    assert parsed.message_id_synthetic
    assert parsed.message_id == synthetic_message_id(raw)
    assert parsed.message_id.endswith("@intake.invalid")
    assert not parsed.message_id.startswith("<")
    assert peek_message_id(raw) == parsed.message_id


def test_peek_message_id_reads_only_headers_and_agrees_with_parse() -> None:
    assert peek_message_id(SIMPLE) == "abc.123@mail.example.com"
    assert peek_message_id(b"") == synthetic_message_id(b"")


@pytest.mark.parametrize(
    ("charset", "codec", "words"),
    [
        ("gb2312", "gbk", "朱镕基说你好"),
        ("GBK", "gbk", "退款申请"),
        ("gb18030", "gb18030", "测试𠀀"),
        ("big5", "big5hkscs", "香港客戶服務"),
        ("iso-2022-jp", "iso2022_jp", "お問い合わせ"),
        ("shift_jis", "cp932", "①お問い合わせ"),
        ("euc-kr", "cp949", "고객 서비스"),
        ("windows-1251", "cp1251", "Привет"),
        ("koi8-r", "koi8_r", "Привет"),
        ("iso-8859-2", "iso8859_2", "Zażółć gęślą"),
        ("utf-7", "utf-7", "Grüße ☺"),
        ("utf-16", "utf-16", "Grüße"),
    ],
)
def test_body_and_subject_in_each_charset_decode(charset: str, codec: str, words: str) -> None:
    body = base64.b64encode(words.encode(codec)).decode()
    subject = f"=?{charset}?B?{body}?="
    raw = msg(
        f"From: a@example.com\nSubject: {subject}\nMIME-Version: 1.0\n"
        f"Content-Type: text/plain; charset={charset}\n"
        f"Content-Transfer-Encoding: base64\n\n{body}\n"
    )
    parsed = parse_email(raw)
    assert parsed.subject == words
    assert parsed.text == words


def test_raw_8bit_headers_use_the_body_charset() -> None:
    raw = (
        "From: 张三 <zhang@example.cn>\r\nSubject: 发票问题\r\n"
        "Content-Type: text/plain; charset=gb2312\r\n\r\n请帮忙\r\n"
    ).encode("gbk")
    parsed = parse_email(raw)
    assert parsed.subject == "发票问题"
    assert parsed.from_addr == Address(name="张三", email="zhang@example.cn")
    assert parsed.text == "请帮忙"


def test_quoted_printable_with_unknown_charset_falls_back_without_crashing() -> None:
    raw = msg(
        "From: a@example.com\nSubject: x\nContent-Type: text/plain; charset=x-bogus\n"
        "Content-Transfer-Encoding: quoted-printable\n\ncaf=C3=A9 and na=EFve\n"
    )
    assert parse_email(raw).text == "caf\u00c3\u00a9 and na\u00efve"


HTML_ONLY = msg("""
From: a@example.com
Subject: html
Content-Type: text/html; charset=utf-8

<html><body><p>Hello</p><script>evil()</script><p>Second <a href="https://x.example/">link</a></p></body></html>
""")


def test_html_only_message_gets_text_from_html_and_flag() -> None:
    parsed = parse_email(HTML_ONLY)
    assert MessageFlag.HTML_ONLY in parsed.flags
    assert parsed.text == "Hello\n\nSecond link (https://x.example/)"
    assert parsed.html is not None and "<script>" in parsed.html  # kept raw; sanitised on display


ALTERNATIVE_WITH_ATTACHMENTS = msg("""
From: a@example.com
Subject: files
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

plain version
--alt
Content-Type: text/html; charset=utf-8

<p>html version <img src="cid:logo@x"></p>
--alt--
--rel
Content-Type: image/png
Content-ID: <logo@x>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--rel--
--outer
Content-Type: application/pdf; name="=?utf-8?q?Rechnung_M=C3=A4rz.pdf?="
Content-Disposition: attachment; filename*=utf-8''Rechnung%20M%C3%A4rz.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--outer
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="../../etc/passwd"

secret
--outer
Content-Type: text/plain; charset=utf-8
Content-Disposition: attachment; filename="notes.txt"

not body text
--outer
Content-Type: message/rfc822

From: inner@example.com
Subject: forwarded
Message-ID: <inner@example.com>

inner body
--outer--
""")


def test_alternative_prefers_plain_text_and_keeps_html() -> None:
    parsed = parse_email(ALTERNATIVE_WITH_ATTACHMENTS)
    assert parsed.text == "plain version"
    assert parsed.html == '<p>html version <img src="cid:logo@x"></p>'
    assert MessageFlag.HTML_ONLY not in parsed.flags


def test_attachments_have_decoded_safe_names_and_inline_cid_images() -> None:
    parsed = parse_email(ALTERNATIVE_WITH_ATTACHMENTS)
    summary = [(a.filename, a.content_type, a.content_id, a.inline) for a in parsed.attachments]
    assert summary == [
        ("attachment-1.png", "image/png", "logo@x", True),
        ("Rechnung März.pdf", "application/pdf", None, False),
        ("passwd", "application/octet-stream", None, False),
        ("notes.txt", "text/plain", None, False),
        ("attachment-5.eml", "message/rfc822", None, False),
    ]
    assert parsed.attachments[0].data == base64.b64decode("iVBORw0KGgo=")
    assert parsed.attachments[1].data == b"%PDF-1.4\n"
    assert b"Subject: forwarded" in parsed.attachments[4].data


def test_rfc2047_encoded_filename_is_decoded() -> None:
    raw = msg(
        'From: a@example.com\nContent-Type: multipart/mixed; boundary="b"\n\n--b\n'
        "Content-Type: text/plain\n\nhi\n--b\nContent-Type: application/octet-stream\n"
        'Content-Disposition: attachment; filename="=?gb2312?B?1tDOxC50eHQ=?="\n\nx\n--b--\n'
    )
    assert [a.filename for a in parse_email(raw).attachments] == ["中文.txt"]


def test_broken_boundary_still_yields_text_and_a_defect_flag() -> None:
    raw = msg(
        'From: a@example.com\nSubject: broken\nContent-Type: multipart/mixed; boundary="nope"\n\n'
        "--other\nContent-Type: text/plain\n\nvisible text\n"
    )
    parsed = parse_email(raw)
    assert "visible text" in parsed.text
    assert MessageFlag.DEFECTS in parsed.flags
    assert parsed.defects


def test_missing_close_boundary_keeps_the_parts() -> None:
    raw = msg(
        'From: a@example.com\nContent-Type: multipart/mixed; boundary="b"\n\n--b\n'
        "Content-Type: text/plain\n\nfirst part\n--b\nContent-Type: text/plain\n\nsecond part\n"
    )
    parsed = parse_email(raw)
    assert parsed.text == "first part\n\nsecond part"


def test_uuencoded_attachment_is_decoded() -> None:
    raw = msg(
        'From: a@example.com\nContent-Type: multipart/mixed; boundary="b"\n\n--b\n'
        "Content-Type: text/plain\n\nsee file\n--b\nContent-Type: application/octet-stream\n"
        "Content-Transfer-Encoding: x-uuencode\n"
        'Content-Disposition: attachment; filename="a.txt"\n\n'
        "begin 644 a.txt\n#86)C\n`\nend\n--b--\n"
    )
    assert parse_email(raw).attachments[0].data == b"abc"


def test_out_of_office_reply_is_flagged_auto_reply() -> None:
    raw = msg(
        "From: bob@example.com\nSubject: Out of office\nAuto-Submitted: auto-replied\n"
        "Message-ID: <ooo@example.com>\n\nI am away.\n"
    )
    parsed = parse_email(raw)
    assert parsed.flags == {MessageFlag.AUTO_REPLY}
    assert parsed.auto_reason == "Auto-Submitted: auto-replied"


DSN = msg("""
From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
To: support@help.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <bounce.1@mx.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="r"

--r
Content-Type: text/plain

Your message could not be delivered.
--r
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; nobody@example.com
Action: failed
Status: 5.1.1
--r
Content-Type: text/rfc822-headers

From: support@help.example
To: nobody@example.com
Subject: Re: [#42] Printer
Message-ID: <reply-42.7@help.example>
--r--
""")


def test_delivery_status_notification_is_a_bounce_with_the_original_message_id() -> None:
    parsed = parse_email(DSN)
    assert MessageFlag.BOUNCE in parsed.flags
    assert MessageFlag.AUTO_REPLY not in parsed.flags
    assert parsed.auto_reason == "multipart/report DSN"
    assert parsed.bounced_message_ids == ("reply-42.7@help.example",)
    assert parsed.text == "Your message could not be delivered."
    assert [a.filename for a in parsed.attachments] == ["attachment-1.txt", "attachment-2.txt"]


def test_bounce_with_returned_message_pasted_as_text_finds_its_message_id() -> None:
    raw = msg(
        "From: MAILER-DAEMON@example.com\nSubject: failure notice\n\n"
        "Sorry.\n\n--- Below this line is a copy of the message.\n\n"
        "Return-Path: <support@help.example>\nMessage-ID: <orig.9@help.example>\n"
    )
    assert parse_email(raw).bounced_message_ids == ("orig.9@help.example",)


def test_obsolete_space_before_colon_header_syntax_is_accepted() -> None:
    raw = msg(
        "Subject : old style\nFrom  : a@example.com\nMessage-ID : <old@example.com>\n\nbody\n"
    )
    parsed = parse_email(raw)
    assert parsed.subject == "old style"
    assert parsed.message_id == peek_message_id(raw) == "old@example.com"
    assert parsed.from_addr == Address(name="", email="a@example.com")


def test_nul_bytes_are_removed_from_text() -> None:
    raw = msg("From: a@example.com\nSubject: a\x00b\n\nx\x00y\n")
    parsed = parse_email(raw)
    assert parsed.text == "xy"
    assert parsed.subject == "ab"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage \x80\x81",
        b"no headers at all, just words",
        b"From: a@example.com\r\n",
        b"Content-Type: multipart/mixed\r\n\r\n--\r\n",
        b"Content-Type: multipart/mixed; boundary=\r\n\r\n",
        b"Content-Type: text/plain; charset*=bogus''x\r\n\r\nbody",
        b'Content-Type: text/plain; charset="\r\n\r\nbody',
        b"Content-Disposition: attachment; filename*=xx''%ZZ%\r\n"
        b"Content-Type: application/x\r\n\r\nbody",
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!",
        b"Date: Mon, 99 Foo 20245 99:99:99 +9999\r\nFrom: <<<>>>\r\nTo: ,,,@,,\r\n\r\n",
        b"Subject: =?utf-8?q?=ZZ=?= =?x?b?====?=\r\n\r\n",
        b"Content-Type: message/rfc822\r\n\r\nnot really a message",
        b'Content-Type: multipart/mixed; boundary="a"\r\n\r\n' + b"--a\r\n" * 500,
        b"Content-Type: multipart/mixed; boundary=a\r\n\r\n"
        + b"".join(b"--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n" for _ in range(200)),
    ],
)
def test_hostile_or_broken_input_never_raises(raw: bytes) -> None:
    parsed = parse_email(raw)
    assert isinstance(parsed.text, str)
    assert isinstance(parsed.subject, str)
    assert isinstance(peek_message_id(raw), str)


def test_input_without_any_header_is_flagged_unparseable_but_keeps_its_text() -> None:
    parsed = parse_email("Grüße, nur Text ohne Kopfzeilen".encode())
    assert MessageFlag.UNPARSEABLE in parsed.flags
    assert parsed.text == "Grüße, nur Text ohne Kopfzeilen"


def test_bundled_sisimai_out_of_office_is_an_auto_reply() -> None:
    parsed = parse_email((DATA / "sisimai-rfc3834-01.eml").read_bytes())
    assert parsed.flags == {MessageFlag.AUTO_REPLY}
    assert parsed.subject == "Away until May 5"


def test_bundled_sisimai_postfix_bounce_is_a_bounce() -> None:
    parsed = parse_email((DATA / "sisimai-lhost-postfix-01.eml").read_bytes())
    assert MessageFlag.BOUNCE in parsed.flags
    assert any(a.content_type == "message/rfc822" for a in parsed.attachments)


def test_nesting_too_deep_for_the_stdlib_parser_still_keeps_headers_and_bytes() -> None:
    raw = b"Subject: deep\r\n" + b"Content-Type: message/rfc822\r\n\r\n" * 3000 + b"hi"
    parsed = parse_email(raw)
    assert parsed.subject == "deep"
    assert MessageFlag.UNPARSEABLE not in parsed.flags
    assert MessageFlag.DEFECTS in parsed.flags
    assert parsed.attachments and parsed.attachments[0].data.endswith(b"hi")


def test_peek_message_id_reads_the_header_block_only() -> None:
    """It runs before the SMTP 250: a 24 MB body must not be decoded to find the id."""
    body = (b"x" * 998 + b"\r\n") * 24_000
    raw = b"Message-ID: <big@example.com>\r\nSubject: big\r\n\r\n" + body
    tracemalloc.start()
    try:
        assert peek_message_id(raw) == "big@example.com"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, peak
    # Bare-LF mail ends its header block at the first empty line too; no empty line: all headers.
    assert header_block(b"A: b\n\nbody\r\n\r\nmore") == b"A: b\n\n"
    assert header_block(b"A: b\r\nC: d") == b"A: b\r\nC: d"
