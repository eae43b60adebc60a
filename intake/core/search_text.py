"""Search terms from text, the same at index and at query time, with no dependency.

Words of alphabetic scripts are lower-cased tokens. Chinese, Japanese and Korean have no spaces,
and a dictionary segmenter (jieba) is too heavy for the web and core processes, so a run of CJK
characters becomes its overlapping character bigrams ("退款了" -> "退款", "款了"): a query of two
or more characters is the phrase of its bigrams and finds exactly the documents containing it,
whatever a dictionary would say about word boundaries. Each distinct CJK character is also
indexed on its own (after the positional terms) so a one-character query finds something too.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_CJK = (
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003134f"  # CJK extensions B to G
)
# A run of CJK characters, or a run of other letters and digits (underscore separates).
_TOKEN = re.compile(rf"[{_CJK}]+|(?:(?![{_CJK}])[^\W_])+")
_IS_CJK = re.compile(rf"[{_CJK}]")

# Longer "words" are encoded data or junk; no one searches for them.
MAX_TERM_CHARS = 60
# PostgreSQL keeps positions up to 16,383; later terms are still indexed, without a position.
MAX_POSITIONS = 16_000
# A query is cut to this many parts, so no request can ask the database for too much work.
MAX_QUERY_PARTS = 8
# Latin query words this long or longer also match words they begin ("refund" -> "refunds").
MIN_PREFIX_CHARS = 3


def normalize(text: str) -> str:
    """Full-width forms to their plain forms (NFKC), then case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def is_cjk(token: str) -> bool:
    return bool(_IS_CJK.match(token))


def _run_terms(run: str) -> list[str]:
    if not is_cjk(run) or len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def document_terms(text: str) -> list[str]:
    """The terms of a document in order; every distinct CJK character once more at the end."""
    terms: list[str] = []
    characters: dict[str, None] = {}
    for match in _TOKEN.finditer(normalize(text)):
        run = match.group()
        if is_cjk(run):
            characters.update(dict.fromkeys(run))
        elif len(run) > MAX_TERM_CHARS:
            continue
        terms.extend(_run_terms(run))
    positional = set(terms)
    return terms + [c for c in characters if c not in positional]


@dataclass(frozen=True)
class QueryPart:
    """Terms that must appear next to each other in this order; ``prefix``: the last term may
    be the beginning of a longer word."""

    terms: tuple[str, ...]
    prefix: bool = False


def query_parts(query: str) -> list[QueryPart]:
    """Every part must match (AND); a part is one space-separated piece of the query."""
    parts: list[QueryPart] = []
    for piece in normalize(query).split():
        runs = [m.group() for m in _TOKEN.finditer(piece)]
        terms = tuple(t for run in runs for t in _run_terms(run) if len(t) <= MAX_TERM_CHARS)
        if not terms:
            continue
        last = terms[-1]
        prefix = not is_cjk(last) and len(last) >= MIN_PREFIX_CHARS
        part = QueryPart(terms, prefix)
        if part not in parts:
            parts.append(part)
    return parts[:MAX_QUERY_PARTS]


def query_needles(query: str) -> list[str]:
    """What to highlight in a snippet: the query's words and CJK runs, longest first."""
    needles = {m.group() for m in _TOKEN.finditer(normalize(query)) if len(m.group()) > 0}
    return sorted(needles, key=len, reverse=True)


@dataclass(frozen=True)
class Snippet:
    """A window of a document as (text, matched) pieces; the web layer escapes and marks."""

    pieces: tuple[tuple[str, bool], ...]
    cut_before: bool
    cut_after: bool


def snippet(document: str, query: str, width: int = 180) -> Snippet | None:
    """The part of ``document`` around the first match of the query, with every match marked.

    Matching is case-insensitive on the original text (the document keeps its own spelling).
    None when nothing of the query appears literally (e.g. only a longer word it is the prefix
    of matched: that still shows, since prefixes appear literally).
    """
    needles = query_needles(query)
    if not needles or not document:
        return None
    pattern = re.compile("|".join(re.escape(n) for n in needles), re.IGNORECASE)
    flat = " ".join(document.split())
    first = pattern.search(unicodedata.normalize("NFKC", flat))
    if first is None:
        return None
    flat = unicodedata.normalize("NFKC", flat)
    start = max(0, first.start() - width // 3)
    end = min(len(flat), start + width)
    window = flat[start:end]
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in pattern.finditer(window):
        if match.start() > position:
            pieces.append((window[position : match.start()], False))
        pieces.append((match.group(), True))
        position = match.end()
    if position < len(window):
        pieces.append((window[position:], False))
    return Snippet(tuple(pieces), cut_before=start > 0, cut_after=end < len(flat))
