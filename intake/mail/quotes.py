"""Split a reply into what the sender wrote now and the quoted history / signature below it."""

from __future__ import annotations

import re

# "On <date>, <name> wrote:" and its translations. Gmail wraps long attributions onto a second
# line, so these are matched against a line joined with the next one as well.
_ATTRIBUTION = re.compile(
    r"^\s*(?:"
    r"On\b.{1,250}\bwrote\s*:"
    r"|Am\b.{1,250}\bschrieb\b.{0,100}:"
    r"|Le\b.{1,250}\ba\s+écrit\s*:"
    r"|El\b.{1,250}\bescribió\s*:"
    r"|Em\b.{1,250}\bescreveu\s*:"
    r"|Il\b.{1,250}\bha\s+scritto\s*:"
    r"|Op\b.{1,250}\bschreef\b.{0,100}:"
    r"|Den\b.{1,250}\bskrev\b.{0,100}:"
    r"|在.{1,250}写道\s*[:：]"
    r"|於.{1,250}寫道\s*[:：]"
    r"|.{1,250}さんは書きました\s*[:：]"
    r"|.{0,150}<[^<>\s]+@[^<>\s]+>\s*wrote\s*:"
    r")\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*(?:"
    r"-{2,}\s*(?:Original\s+Message|Ursprüngliche\s+Nachricht|Message\s+d'origine"
    r"|Mensaje\s+original|Messaggio\s+originale|Oorspronkelijk\s+bericht|Original\s+meddelelse"
    r"|原始邮件|原始郵件|原始信件|原始消息)\s*-{2,}"
    r"|-{2,}\s*Reply\s+above\s+this\s+line\s*-{2,}"
    r"|_{20,}"
    r")\s*$",
    re.IGNORECASE,
)
# Outlook's header block: a "From:" line followed shortly by "Sent:"/"Date:" and "To:"/"Subject:".
_HEADER_FROM = re.compile(
    r"^\s*\*?(?:From|Von|De|Da|Van|Från|发件人|寄件者|差出人)\s*\*?\s*[:：]", re.IGNORECASE
)
_HEADER_NEXT = re.compile(
    r"^\s*\*?(?:Sent|Date|To|Subject|Cc|Gesendet|Datum|An|Betreff|Envoyé|Date|À|Objet|Enviado"
    r"|Para|Asunto|Fecha|Inviato|Oggetto|Verzonden|Aan|Onderwerp|Skickat|Till|Ämne"
    r"|发送时间|时间|日期|收件人|主题|寄件日期|收件者|主旨|送信日時|宛先|件名)\s*\*?\s*[:：]",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^-- ?\s*$")
_MOBILE_SIGNATURE = re.compile(
    r"^\s*(?:Sent from my \S.*|Sent from Mail for Windows.*|Get Outlook for \S.*"
    r"|Von meinem \S.* gesendet|Envoyé de mon \S.*|Enviado desde mi \S.*"
    r"|发自我的.+|從我的.+傳送)\s*$",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"^\s*>")


def _is_outlook_block(lines: list[str], index: int) -> bool:
    if not _HEADER_FROM.match(lines[index]):
        return False
    following = [line for line in lines[index + 1 : index + 6] if line.strip()]
    return sum(1 for line in following[:4] if _HEADER_NEXT.match(line)) >= 2


def _trailing_quote_start(lines: list[str]) -> int | None:
    """Start of a final block of '>' lines (blank lines allowed) that runs to the end."""
    start: int | None = None
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if _QUOTED.match(line):
            start = index
        elif line.strip():
            break
    return start


def _starts_history(lines: list[str], index: int) -> bool:
    line = lines[index]
    if _SEPARATOR.match(line) or _ATTRIBUTION.match(line) or _is_outlook_block(lines, index):
        return True
    if index + 1 < len(lines) and line.strip() and lines[index + 1].strip():
        joined = line.rstrip() + " " + lines[index + 1].strip()
        return bool(_ATTRIBUTION.match(joined)) and not _QUOTED.match(line)
    return False


def _only_history_after(lines: list[str], index: int) -> bool:
    """True when nothing but blank lines separates ``index`` from the end or from history."""
    for later in range(index + 1, len(lines)):
        if lines[later].strip():
            return bool(_QUOTED.match(lines[later])) or _starts_history(lines, later)
    return True


def _cut_index(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        if _starts_history(lines, index) or _SIGNATURE.match(line):
            return index
        if _MOBILE_SIGNATURE.match(line) and _only_history_after(lines, index):
            return index
    return None


def split_reply(text: str) -> tuple[str, str]:
    """Return ``(new_text, quoted_and_signature)``; ``new_text`` may be "" when all is quoted.

    Inline replies (answers interleaved with '>' lines) are kept whole: only a quote block that
    runs to the end of the message is treated as history.
    """
    if not text:
        return "", ""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _cut_index(lines)
    trailing = _trailing_quote_start(lines)
    if trailing is not None:
        cut = trailing if cut is None else min(cut, trailing)
    if cut is None:
        return text.strip("\n"), ""
    new = "\n".join(lines[:cut]).rstrip()
    rest = "\n".join(lines[cut:]).strip("\n")
    return new.strip("\n"), rest
