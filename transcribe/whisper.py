"""One loaded faster-whisper model: voice activity, language ID, and decoding in one language.

:class:`WhisperRunner` knows nothing of routing or guards; :mod:`transcribe.engine` decides
which runner decodes what, and whether to believe it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from transcribe.audio import SAMPLE_RATE
from transcribe.config import WhisperConfig
from transcribe.errors import ModelLoadError
from transcribe.model import Segment
from transcribe.pieces import cut_points

logger = logging.getLogger(__name__)

# Whisper's encoder sees 30 s windows of 100 feature frames per second.
_FULL_WINDOW_FRAMES = 3000
_FRAMES_PER_SECOND = 100
# The hotword prompt is cut by faster-whisper at 223 tokens; stay well inside that.
_MAX_VOCABULARY_CHARS = 600
# A long recording is cut at the quietest moment within this many seconds before each piece end.
_PIECE_SEARCH_S = 20.0

Audio = npt.NDArray[np.float32]
# Speech regions as sample ranges [start, end).
Regions = list[tuple[int, int]]


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


def trimmed_window(features: Audio, min_frames: int, tail_frames: int) -> Any:
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


def _load_model(path: str, config: WhisperConfig) -> Any:
    from faster_whisper import WhisperModel

    tail_frames = int(round(config.encoder_tail_s * _FRAMES_PER_SECOND))

    class WindowedWhisperModel(WhisperModel):  # type: ignore[misc]
        """WhisperModel whose encoder skips the silence padding beyond ``min_frames``.

        Whisper always encodes a 30 s window; the encoder is most of the cost of a short
        voicemail. ``min_frames`` is set before each call (calls never overlap).
        """

        min_frames = _FULL_WINDOW_FRAMES

        def encode(self, features: Audio) -> Any:
            if self.min_frames < _FULL_WINDOW_FRAMES:
                features = trimmed_window(features, self.min_frames, tail_frames)
            return super().encode(features)

    device = config.device
    if device == "auto":
        import ctranslate2

        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    compute_type = config.compute_type
    if compute_type == "default":
        compute_type = "float16" if device == "cuda" else "int8"
    try:
        return WindowedWhisperModel(
            path, device=device, compute_type=compute_type, cpu_threads=config.cpu_threads
        )
    except Exception as exc:  # CTranslate2 raises many unrelated types
        raise ModelLoadError(
            f"The speech model at {path} could not be loaded on {device} ({compute_type}): {exc}"
        ) from exc


def _frames(seconds: float) -> int:
    return min(_FULL_WINDOW_FRAMES, int(round(seconds * _FRAMES_PER_SECOND)))


class WhisperRunner:
    """One Whisper model and the settings to run it with."""

    def __init__(self, name: str, path: str, config: WhisperConfig) -> None:
        self.name = name
        self.config = config
        self._whisper = _load_model(path, config)
        self._warm_up()

    @property
    def is_multilingual(self) -> bool:
        return bool(self._whisper.model.is_multilingual)

    def _warm_up(self) -> None:
        """Decode one second of silence, so the first job does not pay CTranslate2's first-call
        allocations; a model that loads but cannot run is no model at all."""
        # A few tokens from a short window: decoding silence at full length took 9 s of the
        # load time (Whisper writes on and on into a 30 s window of nothing).
        self._whisper.min_frames = _frames(self.config.min_encoder_window_s)
        try:
            segments, _info = self._whisper.transcribe(
                np.zeros(SAMPLE_RATE, dtype=np.float32),
                language="en",
                beam_size=self.config.beam_size,
                temperature=0.0,
                max_new_tokens=4,
                without_timestamps=True,
                vad_filter=False,
            )
            for _segment in segments:
                pass
        except Exception as exc:
            raise ModelLoadError(
                f"The speech model {self.name!r} loaded but failed to run: {exc}"
            ) from exc

    def detect_language(self, speech: Audio) -> tuple[str, float]:
        """Whisper's language ID over ``speech`` (at most its first 30 s count)."""
        self._whisper.min_frames = _frames(self.config.min_encoder_window_s)
        language, probability, _all = self._whisper.detect_language(speech)
        return str(language), float(probability)

    def decode_options(self, language: str, vocabulary: Sequence[str]) -> dict[str, Any]:
        """The keyword arguments handed to faster-whisper for one call.

        The vocabulary goes in as ``hotwords``: faster-whisper puts them in the prompt of every
        window it decodes, where an ``initial_prompt`` would only steer the first one. No text
        is carried over as a prompt: on the 11 min benchmark that made tiny.en skip windows.
        """
        config = self.config
        terms = merge_vocabulary(config.vocabulary, vocabulary)
        return {
            "language": language if self.is_multilingual else "en",
            "beam_size": config.beam_size_for(language),
            "temperature": list(config.temperatures),
            "without_timestamps": config.without_timestamps,
            "hotwords": ", ".join(terms) if terms else None,
            "condition_on_previous_text": config.condition_on_previous_text,
            "vad_filter": False,
        }

    def decode(
        self,
        audio: Audio,
        speech: Regions,
        *,
        language: str,
        window_s: float,
        vocabulary: Sequence[str] = (),
        deadline: float | None = None,
    ) -> tuple[list[Segment], bool]:
        """Decode the ``speech`` regions of ``audio`` in ``language``.

        Returns the segments on the recording's timeline, and whether the decode was cut off at
        ``deadline`` (a ``time.perf_counter()`` value).
        """
        config = self.config
        options = self.decode_options(language, vocabulary)
        self._whisper.min_frames = _frames(window_s)
        heard: list[Segment] = []
        for start, end in cut_points(audio, config.piece_s, _PIECE_SEARCH_S):
            clips = _clips_within(speech, start, end)
            if not clips:
                continue
            # Each speech region is at most vad_max_speech_s long and decoded in its own short
            # window: tiny.en given 30 s windows with a hotword prompt dropped whole sentences.
            raw_segments, _info = self._whisper.transcribe(
                audio[start:end], clip_timestamps=clips, **options
            )
            offset = start / SAMPLE_RATE
            # The generator does the decoding: consume it here, watching the clock.
            for s in raw_segments:
                heard.append(
                    Segment(
                        start=round(offset + float(s.start), 3),
                        end=round(offset + float(s.end), 3),
                        text=str(s.text).strip(),
                        avg_logprob=float(s.avg_logprob),
                        no_speech_prob=float(s.no_speech_prob),
                        compression_ratio=round(float(s.compression_ratio), 3),
                    )
                )
                if deadline is not None and time.perf_counter() > deadline:
                    return heard, True
        return heard, False


