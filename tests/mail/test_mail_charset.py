from intake.mail.charset import candidate_codecs, decode_bytes, decode_guess


def test_gb2312_label_decodes_gbk_only_characters_as_gb18030() -> None:
    # "镕" is in GBK but not in GB2312: mislabelled real mail must still decode.
    text, used = decode_bytes("朱镕基".encode("gbk"), "gb2312")
    assert text == "朱镕基"
    assert used == "gb18030"


def test_big5_label_decodes_hkscs_characters() -> None:
    data = "香港".encode("big5hkscs") + "嘅".encode("big5hkscs")
    assert decode_bytes(data, "big5")[0] == "香港嘅"


def test_shift_jis_label_uses_cp932_for_windows_extensions() -> None:
    assert decode_bytes("①ｱ".encode("cp932"), "shift_jis")[0] == "①ｱ"


def test_iso_2022_jp_with_nec_extension_rows_decodes() -> None:
    # ESC $ B, JIS row 13 "-!" (circled one, an NEC extension), "HV" (番), ESC ( B.
    assert decode_bytes(b"\x1b$B-!HV\x1b(B", "ISO-2022-JP")[0] == "①番"


def test_iso_2022_jp_plain_text_decodes() -> None:
    assert decode_bytes("こんにちは".encode("iso2022_jp"), "iso-2022-jp")[0] == "こんにちは"


def test_euc_kr_label_decodes_cp949_text() -> None:
    assert decode_bytes("똠방각하".encode("cp949"), "euc-kr")[0] == "똠방각하"


def test_iso_8859_1_label_decodes_windows_smart_quotes() -> None:
    assert decode_bytes(b"\x93quoted\x94 \x80", "iso-8859-1")[0] == "\u201cquoted\u201d \u20ac"


def test_koi8_r_utf7_and_utf16_labels_decode() -> None:
    assert decode_bytes("привет".encode("koi8_r"), "KOI8-R")[0] == "привет"
    assert decode_bytes("Hi Mom -☺-!".encode("utf-7"), "utf-7")[0] == "Hi Mom -☺-!"
    assert decode_bytes("héllo".encode("utf-16"), "utf-16")[0] == "héllo"


def test_misspelled_labels_are_understood() -> None:
    assert candidate_codecs('"UTF8"') == ["utf-8"]
    assert candidate_codecs("win-1251") == ["cp1251"]
    assert candidate_codecs("8859-2") == ["iso8859_2"]
    assert candidate_codecs("x-gbk") == ["gb18030"]


def test_unknown_label_falls_back_to_utf8_then_cp1252() -> None:
    assert decode_bytes("über".encode(), "x-unknown-charset") == ("über", "utf-8")
    assert decode_bytes(b"\xfcber", "x-unknown-charset") == ("über", "cp1252")


def test_binary_transform_codecs_are_not_accepted_as_charsets() -> None:
    assert candidate_codecs("base64") == []
    assert candidate_codecs("rot13") == []


def test_wrong_label_falls_back_to_utf8_when_the_bytes_are_utf8() -> None:
    assert decode_bytes("日本語".encode(), "us-ascii")[0] == "日本語"


def test_undecodable_multibyte_text_keeps_declared_codec_with_replacement() -> None:
    text, used = decode_bytes("中文".encode("gb18030") + b"\x81", "gbk")
    assert used == "gb18030"
    assert text.startswith("中文")


def test_guess_uses_hints_before_cp1252() -> None:
    assert decode_guess("中文".encode("gbk"), ("gb2312",)) == "中文"
    assert decode_guess(b"caf\xe9") == "café"


def test_8bit_euc_jp_mislabelled_as_iso_2022_jp_decodes() -> None:
    assert decode_bytes("日本語のテキスト".encode("euc_jp"), "iso-2022-jp")[0] == "日本語のテキスト"
