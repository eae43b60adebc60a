"""Turn bytes with a (possibly wrong, misspelled or missing) charset label into text.

Real mail lies about its charset: gb2312 labels carry GBK/GB18030 text, big5 carries HKSCS,
iso-8859-1 carries cp1252 quotes. So each label maps to the widest codec that is a superset,
and decoding falls back declared -> utf-8 -> cp1252/latin-1 with replacement. Never raises.
"""

from __future__ import annotations

import codecs
import re

# Microsoft's reading of ISO-2022-JP (CP50220): JIS X 0208 plus the NEC/IBM rows that Windows
# mailers emit for circled digits, "No." and the like. Python has no codec for it.
ISO2022JP_MS = "iso2022jp-ms"

# 8-bit text labelled ISO-2022-JP is EUC-JP or Shift_JIS that a gateway forgot to convert.
_ISO2022JP_CHAIN = (
    "iso2022_jp_2",
    ISO2022JP_MS,
    "iso2022_jp_ext",
    "utf-8",
    "euc_jis_2004",
    "cp932",
)

# Keys are labels with everything but letters and digits removed, lower-cased.
_SUPERSETS: dict[str, tuple[str, ...]] = {
    "gb2312": ("gb18030",),
    "gb231280": ("gb18030",),
    "gbk": ("gb18030",),
    "xgbk": ("gb18030",),
    "cp936": ("gb18030",),
    "ms936": ("gb18030",),
    "euccn": ("gb18030",),
    "xeuccn": ("gb18030",),
    "chinese": ("gb18030",),
    "csgb2312": ("gb18030",),
    "gb18030": ("gb18030",),
    "big5": ("big5hkscs", "cp950"),
    "xbig5": ("big5hkscs", "cp950"),
    "cnbig5": ("big5hkscs", "cp950"),
    "big5hkscs": ("big5hkscs", "cp950"),
    "cp950": ("cp950", "big5hkscs"),
    "shiftjis": ("cp932", "shift_jis_2004"),
    "sjis": ("cp932", "shift_jis_2004"),
    "xsjis": ("cp932", "shift_jis_2004"),
    "mskanji": ("cp932",),
    "windows31j": ("cp932",),
    "cp932": ("cp932",),
    "eucjp": ("euc_jis_2004", "euc_jp"),
    "xeucjp": ("euc_jis_2004", "euc_jp"),
    "iso2022jp": _ISO2022JP_CHAIN,
    "csiso2022jp": _ISO2022JP_CHAIN,
    "euckr": ("cp949",),
    "ksc56011987": ("cp949",),
    "ksc5601": ("cp949",),
    "cp949": ("cp949",),
    "iso2022kr": ("iso2022_kr",),
    "usascii": ("utf-8",),
    "ascii": ("utf-8",),
    "iso88591": ("cp1252",),
    "latin1": ("cp1252",),
    "l1": ("cp1252",),
    "iso885915": ("iso8859_15",),
    "utf8": ("utf-8",),
    "unicode11utf8": ("utf-8",),
    "utf7": ("utf-7",),
    "unicode11utf7": ("utf-7",),
    "utf16": ("utf-16",),
    "unicode": ("utf-16",),
    "koi8r": ("koi8_r",),
    "koi8u": ("koi8_u",),
    "tis620": ("cp874",),
    "windows874": ("cp874",),
    "iso885911": ("cp874",),
}

_NON_ALNUM = re.compile(r"[^a-z0-9]")
_WINDOWS = re.compile(r"^(?:windows|win|cp|xcp|mscp)(125\d)$")
_ISO8859 = re.compile(r"^(?:iso)?8859(\d{1,2})[ie]?$")


def _label_key(label: str) -> str:
    return _NON_ALNUM.sub("", label.lower())


def candidate_codecs(label: str | None) -> list[str]:
    """Codecs worth trying for a declared label, best first; empty if the label is unusable."""
    if not label:
        return []
    cleaned = label.strip().strip("\"'").split("*", 1)[0].strip()
    key = _label_key(cleaned)
    if not key:
        return []
    if key in _SUPERSETS:
        return list(_SUPERSETS[key])
    match = _WINDOWS.match(key)
    if match:
        return ["cp" + match.group(1)]
    match = _ISO8859.match(key)
    if match:
        return ["iso8859_" + match.group(1)]
    for attempt in (cleaned, key):
        try:
            info = codecs.lookup(attempt)
        except (LookupError, ValueError):
            continue
        # Binary transforms (base64_codec, zlib...) and rot13 are codecs too; a charset is not one.
        if not getattr(info, "_is_text_encoding", True):
            return []
        return [info.name]
    return []


def _jis_pair_to_sjis(j1: int, j2: int) -> bytes:
    s1 = ((j1 + 1) >> 1) + (0x70 if j1 <= 0x5E else 0xB0)
    if j1 % 2:
        s2 = j2 + (0x20 if j2 >= 0x60 else 0x1F)
    else:
        s2 = j2 + 0x7E
    return bytes((s1 & 0xFF, s2 & 0xFF))


def decode_iso2022jp_ms(data: bytes, errors: str = "strict") -> str:
    """ISO-2022-JP decoded through cp932, so that the Windows extension rows decode too."""
    out = bytearray()
    mode = "ascii"
    index = 0
    while index < len(data):
        if data[index] == 0x1B:
            seq = data[index + 1 : index + 3]
            if seq in (b"$@", b"$B"):
                mode = "jis"
            elif seq in (b"(B", b"(J"):
                mode = "ascii"
            elif seq == b"(I":
                mode = "kana"
            else:
                out.append(0x1B)
                index += 1
                continue
            index += 3
            continue
        byte = data[index]
        if mode == "jis" and 0x21 <= byte <= 0x7E and index + 1 < len(data):
            out += _jis_pair_to_sjis(byte, data[index + 1])
            index += 2
            continue
        if mode == "kana" and 0x21 <= byte <= 0x5F:
            out.append(byte + 0x80)
        else:
            out.append(byte)
        index += 1
    return out.decode("cp932", errors=errors)


def _decode(data: bytes, name: str, errors: str = "strict") -> str:
    if name == ISO2022JP_MS:
        return decode_iso2022jp_ms(data, errors)
    return data.decode(name, errors=errors)


def decode_bytes(data: bytes, label: str | None) -> tuple[str, str]:
    """Decode ``data`` declared as ``label``; returns (text, codec actually used)."""
    candidates = candidate_codecs(label)
    for name in candidates:
        try:
            return _decode(data, name), name
        except (UnicodeDecodeError, LookupError):
            continue
    if "utf-8" not in candidates:
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    # Undecodable under every honest reading: keep the declared multibyte codec if there was one
    # (a few bad bytes in a long GBK mail should not turn it all into mojibake), else cp1252.
    for name in candidates:
        if name in ("utf-8", "cp1252"):
            continue
        try:
            return _decode(data, name, errors="replace"), name
        except LookupError:
            continue
    try:
        return data.decode("cp1252", errors="replace"), "cp1252"
    except UnicodeDecodeError:  # pragma: no cover - 'replace' cannot fail; latin-1 is a last word
        return data.decode("latin-1"), "latin-1"


def decode_guess(data: bytes, hints: tuple[str, ...] = ()) -> str:
    """Decode bytes with no trustworthy label: utf-8, then each hint strictly, then cp1252."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for hint in hints:
        for name in candidate_codecs(hint):
            try:
                return data.decode(name)
            except (UnicodeDecodeError, LookupError):
                continue
    return data.decode("cp1252", errors="replace")
