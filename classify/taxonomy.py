"""The default categories, i.e. topics (priorities, sentiments and customer types live in
``intake.domain``).

Categories are plain strings rather than an Enum because admins rename, add and retire them.
Whether a message is a complaint is not a topic but its own dimension
(``Classification.complaint``): a late-delivery complaint is a ``service_issue`` and a complaint.
"""

from __future__ import annotations

DEFAULT_CATEGORIES: tuple[str, ...] = (
    "inquiry",
    "product_issue",
    "service_issue",
    "billing",
    "suggestion",
    "other",
)

# The catch-all used when the model's favourite category has been retired by an admin and
# nothing else is allowed.
FALLBACK_CATEGORY = "other"
