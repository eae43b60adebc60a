"""The guards against invented text, on the outputs the issue reported and on real speech."""

from __future__ import annotations

import pytest

from tests.transcribe.conftest import JFK_TEXT, MANDARIN_2_TEXT
from transcribe.guards import (
    compression_ratio,
    is_repetition_loop,
    is_wrong_script,
    unclear_reason,
    utterances,
)
from transcribe.model import Segment

OPTIONS_TEXT = (
    "Press 1 to record your unavailable message. Press 2 to record your busy message. Press 3 "
    "to record your name. Press 4 to record your temporary greeting. Press 5 to change your "
    "password. Press star to return to the main menu."
)


def segment(text: str, *, lp: float = -0.3, ratio: float = 1.4, start: float = 0.0) -> Segment:
    return Segment(start, start + 3.0, text, lp, 0.05, ratio)


@pytest.mark.parametrize(
    "text",
    [
        # What tiny.en wrote for an AISHELL clip (issue 12).
        "I'm going to show you how to do it, I'm going to show you how to do it",
        "Thank you. Thank you. Thank you. Thank you.",
        "no no no no no no no no no",
        "So I said so I said so I said so I said that's it",
    ],
)
def test_english_decoder_loops_are_caught(text: str) -> None:
    assert is_repetition_loop(text, "en")


@pytest.mark.parametrize(
    "text",
    [
        JFK_TEXT,
        OPTIONS_TEXT,
        "My number is 555 1234, that's 555 1234. Call me back at five five five, one two three.",
        "Hi, it's Anna. Hi, yes, it's Anna again, sorry.",
        "Thank you for watching",
    ],
)
def test_people_repeating_words_and_numbers_are_no_loop(text: str) -> None:
    assert not is_repetition_loop(text, "en")


def test_chinese_loops_count_characters() -> None:
    assert is_repetition_loop("谢谢谢谢谢谢谢谢谢谢", "zh")
    assert is_repetition_loop("我想退货我想退货我想退货", "zh")
    assert not is_repetition_loop(MANDARIN_2_TEXT, "zh")
    # A phone number read out twice is numerals only.
    assert not is_repetition_loop("我的电话是一三八一三八一三八一三八", "zh")


def test_a_caller_saying_the_same_thing_after_a_pause_is_no_loop() -> None:
    said_twice = [segment(JFK_TEXT), segment(JFK_TEXT, start=12.0)]
    assert utterances(said_twice) == [JFK_TEXT, JFK_TEXT]
    assert (
        unclear_reason(said_twice, JFK_TEXT * 2, "en", min_logprob=-1.0, max_compression_ratio=2.4)
        == ""
    )
    looped = [segment(JFK_TEXT), segment(JFK_TEXT, start=3.0)]
    assert "loop" in unclear_reason(
        looped, JFK_TEXT * 2, "en", min_logprob=-1.0, max_compression_ratio=2.4
    )


def test_text_in_the_wrong_script_is_a_language_mismatch() -> None:
    # Mandarin audio written as fluent English, and the other way round.
    assert is_wrong_script("Thank you for watching, and I hope you enjoyed this video", "zh")
    assert is_wrong_script("而对楼市成交抑制作用最大的限购", "en")
    assert not is_wrong_script(MANDARIN_2_TEXT + " iPhone", "zh")
    assert not is_wrong_script("自6月底", "zh")  # too few letters to judge
    assert not is_wrong_script("Bonjour", "xx")  # a language without a known script


def test_compression_ratio_sees_repetition() -> None:
    assert compression_ratio("") == 0.0
    assert compression_ratio(JFK_TEXT) < 1.6
    assert compression_ratio("do it " * 40) > 2.4


def test_unclear_reasons_name_the_guard() -> None:
    kwargs = {"min_logprob": -1.0, "max_compression_ratio": 2.4}
    ok = [segment(JFK_TEXT)]
    assert unclear_reason(ok, JFK_TEXT, "en", **kwargs) == ""
    assert unclear_reason([], "", "en", **kwargs) == ""
    assert "log-probability -1.40" in unclear_reason(
        [segment(JFK_TEXT, lp=-1.4)], JFK_TEXT, "en", **kwargs
    )
    assert "compression ratio 2.9" in unclear_reason(
        [segment(JFK_TEXT, ratio=2.9)], JFK_TEXT, "en", **kwargs
    )
    english = "Thank you for watching, and I hope you enjoyed this video."
    assert "language mismatch" in unclear_reason([segment(english)], english, "zh", **kwargs)
