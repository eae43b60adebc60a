from __future__ import annotations

import pytest

from classify.language import detect_language, to_simplified


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, my order #5521 has not arrived yet. Can you check?", "en"),
        ("Refund please", "en"),
        ("您好，我上周买的电饭煲一直显示错误代码，怎么办？", "zh-Hans"),
        ("您好，我上週買的電飯煲一直顯示錯誤代碼，怎麼辦？", "zh-Hant"),
        ("iPhone 15 的屏幕坏了，能保修吗", "zh-Hans"),
        ("注文した商品がまだ届きません。確認してください。", "ja"),
        ("주문한 상품이 아직 도착하지 않았습니다", "ko"),
        ("Hola, mi pedido no ha llegado todavía, ¿pueden ayudarme?", "es"),
        ("Bonjour, je n'ai pas reçu ma commande, pouvez-vous vérifier ?", "fr"),
        ("Здравствуйте, мой заказ не пришёл", "ru"),
        ("", "und"),
        ("12345 !!!", "und"),
    ],
)
def test_language_is_detected(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_an_english_mail_quoting_a_chinese_product_name_stays_english() -> None:
    text = "Hi, I bought the 小米 air purifier last month and the filter light is always on."
    assert detect_language(text) == "en"


def test_traditional_characters_map_to_simplified() -> None:
    assert to_simplified("請幫我查詢訂單") == "请帮我查询订单"
