"""Header values as text: RFC 2047 encoded words, raw 8-bit bytes, addresses, ids and dates.

Header values arrive from the compat32 parser as ``str`` in which raw 8-bit bytes are kept as
surrogate escapes. Every function here accepts such strings and never raises.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import quopri
import re
from datetime import UTC, datetime
from email.policy import Compat32

from intake.mail.charset import candidate_codecs, decode_bytes
from intake.mail.model import Address


class _RawCompat32(Compat32):
    """compat32, except header values come back exactly as parsed.

    Stock compat32 wraps values holding raw 8-bit bytes in ``Header(charset=unknown-8bit)``,
    whose ``str()`` turns every such byte into U+FFFD; we want the bytes to guess their charset.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


RAW_POLICY = _RawCompat32()

_ENCODED_WORD = re.compile(r"=\?([^?\s]*)\?([qQbB])\?([^?]*?)\?=")
_FOLD = re.compile(r"\r?\n[ \t]*")
_ONLY_SPACE = re.compile(r"^[ \t\r\n]*$")
_SPACES = re.compile(r"[ \t]+")
_ANGLE_ID = re.compile(r"<([^<>\s]+)>")
_BARE_ID = re.compile(r"(?<![^\s,;<])([^\s<>,;\"'@]+@[^\s<>,;\"'@]+)")
_ANGLE_ADDR = re.compile(r"<\s*([^<>\s@]+@[^<>\s@]+?)\s*>")
# One well-formed UTF-8 multibyte character: evidence that 8-bit bytes are (damaged) UTF-8.
_UTF8_CHAR = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
# Header syntax is ASCII: a charset that encodes these differently (UTF-16, UTF-32) would turn
# raw header bytes into text without its angle brackets, commas and at signs.
_SYNTAX = '<>@,;:"()[] '


def _ascii_compatible(codec: str) -> bool:
    try:
        return _SYNTAX.encode(codec) == _SYNTAX.encode("ascii")
    except (LookupError, UnicodeError):
        return False


def _declares_utf8(label: str) -> bool:
    names = candidate_codecs(label)
    return bool(names) and names[0].replace("_", "-") in ("utf-8", "utf8")


