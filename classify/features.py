"""Turning a message into sparse features: word and character n-grams, Chinese-aware.

One analyzer serves both languages. Latin-script text gives words (lower-cased, digits folded,
with a light suffix-stripped variant so "refunds"/"refunded" share evidence) and character
n-grams inside word boundaries; Chinese text, which has no spaces, gives character 1–3-grams of
each run of Han characters, and as words its character bigrams plus jieba's words (or, with
``jieba``, jieba's words alone). Traditional characters are mapped to Simplified first so a
model trained on one script serves both.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from classify.language import is_han, to_simplified

_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[^\W_]+(?:'[^\W\d_]+)?")
_DIGITS = re.compile(r"\d")
_SUFFIX = re.compile(r"(?<=\w{3})(?:ing|ed|es|s|ly)$")


@dataclass(frozen=True)
class FeatureSpec:
    """How text becomes features; stored with each model so it is rebuilt the same way."""

    word_ngrams: int = 2
    char_min: int = 1
    char_max: int = 4
    han_min: int = 1
    han_max: int = 3
    jieba: bool = False
    # jieba words of Chinese runs added to the word block next to the character bigrams
    # (marked "#" so they never collide with them); see ``from_dict`` for older models.
    han_words: bool = True
    word_min_df: int = 1
    char_min_df: int = 2
    max_features: int | None = 300_000

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        # Models saved before ``han_words`` existed were trained without those features.
        return cls(**{"han_words": False, **data})


def normalize(text: str) -> str:
    return to_simplified(unicodedata.normalize("NFKC", text)).casefold()


def analyze_words(text: str, spec: FeatureSpec) -> list[str]:
    """Word 1..n-grams plus suffix-stripped variants; Chinese runs give jieba words or bigrams."""
    return _words(normalize(text), spec)


def analyze_chars(text: str, spec: FeatureSpec) -> list[str]:
    """Character n-grams within word boundaries; for Chinese runs, Han character n-grams."""
    return _chars(normalize(text), spec)


def _words(folded: str, spec: FeatureSpec) -> list[str]:
    words: list[str] = []
    han_words: list[str] = []
    for match in _TOKEN.finditer(folded):
        token = match.group()
        if is_han(token[0]):
            words.extend(_jieba_words(token) if spec.jieba else _han_grams(token, 2, 2))
            if spec.han_words and not spec.jieba:
                han_words.extend("#" + w for w in _jieba_words(token))
        else:
            words.append(_DIGITS.sub("0", token))
    # After all other words, so word pairs also pair up neighbouring jieba words.
    words.extend(han_words)
    features = list(words)
    features.extend(stem for w in words if (stem := _SUFFIX.sub("", w)) != w)
    for n in range(2, spec.word_ngrams + 1):
        features.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    return features


def _chars(folded: str, spec: FeatureSpec) -> list[str]:
    features: list[str] = []
    for match in _TOKEN.finditer(folded):
        features.extend(_token_chars(match.group(), spec))
    return features


def _token_chars(token: str, spec: FeatureSpec) -> list[str]:
    if is_han(token[0]):
        return _han_grams(token, spec.han_min, spec.han_max)
    padded = f" {_DIGITS.sub('0', token)} "
    return [
        padded[i : i + n]
        for n in range(spec.char_min, spec.char_max + 1)
        for i in range(len(padded) - n + 1)
    ]


def count_features(text: str, spec: FeatureSpec) -> tuple[Counter[str], Counter[str]]:
    """``Counter`` of the word and character blocks, faster: a word repeated in a long mail has its
    character n-grams built once."""
    folded = normalize(text)
    chars: Counter[str] = Counter()
    for token, k in Counter(m.group() for m in _TOKEN.finditer(folded)).items():
        grams = _token_chars(token, spec)
        chars.update(grams * k if k > 1 else grams)
    return Counter(_words(folded, spec)), chars


def _han_grams(run: str, low: int, high: int) -> list[str]:
    if len(run) < low:
        return [run]
    return [run[i : i + n] for n in range(low, high + 1) for i in range(len(run) - n + 1)]


def _jieba_words(run: str) -> list[str]:
    import jieba  # imported lazily: loading its dictionary costs about a second

    return [w for w in jieba.lcut(run, HMM=False) if w.strip()]
