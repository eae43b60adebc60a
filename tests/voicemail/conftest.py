"""Voicemail fixtures: the real default speech model (loaded once per session) and audio clips."""

from __future__ import annotations

import io
import os
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from intake.core.runtime import Runtime, set_current
from intake.core.settings import load_settings
from tests.conftest import TEST_MODELS_DIR, make_runtime
from transcribe import Transcriber

# The default model ships inside a Python package; nothing may reach the Hugging Face hub.
os.environ["HF_HUB_OFFLINE"] = "1"

SHARED_AUDIO = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "audio"
SPEECH_CLIP = SHARED_AUDIO / "asterisk-core-sounds-en-8k" / "cannot-complete-as-dialed.wav"


@pytest.fixture(scope="session")
def speech_model() -> Transcriber:
    """Loads the default models into the worker's per-process cache: every job reuses them."""
    from workers.transcription import get_transcriber

    return get_transcriber(load_settings({"INTAKE_MODELS_DIR": str(TEST_MODELS_DIR)}))


@pytest.fixture(scope="session")
def speech_wav() -> bytes:
    """2.6 s of 8 kHz telephone speech: "Your call cannot be completed as dialed."."""
    if not SPEECH_CLIP.is_file():
        pytest.skip(f"shared audio not found at {SPEECH_CLIP}")
    return SPEECH_CLIP.read_bytes()


@pytest.fixture(scope="session")
def mulaw_wav(speech_wav: bytes) -> bytes:
    """The speech clip re-encoded as G.711 µ-law in WAV, as many PBXs record voicemail."""
    import av

    output = io.BytesIO()
    with (
        av.open(io.BytesIO(speech_wav), "r") as source,
        av.open(output, "w", format="wav") as target,
    ):
        stream = target.add_stream("pcm_mulaw", rate=8000, layout="mono")
        for frame in source.decode(audio=0):
            frame.pts = None
            for packet in stream.encode(frame):
                target.mux(packet)
        for packet in stream.encode(None):
            target.mux(packet)
    return output.getvalue()


def pcm_wav(samples: bytes, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def silence_wav() -> bytes:
    return pcm_wav(b"\x00\x00" * 8000 * 3)


# A WAV header promising PCM data, followed by bytes that are no audio container at all.
CORRUPT_AUDIO = b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00" + b"\x07garbage" * 64


@pytest.fixture
def make_voicemail_runtime(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> Iterator[Callable[..., Runtime]]:
    """Build a SQLite runtime with extra ``INTAKE_*`` settings, current for jobs run in-process."""
    made: list[Runtime] = []

    def build(**env: str) -> Runtime:
        runtime = make_runtime(tmp_path, sqlite_url, redis_url, **env)
        set_current(runtime)
        made.append(runtime)
        return runtime

    yield build
    set_current(None)
    for runtime in made:
        runtime.close()
