"""Audio in, :class:`SpeechResult` out: find the language, decode it with its model, guard it.

A :class:`Transcriber` loads its models once and is meant to live as long as the worker process
that owns it; calls on one instance must not overlap.

1. Voice activity: no speech at all is ``NO_SPEECH``, with no language guessed.
2. Language: the caller's hint (a mailbox's or phone line's language), else the fixed
   ``config.language``, else the detector model's language ID over the first seconds of speech.
3. A language with no configured model is ``UNSUPPORTED_LANGUAGE``: nothing is decoded, so
   nothing can be translated or invented.
4. The language's model decodes the speech; segments that look like subtitle sign-offs on
   noise are dropped; Chinese is written in Simplified characters.
5. Guards (:mod:`transcribe.guards`) and a time budget may mark the words ``UNCLEAR``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from intake.domain import TranscriptState
from transcribe import chinese
from transcribe.audio import SAMPLE_RATE, StrPath, load_audio
from transcribe.config import WhisperConfig
from transcribe.errors import ModelLoadError
from transcribe.guards import CHARACTER_LANGUAGES, unclear_reason
from transcribe.model import Segment, SpeechResult
from transcribe.modelfiles import resolve_model_path
from transcribe.quality import is_low_confidence, keep_speech
from transcribe.whisper import WhisperRunner, speech_regions, speech_sample

logger = logging.getLogger(__name__)

__all__ = ["Transcriber", "default_models_dir", "normalize_language", "resolve_model_path"]

_SIMPLIFIED = frozenset({"zh"})


def default_models_dir() -> Path:
    """Where split models are joined when the caller names no data dir: a per-user cache."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "intake-gateway" / "speech-models"


def normalize_language(code: str | None) -> str:
    """ "zh-CN", "ZH_Hans", " en-US " -> "zh", "zh", "en"; None or blank -> ""."""
    if not code:
        return ""
    return code.strip().replace("_", "-").split("-")[0].lower()


def join_text(segments: Sequence[Segment], language: str) -> str:
    separator = "" if language in CHARACTER_LANGUAGES else " "
    return separator.join(text for segment in segments if (text := segment.text.strip()))


