"""Fixtures for the transcription library: the shared speech clips, audio writers, one model."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import av
import numpy as np
import numpy.typing as npt
import pytest
from av.audio.stream import AudioStream

from transcribe import Transcriber, WhisperConfig
from transcribe.audio import SAMPLE_RATE, load_audio

AUDIO_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "audio"
JFK = "whisper.cpp/jfk.wav"
JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
PROMPT = "asterisk-core-sounds-en-8k/vm-instructions.wav"
PROMPT_TEXT = (
    "To look into your messages press 1 now. "
    "You may quit voicemail at any time by pressing the pound key."
)


def shared_clip(name: str) -> Path:
    path = AUDIO_DIR / name
    if not path.is_file():
        pytest.skip(f"shared audio data not available ({path})")
    return path


def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s]", " ", text.lower().replace("1", "one")).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        current = [i]
        for j, hyp_word in enumerate(hyp, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
            )
        previous = current
    return previous[-1] / len(ref)


def write_audio(
    path: Path,
    samples: npt.NDArray[np.float32],
    *,
    codec: str = "pcm_s16le",
    rate: int = SAMPLE_RATE,
    container: str | None = None,
) -> Path:
    """Encode mono float samples (at 16 kHz) with PyAV, resampling to ``rate`` on the way."""
    with av.open(str(path), "w", format=container) as out:
        stream = cast(AudioStream, out.add_stream(codec, rate=rate, layout="mono"))
        resampler = av.AudioResampler(
            format=stream.codec_context.format,
            layout="mono",
            rate=rate,
            frame_size=stream.codec_context.frame_size or None,
        )
        frame = av.AudioFrame.from_ndarray(
            samples.astype(np.float32).reshape(1, -1), format="flt", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        for piece in [*resampler.resample(frame), *resampler.resample(None)]:
            piece.pts = None
            for packet in stream.encode(piece):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.fixture(scope="session")
def jfk_samples() -> npt.NDArray[np.float32]:
    return load_audio(shared_clip(JFK))


@pytest.fixture(scope="session")
def prompt_samples() -> npt.NDArray[np.float32]:
    return load_audio(shared_clip(PROMPT))


@pytest.fixture(scope="session")
def transcriber() -> Iterator[Transcriber]:
    """The default model, loaded once for the whole session, strictly offline."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield Transcriber(WhisperConfig(cpu_threads=2))