def speech_regions(audio: Audio, config: WhisperConfig) -> Regions:
    """Where someone speaks, by Silero VAD; all of it when VAD is off."""
    if not config.vad:
        return [(0, audio.shape[0])] if audio.shape[0] else []
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    chunks = get_speech_timestamps(
        audio,
        VadOptions(
            threshold=config.vad_threshold,
            min_silence_duration_ms=config.vad_min_silence_ms,
            speech_pad_ms=config.vad_speech_pad_ms,
            max_speech_duration_s=config.vad_max_speech_s or float("inf"),
        ),
    )
    return [(int(chunk["start"]), int(chunk["end"])) for chunk in chunks]


def speech_sample(audio: Audio, speech: Regions, seconds: float) -> Audio:
    """The first ``seconds`` of speech, glued together, for language ID."""
    wanted = int(seconds * SAMPLE_RATE)
    parts: list[Audio] = []
    for start, end in speech:
        parts.append(audio[start : min(end, start + wanted)])
        wanted -= parts[-1].shape[0]
        if wanted <= 0:
            break
    return np.concatenate(parts) if parts else audio[:0]


def _clips_within(speech: Regions, start: int, end: int) -> list[float]:
    """The regions inside the piece [start, end), as faster-whisper's ``clip_timestamps``
    (seconds from the piece start: start, end, start, end, ...)."""
    clips: list[float] = []
    for region_start, region_end in speech:
        lo, hi = max(region_start, start), min(region_end, end)
        if hi - lo >= SAMPLE_RATE // 10:  # a sliver cut off by the piece boundary is no speech
            clips.extend(
                (round((lo - start) / SAMPLE_RATE, 3), round((hi - start) / SAMPLE_RATE, 3))
            )
    return clips