class Transcriber:
    """The configured Whisper models, each loaded once, and the routing between them."""

    def __init__(self, config: WhisperConfig) -> None:
        self.config = config
        started = time.perf_counter()
        models_dir = config.models_dir or default_models_dir()
        routes = config.routes()
        names = set(routes.values())
        if config.detector_model:
            names.add(config.detector_model)
        self._runners = {
            name: WhisperRunner(name, resolve_model_path(name, models_dir), config)
            for name in sorted(names)
        }
        for language, name in routes.items():
            if language != "en" and not self._runners[name].is_multilingual:
                raise ModelLoadError(
                    f"The speech model {name!r} knows English only; it cannot transcribe "
                    f"{language!r}."
                )
        self._detector = self._runners.get(config.detector_model)
        if self._detector is not None and not self._detector.is_multilingual:
            raise ModelLoadError(
                f"The language detector {config.detector_model!r} knows English only: "
                "configure a multilingual model such as 'base'."
            )
        if _SIMPLIFIED & routes.keys():
            chinese.load()
        if config.vad:
            from faster_whisper.vad import get_vad_model

            # The VAD session is cached per process; load it now rather than in the first job.
            get_vad_model()
        self.load_seconds = time.perf_counter() - started
        logger.info(
            "loaded speech models %s in %.2f s", ", ".join(self._runners), self.load_seconds
        )

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages this transcriber writes text for."""
        return tuple(sorted(self.config.routes()))

    def transcribe(
        self,
        path: StrPath,
        *,
        vocabulary: Sequence[str] = (),
        language_hint: str | None = None,
    ) -> SpeechResult:
        """Transcribe one file; raises a :class:`~transcribe.errors.TranscriptionError` subclass."""
        config = self.config
        audio = load_audio(path, max_bytes=config.max_bytes, max_duration_s=config.max_duration_s)
        return self.transcribe_array(audio, vocabulary=vocabulary, language_hint=language_hint)

    def transcribe_array(
        self,
        audio: npt.NDArray[np.float32],
        *,
        vocabulary: Sequence[str] = (),
        language_hint: str | None = None,
    ) -> SpeechResult:
        """Transcribe 16 kHz mono float32 samples (what :func:`load_audio` returns).

        ``language_hint`` is the language the caller expects (a mailbox's or line's setting,
        "zh", "zh-CN", "en"...); when given, no language ID runs and it is trusted.
        """
        config = self.config
        started = time.perf_counter()
        duration = audio.shape[0] / SAMPLE_RATE
        speech = speech_regions(audio, config)
        hint = normalize_language(language_hint) or normalize_language(config.language)
        base = _Result(duration=duration, model="")
        if hint:
            base.language, base.probability, base.source = hint, 1.0, "hint"
        elif self._detector is None:
            base.language, base.probability, base.source = "en", 1.0, "model"
        if not speech:
            return base.finish(TranscriptState.NO_SPEECH)
        if not hint and self._detector is not None:
            sample = speech_sample(audio, speech, config.detect_s)
            language, probability = self._detector.detect_language(sample)
            base.language, base.probability, base.source = language, probability, "detected"
            base.model = config.detector_model
        name = config.routes().get(base.language)
        if name is None:
            return base.finish(
                TranscriptState.UNSUPPORTED_LANGUAGE,
                reason=f"language not supported ({base.language})",
            )
        base.model = name
        deadline = started + config.time_budget_extra_s + config.time_budget_per_audio_s * duration
        heard, timed_out = self._runners[name].decode(
            audio,
            speech,
            language=base.language,
            window_s=config.window_s(base.language),
            vocabulary=vocabulary,
            deadline=deadline,
        )
        segments = keep_speech(heard)
        if len(segments) < len(heard):
            logger.info("dropped %d segments judged not to be speech", len(heard) - len(segments))
        if base.language in _SIMPLIFIED:
            segments = tuple(
                _with_text(segment, chinese.to_simplified(segment.text)) for segment in segments
            )
        text = join_text(segments, base.language)
        if not text:
            return base.finish(TranscriptState.NO_SPEECH)
        if timed_out:
            reason = (
                f"decoding ran past its time budget after {time.perf_counter() - started:.0f} s"
            )
        else:
            reason = unclear_reason(
                segments,
                text,
                base.language,
                min_logprob=config.unclear_logprob,
                max_compression_ratio=config.unclear_compression_ratio,
            )
        if reason:
            logger.info("transcript marked unclear: %s", reason)
            return base.finish(TranscriptState.UNCLEAR, reason=reason, candidate_text=text)
        low = is_low_confidence(
            segments,
            base.probability,
            logprob_threshold=config.low_confidence_logprob,
            language_probability_threshold=config.low_confidence_language_probability,
        )
        return base.finish(TranscriptState.DONE, text=text, segments=segments, low_confidence=low)


def _with_text(segment: Segment, text: str) -> Segment:
    return Segment(
        start=segment.start,
        end=segment.end,
        text=text,
        avg_logprob=segment.avg_logprob,
        no_speech_prob=segment.no_speech_prob,
        compression_ratio=segment.compression_ratio,
    )


class _Result:
    """What is known so far about one call, turned into a :class:`SpeechResult` at the end."""

    def __init__(self, *, duration: float, model: str) -> None:
        self.duration = duration
        self.model = model
        self.language = ""
        self.probability = 0.0
        self.source = ""

    def finish(
        self,
        status: TranscriptState,
        *,
        text: str = "",
        segments: tuple[Segment, ...] = (),
        low_confidence: bool = False,
        reason: str = "",
        candidate_text: str = "",
    ) -> SpeechResult:
        return SpeechResult(
            status=status,
            text=text,
            language=self.language,
            language_probability=round(self.probability, 4),
            duration=round(self.duration, 3),
            segments=segments,
            model=self.model,
            low_confidence=low_confidence,
            reason=reason,
            candidate_text=candidate_text,
            language_source=self.source,
        )
