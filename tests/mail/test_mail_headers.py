from datetime import UTC, datetime

from intake.mail.headers import (
    decode_header_value,
    decode_words,
    normalize_email,
    parse_addresses,
    parse_date,
    parse_message_ids,
)
from intake.mail.model import Address


def test_q_and_b_encoded_words_decode() -> None:
    assert decode_words("=?utf-8?q?caf=C3=A9_au_lait?=") == "café au lait"
    assert decode_words("=?UTF-8?B?5rWL6K+V?=") == "测试"


def test_whitespace_between_adjacent_encoded_words_is_dropped() -> None:
    assert decode_words("=?utf-8?q?a?= \r\n =?utf-8?q?b?= c") == "ab c"


def test_multibyte_character_split_across_encoded_words_is_rejoined() -> None:
    # "测" is e6 b5 8b; senders cut the base64 mid-character.
    assert decode_words("=?utf-8?B?5rU=?= =?utf-8?B?iw==?=") == "测"


def test_gb2312_encoded_word_with_gbk_characters_decodes() -> None:
    word = "=?gb2312?B?" + __import__("base64").b64encode("朱镕基".encode("gbk")).decode() + "?="
    assert decode_words(word) == "朱镕基"


def test_encoded_word_with_rfc2231_language_suffix_decodes() -> None:
    assert decode_words("=?utf-8*en?q?hello?=") == "hello"


def test_broken_base64_in_encoded_word_does_not_raise() -> None:
    assert isinstance(decode_words("=?utf-8?b?!!!?="), str)


def test_raw_8bit_header_bytes_are_recovered_from_surrogates() -> None:
    raw = "Grüße".encode().decode("ascii", errors="surrogateescape")
    assert decode_header_value(raw) == "Grüße"
    gbk = "你好".encode("gbk").decode("ascii", errors="surrogateescape")
    assert decode_header_value(gbk, ("gb2312",)) == "你好"


def test_raw_iso_2022_jp_header_without_encoded_words_decodes() -> None:
    assert decode_header_value("\x1b$B$3$s$K$A$O\x1b(B world") == "こんにちは world"


def test_folded_header_is_unfolded() -> None:
    assert decode_header_value("Hello\r\n world") == "Hello world"


def test_addresses_decode_names_and_lowercase_only_the_domain() -> None:
    found = parse_addresses(['"=?utf-8?q?J=C3=BCrgen?=" <Juergen.X@Example.COM>, bob@B.org'])
    assert found == (
        Address(name="Jürgen", email="Juergen.X@example.com"),
        Address(name="", email="bob@b.org"),
    )


def test_address_without_domain_keeps_the_name_and_empty_email() -> None:
    assert parse_addresses(["Mail Delivery Subsystem <MAILER-DAEMON>"]) == (
        Address(name="Mail Delivery Subsystem", email=""),
    )


def test_normalize_email_rejects_non_addresses() -> None:
    assert normalize_email("not an address") == ""
    assert normalize_email("<A@B.C>") == "A@b.c"


def test_message_ids_are_returned_without_brackets_and_deduplicated() -> None:
    assert parse_message_ids("<a@x> <b@y>\r\n <a@x>") == ("a@x", "b@y")
    assert parse_message_ids("bare@id.example") == ("bare@id.example",)
    assert parse_message_ids("") == ()
    assert parse_message_ids("<1234   @   local(blah)  .machine .example>") == ()


def test_dates_become_aware_utc_and_bad_dates_become_none() -> None:
    assert parse_date("Tue, 1 Jul 2003 10:52:37 +0200") == datetime(
        2003, 7, 1, 8, 52, 37, tzinfo=UTC
    )
    assert parse_date("Tue, 1 Jul 2003 10:52:37 -0000") == datetime(
        2003, 7, 1, 10, 52, 37, tzinfo=UTC
    )
    assert parse_date("yesterday afternoon") is None
    assert parse_date("Tue, 1 Jul 99999 10:52:37 +0200") is None
