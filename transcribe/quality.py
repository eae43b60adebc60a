"""Deciding which recognized segments to believe, and how sure the whole transcript is.

Pure functions over plain numbers so the rules can be tested without a model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from transcribe.model import Segment

# Whisper was trained on subtitles, so on noise or breathing it tends to "hear" sign-offs. These
# are kept only when the model is also confident that someone is speaking.
_STOCK_PHRASES = frozenset(
    {
        "thank you",
        "thank you very much",
        "thanks for watching",
        "thank you for watching",
        "thanks for listening",
        "please subscribe",
        "bye",
        "you",
        "okay",
        "so",
        "uh",
        "um",
        "hmm",
    }
)
_NON_WORD = re.compile(r"[^\w\s']+")
_SPACES = re.compile(r"\s+")

# Whisper's own silence rule skips a window when no_speech_prob > 0.6 *and* avg_logprob < -1.
# no_speech_prob alone is no evidence: after a prompt it reached 0.82 on clearly read speech
# decoded at avg_logprob -0.23. Segments are dropped a little earlier than Whisper would, but
# only when the decode is unsure too.
NO_SPEECH_DROP = 0.6
LOGPROB_DROP = -0.6
NO_SPEECH_DOUBT = 0.4
LOGPROB_DOUBT = -0.8


def normalize_phrase(text: str) -> str:
    return _SPACES.sub(" ", _NON_WORD.sub(" ", text.lower())).strip()


def is_hallucination(segment: Segment) -> bool:
    """True when a segment is most likely invented text rather than speech."""
    phrase = normalize_phrase(segment.text)
    if not phrase:
        return True
    if segment.no_speech_prob >= NO_SPEECH_DROP and segment.avg_logprob <= LOGPROB_DROP:
        return True
    doubtful = segment.no_speech_prob >= NO_SPEECH_DOUBT or segment.avg_logprob <= LOGPROB_DOUBT
    return doubtful and phrase in _STOCK_PHRASES


def keep_speech(segments: Iterable[Segment]) -> tuple[Segment, ...]:
    return tuple(segment for segment in segments if not is_hallucination(segment))


def mean_logprob(segments: Sequence[Segment]) -> float:
    """Duration-weighted mean of the segments' avg_logprob (plain mean if durations are 0)."""
    if not segments:
        return 0.0
    weights = [max(segment.end - segment.start, 0.0) for segment in segments]
    total = sum(weights)
    if total <= 0:
        return sum(segment.avg_logprob for segment in segments) / len(segments)
    return sum(w * s.avg_logprob for w, s in zip(weights, segments, strict=True)) / total


def is_low_confidence(
    segments: Sequence[Segment],
    language_probability: float,
    *,
    logprob_threshold: float,
    language_probability_threshold: float,
) -> bool:
    if not segments:
        return False
    return (
        mean_logprob(segments) < logprob_threshold
        or language_probability < language_probability_threshold
    )
