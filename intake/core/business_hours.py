"""Business-hours arithmetic: pure functions over timezone-aware datetimes, no database.

A calendar is the local opening hours of each weekday in an IANA time zone, plus holidays.
Service-level time counts only moments that are both open and not paused; everything is
computed in UTC from local wall-clock hours, so daylight-saving days are as long as they really
are (an overnight shift across the spring change is an hour shorter).

Conventions, chosen so that an admin's words mean what they say:

- Hours are ``HH:MM-HH:MM`` local time; an end at or before the start runs past midnight
  (``22:00-06:00``), ``00:00-24:00`` is the whole day.
- A holiday closes the shifts that *start* on that local date; the morning part of an overnight
  shift that began the evening before still counts.
- A local start that does not exist (inside the spring-forward gap) moves forward by the gap.
- A pause with no end stops the clock for good: nothing is due until it ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from intake.errors import RejectedError

MINUTES_PER_DAY = 24 * 60
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# A calendar whose next open minute is further away than this is broken (every day a holiday).
HORIZON_DAYS = 20 * 366

_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class BusinessHoursError(RejectedError):
    """Opening hours, a time zone or a holiday an admin typed cannot be used; says which."""


@dataclass(frozen=True, order=True)
class Span:
    """Open from ``start`` to ``end`` minutes after local midnight; ``end`` past 1440 is the
    next morning."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < MINUTES_PER_DAY:
            raise BusinessHoursError(
                "a shift must start within the day, got minute {start}", start=self.start
            )
        if not self.start < self.end <= self.start + MINUTES_PER_DAY:
            raise BusinessHoursError("a shift lasts more than nothing and at most 24 hours")

    @classmethod
    def parse(cls, text: str) -> Span:
        match = _SPAN.match(text)
        if match is None:
            raise BusinessHoursError(
                "write hours as HH:MM-HH:MM, e.g. 09:00-17:00; got {text!r}", text=text
            )
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise BusinessHoursError("no such time of day in {text!r}", text=text)
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:  # past midnight: 22:00-06:00
            end += MINUTES_PER_DAY
        return cls(start, end)

    def __str__(self) -> str:
        end = self.end if self.end <= MINUTES_PER_DAY else self.end - MINUTES_PER_DAY
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def parse_spans(text: str) -> tuple[Span, ...]:
    """``"09:00-12:00, 13:00-17:00"`` (commas or spaces); empty or ``closed`` is a closed day."""
    words = [w for w in re.split(r"[,;\s]+", re.sub(r"\s*-\s*", "-", text.strip())) if w]
    if not words or words == ["closed"] or words == ["Closed"]:
        return ()
    return tuple(sorted(Span.parse(word) for word in words))


def parse_holidays(text: str) -> frozenset[date]:
    """One ISO date per line or comma (``2026-12-25``); text after the date is a comment."""
    days: set[date] = set()
    for number, raw in enumerate(re.split(r"[\n,]", text), start=1):
        word = raw.strip().split(maxsplit=1)[0] if raw.strip() else ""
        if not word or word.startswith("#"):
            continue
        try:
            days.add(date.fromisoformat(word))
        except ValueError:
            raise BusinessHoursError(
                "holiday {number}: write a date as YYYY-MM-DD, got {word!r}",
                number=number,
                word=word,
            ) from None
    return frozenset(days)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BusinessHoursError(
            "unknown time zone {name!r}; use an IANA name such as Europe/Berlin", name=name
        ) from None


def _whole_day() -> tuple[tuple[Span, ...], ...]:
    return tuple((Span(0, MINUTES_PER_DAY),) for _ in WEEKDAYS)


@dataclass(frozen=True)
class Calendar:
    """Opening hours per weekday (Monday first) in ``timezone``, closed on ``holidays``."""

    timezone: str = "UTC"
    weekly: tuple[tuple[Span, ...], ...] = field(default_factory=_whole_day)
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        zone(self.timezone)
        if len(self.weekly) != len(WEEKDAYS):
            raise BusinessHoursError("opening hours need an entry for each of the 7 weekdays")
        if not any(self.weekly):
            raise BusinessHoursError("a calendar must be open at some time in the week")
        object.__setattr__(self, "weekly", tuple(tuple(sorted(d)) for d in self.weekly))
        object.__setattr__(self, "holidays", frozenset(self.holidays))


AROUND_THE_CLOCK = Calendar()


@dataclass(frozen=True)
class Pause:
    """The clock stood still from ``start`` until ``end`` (None: it still does)."""

    start: datetime
    end: datetime | None = None


Period = tuple[datetime, datetime]


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("business-hours arithmetic needs timezone-aware datetimes")
    return moment.astimezone(UTC)


def _utc(calendar_zone: ZoneInfo, day: date, minute: int) -> datetime:
    # Wall-clock arithmetic first (minute 1440 is the next midnight), then the zone's offset.
    local = datetime.combine(day, time(0)) + timedelta(minutes=minute)
    return local.replace(tzinfo=calendar_zone).astimezone(UTC)