def unsurrogate(value: str, hints: tuple[str, ...] = ()) -> str:
    """Recover text from raw 8-bit header bytes that the parser kept as surrogate escapes.

    Valid UTF-8 first, then each ASCII-compatible charset hint strictly. Bytes that are UTF-8
    with damage (declared UTF-8, or holding at least one well-formed UTF-8 character) decode as
    UTF-8 with U+FFFD for each bad byte; anything else is read as cp1252.
    """
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    raw = value.encode("utf-8", errors="surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for hint in hints:
        for name in candidate_codecs(hint):
            if not _ascii_compatible(name):
                continue
            try:
                return raw.decode(name)
            except (UnicodeDecodeError, LookupError):
                continue
    if any(_declares_utf8(h) for h in hints) or _UTF8_CHAR.search(raw):
        return raw.decode("utf-8", errors="replace")
    return raw.decode("cp1252", errors="replace")


def _decode_word_payload(encoding: str, payload: str) -> bytes:
    if encoding in "bB":
        cleaned = re.sub(r"[^A-Za-z0-9+/]", "", payload)
        cleaned += "=" * (-len(cleaned) % 4)
        try:
            return base64.b64decode(cleaned)
        except (binascii.Error, ValueError):
            return payload.encode("ascii", errors="replace")
    return quopri.decodestring(payload.replace("_", " ").encode("ascii", errors="replace"))


def decode_words(value: str, hints: tuple[str, ...] = ()) -> str:
    """Decode RFC 2047 encoded words anywhere in ``value``.

    Adjacent words with the same charset are joined as bytes before decoding because senders
    split multibyte characters across words; whitespace between encoded words is dropped.
    """
    value = unsurrogate(value, hints)
    if "=?" not in value:
        return value
    out: list[str] = []
    pending: list[bytes] = []
    pending_charset: str | None = None
    position = 0

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending:
            out.append(decode_bytes(b"".join(pending), pending_charset)[0])
        pending = []
        pending_charset = None

    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        if between and not (pending and _ONLY_SPACE.match(between)):
            flush()
            out.append(between)
        charset = match.group(1).split("*", 1)[0].lower()
        if pending and charset != pending_charset:
            flush()
        pending_charset = charset
        pending.append(_decode_word_payload(match.group(2), match.group(3)))
        position = match.end()
    flush()
    out.append(value[position:])
    return "".join(out)


def unfold(value: str) -> str:
    return _FOLD.sub(" ", value).strip()


def decode_header_value(value: object, hints: tuple[str, ...] = ()) -> str:
    """Unfolded, decoded text of one header value (``Header`` objects included)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        try:
            value = str(value)
        except Exception:  # a header object that cannot print is just empty
            return ""
    value = unfold(value)
    if "\x1b" in value and value.isascii():
        # Old Japanese mailers put raw 7-bit ISO-2022-JP in headers, without encoded words.
        value = decode_bytes(value.encode("ascii"), "iso-2022-jp")[0]
    return decode_words(value, hints).replace("\x00", "")


def _split_addresses(value: str) -> list[tuple[str, str]]:
    try:
        return email.utils.getaddresses([value])
    except Exception:  # malformed lists: recover what a simple split gives
        return [email.utils.parseaddr(part) for part in value.split(",")]


def _has_address(pairs: list[tuple[str, str]]) -> bool:
    # "name addr@host" without brackets parses as one "address" with a space: not an address.
    return any("@" in addr and len(addr.split()) == 1 for _, addr in pairs)


def _address_pairs(value: str, hints: tuple[str, ...]) -> list[tuple[str, str]]:
    """(name, address) pairs of one header value; the address survives undecodable names."""
    pairs = _split_addresses(unsurrogate(value, hints))
    if _has_address(pairs):
        return pairs
    # The decoded text lost the structure: parse the raw value, whose delimiters are ASCII
    # whatever the 8-bit bytes around them, and decode the names afterwards.
    raw_pairs = _split_addresses(value)
    if _has_address(raw_pairs):
        return raw_pairs
    # Broken syntax around a sound address (an unbalanced "(" in the name swallows the rest):
    # take the address in angle brackets, or a bare one, and the text before it as the name.
    match = _ANGLE_ADDR.search(value) or _BARE_ID.search(value)
    if match is not None:
        return [(value[: match.start()], match.group(1))]
    return pairs


def parse_addresses(values: list[str], hints: tuple[str, ...] = ()) -> tuple[Address, ...]:
    """Addresses from raw header values; display names decoded, domain lower-cased."""
    found: list[Address] = []
    for value in values:
        if not value:
            continue
        for name, addr in _address_pairs(unfold(value), hints):
            decoded_name = _SPACES.sub(" ", decode_words(name, hints)).strip().strip('"').strip()
            addr = decode_words(addr.strip(), hints).strip()
            if not addr and not decoded_name:
                continue
            found.append(Address(name=decoded_name, email=normalize_email(addr)))
    return tuple(found)


def normalize_email(addr: str) -> str:
    """Keep the local part as written, lower-case the domain; "" when it is not an address."""
    addr = addr.strip().strip("<>").strip()
    if "@" not in addr or any(ch.isspace() for ch in addr):
        return ""
    local, _, domain = addr.rpartition("@")
    if not local or not domain:
        return ""
    return f"{local}@{domain.lower()}"


def parse_message_ids(value: str | None) -> tuple[str, ...]:
    """Message-IDs in a References/In-Reply-To/Message-ID value, without angle brackets."""
    if not value:
        return ()
    value = unsurrogate(unfold(value))
    ids = _ANGLE_ID.findall(value)
    if not ids:
        # Some mailers omit the brackets; a bare token with an "@" is still an id.
        ids = _BARE_ID.findall(value)
    seen: dict[str, None] = {}
    for one in ids:
        if one and len(one) <= 998:
            seen.setdefault(one, None)
    return tuple(seen)


def parse_date(value: str | None) -> datetime | None:
    """Timezone-aware UTC datetime, or None. A date without zone (or -0000) is taken as UTC."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(unsurrogate(unfold(value)))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    try:
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
