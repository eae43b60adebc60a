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
    # gzip ratio of the text: Whisper's sign of a looping decode (0.0 in older stored results).
    compression_ratio: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "avg_logprob": self.avg_logprob,
            "no_speech_prob": self.no_speech_prob,
            "compression_ratio": self.compression_ratio,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        return cls(
            start=float(data["start"]),
            end=float(data["end"]),
            text=str(data["text"]),
            avg_logprob=float(data["avg_logprob"]),
            no_speech_prob=float(data["no_speech_prob"]),
            compression_ratio=float(data.get("compression_ratio", 0.0)),
        )


@dataclass(frozen=True)
class SpeechResult:
    """A finished transcription.

    ``text`` holds words only when ``status`` is ``DONE``: a ticket must never show, and the
    classifier never read, words the caller may not have said.

    - ``NO_SPEECH``: silence, noise or music; no text, no segments.
    - ``UNCLEAR``: a guard doubted the words (``reason`` says which); they are kept apart in
      ``candidate_text`` for an agent who chooses to see them, and ``segments`` is empty.
    - ``UNSUPPORTED_LANGUAGE``: ``language`` was identified but no model is configured for it;
      ``reason`` is "language not supported (xx)" and nothing was decoded.

    ``language_source`` says where ``language`` came from: "detected" (language ID, with its
    ``language_probability``), "hint" (given by the caller, probability 1.0), "model" (an
    English-only setup) or "" (nothing to detect it from).
    """

    status: TranscriptState
    text: str
    language: str
    language_probability: float
    duration: float
    segments: tuple[Segment, ...]
    model: str
    low_confidence: bool
    reason: str = ""
    candidate_text: str = ""
    language_source: str = ""

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
            "reason": self.reason,
            "candidate_text": self.candidate_text,
            "language_source": self.language_source,
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
            # Results stored before the guards existed have none of these keys.
            reason=str(data.get("reason", "")),
            candidate_text=str(data.get("candidate_text", "")),
            language_source=str(data.get("language_source", "")),
        )
