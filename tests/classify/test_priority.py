from __future__ import annotations

import pytest

from classify.priority import PriorityInput, PriorityPolicy, find_threats, prioritize
from intake.domain import CustomerType, Priority


def prio(
    text: str = "Hello, a question about my order.",
    *,
    category: str = "inquiry",
    sentiment_score: float = 0.0,
    channel: str = "email",
    customer_tier: str | None = None,
    customer_type: CustomerType = CustomerType.EXISTING,
    recent_contacts_7d: int = 1,
    policy: PriorityPolicy | None = None,
) -> tuple[Priority, tuple[str, ...]]:
    item = PriorityInput(
        text=text,
        category=category,
        sentiment_score=sentiment_score,
        channel=channel,
        customer_tier=customer_tier,
        customer_type=customer_type,
        recent_contacts_7d=recent_contacts_7d,
    )
    return prioritize(item, policy or PriorityPolicy())


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("The charger started to smoke when I plugged it in.", "safety: 'smoke'"),
        ("The heater caught fire last night!", "safety: 'caught fire'"),
        ("My son got an electric shock from the lamp.", "safety: 'electric shock'"),
        ("The blade came loose and I was injured.", "safety: 'injured'"),
        ("充电宝充电的时候冒烟了，差点着火", "safety: '冒烟'"),
        ("孩子被烫伤了，已经去了医院", "safety: '烫伤'"),
        ("My lawyer will be in touch.", "legal: 'lawyer'"),
        ("If this is not fixed I will sue you.", "legal: 'sue'"),
        ("再不处理我就请律师起诉你们", "legal: '律师'"),
        ("我要去法院起诉你们", "legal: '法院'"),
        ("I have filed a complaint with the CFPB.", "regulator: 'cfpb'"),
        ("我已经打了12315投诉", "regulator: '12315'"),
        ("我会向消协反映", "regulator: '消协'"),
        ("I'll be contacting a journalist about this.", "media: 'journalist'"),
        ("我要把这件事发到媒体上曝光", "media: '媒体'"),
        ("我要把這件事告訴記者", "media: '记者'"),
    ],
)
def test_safety_legal_regulator_and_media_threats_are_urgent(text: str, reason: str) -> None:
    priority, reasons = prio(text)
    assert priority is Priority.URGENT
    assert reason in reasons


def test_words_that_merely_contain_a_threat_word_do_not_count() -> None:
    assert find_threats("Our firewall blocks the issue tracker; please resend the pursuer.") == []
    assert find_threats("I was fired up about the new model") == []


def test_complaint_category_is_a_reason() -> None:
    _, reasons = prio("I want my money back.", category="complaint")
    assert "complaint" in reasons


def test_negative_sentiment_is_a_reason_with_its_score() -> None:
    priority, reasons = prio("This is awful.", category="product_issue", sentiment_score=-0.82)
    assert "negative sentiment (-0.82)" in reasons
    assert priority is Priority.MEDIUM


def test_mild_negativity_is_not_a_reason() -> None:
    _, reasons = prio("Not ideal.", sentiment_score=-0.3)
    assert not any(r.startswith("negative sentiment") for r in reasons)


def test_vip_customers_are_named_in_the_reasons() -> None:
    _, reasons = prio(customer_tier="vip")
    assert "VIP customer" in reasons
    custom = PriorityPolicy(vip_tiers=frozenset({"vip", "Gold"}))
    _, reasons = prio(customer_tier="gold", policy=custom)
    assert "gold customer" in reasons


def test_loyal_customers_are_a_reason() -> None:
    _, reasons = prio(customer_type=CustomerType.LOYAL)
    assert "loyal customer" in reasons


@pytest.mark.parametrize(
    "text", ["Please fix this ASAP", "URGENT: invoice", "请尽快处理", "非常紧急"]
)
def test_saying_it_is_urgent_is_a_reason(text: str) -> None:
    _, reasons = prio(text)
    assert any(r.startswith("says '") for r in reasons)


def test_repeated_contact_is_counted_with_an_ordinal() -> None:
    _, reasons = prio(recent_contacts_7d=3)
    assert "3rd contact in 7 days" in reasons
    _, reasons = prio(recent_contacts_7d=2)
    assert not any("contact in 7 days" in r for r in reasons)


def test_voicemail_is_a_reason() -> None:
    _, reasons = prio(channel="voicemail")
    assert "voicemail" in reasons


def test_reasons_add_up_to_high_and_then_urgent() -> None:
    priority, _ = prio("It broke again.", category="complaint", sentiment_score=-0.6)
    assert priority is Priority.HIGH
    priority, reasons = prio(
        "Fix this immediately.", category="complaint", sentiment_score=-0.9, customer_tier="VIP"
    )
    assert priority is Priority.URGENT
    assert reasons[:3] == ("complaint", "says 'immediately'", "negative sentiment (-0.90)")


def test_calm_suggestions_and_thanks_are_low() -> None:
    assert prio("Maybe add a dark mode?", category="suggestion")[0] is Priority.LOW
    assert prio("Thanks, great job!", category="other", sentiment_score=0.9)[0] is Priority.LOW


def test_an_ordinary_question_is_medium_with_no_reasons() -> None:
    assert prio() == (Priority.MEDIUM, ())
