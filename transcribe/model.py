"""The value a transcription produces, and its JSON form for the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intake.domain import TranscriptState


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "avg_logprob": self.avg_logprob,
            "no_speech_prob": self.no_speech_prob,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        return cls(
            start=float(data["start"]),
            end=float(data["end"]),
            text=str(data["text"]),
            avg_logprob=float(data["avg_logprob"]),
            no_speech_prob=float(data["no_speech_prob"]),
        )


@dataclass(frozen=True)
class SpeechResult:
    """A finished transcription.

    ``text`` is empty when ``status`` is ``NO_SPEECH``: a ticket must never show words the caller
    did not say.
    """

    status: TranscriptState
    text: str
    language: str
    language_probability: float
    duration: float
    segments: tuple[Segment, ...]
    model: str
    low_confidence: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "text": self.text,
            "language": self.language,
            "language_probability": self.language_probability,
            "duration": self.duration,
            "segments": [segment.to_dict() for segment in self.segments],
            "model": self.model,
            "low_confidence": self.low_confidence,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpeechResult:
        return cls(
            status=TranscriptState(data["status"]),
            text=str(data["text"]),
            language=str(data["language"]),
            language_probability=float(data["language_probability"]),
            duration=float(data["duration"]),
            segments=tuple(Segment.from_dict(item) for item in data["segments"]),
            model=str(data["model"]),
            low_confidence=bool(data["low_confidence"]),
        )
