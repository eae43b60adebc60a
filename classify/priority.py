"""Priority with reasons a person can read and argue with.

Three layers, each named in the reasons:

1. The learned priority model (``classify.shipped`` trains it; agents' corrections retrain it,
   see ``classify.retrain.train_priority_model``) gives the level the text reads as.
2. Phrases read in context (``classify.signals``): a real safety risk, a concrete legal,
   regulator or media step, fraud happening now or money that can still be stopped make a
   ticket urgent; repeated contact, a long wait, money taken in error or a blocked service make
   it at least high. Negated and figurative uses do not count.
3. Who is writing and how: a VIP tier, repeated contact this week, a complaint that says it is
   urgent each move a ticket up one level, to high at most: only the text can make it urgent.

Without a priority model the level starts from points (complaint, negative tone), as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from classify.features import normalize
from classify.signals import find_signals
from intake.domain import CustomerType, Priority

_URGENCY = (
    "urgent", "urgently", "asap", "as soon as possible", "immediately", "emergency", "right away",
    "right now", "critical", "time sensitive", "time-sensitive",
    "紧急", "加急", "急用", "着急", "很急", "急需", "马上", "立刻", "立即", "尽快", "十万火急",
)  # fmt: skip
MODEL_URGENT_AT = 0.5
_LEVELS = (Priority.LOW, Priority.MEDIUM, Priority.HIGH, Priority.URGENT)


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
    complaint: bool = False
    # P(level) from the learned priority model, by level name; None: no model
    level_probs: Mapping[str, float] | None = None


def find_threats(text: str) -> list[str]:
    """Reasons such as ``"safety: 'caught fire'"`` for every kind of urgent cue in ``text``."""
    return [s.reason() for s in find_signals(text) if s.level == "urgent"]


def prioritize(
    item: PriorityInput,
    policy: PriorityPolicy = PriorityPolicy(),  # frozen, safe to share
) -> tuple[Priority, tuple[str, ...]]:
    signals = find_signals(item.text)
    reasons = [s.reason() for s in signals]
    if item.level_probs:
        best = max(item.level_probs, key=lambda k: item.level_probs[k])  # type: ignore[index]
        level = Priority(best)
        reasons.append(f"reads as {best} ({item.level_probs[best]:.2f})")
        if (
            level is Priority.URGENT
            and item.level_probs[best] < MODEL_URGENT_AT
            and not any(s.level == "urgent" for s in signals)
        ):
            # An urgent ticket needs a phrase an agent can see, or a model that is sure (as
            # one retrained on agents' corrections becomes); a hunch stays high.
            level = Priority.HIGH
        base_points = 0
    else:
        level, base_points = Priority.MEDIUM, _text_points(item, reasons, policy)
    if any(s.level == "urgent" for s in signals):
        level = Priority.URGENT
    elif any(s.level == "high" for s in signals):
        level = _max(level, Priority.HIGH)
    steps = _context_steps(item, reasons, policy)
    if item.level_probs is None:
        points = base_points + steps
        if level is not Priority.URGENT:
            if points >= policy.urgent_at:
                level = Priority.URGENT
            elif points >= policy.high_at:
                level = _max(level, Priority.HIGH)
            elif points == 0 and not signals and _calm(item, policy):
                level = Priority.LOW
    elif level is not Priority.URGENT:
        up = min(_LEVELS.index(level) + steps, _LEVELS.index(Priority.HIGH))
        level = _LEVELS[max(up, _LEVELS.index(level))]
    return level, tuple(reasons)


def _text_points(item: PriorityInput, reasons: list[str], policy: PriorityPolicy) -> int:
    points = 0
    if item.complaint or item.category == "complaint":
        reasons.append("complaint")
        points += 2
    urgency = _first(normalize(item.text), _URGENCY)
    if urgency:
        reasons.append(f"says '{urgency}'")
        points += 2
    if item.sentiment_score <= policy.negative_sentiment_at:
        reasons.append(f"negative sentiment ({item.sentiment_score:.2f})")
        points += 2 if item.sentiment_score <= -0.8 else 1
    return points


def _context_steps(item: PriorityInput, reasons: list[str], policy: PriorityPolicy) -> int:
    """Who is writing: each reason here is worth one level (with a model) or points (without)."""
    steps = 0
    if item.level_probs is not None:
        urgency = _first(normalize(item.text), _URGENCY)
        if urgency:
            reasons.append(f"says '{urgency}'")
            steps += item.complaint  # "urgent" on a question is politeness, not a problem
    tier = (item.customer_tier or "").strip()
    if tier and tier.casefold() in {t.casefold() for t in policy.vip_tiers}:
        reasons.append(f"{tier.upper() if tier.casefold() == 'vip' else tier} customer")
        steps += 2 if item.level_probs is None else 1
    elif item.customer_type is CustomerType.LOYAL:
        reasons.append("loyal customer")
        steps += 1 if item.level_probs is None else 0
    if item.recent_contacts_7d >= policy.repeat_contacts_at:
        reasons.append(f"{_ordinal(item.recent_contacts_7d)} contact in 7 days")
        steps += 1 + (item.recent_contacts_7d >= policy.repeat_contacts_at + 2)
    if item.channel == "voicemail":
        reasons.append("voicemail")
        steps += 1 if item.level_probs is None else 0
    return steps


def _calm(item: PriorityInput, policy: PriorityPolicy) -> bool:
    return item.category in policy.calm_categories or item.sentiment_score > 0.3


def _max(a: Priority, b: Priority) -> Priority:
    return a if _LEVELS.index(a) >= _LEVELS.index(b) else b


def _first(folded: str, terms: Iterable[str]) -> str | None:
    import re

    hits = []
    for term in terms:
        if term.isascii():
            match = re.search(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", folded)
            if match:
                hits.append((match.start(), term))
        elif term in folded:
            hits.append((folded.index(term), term))
    return min(hits)[1] if hits else None


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
