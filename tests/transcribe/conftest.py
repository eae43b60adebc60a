"""Fixtures for the transcription library: the shared speech clips, audio writers, one model set.

The models load once per test session: whisper-base (joined from its two packages into a
session temp dir, as the gateway joins it into its data dir) for language ID, English and
Mandarin.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import av
import numpy as np
import numpy.typing as npt
import pytest
from av.audio.stream import AudioStream

from tests.bench.transcribe_scoring import edit_distance
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
IVR = "asterisk-core-sounds-en-8k/basic-pbx-ivr-main.wav"
OPTIONS = "asterisk-core-sounds-en-8k/vm-options.wav"
# AISHELL-1: the clip whisper-base writes without a mistake, and one it gets mostly right.
MANDARIN = "mindaudio/BAC009S0002W0123.wav"
MANDARIN_TEXT = "也成为地方政府的眼中钉"
MANDARIN_2 = "mindaudio/BAC009S0002W0124.wav"
MANDARIN_2_TEXT = "自六月底呼和浩特市率先宣布取消限购后"


def shared_clip(name: str) -> Path:
    path = AUDIO_DIR / name
    if not path.is_file():
        pytest.skip(f"shared audio data not available ({path})")
    return path


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Edits between the Chinese characters (punctuation ignored) over the reference length."""
    ref = [char for char in reference if char.isalnum()]
    hyp = [char for char in hypothesis if char.isalnum()]
    return edit_distance(ref, hyp) / len(ref)


def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s]", " ", text.lower().replace("1", "one")).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref = words(reference)
    return edit_distance(ref, words(hypothesis)) / len(ref)


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


def cut(samples: npt.NDArray[np.float32], start_s: float, end_s: float) -> npt.NDArray[np.float32]:
    return samples[int(start_s * SAMPLE_RATE) : int(end_s * SAMPLE_RATE)]


def padded(*parts: npt.NDArray[np.float32], before_s: float = 1.0, after_s: float = 1.5) -> Any:
    """Parts with silence before and after, as a caller leaves it around a short message."""
    return np.concatenate(
        [
            np.zeros(int(before_s * SAMPLE_RATE), dtype=np.float32),
            *parts,
            np.zeros(int(after_s * SAMPLE_RATE), dtype=np.float32),
        ]
    )


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("speech-models")


@pytest.fixture(scope="session")
def transcriber(models_dir: Path) -> Iterator[Transcriber]:
    """The default models, loaded once for the whole session, strictly offline.

    The time budget is widened: these tests are about the words and the guards, and on a CI
    machine busy with the rest of the suite a short clip can take longer than the production
    budget allows (its own test shrinks it instead).
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        config = WhisperConfig(cpu_threads=2, models_dir=str(models_dir), time_budget_extra_s=600)
        yield Transcriber(config)
