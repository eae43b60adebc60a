"""Scoring for ``bench_transcribe.py``: the shared clips, WER/CER normalisers, memory readings."""

from __future__ import annotations

import csv
import re
import resource
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tests.transcribe.sounds import non_speech, unsupported_speech
from transcribe.audio import load_audio
from transcribe.chinese import to_simplified

AUDIO = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "audio"

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "ok": "okay"}
_HAN_DIGITS = "零一二三四五六七八九"


@dataclass(frozen=True)
class Clip:
    name: str
    language: str
    duration: float
    reference: str
    audio: npt.NDArray[np.float32]


@dataclass
class Score:
    clips: int = 0
    edits: int = 0
    units: int = 0
    seconds: float = 0.0
    audio: float = 0.0
    cpu: float = 0.0

    def add(self, edits: int, units: int, seconds: float, audio: float) -> None:
        self.clips += 1
        self.edits += edits
        self.units += units
        self.seconds += seconds
        self.audio += audio

    @property
    def rate(self) -> float:
        return self.edits / self.units if self.units else 0.0

    @property
    def rtf(self) -> float:
        return self.seconds / self.audio if self.audio else 0.0


def load_clips() -> list[Clip]:
    manifest = AUDIO / "manifest.tsv"
    if not manifest.is_file():
        sys.exit(f"no audio manifest at {manifest}")
    with manifest.open(newline="", encoding="utf-8") as handle:
        return [
            Clip(
                name=row["file"],
                language=row["language"],
                duration=float(row["duration_s"]),
                reference=row["transcript"],
                audio=load_audio(AUDIO / row["file"]),
            )
            for row in csv.DictReader(handle, delimiter="\t")
        ]


def _number_words(number: int) -> str:
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    return " ".join(_ONES[int(digit)] for digit in str(number))


def english_words(text: str) -> list[str]:
    """Lower case, digits spelled out, hyphens split, punctuation and a few abbreviations undone.

    Applied to the reference and the hypothesis alike, like Whisper's English normaliser, only
    much smaller.
    """
    text = text.lower().replace("-", " ")
    text = re.sub(r"\d+", lambda m: " " + _number_words(int(m.group())) + " ", text)
    text = re.sub(r"[^\w\s']", " ", text)
    words = []
    for word in text.split():
        word = word.strip("'")
        if word:
            words.append(_ABBREVIATIONS.get(word, word))
    return words


def chinese_characters(text: str) -> list[str]:
    """Simplified characters without punctuation or spaces; a digit counts as its 汉字 numeral
    (AISHELL's references write 六月, Whisper writes 6月: the same words)."""
    text = re.sub(r"\d", lambda m: _HAN_DIGITS[int(m.group())], to_simplified(text))
    return [char for char in text if char.isalnum()]


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    previous = list(range(len(hyp) + 1))
    for i, ref_unit in enumerate(ref, 1):
        current = [i]
        for j, hyp_unit in enumerate(hyp, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_unit != hyp_unit))
            )
        previous = current
    return previous[-1]


def score(language: str, reference: str, hypothesis: str) -> tuple[int, int]:
    """(edits, reference units): words for English, characters for Chinese."""
    split = chinese_characters if language == "zh" else english_words
    ref = split(reference)
    return edit_distance(ref, split(hypothesis)), len(ref)


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


synthetic_non_speech = non_speech
synthetic_unsupported = unsupported_speech
