"""The shipped default classifier on realistic messages it was not trained on."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from classify.classifier import Classification, Classifier
from classify.rules import validate_rule
from classify.taxonomy import DEFAULT_CATEGORIES
from intake.domain import Priority, Sentiment

from .conftest import ticket

MESSAGES = {
    "inquiry": [
        "Please take me off your marketing emails.",
        "Hi there, is the oak dining table available for delivery to Leeds before Christmas?",
        "请问这款扫地机器人支持哪些型号的配件？价格多少？",
        "你好，想问一下这个沙发能不能定制尺寸，大概多少钱？",
    ],
    "product_issue": [
        "The dishwasher leaks water from the bottom of the door every time I run it.",
        "新买的吹风机用了三天就不出热风了。",
        "洗衣机脱水的时候声音特别大，还会剧烈晃动。",
    ],
    "service_issue": [
        "It's been ten days and my parcel still shows 'in transit'. Can you find out where it is?",
        "快递显示已经派送三天了，我还是没收到包裹。",
    ],
    "billing": [
        # a refund is money, whatever held it up (the triage guidelines' convention)
        "I sent the faulty kettle back two weeks ago and haven't heard anything about my refund.",
        "退货寄回去十天了，退款一直没到账。",
        "I was billed twice this month for my subscription, please refund one of the payments.",
        "There's a charge of 19.99 on my card statement from you that I don't recognise.",
        "这个月被重复扣费了两次，请退还多扣的钱。",
        "发票上的金额和我实际支付的不一样。",
    ],
    "suggestion": [
        "Suggestion: please add a way to pause the subscription during holidays.",
        "It would be really useful if the app let me save my favourite orders.",
        "建议你们的APP增加一个订单提醒功能。",
        "希望以后能提供更多的配送时间选择。",
    ],
    "other": [
        "Thank you so much for sorting everything out so quickly, you were brilliant!",
        "Just wanted to say happy new year to the whole team!",
        "非常感谢你们的帮助，服务太好了！",
    ],
}


@pytest.mark.parametrize(
    ("category", "text"),
    [(category, text) for category, texts in MESSAGES.items() for text in texts],
)
def test_default_model_recognises_each_category_in_english_and_chinese(
    classifier: Classifier, category: str, text: str
) -> None:
    result = classifier.classify(ticket(text))
    assert result.category == category
    assert 0.0 < result.category_confidence <= 1.0


def test_every_default_category_is_known_to_the_shipped_model(classifier: Classifier) -> None:
    assert set(classifier.category_model.labels) == set(DEFAULT_CATEGORIES)


COMPLAINTS = [
    "This is the third time I've been let down by your company. I am disgusted and I want "
    "a full refund and an apology.",
    "Your manager was incredibly rude to me and I expect compensation for the way I was treated.",
    "我对你们的处理结果非常不满意，必须给我一个说法并赔偿损失！",
    "你們客服態度太惡劣了，我要投訴，要求賠償。",
]


@pytest.mark.parametrize("text", COMPLAINTS)
def test_complaints_are_a_dimension_beside_a_problem_topic(
    classifier: Classifier, text: str
) -> None:
    result = classifier.classify(ticket(text))
    assert result.complaint is True
    assert result.complaint_confidence > 0.5
    assert result.complaint_reasons and result.complaint_reasons[0].startswith("complaint: '")
    assert result.category in ("service_issue", "product_issue", "billing")


@pytest.mark.parametrize(
    "text",
    [
        "Could you tell me what time your shop opens on Saturday?",
        "非常感谢你们的帮助，服务太好了！",
        "这不是投诉，只是想建议包装再结实一点。",
    ],
)
def test_questions_praise_and_self_declared_non_complaints_are_not_complaints(
    classifier: Classifier, text: str
) -> None:
    result = classifier.classify(ticket(text))
    assert result.complaint is False
    assert result.complaint_confidence >= 0.5


def test_the_topic_comes_with_the_terms_behind_it(classifier: Classifier) -> None:
    result = classifier.classify(ticket("I was charged twice for my subscription this month."))
    assert result.category == "billing"
    assert result.category_reasons[0].startswith("billing: '")


@pytest.mark.parametrize(
    ("text", "sentiment"),
    [
        ("Absolutely love it, thank you so much for the fast delivery!", Sentiment.POSITIVE),
        ("This is the worst service I have ever had, a total disgrace.", Sentiment.NEGATIVE),
        ("Could you tell me what time your shop opens on Saturday?", Sentiment.NEUTRAL),
        ("东西很好，物流也很快，非常满意！", Sentiment.POSITIVE),
        ("请问这款洗衣机的尺寸是多少？", Sentiment.NEUTRAL),
        ("质量太差了，用一次就坏，非常失望。", Sentiment.NEGATIVE),
    ],
)
def test_sentiment_label_and_score_agree(
    classifier: Classifier, text: str, sentiment: Sentiment
) -> None:
    result = classifier.classify(ticket(text))
    assert result.sentiment is sentiment
    assert -1.0 <= result.sentiment_score <= 1.0
    if sentiment is Sentiment.POSITIVE:
        assert result.sentiment_score > 0.3
    if sentiment is Sentiment.NEGATIVE:
        assert result.sentiment_score < -0.3


def test_angry_complaint_threatening_a_lawyer_is_urgent_with_reasons(
    classifier: Classifier,
) -> None:
    result = classifier.classify(
        ticket(
            "I have been waiting for a month, nobody answers and I am furious. "
            "If I don't get my money back this week my lawyer will take this further.",
            subject="Refund - final warning",
            recent_contacts_7d=3,
        )
    )
    assert result.priority is Priority.URGENT
    assert "legal: 'my lawyer'" in result.priority_reasons
    assert "3rd contact in 7 days" in result.priority_reasons
    assert result.complaint is True
    assert result.sentiment is Sentiment.NEGATIVE
    assert result.language == "en"


def test_traditional_chinese_voicemail_about_smoke_is_urgent(classifier: Classifier) -> None:
    result = classifier.classify(
        ticket("你好，我買的電暖器剛才冒煙了，請馬上派人處理，謝謝。", channel="voicemail")
    )
    assert result.language == "zh-Hant"
    assert result.priority is Priority.URGENT
    assert result.priority_reasons[0] == "safety: '冒烟'"
    assert "voicemail" in result.priority_reasons


def test_rules_override_the_model_and_are_recorded_as_reasons(classifier: Classifier) -> None:
    rules = [
        validate_rule(
            {
                "name": "Invoices mailbox",
                "conditions": [
                    {"field": "mailbox", "op": "equals", "value": "billing@shop.example"}
                ],
                "actions": {"set_category": "billing", "set_group": "finance"},
            }
        ),
        validate_rule(
            {
                "name": "Partner domain",
                "conditions": [{"field": "sender_domain", "op": "equals", "value": "partner.cn"}],
                "actions": {"set_priority": "high", "add_tags": ["partner"]},
                "stop": True,
            }
        ),
    ]
    text = "Hi, the blender you sent me stopped working after a week."
    plain = classifier.classify(ticket(text, mailbox="billing@shop.example"))
    assert plain.category == "product_issue"
    result = classifier.classify(
        ticket(text, mailbox="billing@shop.example", sender="li@partner.cn"), rules=rules
    )
    assert result.category == "billing"
    assert result.category_confidence == 1.0
    assert result.needs_review is False
    assert result.group == "finance"
    assert result.priority is Priority.HIGH
    assert result.tags == ("partner",)
    assert result.rule_names == ("Invoices mailbox", "Partner domain")
    assert result.priority_reasons[:2] == ("rule 'Invoices mailbox'", "rule 'Partner domain'")


def test_language_rule_routes_chinese_mail(classifier: Classifier) -> None:
    rule = validate_rule(
        {
            "name": "Chinese desk",
            "conditions": [{"field": "language", "op": "in", "value": ["zh-Hans", "zh-Hant"]}],
            "actions": {"set_group": "cn-desk"},
        }
    )
    assert classifier.classify(ticket("请问什么时候发货？"), rules=[rule]).group == "cn-desk"
    assert classifier.classify(ticket("When do you ship?"), rules=[rule]).group is None


def test_a_retired_category_is_never_returned(classifier: Classifier) -> None:
    text = "It would be great if the app had a dark mode."
    assert classifier.classify(ticket(text)).category == "suggestion"
    active = [c for c in DEFAULT_CATEGORIES if c != "suggestion"]
    result = classifier.classify(ticket(text), categories=active)
    assert result.category in active


def test_an_empty_message_needs_review_instead_of_crashing(classifier: Classifier) -> None:
    result = classifier.classify(ticket("", subject=""))
    assert result == Classification(
        category="other",
        category_confidence=0.0,
        priority=Priority.LOW,
        priority_reasons=(),
        sentiment=Sentiment.NEUTRAL,
        sentiment_score=0.0,
        language="und",
        confidence=0.0,
        needs_review=True,
        group=None,
        tags=(),
        rule_names=(),
        complaint=False,
        complaint_confidence=0.5,
        complaint_reasons=(),
        category_reasons=(),
    )


def test_a_language_the_model_was_not_trained_on_needs_review(classifier: Classifier) -> None:
    result = classifier.classify(ticket("Bonjour, ma commande n'est jamais arrivée. Merci."))
    assert result.language == "fr"
    assert result.needs_review is True


def test_default_classifier_is_loaded_once_and_survives_a_bytes_round_trip(
    classifier: Classifier,
) -> None:
    assert Classifier.default() is classifier
    copy = Classifier.from_bytes(*classifier.models_to_bytes())
    item = ticket("The parcel arrived damaged and the glass was broken.")
    assert copy.classify(item) == classifier.classify(item)


@pytest.mark.slow
def test_an_unloadable_shipped_model_is_rebuilt_from_the_shipped_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import classify.classifier as classifier_module
    from classify import shipped

    broken = tmp_path / "default_category.model"
    broken.write_bytes(b"written by an incompatible future version")
    monkeypatch.setitem(shipped.MODEL_FILES, "category", broken)
    monkeypatch.setattr(classifier_module, "_default", None)
    # The real rebuild path on a tenth of the shipped rows: the whole set takes minutes.
    full = shipped.training_set
    monkeypatch.setattr(
        shipped, "training_set", lambda column: tuple(part[::10] for part in full(column))
    )
    with caplog.at_level(logging.WARNING, logger="classify.classifier"):
        rebuilt = Classifier.default()
    assert "rebuilding the default classifier" in caplog.text
    result = rebuilt.classify(ticket("I was charged twice for the same order."))
    assert result.category == "billing"


def test_a_huge_message_is_scored_from_its_beginning_but_scanned_whole_for_threats(
    classifier: Classifier,
) -> None:
    from classify.classifier import MODEL_TEXT_LIMIT

    head = "I was charged twice for the same order, please refund me. "
    body = (head * (MODEL_TEXT_LIMIT // len(head) + 1))[:MODEL_TEXT_LIMIT]
    huge = body + " filler" * 100_000 + " My lawyer has the details."
    result = classifier.classify(ticket(huge))
    short = classifier.classify(ticket(body))
    assert result.category == short.category == "billing"
    assert result.category_confidence == short.category_confidence
    assert "legal: 'my lawyer'" in result.priority_reasons


@pytest.mark.parametrize(
    "text",
    [
        "I was charged twice for my subscription this month, please refund one payment.",
        "Great food and lovely staff!",
        "手机屏幕用了两天就坏了，要求退货退款。",
        "快递一个星期了还没到，客服也不回复，太差了！",
    ],
)
def test_reasons_quote_words_of_the_message_and_no_function_words(
    classifier: Classifier, text: str
) -> None:
    import re

    from classify.features import normalize

    result = classifier.classify(ticket(text))
    quoted = [
        term
        for reason in result.category_reasons + result.complaint_reasons
        for term in re.findall(r"'([^']+)'", reason)
    ]
    assert quoted
    for term in quoted:
        assert term in normalize(text)
        assert term not in {"the", "and", "for", "my", "了", "的", "太"}


def test_a_rule_can_set_the_complaint_flag_and_is_its_reason(classifier: Classifier) -> None:
    rule = validate_rule(
        {
            "name": "Escalations mailbox",
            "conditions": [{"field": "mailbox", "op": "equals", "value": "escalate@shop.example"}],
            "actions": {"set_complaint": True},
        }
    )
    text = "Could you tell me what time your shop opens on Saturday?"
    assert classifier.classify(ticket(text)).complaint is False
    result = classifier.classify(ticket(text, mailbox="escalate@shop.example"), rules=[rule])
    assert result.complaint is True
    assert result.complaint_confidence == 1.0
    assert result.complaint_reasons == ("rule 'Escalations mailbox'",)
