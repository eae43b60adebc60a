"""Telephone audio as PBXs and carriers send it, made from a real 8 kHz Asterisk prompt.

G.711 μ-law and A-law, MP3, Opus and AMR-NB are encoded with PyAV here; GSM 06.10 WAV (WAV49)
has no encoder in PyAV's FFmpeg, so it is made with sox (Debian package ``sox``) and the test is
skipped where sox is missing. AMR-WB cannot be encoded here (no encoder in either tool) and is
not tested.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from intake.domain import TranscriptState
from tests.transcribe.conftest import PROMPT, PROMPT_TEXT, shared_clip, word_error_rate, write_audio
from transcribe import CorruptAudioError, Transcriber, TranscriptionError, load_audio, probe_audio
from transcribe.audio import SAMPLE_RATE

# (file name, PyAV encoder or "sox-gsm", container, sample rate, codec PyAV reports decoding it)
FORMATS = [
    ("ulaw.wav", "pcm_mulaw", "wav", 8000, "pcm_mulaw"),
    ("alaw.wav", "pcm_alaw", "wav", 8000, "pcm_alaw"),
    ("gsm.wav", "sox-gsm", "wav", 8000, "gsm_ms"),
    ("voicemail.mp3", "libmp3lame", "mp3", 8000, "mp3float"),
    ("voicemail.ogg", "libopus", "ogg", 48000, "opus"),
    ("voicemail.amr", "libopencore_amrnb", "amr", 8000, "amrnb"),
]
IDS = [name for name, *_rest in FORMATS]


def encode(
    tmp_path: Path,
    samples: npt.NDArray[np.float32],
    name: str,
    encoder: str,
    container: str,
    rate: int,
) -> Path:
    path = tmp_path / name
    if encoder != "sox-gsm":
        return write_audio(path, samples, codec=encoder, rate=rate, container=container)
    sox = shutil.which("sox")
    if sox is None:
        pytest.skip("sox is not installed (Debian package sox): no GSM encoder here")
    pcm = write_audio(tmp_path / "pcm.wav", samples, rate=8000)
    subprocess.run([sox, str(pcm), "-e", "gsm-full-rate", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def prompt() -> npt.NDArray[np.float32]:
    return load_audio(shared_clip(PROMPT))


@pytest.mark.parametrize(("name", "encoder", "container", "rate", "codec"), FORMATS, ids=IDS)
def test_each_telephone_format_decodes_and_transcribes(
    transcriber: Transcriber,
    prompt: npt.NDArray[np.float32],
    tmp_path: Path,
    name: str,
    encoder: str,
    container: str,
    rate: int,
    codec: str,
) -> None:
    path = encode(tmp_path, prompt, name, encoder, container, rate)
    info = probe_audio(path)
    assert (info.codec, info.channels) == (codec, 1)
    decoded = load_audio(path)
    # Codec delay and frame padding: the length must still be the prompt's to within 0.1 s.
    assert abs(decoded.shape[0] - prompt.shape[0]) < 0.1 * SAMPLE_RATE
    result = transcriber.transcribe(path)
    assert result.status is TranscriptState.DONE
    assert result.language == "en"
    assert word_error_rate(PROMPT_TEXT, result.text) <= 0.15


@pytest.mark.parametrize(("name", "encoder", "container", "rate", "codec"), FORMATS, ids=IDS)
def test_a_file_cut_short_keeps_its_first_half_or_fails_clearly(
    prompt: npt.NDArray[np.float32],
    tmp_path: Path,
    name: str,
    encoder: str,
    container: str,
    rate: int,
    codec: str,
) -> None:
    data = encode(tmp_path, prompt, name, encoder, container, rate).read_bytes()
    half = tmp_path / f"half-{name}"
    half.write_bytes(data[: len(data) // 2])
    # A voicemail cut off in transit: what arrived is transcribed.
    seconds = load_audio(half).shape[0] / SAMPLE_RATE
    assert 2.5 < seconds < 4.5
    stub = tmp_path / f"stub-{name}"
    # Cut inside the header or the first frame: nothing to decode, and the error says so.
    stub.write_bytes(data[:10])
    with pytest.raises(TranscriptionError, match="^The audio"):
        load_audio(stub)


@pytest.mark.parametrize(("name", "encoder", "container", "rate", "codec"), FORMATS, ids=IDS)
def test_a_header_followed_by_garbage_is_refused_or_heard_as_no_speech(
    transcriber: Transcriber,
    prompt: npt.NDArray[np.float32],
    tmp_path: Path,
    name: str,
    encoder: str,
    container: str,
    rate: int,
    codec: str,
) -> None:
    head = encode(tmp_path, prompt, name, encoder, container, rate).read_bytes()[:64]
    path = tmp_path / f"garbage-{name}"
    path.write_bytes(head + np.random.default_rng(1).integers(0, 256, 6000, np.uint8).tobytes())
    try:
        result = transcriber.transcribe(path)
    except CorruptAudioError as exc:
        assert "damaged" in str(exc)
    else:
        # Codecs with no frame checks (GSM) decode any bytes, to noise: no words come of it.
        assert result.text == ""
