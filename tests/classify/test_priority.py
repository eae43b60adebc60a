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
    complaint: bool = False,
    level_probs: dict[str, float] | None = None,
) -> tuple[Priority, tuple[str, ...]]:
    item = PriorityInput(
        text=text,
        category=category,
        sentiment_score=sentiment_score,
        channel=channel,
        customer_tier=customer_tier,
        customer_type=customer_type,
        recent_contacts_7d=recent_contacts_7d,
        complaint=complaint,
        level_probs=level_probs,
    )
    return prioritize(item, policy or PriorityPolicy())


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("The charger started to smoke when I plugged it in.", "safety: 'started to smoke'"),
        ("The heater caught fire last night!", "safety: 'caught fire'"),
        ("My son got an electric shock from the lamp.", "safety: 'got an electric shock'"),
        ("The blade came loose and I was injured.", "safety: 'injured'"),
        ("We all had food poisoning after the takeaway.", "safety: 'food poisoning'"),
        ("There was a dead cockroach in the salad.", "safety: 'dead cockroach in'"),
        ("充电宝充电的时候冒烟了，差点着火", "safety: '冒烟'"),
        ("孩子被烫伤了，已经去了医院", "safety: '烫伤'"),
        ("热水器漏电，太吓人了", "safety: '漏电'"),
        ("手机在床头突然爆炸了", "safety: '爆炸'"),
        ("吃完外卖全家都拉肚子", "safety: '拉肚子'"),
        ("面条里吃出一根头发", "safety: '头发'"),
        ("饼干里有异物", "safety: '异物'"),
        ("My lawyer will be in touch.", "legal: 'my lawyer'"),
        ("If this is not fixed I will sue you.", "legal: 'will sue'"),
        ("再不处理我就请律师起诉你们", "legal: '律师'"),
        ("我要去法院起诉你们", "legal: '法院'"),
        ("I have filed a complaint with the CFPB.", "regulator: 'cfpb'"),
        ("I reported you to the Better Business Bureau.", "regulator: 'better business bureau'"),
        ("我已经打了12315投诉", "regulator: '12315'"),
        ("我会向消协反映", "regulator: '消协'"),
        ("I'll be contacting a journalist about this.", "media: 'journalist'"),
        ("I have already spoken to the press about your company.", "media: 'to the press'"),
        ("我要把这件事发到媒体上曝光", "media: '媒体'"),
        ("我要把這件事告訴記者", "media: '记者'"),
        (
            "There is a payment on my card that I did not make.",
            "fraud: 'payment on my card that i did not make'",
        ),
        ("我的卡被盗刷了三笔", "fraud: '卡被盗'"),
        (
            "I sent the money to the wrong account, please stop the transfer!",
            "stop payment: 'sent the money to the wrong'",
        ),
    ],
)
def test_safety_legal_regulator_media_and_fraud_cues_are_urgent(text: str, reason: str) -> None:
    priority, reasons = prio(text)
    assert priority is Priority.URGENT
    assert reason in reasons


@pytest.mark.parametrize(
    "text",
    [
        "The late payment you reported hurt my credit score.",
        "I will not sue you, I just want an answer.",
        "We are not going to take legal action over this.",
        "I'm not going to contact the CFPB, please just fix it.",
        "我不是要去打12315，只想问问发票的事。",
        "这不是投诉，没有起火也没有冒烟，只是有点响。",
        "The letter lists the address of their attorneys.",
        "Our regulatory reporting team needs the contract.",
        "I signed up for your Social Media class.",
        "This blender is an absolute killer!",
        "这款手机性能杀疯了，音质炸裂。",
        "火锅很好吃，就是吃了有点上火。",
        "The ATM swallowed my card.",
        "I did not make any late payments on this account.",
    ],
)
def test_negated_figurative_and_third_party_uses_are_not_urgent(text: str) -> None:
    assert find_threats(text) == []
    assert prio(text)[0] is not Priority.URGENT


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("This is the third time I'm writing about this.", "repeat contact: 'third time'"),
        ("I have called you five times this week.", "repeat contact: 'called you five times'"),
        ("I was charged twice for the same order.", "money taken: 'charged twice'"),
        ("Our flight was delayed by five hours.", "long wait: 'delayed by five hours'"),
        ("You froze my account without any reason.", "blocked: 'froze my account'"),
        ("打了好几次电话都没人接", "repeat contact: '打了好几次'"),
        ("同一笔订单扣了两次钱", "money taken: '扣了两次'"),
        ("等了半个月还没发货", "long wait: '等了半个月'"),
    ],
)
def test_repeat_contact_long_waits_and_lost_money_are_at_least_high(text: str, reason: str) -> None:
    priority, reasons = prio(text)
    assert priority in (Priority.HIGH, Priority.URGENT)
    assert reason in reasons


