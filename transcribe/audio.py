"""Reading audio files with PyAV: cheap header checks first, then a bounded decode to 16 kHz mono.

Every failure is turned into a :class:`~transcribe.errors.TranscriptionError` whose message can be
shown to an agent; nothing here lets a PyAV exception escape.
"""

from __future__ import annotations

import gc
import logging
import os
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from transcribe.errors import (
    AudioTooLargeError,
    AudioTooLongError,
    CorruptAudioError,
    EmptyAudioError,
    TranscriptionError,
    format_duration,
    format_size,
)

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
StrPath = str | os.PathLike[str]


@dataclass(frozen=True)
class AudioInfo:
    """What the container header says. ``duration`` is 0.0 when the header does not tell."""

    duration: float
    codec: str
    sample_rate: int
    channels: int
    container: str


def check_file_size(path: StrPath, max_bytes: int | None = None) -> int:
    """Return the file size; raise before anything is decoded if it is empty or too big."""
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise TranscriptionError(
            f"The audio file could not be read ({exc.strerror or exc})."
        ) from exc
    if size == 0:
        raise EmptyAudioError("The audio file is empty (0 bytes).")
    if max_bytes is not None and size > max_bytes:
        raise AudioTooLargeError(
            f"The audio file is {format_size(size)}; the limit is {format_size(max_bytes)}."
        )
    return size


def _open(path: StrPath) -> Any:
    try:
        return av.open(os.fspath(path), mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise CorruptAudioError(
            "The audio could not be read: the file is damaged or not in a known audio format "
            f"({_ffmpeg_reason(exc)})."
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptAudioError(f"The audio could not be read ({exc}).") from exc


def _ffmpeg_reason(exc: Exception) -> str:
    strerror = getattr(exc, "strerror", None)
    return str(strerror or exc).strip().rstrip(".")


def _audio_stream(container: Any) -> Any:
    if not container.streams.audio:
        raise CorruptAudioError("The file contains no audio track.")
    return container.streams.audio[0]


def _header_duration(container: Any, stream: Any) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / av.time_base
    return 0.0


def probe_audio(
    path: StrPath, *, max_bytes: int | None = None, max_duration_s: float | None = None
) -> AudioInfo:
    """Read the header only; raise if the file is empty, unreadable, or over a limit."""
    check_file_size(path, max_bytes)
    with _open(path) as container:
        stream = _audio_stream(container)
        codec = stream.codec_context
        info = AudioInfo(
            duration=_header_duration(container, stream),
            codec=str(codec.name),
            sample_rate=int(codec.sample_rate or 0),
            channels=int(codec.channels or 0),
            container=str(container.format.name),
        )
    if max_duration_s is not None and info.duration > max_duration_s:
        raise AudioTooLongError(_too_long_message(info.duration, max_duration_s))
    return info


def _too_long_message(duration: float, limit: float) -> str:
    return (
        f"The recording is {format_duration(duration)} long; the limit is {format_duration(limit)}."
    )


class _SampleBuffer:
    """A float32 array filled in place, sized from the header's duration.

    Collecting blocks and concatenating them at the end would hold every sample twice at the
    peak; for a long voicemail that doubles the memory a job needs.
    """

    def __init__(self, expected_s: float) -> None:
        self.data = np.empty(int(expected_s * SAMPLE_RATE) + SAMPLE_RATE, dtype=np.float32)
        self.size = 0

    def append(self, samples: npt.NDArray[np.float32]) -> None:
        end = self.size + samples.shape[0]
        if end > self.data.shape[0]:
            # The header understated the length: grow geometrically.
            grown = np.empty(max(end, self.data.shape[0] * 3 // 2), dtype=np.float32)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : end] = samples
        self.size = end

    def result(self) -> npt.NDArray[np.float32]:
        if self.data.shape[0] - self.size > 10 * SAMPLE_RATE:
            # A header that overstated the length (a truncated file): do not keep the slack.
            return self.data[: self.size].copy()
        return self.data[: self.size]


def load_audio(
    path: StrPath, *, max_bytes: int | None = None, max_duration_s: float | None = None
) -> npt.NDArray[np.float32]:
    """Decode the first audio track to 16 kHz mono float32.

    The header is checked first so an oversized file is refused without decoding it; the decode
    itself also stops as soon as it passes ``max_duration_s``, for containers whose header lies or
    says nothing. Damaged packets are skipped; a file cut short yields the audio before the cut.
    """
    info = probe_audio(path, max_bytes=max_bytes, max_duration_s=max_duration_s)
    max_samples = None if max_duration_s is None else int(max_duration_s * SAMPLE_RATE)
    buffer = _SampleBuffer(info.duration)
    bad_packets = 0
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    try:
        with _open(path) as container:
            stream = _audio_stream(container)
            for frame in _decoded_frames(container, stream, info):
                if frame is None:
                    bad_packets += 1
                    continue
                # Resampling is driven by sample counts; broken pts in the file must not stop it.
                frame.pts = None
                for out in resampler.resample(frame):
                    buffer.append(_samples(out))
                if max_samples is not None and buffer.size > max_samples:
                    raise AudioTooLongError(
                        _too_long_message(buffer.size / SAMPLE_RATE, float(max_duration_s or 0))
                    )
            for out in resampler.resample(None):
                buffer.append(_samples(out))
    except av.FFmpegError as exc:
        raise CorruptAudioError(
            f"The audio could not be decoded: the file is damaged ({_ffmpeg_reason(exc)})."
        ) from exc
    finally:
        del resampler
        # PyAV's resampler graph holds reference cycles; without a collection every job would
        # leak a little memory in a long-running worker (faster-whisper issue #390).
        gc.collect()
    if buffer.size == 0:
        if bad_packets:
            raise CorruptAudioError(
                f"The audio could not be decoded: all {bad_packets} packets of the "
                f"{info.codec} track are damaged."
            )
        raise EmptyAudioError("The audio file contains no sound samples.")
    if bad_packets:
        logger.warning("skipped %d undecodable packets in %s", bad_packets, path)
    return buffer.result()


def _samples(frame: Any) -> npt.NDArray[np.float32]:
    return np.asarray(frame.to_ndarray(), dtype=np.float32).reshape(-1)


def _decoded_frames(container: Any, stream: Any, info: AudioInfo) -> Any:
    """Yield decoded frames, and ``None`` for each packet that would not decode."""
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            # Demuxing stops making progress on a damaged container: keep what was read.
            logger.warning("container of %s codec ends in damaged data", info.codec)
            return
        try:
            frames = packet.decode()
        except av.error.InvalidDataError:
            yield None
            continue
        yield from frames
