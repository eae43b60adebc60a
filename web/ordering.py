"""Moving one row up or down in an admin-ordered list (categories, rules)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Positioned(Protocol):
    id: int
    position: int


def move(rows: Sequence[Positioned], row_id: int, direction: str) -> bool | None:
    """Swap a row with its neighbour; None if the id is not in ``rows``, False at an end.

    Every row is renumbered: older rows may share positions, which would make a swap a no-op.
    """
    ordered = list(rows)
    index = next((i for i, row in enumerate(ordered) if row.id == row_id), None)
    if index is None:
        return None
    target = index - 1 if direction == "up" else index + 1
    if not 0 <= target < len(ordered):
        return False
    ordered[index], ordered[target] = ordered[target], ordered[index]
    for position, row in enumerate(ordered):
        row.position = position
    return True
