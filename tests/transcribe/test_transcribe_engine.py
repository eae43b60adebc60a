"""The real models on real speech: language first, the right model, nothing invented."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from intake.domain import TranscriptState
from tests.transcribe import sounds
from tests.transcribe.conftest import (
    IVR,
    JFK,
    JFK_TEXT,
    MANDARIN,
    MANDARIN_2,
    MANDARIN_2_TEXT,
    MANDARIN_TEXT,
    OPTIONS,
    PROMPT,
    PROMPT_TEXT,
    character_error_rate,
    cut,
    padded,
    shared_clip,
    word_error_rate,
    words,
    write_audio,
)
from transcribe import CorruptAudioError, EmptyAudioError, Transcriber
from transcribe.audio import SAMPLE_RATE, load_audio
from transcribe.chinese import to_simplified


def test_english_speech_is_detected_as_english_and_transcribed(transcriber: Transcriber) -> None:
    result = transcriber.transcribe(shared_clip(JFK))
    assert result.status is TranscriptState.DONE
    assert word_error_rate(JFK_TEXT, result.text) <= 0.1
    assert (result.language, result.language_source, result.model) == ("en", "detected", "base")
    assert result.language_probability > 0.8
    assert result.duration == pytest.approx(11.0, abs=0.01)
    assert (result.reason, result.candidate_text, result.low_confidence) == ("", "", False)
    for segment in result.segments:
        assert 0.0 <= segment.start < segment.end <= 11.5
        assert segment.avg_logprob < 0.0
        assert 0.0 < segment.compression_ratio < 2.4
    assert result.text == " ".join(segment.text for segment in result.segments)


@pytest.mark.parametrize(
    ("clip", "reference", "max_cer"),
    [(MANDARIN, MANDARIN_TEXT, 0.1), (MANDARIN_2, MANDARIN_2_TEXT, 0.45)],
)
def test_a_mandarin_voicemail_is_zh_in_simplified_characters(
    transcriber: Transcriber, clip: str, reference: str, max_cer: float
) -> None:
    result = transcriber.transcribe(shared_clip(clip))
    assert result.status is TranscriptState.DONE
    assert (result.language, result.language_source) == ("zh", "detected")
    assert result.language_probability > 0.9
    # whisper-base writes 戶 for 户 on the second clip: the text must come out Simplified.
    assert result.text == to_simplified(result.text)
    assert "戶" not in result.text
    # Digits count as their numerals, as in the benchmark.
    assert character_error_rate(reference, result.text.replace("6", "六")) <= max_cer
    # Chinese segments are joined without spaces.
    assert " " not in result.text


def test_a_language_hint_is_trusted_without_language_id(transcriber: Transcriber) -> None:
    result = transcriber.transcribe(shared_clip(MANDARIN), language_hint="zh-CN")
    assert (result.language, result.language_probability, result.language_source) == (
        "zh",
        1.0,
        "hint",
    )
    assert character_error_rate(MANDARIN_TEXT, result.text) <= 0.1


def test_a_hint_for_a_language_without_a_model_is_unsupported_at_once(
    transcriber: Transcriber,
) -> None:
    result = transcriber.transcribe(shared_clip(JFK), language_hint="fr")
    assert result.status is TranscriptState.UNSUPPORTED_LANGUAGE
    assert (result.text, result.candidate_text, result.segments) == ("", "", ())
    assert result.reason == "language not supported (fr)"


@pytest.mark.parametrize(("voice", "text"), [("fr", sounds.FRENCH), ("ja", sounds.JAPANESE)])
def test_speech_in_a_language_with_no_model_is_unsupported_and_never_translated(
    transcriber: Transcriber, tmp_path: Path, voice: str, text: str
) -> None:
    audio = sounds.espeak(text, voice, tmp_path)
    if audio is None:
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng)")
    result = transcriber.transcribe_array(audio)
    assert result.status is TranscriptState.UNSUPPORTED_LANGUAGE
    assert result.language == voice
    assert result.reason == f"language not supported ({voice})"
    assert (result.text, result.candidate_text, result.segments) == ("", "", ())


@pytest.mark.parametrize("name", [name for name, _audio in sounds.non_speech()])
def test_silence_noise_tones_and_music_give_no_text(transcriber: Transcriber, name: str) -> None:
    audio = dict(sounds.non_speech())[name]
    result = transcriber.transcribe_array(audio)
    assert result.status is TranscriptState.NO_SPEECH
    assert (result.text, result.candidate_text, result.segments) == ("", "", ())
    # Nothing was heard, so no language is claimed either.
    assert (result.language, result.language_probability) == ("", 0.0)


def test_a_silent_file_is_no_speech(transcriber: Transcriber, tmp_path: Path) -> None:
    path = write_audio(tmp_path / "silence.wav", sounds.silence(6.0))
    result = transcriber.transcribe(path)
    assert result.status is TranscriptState.NO_SPEECH
    assert result.duration == pytest.approx(6.0)


@pytest.mark.parametrize(
    ("clip", "start_s", "end_s", "expected"),
    [
        (IVR, 12.70, 13.45, ["press", "one"]),
        (OPTIONS, 11.18, 12.0, ["press", "five"]),
        (IVR, 0.98, 2.80, ["super", "awesome", "company"]),
    ],
)
def test_two_or_three_real_words_are_kept_as_speech(
    transcriber: Transcriber, clip: str, start_s: float, end_s: float, expected: list[str]
) -> None:
    # Cut from the Asterisk prompts at word boundaries: "press one", "press five", a company name.
    audio = padded(cut(load_audio(shared_clip(clip)), start_s, end_s))
    result = transcriber.transcribe_array(audio)
    assert result.status is TranscriptState.DONE
    heard = result.text.lower().replace("1", "one").replace("5", "five")
    assert all(word in heard for word in expected)


def test_8khz_telephone_prompt_transcribes(transcriber: Transcriber) -> None:
    result = transcriber.transcribe(shared_clip(PROMPT))
    assert result.status is TranscriptState.DONE
    assert word_error_rate(PROMPT_TEXT, result.text) <= 0.1


def test_a_decode_past_its_time_budget_is_unclear_with_the_words_kept_apart(
    transcriber: Transcriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    tight = dataclasses.replace(
        transcriber.config, time_budget_per_audio_s=1e-6, time_budget_extra_s=0.0
    )
    monkeypatch.setattr(transcriber, "config", tight)
    result = transcriber.transcribe(shared_clip(JFK))
    assert result.status is TranscriptState.UNCLEAR
    assert result.reason.startswith("decoding ran past its time budget")
    assert result.text == ""
    assert result.segments == ()
    # The decode stopped after its first segment; those words are kept, apart from the text.
    assert result.candidate_text
    assert set(words(result.candidate_text)) <= set(words(JFK_TEXT))


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
    runner = transcriber._runners["base"]
    real_transcribe = runner._whisper.transcribe

    def spy(audio: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return real_transcribe(audio, **kwargs)

    monkeypatch.setattr(runner._whisper, "transcribe", spy)
    monkeypatch.setattr(runner, "config", dataclasses.replace(runner.config, vocabulary=("Acme",)))
    result = transcriber.transcribe(shared_clip(JFK), vocabulary=["Zendesk", " acme ", ""])
    assert [kwargs["hotwords"] for kwargs in seen] == ["Acme, Zendesk"]
    assert [(kwargs["language"], kwargs["beam_size"]) for kwargs in seen] == [("en", 2)]
    assert word_error_rate(JFK_TEXT, result.text) <= 0.15


def test_long_audio_is_transcribed_in_pieces_with_timestamps_on_one_timeline(
    transcriber: Transcriber,
    jfk_samples: npt.NDArray[np.float32],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner = transcriber._runners["base"]
    monkeypatch.setattr(runner, "config", dataclasses.replace(runner.config, piece_s=30.0))
    gap = np.zeros(9 * SAMPLE_RATE, dtype=np.float32)
    audio = np.concatenate([jfk_samples, gap, jfk_samples, gap, jfk_samples])
    result = transcriber.transcribe_array(audio)
    # Three copies of one sentence, 20 s apart, are a caller repeating themselves, not a loop.
    assert result.status is TranscriptState.DONE
    assert word_error_rate(" ".join([JFK_TEXT] * 3), result.text) <= 0.1
    starts = [segment.start for segment in result.segments]
    assert starts == sorted(starts)
    # The third copy starts 40 s in; its words must be stamped there, not at the piece start.
    assert any(segment.start >= 39.0 for segment in result.segments)
    assert result.segments[-1].end <= result.duration + 0.5


@pytest.mark.parametrize(
    ("clip", "hint", "reason"),
    [
        # Mandarin on a line set to English: Whisper "translates"; the guards see its doubt.
        ("mindaudio/BAC009S0002W0122.wav", "en", "unsure of the words"),
        # English on a line set to Chinese: Latin letters where Han characters belong.
        (JFK, "zh", "language mismatch"),
    ],
)
def test_a_wrong_language_hint_gives_unclear_words_never_text(
    transcriber: Transcriber, clip: str, hint: str, reason: str
) -> None:
    result = transcriber.transcribe(shared_clip(clip), language_hint=hint)
    assert result.status is TranscriptState.UNCLEAR
    assert reason in result.reason
    assert (result.text, result.segments) == ("", ())
    assert result.candidate_text
