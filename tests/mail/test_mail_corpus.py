"""Every real message in the shared corpus parses, with sane output and the right flags."""

import csv
from functools import cache
from pathlib import Path

import pytest

from intake.domain import MessageFlag
from intake.mail.model import ParsedEmail
from intake.mail.parse import parse_email, peek_message_id

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "email"

pytestmark = pytest.mark.skipif(
    not (CORPUS / "INDEX.tsv").exists(), reason="shared email corpus not present"
)

# Inputs in the corpus that are not RFC 822 messages at all (no header block): a bare text body,
# a mailing-list digest fragment, an Outlook .msg (OLE binary) and SMTP session transcripts.
NOT_MESSAGES = {
    "bestpractical-rt/lorem-ipsum",
    "cpython-test_email/msg_19.txt",
    "james-mime4j/testmsgs/malformedHeader-noheader.msg",
    "james-mime4j/testmsgs/malformedHeaderStartsBody-noheader.msg",
    "mail-parser/mail_outlook_1",
    "spamassassin/spam/bsmtp",
    "spamassassin/spam/bsmtpnull",
}


@cache
def index() -> list[dict[str, str]]:
    with (CORPUS / "INDEX.tsv").open(newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle, delimiter="\t") if row["kind"] == "message"]


@cache
def parsed() -> dict[str, ParsedEmail]:
    return {row["path"]: parse_email((CORPUS / row["path"]).read_bytes()) for row in index()}


def one(path: str) -> ParsedEmail:
    return parsed()[path]


def test_every_corpus_message_parses_with_sane_values() -> None:
    assert len(index()) > 1000
    for path, mail in parsed().items():
        assert isinstance(mail.subject, str) and "\n" not in mail.subject, path
        assert isinstance(mail.text, str) and "\r" not in mail.text and "\x00" not in mail.text, (
            path
        )
        assert isinstance(mail.new_text, str) and (mail.new_text or not mail.text.strip()), path
        assert mail.message_id and not mail.message_id.startswith("<"), path
        assert mail.date is None or mail.date.utcoffset() is not None, path
        assert all(a.filename and "/" not in a.filename for a in mail.attachments), path
        assert all(isinstance(v, str) for _, v in mail.headers), path
        assert (MessageFlag.UNPARSEABLE in mail.flags) == (path in NOT_MESSAGES), path


def test_peek_message_id_agrees_with_parse_for_every_corpus_message() -> None:
    for row in index():
        raw = (CORPUS / row["path"]).read_bytes()
        assert peek_message_id(raw) == parsed()[row["path"]].message_id, row["path"]


def test_real_out_of_office_replies_are_auto_replies_not_bounces() -> None:
    ooo = [p for p in parsed() if "/rfc3834-" in p]
    assert len(ooo) >= 6
    for path in ooo:
        assert MessageFlag.AUTO_REPLY in one(path).flags, path
        assert MessageFlag.BOUNCE not in one(path).flags, path


def test_every_dsn_or_bounce_in_the_index_is_treated_as_automatic() -> None:
    rows = [r for r in index() if r["dsn_or_bounce"] == "yes"]
    assert len(rows) > 600
    for row in rows:
        flags = one(row["path"]).flags
        assert flags & {MessageFlag.BOUNCE, MessageFlag.AUTO_REPLY}, row["path"]


def test_nearly_every_dsn_that_is_not_a_complaint_or_receipt_is_a_bounce() -> None:
    # ARF abuse complaints and read receipts are multipart/report too, but are not bounces.
    rows = [
        r
        for r in index()
        if r["dsn_or_bounce"] == "yes"
        and "/arf-" not in r["path"]
        and "/complaints/" not in r["path"]
        and "disposition-notification" not in r["path"]
    ]
    missed = [r["path"] for r in rows if MessageFlag.BOUNCE not in one(r["path"]).flags]
    assert len(missed) <= len(rows) // 100, missed


def test_rt_gb18030_ticket_decodes() -> None:
    mail = one("bestpractical-rt/new-ticket-from-gb18030")
    assert mail.subject == "测试"
    assert mail.text == "测试"


def test_gb2312_labelled_chinese_spam_decodes() -> None:
    mail = one("spamassassin/nice/cjk/gb2312.1")
    assert mail.subject == "全新原装进口，送货上门，货到付款－台湾鑫龙商贸集团公司向您拜年!"
    assert "本公司长期经销电脑配件" in mail.text


def test_big5_message_decodes() -> None:
    mail = one("spamassassin/nice/cjk/big5-base64.1")
    assert mail.subject.startswith("[SLAT-talk] 鉅靡6月17日新片又到")
    assert "永久網址" in mail.text


def test_iso_2022_jp_messages_decode() -> None:
    assert one("ruby-mail/multi_charset/japanese_iso_2022.eml").subject == "まみむめも"
    assert one("ruby-mail/multi_charset/japanese_iso_2022.eml").text == "すみません。"
    # JIS row 13 "No." sign: needs the Microsoft reading of ISO-2022-JP.
    assert one("php-mime-mail-parser/issue116").subject == "ЖД№41 от 28.09.2016"


def test_corpus_dsn_reports_the_original_message_id() -> None:
    mail = one("imap_tools/messages/multipart_report_emails/report_422.eml")
    assert MessageFlag.BOUNCE in mail.flags
    assert mail.bounced_message_ids == (
        "15655788.13.1200472642578.JavaMail.Administrator@mail.ttttt.com.au",
    )


def test_obsolete_header_syntax_message_is_read() -> None:
    # RFC 5322 A.6.3 as imap_tools stores it: "Name  : value" fields, CFWS inside the address.
    mail = one("imap_tools/messages/rfc2822/example13.eml")
    assert mail.from_addr is not None and mail.from_addr.email == "jdoe@machine.example"
    assert MessageFlag.UNPARSEABLE not in mail.flags


@pytest.mark.parametrize("client", ["aol", "comcast", "gmail", "hotmail", "iphone"])
def test_talon_standard_replies_reduce_to_the_new_text(client: str) -> None:
    assert one(f"talon/standard_replies/{client}.eml").new_text == "Hello"