def _shifts(calendar: Calendar, first_day: date) -> Iterator[Period]:
    """Every shift from ``first_day`` on, in UTC, in order of start."""
    tz = zone(calendar.timezone)
    for offset in range(HORIZON_DAYS):
        day = first_day + timedelta(days=offset)
        if day in calendar.holidays:
            continue
        for span in calendar.weekly[day.weekday()]:
            start, end = _utc(tz, day, span.start), _utc(tz, day, span.end)
            if end > start:  # a shift inside the spring-forward gap has no length
                yield start, end
    raise BusinessHoursError(
        "the calendar has no open hours within {limit} days", limit=HORIZON_DAYS
    )


def _without_overlaps(periods: Iterable[Period]) -> Iterator[Period]:
    """Shifts with what an earlier one already covered cut off (an overnight shift running
    into an early one), so no moment counts twice. Lazy: the shifts never end."""
    covered_until: datetime | None = None
    for start, end in periods:
        if covered_until is not None:
            start = max(start, covered_until)
        if end > start:
            yield start, end
            covered_until = end


def _merged(periods: Iterable[Period]) -> Iterator[Period]:
    """Touching or overlapping periods of a finite list joined."""
    current: Period | None = None
    for start, end in periods:
        if current is not None and start <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current is not None:
            yield current
        current = (start, end)
    if current is not None:
        yield current


def _normalized(pauses: Sequence[Pause]) -> tuple[list[Period], datetime | None]:
    """Closed pauses merged and sorted, and when the clock stopped for good (if it did)."""
    stopped = min((_aware(p.start) for p in pauses if p.end is None), default=None)
    closed = sorted(
        (_aware(p.start), _aware(p.end)) for p in pauses if p.end is not None and p.end > p.start
    )
    return list(_merged(closed)), stopped


def _without(period: Period, pauses: list[Period]) -> Iterator[Period]:
    cursor, end = period
    for pause_start, pause_end in pauses:
        if pause_end <= cursor:
            continue
        if pause_start >= end:
            break
        if pause_start > cursor:
            yield cursor, pause_start
        cursor = max(cursor, pause_end)
        if cursor >= end:
            return
    if cursor < end:
        yield cursor, end


def running_periods(
    calendar: Calendar, start: datetime, pauses: Sequence[Pause] = ()
) -> Iterator[Period]:
    """The periods from ``start`` on in which the clock runs: open and not paused, in order.

    Ends where a pause without an end begins; otherwise as long as the caller reads.
    """
    start = _aware(start)
    closed, stopped = _normalized(pauses)
    first_day = start.astimezone(zone(calendar.timezone)).date() - timedelta(days=1)
    for period_start, period_end in _without_overlaps(_shifts(calendar, first_day)):
        if period_end <= start:
            continue
        period_start = max(period_start, start)
        if stopped is not None:
            if period_start >= stopped:
                return
            period_end = min(period_end, stopped)
        yield from _without((period_start, period_end), closed)
        if stopped is not None and period_end >= stopped:
            return


def add_business_time(
    calendar: Calendar, start: datetime, duration: timedelta, pauses: Sequence[Pause] = ()
) -> datetime | None:
    """The moment ``duration`` of running time after ``start``; None while a pause holds it."""
    return add_business_times(calendar, start, [duration], pauses)[0]


def add_business_times(
    calendar: Calendar,
    start: datetime,
    durations: Sequence[timedelta],
    pauses: Sequence[Pause] = (),
) -> list[datetime | None]:
    """``add_business_time`` for several durations in one walk (a target and its warning)."""
    if any(d < timedelta(0) for d in durations):
        raise ValueError("a duration cannot be negative")
    moments: dict[timedelta, datetime | None] = {d: None for d in durations}
    waiting = sorted(d for d in set(durations) if d)
    if len(waiting) < len(moments):
        moments[timedelta(0)] = _aware(start)
    elapsed = timedelta(0)
    if waiting:
        for period_start, period_end in running_periods(calendar, start, pauses):
            length = period_end - period_start
            while waiting and waiting[0] - elapsed <= length:
                moments[waiting[0]] = period_start + (waiting[0] - elapsed)
                waiting.pop(0)
            if not waiting:
                break
            elapsed += length
    return [moments[d] for d in durations]


def business_time_between(
    calendar: Calendar, start: datetime, end: datetime, pauses: Sequence[Pause] = ()
) -> timedelta:
    """Running time from ``start`` to ``end`` (zero when ``end`` is not after ``start``)."""
    end = _aware(end)
    total = timedelta(0)
    for period_start, period_end in running_periods(calendar, start, pauses):
        if period_start >= end:
            break
        total += min(period_end, end) - period_start
    return total


def is_open(calendar: Calendar, moment: datetime) -> bool:
    """Whether ``moment`` falls inside the opening hours (pauses aside)."""
    moment = _aware(moment)
    for period_start, period_end in running_periods(calendar, moment):
        return period_start <= moment < period_end
    return False
