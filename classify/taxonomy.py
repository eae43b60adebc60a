"""The words the classifier speaks: priorities, sentiments, customer types, default categories.

Categories are plain strings rather than an Enum because admins rename, add and retire them.
"""

from __future__ import annotations

from enum import Enum


class Priority(str, Enum):
    URGENT = "urgent"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for urgent .. 3 for low, so queues can sort most pressing first."""
        return _PRIORITY_ORDER.index(self)


_PRIORITY_ORDER = (Priority.URGENT, Priority.HIGH, Priority.MEDIUM, Priority.LOW)


class Sentiment(str, Enum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


class CustomerType(str, Enum):
    POTENTIAL = "potential"
    EXISTING = "existing"
    LOYAL = "loyal"


DEFAULT_CATEGORIES: tuple[str, ...] = (
    "inquiry",
    "product_issue",
    "service_issue",
    "billing",
    "complaint",
    "suggestion",
    "other",
)

# The catch-all used when the model's favourite category has been retired by an admin and
# nothing else is allowed.
FALLBACK_CATEGORY = "other"
