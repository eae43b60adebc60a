"""Reading audio: formats, limits and damaged files, without the speech model."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

import transcribe.audio as audio_module
from tests.transcribe.conftest import JFK, shared_clip, write_audio
from transcribe import (
    AudioTooLargeError,
    AudioTooLongError,
    CorruptAudioError,
    EmptyAudioError,
    guess_audio_content_type,
    load_audio,
    probe_audio,
)
from transcribe.audio import SAMPLE_RATE


def test_probe_reads_the_header_of_a_shared_clip() -> None:
    info = probe_audio(shared_clip(JFK))
    assert info.codec == "pcm_s16le"
    assert info.container == "wav"
    assert info.sample_rate == 16000
    assert info.channels == 1
    assert info.duration == pytest.approx(11.0, abs=0.01)


@pytest.mark.parametrize(
    ("suffix", "codec", "container", "rate"),
    [
        (".wav", "pcm_mulaw", "wav", 8000),
        (".wav", "pcm_alaw", "wav", 8000),
        (".wav", "pcm_s16le", "wav", 8000),
        (".mp3", "libmp3lame", "mp3", 16000),
        (".ogg", "libopus", "ogg", 48000),
        (".flac", "flac", "flac", 16000),
        (".m4a", "aac", "ipod", 16000),
    ],
)
def test_voicemail_formats_decode_to_16khz_mono_of_the_same_length(
    tmp_path: Path,
    jfk_samples: npt.NDArray[np.float32],
    suffix: str,
    codec: str,
    container: str,
    rate: int,
) -> None:
    path = write_audio(
        tmp_path / f"clip{suffix}", jfk_samples, codec=codec, rate=rate, container=container
    )
    decoded = load_audio(path)
    assert decoded.dtype == np.float32
    # Lossy codecs add priming samples; the length must still be the clip's to within 0.1 s.
    assert abs(decoded.shape[0] - jfk_samples.shape[0]) < 0.1 * SAMPLE_RATE
    assert float(np.abs(decoded).max()) > 0.1


def test_telephone_mu_law_wav_is_probed_as_8khz(
    tmp_path: Path, jfk_samples: npt.NDArray[np.float32]
) -> None:
    path = write_audio(tmp_path / "ulaw.wav", jfk_samples, codec="pcm_mulaw", rate=8000)
    info = probe_audio(path)
    assert (info.codec, info.sample_rate, info.channels) == ("pcm_mulaw", 8000, 1)
    assert guess_audio_content_type(path) == "audio/wav"


def test_an_empty_file_is_an_empty_audio_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(EmptyAudioError, match="empty"):
        load_audio(path)


def test_a_wav_without_samples_is_an_empty_audio_error(tmp_path: Path) -> None:
    path = tmp_path / "nothing.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"")
    assert path.stat().st_size == 44
    with pytest.raises(EmptyAudioError, match="no sound"):
        load_audio(path)


def test_random_bytes_are_a_corrupt_audio_error(tmp_path: Path) -> None:
    path = tmp_path / "noise.wav"
    path.write_bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(CorruptAudioError, match="could not be read"):
        load_audio(path)


def test_a_text_file_named_mp3_is_a_corrupt_audio_error(tmp_path: Path) -> None:
    path = tmp_path / "message.mp3"
    path.write_text("this is not audio at all\n" * 20)
    with pytest.raises(CorruptAudioError):
        probe_audio(path)


def test_a_file_cut_inside_its_header_is_a_corrupt_audio_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.wav"
    path.write_bytes(shared_clip(JFK).read_bytes()[:30])
    with pytest.raises(CorruptAudioError):
        load_audio(path)


def test_a_file_cut_inside_its_audio_keeps_the_audio_before_the_cut(tmp_path: Path) -> None:
    data = shared_clip(JFK).read_bytes()
    path = tmp_path / "cut.wav"
    path.write_bytes(data[: len(data) // 2])
    decoded = load_audio(path)
    assert decoded.shape[0] == pytest.approx(5.5 * SAMPLE_RATE, abs=0.05 * SAMPLE_RATE)


def test_a_file_over_the_byte_limit_is_refused_before_it_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_open(path: object) -> None:
        raise AssertionError("the file must not be opened")

    monkeypatch.setattr(audio_module, "_open", no_open)
    with pytest.raises(AudioTooLargeError, match=r"352\.\d KB|0\.3 MB|limit is"):
        load_audio(shared_clip(JFK), max_bytes=100_000)


def test_a_recording_over_the_duration_limit_is_refused_from_its_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_decode(*args: object) -> None:
        raise AssertionError("the audio must not be decoded")

    monkeypatch.setattr(audio_module, "_decoded_frames", no_decode)
    with pytest.raises(AudioTooLongError, match=r"11\.0 s long; the limit is 5\.0 s"):
        load_audio(shared_clip(JFK), max_duration_s=5.0)


def test_decoding_stops_at_the_duration_limit_when_the_header_does_not_tell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(audio_module, "_header_duration", lambda container, stream: 0.0)
    with pytest.raises(AudioTooLongError, match="the limit is 2.0 s"):
        load_audio(shared_clip(JFK), max_duration_s=2.0)


def test_error_messages_give_sizes_in_words_people_read(tmp_path: Path) -> None:
    path = tmp_path / "big.wav"
    path.write_bytes(b"\0" * (3 * 1024 * 1024))
    with pytest.raises(AudioTooLargeError) as caught:
        probe_audio(path, max_bytes=2 * 1024 * 1024)
    assert str(caught.value) == "The audio file is 3.0 MB; the limit is 2.0 MB."


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "audio/mpeg"),
        (b"\xff\xfb\x90\x64\x00\x00\x00\x00", "audio/mpeg"),
        (b"\xff\xf1\x50\x80\x00\x1f\xfc", "audio/aac"),
        (b"OggS\x00\x02\x00\x00", "audio/ogg"),
        (b"fLaC\x00\x00\x00\x22", "audio/flac"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", "audio/mp4"),
        (b"#!AMR\n", "audio/amr"),
        (b"FORM\x00\x00\x00\x00AIFF", "audio/aiff"),
        (b"hello world", "application/octet-stream"),
    ],
)
def test_content_type_is_guessed_from_the_leading_bytes(head: bytes, expected: str) -> None:
    assert guess_audio_content_type(head) == expected


@pytest.mark.parametrize(
    ("name", "codec", "container", "expected"),
    [
        ("a.bin", "libmp3lame", "mp3", "audio/mpeg"),
        ("a.bin", "libopus", "ogg", "audio/ogg"),
        ("a.bin", "flac", "flac", "audio/flac"),
        ("a.bin", "aac", "ipod", "audio/mp4"),
        ("a.bin", "pcm_alaw", "wav", "audio/wav"),
    ],
)
def test_content_type_of_encoded_files_does_not_depend_on_their_name(
    tmp_path: Path,
    jfk_samples: npt.NDArray[np.float32],
    name: str,
    codec: str,
    container: str,
    expected: str,
) -> None:
    rate = 48000 if codec == "libopus" else 16000
    path = write_audio(
        tmp_path / name, jfk_samples[:16000], codec=codec, rate=rate, container=container
    )
    assert guess_audio_content_type(path) == expected


def test_content_type_of_raw_gsm_falls_back_to_its_extension(tmp_path: Path) -> None:
    path = tmp_path / "msg0001.gsm"
    path.write_bytes(bytes([0xD8]) + b"\x20" * 32)
    assert guess_audio_content_type(path) == "audio/x-gsm"


def test_raw_gsm_frames_as_asterisk_writes_them_decode(tmp_path: Path) -> None:
    frames = np.random.default_rng(1).integers(0, 256, (50, 33), dtype=np.uint8)
    # Every GSM 06.10 frame starts with the 0xD signature nibble.
    frames[:, 0] = (frames[:, 0] & 0x0F) | 0xD0
    path = tmp_path / "msg0000.gsm"
    path.write_bytes(frames.tobytes())
    info = probe_audio(path)
    assert (info.codec, info.sample_rate) == ("gsm", 8000)
    assert info.duration == pytest.approx(1.0)
    assert load_audio(path).shape == (SAMPLE_RATE,)


def test_a_header_without_a_duration_still_yields_every_sample(
    monkeypatch: pytest.MonkeyPatch, jfk_samples: npt.NDArray[np.float32]
) -> None:
    monkeypatch.setattr(audio_module, "_header_duration", lambda container, stream: 0.0)
    decoded = load_audio(shared_clip(JFK))
    np.testing.assert_array_equal(decoded, jfk_samples)
