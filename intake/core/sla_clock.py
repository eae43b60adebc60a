"""Service-level clock arithmetic: due times, warnings, breaches and the notices they call for.

Pure: given a ticket's terms (its targets and business-hours calendar), its creation, pauses and
when each target was met, ``compute_clock`` says where it stands at a moment; ``notices_due`` and
``next_check`` say what the watcher owes and when to look again. ``intake.core.sla`` maps rows
onto this and keeps the ticket columns in step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from intake.core.business_hours import Calendar, Pause, add_business_times
from intake.domain import SlaTarget

# Near breach: this share of a target's business time has elapsed.
WARNING_FRACTION = 0.8


@dataclass(frozen=True)
class SlaTerms:
    """The targets a ticket is held to, and the hours they count in."""

    first_response: timedelta
    resolution: timedelta | None
    calendar: Calendar
    policy_id: int | None = None
    calendar_name: str = "around the clock"


@dataclass(frozen=True)
class TargetClock:
    target: SlaTarget
    due_at: datetime | None  # None: met, or the clock stands still before it came due
    warning_at: datetime | None
    met_at: datetime | None
    breached: bool


@dataclass(frozen=True)
class Notice:
    """A warning or breach notice the watcher owes for one target."""

    clock: TargetClock
    breached: bool

    @property
    def marks(self) -> list[str]:
        """What ``Ticket.sla_notified`` records once it is sent (a breach covers its warning)."""
        warning = f"warning:{self.clock.target}"
        return [warning, f"breach:{self.clock.target}"] if self.breached else [warning]


@dataclass(frozen=True)
class SlaClock:
    targets: tuple[TargetClock, ...]
    paused: bool

    @property
    def next(self) -> TargetClock | None:
        """The unmet target due first (None when all are met or the clock stands still)."""
        due = [(t.due_at, t) for t in self.targets if t.met_at is None and t.due_at is not None]
        return min(due, key=lambda pair: pair[0])[1] if due else None

    @property
    def pending(self) -> TargetClock | None:
        """The first target still to meet, due or not (shown while the clock is paused)."""
        return next((t for t in self.targets if t.met_at is None), None)

    @property
    def breached(self) -> bool:
        return any(t.breached for t in self.targets)


def _target_clock(
    target: SlaTarget,
    terms: SlaTerms,
    allowed: timedelta,
    start: datetime,
    pauses: Sequence[Pause],
    met_at: datetime | None,
    now: datetime,
) -> TargetClock:
    due, warning = add_business_times(
        terms.calendar, start, [allowed, allowed * WARNING_FRACTION], pauses
    )
    if due is None:
        breached = False
    elif met_at is not None:
        breached = met_at > due
    else:
        breached = due <= now
    return TargetClock(target, due, warning, met_at, breached)


def compute_clock(
    terms: SlaTerms,
    created_at: datetime,
    pauses: Sequence[Pause],
    first_response_at: datetime | None,
    resolved_at: datetime | None,
    now: datetime,
) -> SlaClock:
    """Both targets of a ticket, as of ``now``: pure, given its terms and its pauses."""
    targets = [
        _target_clock(
            SlaTarget.FIRST_RESPONSE,
            terms,
            terms.first_response,
            created_at,
            pauses,
            first_response_at,
            now,
        )
    ]
    if terms.resolution is not None:
        targets.append(
            _target_clock(
                SlaTarget.RESOLUTION, terms, terms.resolution, created_at, pauses, resolved_at, now
            )
        )
    paused = any(p.end is None for p in pauses)
    return SlaClock(tuple(targets), paused)


def _unmet(clock: SlaClock) -> list[TargetClock]:
    return [t for t in clock.targets if t.met_at is None and t.due_at is not None]


def notices_due(notified: Sequence[str], clock: SlaClock, now: datetime) -> list[Notice]:
    """The notices to send now: per unmet target, its breach once past due, else its warning
    once 80 % elapsed; each only if not sent before (a breach makes its warning moot)."""
    due: list[Notice] = []
    for target in _unmet(clock):
        assert target.due_at is not None
        if target.due_at <= now and f"breach:{target.target}" not in notified:
            due.append(Notice(target, breached=True))
        elif (
            target.warning_at is not None
            and target.warning_at <= now < target.due_at
            and f"warning:{target.target}" not in notified
        ):
            due.append(Notice(target, breached=False))
    return due


def next_check(notified: Sequence[str], clock: SlaClock) -> datetime | None:
    """When the watcher next has a notice to send about this ticket."""
    moments: list[datetime] = []
    for target in _unmet(clock):
        assert target.due_at is not None
        if target.warning_at is not None and f"warning:{target.target}" not in notified:
            moments.append(target.warning_at)
        elif f"breach:{target.target}" not in notified:
            moments.append(target.due_at)
    return min(moments, default=None)
