"""Guards against invented text: each returns why a transcript should not be believed, or "".

Whisper, given audio it cannot make out, still writes fluent text: subtitles' sign-offs, a
sentence looped until the window ends, or an English "translation" of another language. These
rules look at what came out and at Whisper's own confidence figures. Pure functions over plain
values, so each rule is tested without a model.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Sequence

from transcribe.model import Segment
from transcribe.quality import mean_logprob

# Languages written without spaces between words: their repetition unit is the character.
CHARACTER_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my", "yue", "bo"})

# The script a language's text must mostly be written in. Languages not listed are not checked.
_LATIN = frozenset(
    "en fr de es it pt nl sv da no nn fi pl cs sk sl hr bs ro hu tr id ms vi tl ca eu gl et lv "
    "lt sq is af sw cy ga mt lb oc br haw la".split()
)
_SCRIPTS: dict[str, frozenset[str]] = {
    "zh": frozenset({"han"}),
    "yue": frozenset({"han"}),
    "ja": frozenset({"han", "kana"}),
    "ko": frozenset({"hangul"}),
    "ru": frozenset({"cyrillic"}),
    "uk": frozenset({"cyrillic"}),
    "be": frozenset({"cyrillic"}),
    "bg": frozenset({"cyrillic"}),
    "sr": frozenset({"cyrillic", "latin"}),
    "el": frozenset({"greek"}),
    "ar": frozenset({"arabic"}),
    "fa": frozenset({"arabic"}),
    "ur": frozenset({"arabic"}),
    "he": frozenset({"hebrew"}),
    "hi": frozenset({"devanagari"}),
    "th": frozenset({"thai"}),
    **{language: frozenset({"latin"}) for language in _LATIN},
}
_SCRIPT_PREFIXES = (
    ("CJK", "han"),
    ("HIRAGANA", "kana"),
    ("KATAKANA", "kana"),
    ("HANGUL", "hangul"),
    ("LATIN", "latin"),
    ("CYRILLIC", "cyrillic"),
    ("GREEK", "greek"),
    ("ARABIC", "arabic"),
    ("HEBREW", "hebrew"),
    ("DEVANAGARI", "devanagari"),
    ("THAI", "thai"),
)
# Shorter texts say too little about their script or their repetitions to judge.
_MIN_LETTERS = 4

_WORD = re.compile(r"\w+", re.UNICODE)
# Callers repeat digits ("five five five, one two three"); numbers never make a loop by
# themselves, so they are left out before repetitions are counted.
_NUMBERS = frozenset(
    "zero oh one two three four five six seven eight nine ten hundred thousand".split()
) | frozenset("零〇一二三四五六七八九十百千万两幺")
# Segments further apart than this are separate utterances: a decoder loops within one window.
_RUN_GAP_S = 1.0


def compression_ratio(text: str) -> float:
    """Whisper's looping sign: how well the UTF-8 text compresses (ordinary speech: 1-2)."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def units(text: str, language: str) -> list[str]:
    """The tokens repetition is counted in: characters for zh/ja/..., lower-cased words else;
    numbers left out."""
    if language in CHARACTER_LANGUAGES:
        tokens = [char for char in text if char.isalnum()]
    else:
        tokens = [word.casefold() for word in _WORD.findall(text)]
    return [token for token in tokens if not token.isdigit() and token not in _NUMBERS]


def utterances(segments: Sequence[Segment]) -> list[str]:
    """The texts of runs of segments with no pause of ``_RUN_GAP_S`` between them."""
    runs: list[list[str]] = []
    previous_end = float("-inf")
    for segment in segments:
        if not runs or segment.start - previous_end >= _RUN_GAP_S:
            runs.append([])
        runs[-1].append(segment.text)
        previous_end = segment.end
    return [" ".join(run) for run in runs]


def _repeats_back_to_back(tokens: Sequence[str], size: int, times: int) -> bool:
    """True if some run of ``size`` tokens occurs ``times`` times in a row."""
    span = size * times
    for start in range(len(tokens) - span + 1):
        first = tokens[start : start + size]
        if all(tokens[start + k * size : start + (k + 1) * size] == first for k in range(1, times)):
            return True
    return False


def _repeats_nearby(tokens: Sequence[str], size: int, within: int) -> bool:
    """True if a run of ``size`` tokens comes back no more than ``within`` tokens later.

    A decoder loop repeats itself inside one window; a caller repeating a phone number says far
    fewer than ``size`` words, and a long recording's repeats are far apart.
    """
    last: dict[tuple[str, ...], int] = {}
    for start in range(len(tokens) - size + 1):
        key = tuple(tokens[start : start + size])
        seen = last.get(key)
        if seen is not None and start - seen >= size and start - seen <= within:
            return True
        last[key] = start
    return False


def is_repetition_loop(text: str, language: str) -> bool:
    """A phrase repeated the way a looping decoder repeats it, not the way people do."""
    tokens = units(text, language)
    if len(tokens) < _MIN_LETTERS:
        return False
    if language in CHARACTER_LANGUAGES:
        # Characters: "谢谢谢谢谢谢谢谢", a 4-character phrase thrice, or a phrase of 12 repeated.
        checks = ((1, 8), (2, 4), (4, 3), (8, 2))
        nearby = (12, 60)
    else:
        # Words: "no no no ..." (8), "thank you" 4 times, "I'm going to show you how to do
        # it, I'm going to show you how to do it" (a 6+ word phrase twice in a row).
        checks = ((1, 8), (2, 4), (3, 4), (6, 2))
        nearby = (10, 40)
    for size, times in checks:
        if any(_repeats_back_to_back(tokens, n, times) for n in range(size, 2 * size)):
            return True
    return _repeats_nearby(tokens, *nearby)


def script_of(char: str) -> str:
    name = unicodedata.name(char, "")
    for prefix, script in _SCRIPT_PREFIXES:
        if name.startswith(prefix):
            return script
    return "other"


def is_wrong_script(text: str, language: str) -> bool:
    """True when most letters are not in the script ``language`` is written in.

    Catches an English "translation" of Mandarin audio, or Chinese characters on an English line.
    """
    expected = _SCRIPTS.get(language)
    if expected is None:
        return False
    letters = [char for char in text if char.isalpha()]
    if len(letters) < _MIN_LETTERS:
        return False
    matching = sum(1 for char in letters if script_of(char) in expected)
    return matching < 0.5 * len(letters)


def unclear_reason(
    segments: Sequence[Segment],
    text: str,
    language: str,
    *,
    min_logprob: float,
    max_compression_ratio: float,
) -> str:
    """Why the words of a finished decode should not be trusted, or "" if no guard objects."""
    if not text:
        return ""
    if is_wrong_script(text, language):
        return f"the words are not written in {language}: language mismatch"
    if any(is_repetition_loop(run, language) for run in utterances(segments) or [text]):
        return "the same words repeat in a loop"
    ratio = max((segment.compression_ratio for segment in segments), default=0.0)
    if ratio > max_compression_ratio:
        return f"the text repeats itself (compression ratio {ratio:.1f})"
    logprob = mean_logprob(segments)
    if logprob < min_logprob:
        return f"the recognizer was unsure of the words (log-probability {logprob:.2f})"
    return ""
