"""The real tiny.en model on real speech: text, formats, silence, vocabulary, long audio."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from intake.domain import TranscriptState
from tests.transcribe.conftest import (
    JFK,
    JFK_TEXT,
    PROMPT,
    PROMPT_TEXT,
    shared_clip,
    word_error_rate,
    write_audio,
)
from transcribe import (
    CorruptAudioError,
    EmptyAudioError,
    Transcriber,
    WhisperConfig,
)
from transcribe.audio import SAMPLE_RATE, load_audio


def test_a_real_speech_clip_transcribes_close_to_its_reference(
    transcriber: Transcriber,
) -> None:
    transcript = transcriber.transcribe(shared_clip(JFK))
    assert transcript.status is TranscriptState.DONE
    assert word_error_rate(JFK_TEXT, transcript.text) <= 0.1
    assert transcript.language == "en"
    assert transcript.model == "tiny.en"
    assert transcript.duration == pytest.approx(11.0, abs=0.01)
    assert transcript.low_confidence is False
    assert transcript.segments
    for segment in transcript.segments:
        assert 0.0 <= segment.start < segment.end <= 11.5
        assert segment.avg_logprob < 0.0
        assert 0.0 <= segment.no_speech_prob <= 1.0
    assert transcript.text == " ".join(segment.text for segment in transcript.segments)


@pytest.mark.parametrize("codec", ["pcm_mulaw", "pcm_alaw"])
def test_8khz_telephone_wav_transcribes(
    transcriber: Transcriber,
    prompt_samples: npt.NDArray[np.float32],
    tmp_path: Path,
    codec: str,
) -> None:
    path = write_audio(tmp_path / f"{codec}.wav", prompt_samples, codec=codec, rate=8000)
    transcript = transcriber.transcribe(path)
    assert transcript.status is TranscriptState.DONE
    assert word_error_rate(PROMPT_TEXT, transcript.text) <= 0.15


def test_an_opus_voicemail_transcribes(
    transcriber: Transcriber, jfk_samples: npt.NDArray[np.float32], tmp_path: Path
) -> None:
    path = write_audio(
        tmp_path / "vm.ogg", jfk_samples, codec="libopus", rate=48000, container="ogg"
    )
    assert word_error_rate(JFK_TEXT, transcriber.transcribe(path).text) <= 0.15


def test_silence_is_no_speech_with_empty_text(transcriber: Transcriber, tmp_path: Path) -> None:
    path = write_audio(tmp_path / "silence.wav", np.zeros(6 * SAMPLE_RATE, dtype=np.float32))
    transcript = transcriber.transcribe(path)
    assert transcript.status is TranscriptState.NO_SPEECH
    assert transcript.text == ""
    assert transcript.segments == ()
    assert transcript.duration == pytest.approx(6.0)
    assert (transcript.language, transcript.language_probability) == ("en", 1.0)
    assert transcript.low_confidence is False


def test_line_hiss_is_no_speech_with_empty_text(transcriber: Transcriber, tmp_path: Path) -> None:
    hiss = np.random.default_rng(3).normal(0.0, 0.01, 8 * SAMPLE_RATE).astype(np.float32)
    transcript = transcriber.transcribe(write_audio(tmp_path / "hiss.wav", hiss))
    assert transcript.status is TranscriptState.NO_SPEECH
    assert transcript.text == ""


def test_damaged_and_empty_files_raise_the_errors_the_ticket_shows(
    transcriber: Transcriber, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(EmptyAudioError):
        transcriber.transcribe(empty)
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"\x00\x01garbage" * 300)
    with pytest.raises(CorruptAudioError):
        transcriber.transcribe(junk)


def test_vocabulary_reaches_the_model_as_hotwords(
    transcriber: Transcriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []
    whisper = transcriber._whisper
    real_transcribe = whisper.transcribe

    def spy(audio: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return real_transcribe(audio, **kwargs)

    monkeypatch.setattr(whisper, "transcribe", spy)
    monkeypatch.setattr(
        transcriber, "config", dataclasses.replace(transcriber.config, vocabulary=("Acme",))
    )
    transcript = transcriber.transcribe(shared_clip(JFK), vocabulary=["Zendesk", " acme ", ""])
    assert [kwargs["hotwords"] for kwargs in seen] == ["Acme, Zendesk"]
    assert word_error_rate(JFK_TEXT, transcript.text) <= 0.15


def test_no_vocabulary_sends_no_hotwords(transcriber: Transcriber) -> None:
    assert transcriber.decode_options(())["hotwords"] is None


def test_an_english_only_model_never_runs_language_detection(transcriber: Transcriber) -> None:
    assert transcriber.is_multilingual is False
    assert transcriber.decode_options()["language"] == "en"


def test_long_audio_is_transcribed_in_pieces_with_timestamps_on_one_timeline(
    jfk_samples: npt.NDArray[np.float32], tmp_path: Path
) -> None:
    gap = np.zeros(9 * SAMPLE_RATE, dtype=np.float32)
    audio = np.concatenate([jfk_samples, gap, jfk_samples, gap, jfk_samples])
    path = write_audio(tmp_path / "long.wav", audio)
    transcriber = Transcriber(WhisperConfig(cpu_threads=2, piece_s=30.0))
    transcript = transcriber.transcribe(path)
    assert word_error_rate(" ".join([JFK_TEXT] * 3), transcript.text) <= 0.1
    starts = [segment.start for segment in transcript.segments]
    assert starts == sorted(starts)
    # The third copy starts 40 s in; its words must be stamped there, not at the piece start.
    assert any(segment.start >= 39.0 for segment in transcript.segments)
    assert transcript.segments[-1].end <= transcript.duration + 0.5


def test_a_vocabulary_does_not_make_a_multi_window_recording_lose_sentences(
    transcriber: Transcriber,
) -> None:
    # Given 30 s windows and a hotword prompt, tiny.en stops emitting timestamps and drops
    # whole sentences (44 % WER on this recording); short VAD regions keep it on track.
    names = [
        JFK,
        "asterisk-core-sounds-en-8k/vm-options.wav",
        "asterisk-core-sounds-en-8k/queue-periodic-announce.wav",
        PROMPT,
    ]
    references = {
        JFK: JFK_TEXT,
        names[1]: "Press 1 to record your unavailable message, press 2 to record your busy "
        "message, press 3 to record your name, press 4 to record your temporary greeting, "
        "press 5 to change your password, press star to return to the main menu.",
        names[2]: "All of our representatives are currently busy. Please stay on the line "
        "and your call will be answered by the next available representative.",
        PROMPT: PROMPT_TEXT,
    }
    gap = np.zeros(SAMPLE_RATE, dtype=np.float32)
    audio = np.concatenate(
        [part for name in names for part in (load_audio(shared_clip(name)), gap)]
    )
    transcript = transcriber.transcribe_array(audio, vocabulary=("Acme", "Zendesk"))
    reference = " ".join(references[name] for name in names)
    assert word_error_rate(reference, transcript.text) <= 0.1
