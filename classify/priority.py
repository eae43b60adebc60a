"""Priority with reasons a person can read and argue with.

Threats to safety, legal action, regulator complaints and media exposure make a ticket urgent on
their own. Everything else adds points (complaint, negative sentiment, VIP, the customer saying it
is urgent, repeated contact, voicemail) and the total sets the level.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from classify.features import normalize
from intake.domain import CustomerType, Priority

# Chinese terms are matched as substrings (no word boundaries in Chinese); English ones as whole
# words, with the listed stems covering their inflections.
# fmt: off
_THREATS: dict[str, tuple[str, ...]] = {
    "safety": (
        r"fire", r"on fire", r"caught fire", r"smoke", r"smoking", r"smoked",
        r"burn(?:t|ed|ing|s)?",
        r"explod(?:e|ed|es|ing)", r"explosion", r"spark(?:s|ing)?", r"electric shock",
        r"electrocut\w*", r"injur(?:y|ies|ed)", r"hurt (?:me|him|her|my)\w*", r"hospital\w*",
        r"poison\w*", r"chok(?:e|ed|ing)", r"gas leak", r"overheat(?:ed|ing|s)?", r"melt(?:ed|ing)",
        r"bleeding", r"allergic reaction",
        "着火", "起火", "火灾", "冒烟", "烟雾", "爆炸", "炸了", "漏电", "触电", "电到", "受伤",
        "烫伤", "烧伤", "烧焦", "中毒", "住院", "进医院", "过敏", "漏气", "自燃", "发烫",
    ),
    "legal": (
        r"lawyer\w*", r"attorney\w*", r"solicitor\w*", r"sue", r"suing", r"lawsuit\w*",
        r"legal action", r"take (?:you|this) to court", r"small claims", r"class action",
        "律师", "起诉", "法院", "诉讼", "法律途径", "法律责任", "告你们", "打官司",
    ),
    "regulator": (
        r"12315", r"cfpb", r"ftc", r"ombudsman", r"trading standards", r"better business bureau",
        r"bbb", r"consumer protection", r"attorney general", r"regulator\w*",
        "消协", "消费者协会", "工商局", "市场监管", "监管部门", "银保监", "投诉到", "12345",
    ),
    "media": (
        r"journalist\w*", r"reporter\w*", r"newspaper\w*", r"the press", r"the media",
        r"social media", r"go public", r"going public", r"viral",
        "媒体", "曝光", "记者", "电视台", "微博", "上热搜", "发抖音",
    ),
}
_URGENCY = (
    r"urgent\w*", r"asap", r"as soon as possible", r"immediately", r"emergency", r"right away",
    r"right now", r"critical", r"time.sensitive",
    "紧急", "加急", "急用", "着急", "很急", "急需", "马上", "立刻", "立即", "尽快", "十万火急",
)
# fmt: on


class _Terms:
    """English terms as one word-bounded regex; Chinese ones by plain substring search, which
    is many times faster than a regex alternation over a long mail."""

    def __init__(self, terms: Iterable[str]) -> None:
        terms = list(terms)
        english = [t for t in terms if t.isascii()]
        self.chinese = [t for t in terms if not t.isascii()]
        # ASCII boundaries rather than \b: in "打了12315投诉" the Chinese characters count as word
        # characters for \b, yet the number stands on its own.
        self.english = (
            re.compile(r"(?<![a-z0-9])(" + "|".join(english) + r")(?![a-z0-9])")
            if english
            else None
        )

    def first(self, folded: str) -> str | None:
        """The earliest term found in ``folded`` (text already passed through ``normalize``)."""
        hits = [(folded.index(t), t) for t in self.chinese if t in folded]
        if self.english is not None:
            match = self.english.search(folded)
            if match:
                hits.append((match.start(), match.group(1)))
        return min(hits)[1] if hits else None


_THREAT_TERMS = {kind: _Terms(terms) for kind, terms in _THREATS.items()}
_URGENCY_TERMS = _Terms(_URGENCY)


@dataclass(frozen=True)
class PriorityPolicy:
    """Knobs an admin may turn; the defaults suit a general consumer service desk."""

    vip_tiers: frozenset[str] = field(default_factory=lambda: frozenset({"vip"}))
    negative_sentiment_at: float = -0.5
    repeat_contacts_at: int = 3
    high_at: int = 3
    urgent_at: int = 5
    calm_categories: frozenset[str] = field(
        default_factory=lambda: frozenset({"suggestion", "other"})
    )


@dataclass(frozen=True)
class PriorityInput:
    text: str
    category: str
    sentiment_score: float
    channel: str
    customer_tier: str | None
    customer_type: CustomerType
    recent_contacts_7d: int  # this customer's messages in the last 7 days, this one included


def find_threats(text: str) -> list[str]:
    """Reasons such as ``"safety: 'smoke'"`` for every kind of threat found, first hit per kind."""
    return _threats(normalize(text))


def _threats(folded: str) -> list[str]:
    reasons = []
    for kind, terms in _THREAT_TERMS.items():
        term = terms.first(folded)
        if term is not None:
            reasons.append(f"{kind}: '{term}'")
    return reasons


def prioritize(
    item: PriorityInput,
    policy: PriorityPolicy = PriorityPolicy(),  # noqa: B008 - frozen
) -> tuple[Priority, tuple[str, ...]]:
    folded = normalize(item.text)
    threats = _threats(folded)
    reasons: list[str] = list(threats)
    points = 0
    if item.category == "complaint":
        reasons.append("complaint")
        points += 2
    urgency = _URGENCY_TERMS.first(folded)
    if urgency:
        reasons.append(f"says '{urgency}'")
        points += 2
    if item.sentiment_score <= policy.negative_sentiment_at:
        reasons.append(f"negative sentiment ({item.sentiment_score:.2f})")
        points += 2 if item.sentiment_score <= -0.8 else 1
    tier = (item.customer_tier or "").strip()
    if tier and tier.casefold() in {t.casefold() for t in policy.vip_tiers}:
        reasons.append(f"{tier.upper() if tier.casefold() == 'vip' else tier} customer")
        points += 2
    elif item.customer_type is CustomerType.LOYAL:
        reasons.append("loyal customer")
        points += 1
    if item.recent_contacts_7d >= policy.repeat_contacts_at:
        reasons.append(f"{_ordinal(item.recent_contacts_7d)} contact in 7 days")
        points += 1 + (item.recent_contacts_7d >= policy.repeat_contacts_at + 2)
    if item.channel == "voicemail":
        reasons.append("voicemail")
        points += 1
    if threats or points >= policy.urgent_at:
        return Priority.URGENT, tuple(reasons)
    if points >= policy.high_at:
        return Priority.HIGH, tuple(reasons)
    if points == 0 and (item.category in policy.calm_categories or item.sentiment_score > 0.3):
        return Priority.LOW, tuple(reasons)
    return Priority.MEDIUM, tuple(reasons)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