def test_with_a_model_the_level_it_reads_is_a_reason_and_phrases_override_it() -> None:
    calm = {"low": 0.7, "medium": 0.2, "high": 0.05, "urgent": 0.05}
    priority, reasons = prio("Thanks, all good.", level_probs=calm)
    assert priority is Priority.LOW
    assert reasons == ("reads as low (0.70)",)
    priority, reasons = prio("The kettle caught fire.", level_probs=calm)
    assert priority is Priority.URGENT
    assert reasons[0] == "safety: 'caught fire'"


def test_the_model_alone_makes_a_ticket_urgent_only_when_it_is_sure() -> None:
    hunch = {"low": 0.2, "medium": 0.2, "high": 0.2, "urgent": 0.4}
    assert prio("Please call me back.", level_probs=hunch)[0] is Priority.HIGH
    sure = {"low": 0.05, "medium": 0.05, "high": 0.1, "urgent": 0.8}
    priority, reasons = prio("Please call me back.", level_probs=sure)
    assert priority is Priority.URGENT
    assert reasons == ("reads as urgent (0.80)",)


def test_with_a_model_vip_and_repeat_contacts_raise_one_level_each_up_to_high() -> None:
    medium = {"low": 0.1, "medium": 0.7, "high": 0.1, "urgent": 0.1}
    assert prio("Where is my order?", level_probs=medium)[0] is Priority.MEDIUM
    vip = prio("Where is my order?", level_probs=medium, customer_tier="vip")
    assert vip[0] is Priority.HIGH and "VIP customer" in vip[1]
    both = prio("Where is my order?", level_probs=medium, customer_tier="vip", recent_contacts_7d=5)
    assert both[0] is Priority.HIGH


def test_saying_urgent_raises_a_complaint_but_not_a_question() -> None:
    medium = {"low": 0.1, "medium": 0.7, "high": 0.1, "urgent": 0.1}
    question = prio("URGENT: what are your opening hours?", level_probs=medium)
    assert question[0] is Priority.MEDIUM
    assert "says 'urgent'" in question[1]
    problem = prio("URGENT: my order is broken", level_probs=medium, complaint=True)
    assert problem[0] is Priority.HIGH


def test_without_a_model_a_complaint_is_a_reason() -> None:
    _, reasons = prio("I want my money back.", complaint=True)
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
    priority, _ = prio("It broke again.", complaint=True, sentiment_score=-0.6)
    assert priority is Priority.HIGH
    priority, reasons = prio(
        "Fix this immediately.", complaint=True, sentiment_score=-0.9, customer_tier="VIP"
    )
    assert priority is Priority.URGENT
    assert reasons[:3] == ("complaint", "says 'immediately'", "negative sentiment (-0.90)")


def test_calm_suggestions_and_thanks_are_low() -> None:
    assert prio("Maybe add a dark mode?", category="suggestion")[0] is Priority.LOW
    assert prio("Thanks, great job!", category="other", sentiment_score=0.9)[0] is Priority.LOW


def test_an_ordinary_question_is_medium_with_no_reasons() -> None:
    assert prio() == (Priority.MEDIUM, ())
