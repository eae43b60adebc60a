from __future__ import annotations

from classify.features import FeatureSpec, analyze_words

WITH = FeatureSpec()
WITHOUT = FeatureSpec(han_words=False)


def test_chinese_text_gets_jieba_words_next_to_its_character_bigrams() -> None:
    text = "快递太慢了，热水器还没装好"
    words = analyze_words(text, WITH)
    assert "#热水器" in words
    assert "热水" in words and "水器" in words
    added = set(words) - set(analyze_words(text, WITHOUT))
    assert {w for w in words if "#" not in w} == set(analyze_words(text, WITHOUT))
    assert all(w.startswith("#") for w in added if " " not in w)


def test_english_text_is_analyzed_the_same_with_or_without_jieba_words() -> None:
    text = "My refund still hasn't arrived, order 12345"
    assert analyze_words(text, WITH) == analyze_words(text, WITHOUT)


def test_models_saved_before_jieba_words_existed_load_without_them() -> None:
    old = {key: value for key, value in WITH.to_dict().items() if key != "han_words"}
    assert FeatureSpec.from_dict(old).han_words is False
    assert FeatureSpec.from_dict(WITH.to_dict()) == WITH
    assert WITH.han_words is True
