"""Business-hours arithmetic: opening hours, overnight shifts, weekends, holidays, DST, pauses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from intake.core.business_hours import (
    AROUND_THE_CLOCK,
    HORIZON_DAYS,
    BusinessHoursError,
    Calendar,
    Pause,
    Span,
    add_business_time,
    add_business_times,
    business_time_between,
    is_open,
    parse_holidays,
    parse_spans,
    running_periods,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)
M = timedelta(minutes=1)


def office(zone: str = "Europe/Berlin", hours: str = "09:00-17:00", **kw: object) -> Calendar:
    """Monday to Friday ``hours``, closed at weekends."""
    day = parse_spans(hours)
    return Calendar(zone, (day,) * 5 + ((), ()), **kw)  # type: ignore[arg-type]


def at(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)


# --- parsing -------------------------------------------------------------------------------


def test_hours_parse_and_print_back() -> None:
    assert parse_spans("09:00-12:00, 13:00-17:30") == (Span(540, 720), Span(780, 1050))
    assert parse_spans("13:00 - 17:00 09:00-12:00") == (Span(540, 720), Span(780, 1020))
    assert parse_spans("22:00-06:00") == (Span(1320, 1800),)
    assert parse_spans("00:00-24:00") == (Span(0, 1440),)
    assert parse_spans("") == () and parse_spans("closed") == ()
    assert [str(s) for s in parse_spans("22:00-06:00, 08:00-09:30")] == [
        "08:00-09:30",
        "22:00-06:00",
    ]


@pytest.mark.parametrize("bad", ["9-17", "09:00", "25:00-26:00", "09:60-10:00", "24:30-01:00"])
def test_bad_hours_are_refused_with_the_reason(bad: str) -> None:
    with pytest.raises(BusinessHoursError):
        parse_spans(bad)


def test_holidays_parse_with_comments_and_refuse_bad_dates() -> None:
    assert parse_holidays("2026-12-25 Christmas\n# note\n2026-12-26, 2027-01-01") == {
        date(2026, 12, 25),
        date(2026, 12, 26),
        date(2027, 1, 1),
    }
    with pytest.raises(BusinessHoursError, match="holiday 1"):
        parse_holidays("25.12.2026")


def test_a_calendar_needs_a_real_zone_and_some_open_hours() -> None:
    with pytest.raises(BusinessHoursError, match="time zone"):
        Calendar("Mars/Olympus")
    with pytest.raises(BusinessHoursError, match="open"):
        Calendar("UTC", ((),) * 7)
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_time(AROUND_THE_CLOCK, datetime(2026, 1, 1), H)


# --- around the clock ----------------------------------------------------------------------


def test_around_the_clock_is_plain_addition() -> None:
    start = datetime(2026, 12, 1, 10, 17, 3, tzinfo=UTC)
    assert add_business_time(AROUND_THE_CLOCK, start, 26 * H) == start + 26 * H
    assert business_time_between(AROUND_THE_CLOCK, start, start + 50 * H) == 50 * H
    assert add_business_time(AROUND_THE_CLOCK, start, timedelta(0)) == start


# --- office hours, weekends ----------------------------------------------------------------


def test_time_within_one_working_day() -> None:
    cal = office()
    start = at(BERLIN, 2026, 12, 1, 10, 0)  # Tuesday
    assert add_business_time(cal, start, 4 * H) == at(BERLIN, 2026, 12, 1, 14, 0)


def test_time_runs_on_into_the_next_morning() -> None:
    cal = office()
    start = at(BERLIN, 2026, 12, 1, 15, 0)  # Tuesday 15:00, 2 h left today
    assert add_business_time(cal, start, 4 * H) == at(BERLIN, 2026, 12, 2, 11, 0)


def test_a_ticket_arriving_at_night_starts_counting_at_opening() -> None:
    cal = office()
    start = at(BERLIN, 2026, 12, 1, 23, 30)
    assert add_business_time(cal, start, 30 * M) == at(BERLIN, 2026, 12, 2, 9, 30)
    assert not is_open(cal, start) and is_open(cal, at(BERLIN, 2026, 12, 2, 9, 0))


def test_friday_afternoon_is_due_on_monday() -> None:
    cal = office()
    start = at(BERLIN, 2026, 12, 4, 16, 0)  # Friday
    assert add_business_time(cal, start, 2 * H) == at(BERLIN, 2026, 12, 7, 10, 0)
    # Saturday is closed: a ticket from the weekend counts from Monday 09:00.
    assert add_business_time(cal, at(BERLIN, 2026, 12, 5, 12, 0), H) == at(
        BERLIN, 2026, 12, 7, 10, 0
    )


def test_the_due_moment_at_closing_time_is_closing_time() -> None:
    cal = office()
    assert add_business_time(cal, at(BERLIN, 2026, 12, 1, 9, 0), 8 * H) == at(
        BERLIN, 2026, 12, 1, 17, 0
    )


def test_a_lunch_break_is_not_counted() -> None:
    cal = office(hours="09:00-12:00, 13:00-17:00")
    start = at(BERLIN, 2026, 12, 1, 11, 0)
    assert add_business_time(cal, start, 2 * H) == at(BERLIN, 2026, 12, 1, 14, 0)
    assert business_time_between(cal, start, at(BERLIN, 2026, 12, 1, 14, 0)) == 2 * H


def test_time_between_counts_only_open_hours() -> None:
    cal = office()
    friday = at(BERLIN, 2026, 12, 4, 16, 0)
    tuesday = at(BERLIN, 2026, 12, 8, 10, 0)
    assert business_time_between(cal, friday, tuesday) == H + 8 * H + H
    assert business_time_between(cal, tuesday, friday) == timedelta(0)


def test_hours_are_local_to_the_calendars_zone() -> None:
    cal = office("Asia/Shanghai")
    # 02:00 UTC is 10:00 in Shanghai.
    start = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    assert add_business_time(cal, start, 7 * H) == at(SHANGHAI, 2026, 12, 1, 17, 0)
    assert add_business_time(cal, start, 8 * H) == at(SHANGHAI, 2026, 12, 2, 10, 0)


def test_long_targets_walk_many_weeks() -> None:
    cal = office()
    start = at(BERLIN, 2026, 6, 1, 9, 0)  # Monday, summer time
    # 40 business hours a week: 200 hours are five weeks later, Friday at closing.
    assert add_business_time(cal, start, 200 * H) == at(BERLIN, 2026, 7, 3, 17, 0)


# --- overnight shifts ----------------------------------------------------------------------


def test_an_overnight_shift_counts_past_midnight() -> None:
    night = parse_spans("22:00-06:00")
    cal = Calendar("Europe/Berlin", (night,) * 7)
    start = at(BERLIN, 2026, 12, 1, 23, 0)
    assert add_business_time(cal, start, 3 * H) == at(BERLIN, 2026, 12, 2, 2, 0)
    # From the afternoon: opens at 22:00, 8 h later is 06:00, then the next night.
    afternoon = at(BERLIN, 2026, 12, 1, 15, 0)
    assert add_business_time(cal, afternoon, 9 * H) == at(BERLIN, 2026, 12, 2, 23, 0)


def test_a_ticket_after_midnight_falls_in_the_shift_of_the_evening_before() -> None:
    night = parse_spans("22:00-06:00")
    cal = Calendar("Europe/Berlin", (night,) * 5 + ((), ()))  # shifts start Monday-Friday
    saturday_early = at(BERLIN, 2026, 12, 5, 1, 0)  # in Friday night's shift
    assert is_open(cal, saturday_early)
    assert add_business_time(cal, saturday_early, 5 * H) == at(BERLIN, 2026, 12, 5, 6, 0)
    # One more hour waits for Monday night's shift.
    assert add_business_time(cal, saturday_early, 6 * H) == at(BERLIN, 2026, 12, 7, 23, 0)


def test_overlapping_shifts_count_each_moment_once() -> None:
    cal = Calendar("UTC", (parse_spans("16:00-24:00, 00:00-08:00, 20:00-04:00"),) * 7)
    start = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    # Open from 16:00 through 08:00 the next morning without a gap: 15 hours from 17:00.
    assert business_time_between(cal, start, start + 24 * H) == 15 * H + H  # + 16:00-17:00
    assert add_business_time(cal, start, 15 * H) == datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    periods = running_periods(cal, start)
    assert next(periods)[0] == start


# --- holidays ------------------------------------------------------------------------------


def test_holidays_are_closed() -> None:
    cal = office(holidays=parse_holidays("2026-12-24\n2026-12-25"))
    start = at(BERLIN, 2026, 12, 23, 16, 0)  # Wednesday before Christmas
    # 1 h on the 23rd, 24th and 25th closed, weekend closed: Monday the 28th.
    assert add_business_time(cal, start, 2 * H) == at(BERLIN, 2026, 12, 28, 10, 0)
    assert business_time_between(cal, start, at(BERLIN, 2026, 12, 28, 9, 0)) == H


def test_a_holiday_keeps_the_morning_of_the_overnight_shift_that_began_before_it() -> None:
    night = parse_spans("22:00-06:00")
    cal = Calendar("UTC", (night,) * 7, frozenset({date(2026, 12, 25)}))
    start = datetime(2026, 12, 24, 23, 0, tzinfo=UTC)
    # 24th's shift runs to 06:00 on the 25th; no shift starts on the 25th; next is the 26th.
    assert add_business_time(cal, start, 7 * H) == datetime(2026, 12, 25, 6, 0, tzinfo=UTC)
    assert add_business_time(cal, start, 8 * H) == datetime(2026, 12, 26, 23, 0, tzinfo=UTC)


def test_a_long_run_of_holidays_is_skipped_and_an_endless_one_is_an_error() -> None:
    first = date(2026, 1, 1)
    month = frozenset(first + timedelta(days=n) for n in range(30))
    cal = Calendar("UTC", holidays=month)
    assert add_business_time(cal, datetime(2026, 1, 1, tzinfo=UTC), H) == datetime(
        2026, 1, 31, 1, 0, tzinfo=UTC
    )
    forever = frozenset(first + timedelta(days=n) for n in range(HORIZON_DAYS + 2))
    with pytest.raises(BusinessHoursError, match="no open hours"):
        add_business_time(Calendar("UTC", holidays=forever), datetime(2026, 1, 1, tzinfo=UTC), H)


# --- daylight saving -----------------------------------------------------------------------


def test_a_whole_day_in_spring_is_23_hours_and_in_autumn_25() -> None:
    cal = Calendar("Europe/Berlin")  # every day 00:00-24:00 local
    spring = at(BERLIN, 2026, 3, 29, 0, 0)  # clocks go 02:00 -> 03:00
    autumn = at(BERLIN, 2026, 10, 25, 0, 0)  # clocks go 03:00 -> 02:00
    assert business_time_between(cal, spring, at(BERLIN, 2026, 3, 30, 0, 0)) == 23 * H
    assert business_time_between(cal, autumn, at(BERLIN, 2026, 10, 26, 0, 0)) == 25 * H


def test_office_hours_stay_at_local_nine_across_the_change() -> None:
    cal = office("America/New_York")
    friday = at(NEW_YORK, 2026, 3, 6, 16, 0)  # EST; DST starts Sunday March 8
    due = add_business_time(cal, friday, 2 * H)
    assert due == at(NEW_YORK, 2026, 3, 9, 10, 0)
    assert due is not None and due.astimezone(UTC).hour == 14  # EDT is UTC-4, not 15 (EST)


def test_an_overnight_shift_across_the_spring_change_is_an_hour_shorter() -> None:
    cal = Calendar("America/New_York", (parse_spans("22:00-06:00"),) * 7)
    start = at(NEW_YORK, 2026, 3, 7, 22, 0)
    assert business_time_between(cal, start, at(NEW_YORK, 2026, 3, 8, 6, 0)) == 7 * H
    autumn = at(NEW_YORK, 2026, 10, 31, 22, 0)  # DST ends Sunday November 1
    assert business_time_between(cal, autumn, at(NEW_YORK, 2026, 11, 1, 6, 0)) == 9 * H


def test_a_shift_starting_in_the_skipped_hour_starts_when_the_clock_resumes() -> None:
    cal = Calendar("America/New_York", (parse_spans("02:30-04:00"),) * 7)
    # 02:30 does not exist on March 8: the shift is 03:30-04:00 EDT (half an hour).
    day = at(NEW_YORK, 2026, 3, 8, 0, 0)
    assert business_time_between(cal, day, at(NEW_YORK, 2026, 3, 9, 0, 0)) == 30 * M


# --- pauses --------------------------------------------------------------------------------


def test_a_pause_moves_the_due_time_by_the_business_time_it_covered() -> None:
    cal = office()
    start = at(BERLIN, 2026, 12, 1, 9, 0)
    pause = Pause(at(BERLIN, 2026, 12, 1, 10, 0), at(BERLIN, 2026, 12, 1, 12, 30))
    assert add_business_time(cal, start, 4 * H, [pause]) == at(BERLIN, 2026, 12, 1, 15, 30)


def test_a_pause_outside_opening_hours_changes_nothing() -> None:
    cal = office()
    start = at(BERLIN, 2026, 12, 1, 9, 0)
    night = Pause(at(BERLIN, 2026, 12, 1, 18, 0), at(BERLIN, 2026, 12, 2, 8, 0))
    assert add_business_time(cal, start, 10 * H, [night]) == at(BERLIN, 2026, 12, 2, 11, 0)


def test_a_pause_across_a_weekend_counts_only_its_working_hours() -> None:
    cal = office()
    start = at(BERLIN, 2026, 12, 4, 9, 0)  # Friday
    pause = Pause(at(BERLIN, 2026, 12, 4, 16, 0), at(BERLIN, 2026, 12, 7, 11, 0))
    # Friday 7 h run; paused Friday 16:00 to Monday 11:00; one more hour: Monday 12:00.
    assert add_business_time(cal, start, 8 * H, [pause]) == at(BERLIN, 2026, 12, 7, 12, 0)


def test_several_and_overlapping_pauses_count_once() -> None:
    start = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    pauses = [
        Pause(start + 2 * H, start + 4 * H),
        Pause(start + 3 * H, start + 5 * H),  # overlaps the first
        Pause(start + 8 * H, start + 9 * H),
    ]
    assert add_business_time(AROUND_THE_CLOCK, start, 10 * H, pauses) == start + 14 * H
    assert business_time_between(AROUND_THE_CLOCK, start, start + 14 * H, pauses) == 10 * H


def test_a_pause_without_end_holds_the_clock() -> None:
    start = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    held = [Pause(start + H)]
    assert add_business_time(AROUND_THE_CLOCK, start, 2 * H, held) is None
    # Time spent before the pause still counts: a target already used up has its moment.
    assert add_business_time(AROUND_THE_CLOCK, start, 30 * M, held) == start + 30 * M
    assert business_time_between(AROUND_THE_CLOCK, start, start + 10 * H, held) == H


def test_a_pause_before_the_start_is_ignored_and_one_across_it_delays_it() -> None:
    start = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    before = Pause(start - 5 * H, start - H)
    across = Pause(start - H, start + H)
    assert add_business_time(AROUND_THE_CLOCK, start, H, [before]) == start + H
    assert add_business_time(AROUND_THE_CLOCK, start, H, [across]) == start + 2 * H


def test_pending_then_resumed_with_business_hours_and_a_holiday() -> None:
    cal = office(holidays=parse_holidays("2026-12-08"))
    start = at(BERLIN, 2026, 12, 7, 15, 0)  # Monday 15:00
    pauses = [Pause(at(BERLIN, 2026, 12, 7, 16, 0), at(BERLIN, 2026, 12, 9, 10, 0))]
    # 1 h Monday; paused till Wednesday 10:00 (Tuesday a holiday anyway); 3 more h: 13:00.
    assert add_business_time(cal, start, 4 * H, pauses) == at(BERLIN, 2026, 12, 9, 13, 0)


# --- policy changes: the same history under other terms ------------------------------------


def test_a_changed_target_or_calendar_recomputes_from_the_start_with_the_same_pauses() -> None:
    start = at(BERLIN, 2026, 12, 1, 9, 0)
    pauses = [Pause(at(BERLIN, 2026, 12, 1, 11, 0), at(BERLIN, 2026, 12, 1, 13, 0))]
    before = add_business_time(office(), start, 8 * H, pauses)
    assert before == at(BERLIN, 2026, 12, 2, 11, 0)
    # A tighter target: 4 business hours.
    assert add_business_time(office(), start, 4 * H, pauses) == at(BERLIN, 2026, 12, 1, 15, 0)
    # Longer opening hours: 08:00-20:00.
    longer = office(hours="08:00-20:00")
    assert add_business_time(longer, start, 8 * H, pauses) == at(BERLIN, 2026, 12, 1, 19, 0)
    # Around the clock.
    assert add_business_time(AROUND_THE_CLOCK, start, 8 * H, pauses) == at(
        BERLIN, 2026, 12, 1, 19, 0
    )


def test_elapsed_and_remaining_always_add_up() -> None:
    cal = office(hours="09:00-12:00, 13:00-17:00", holidays=parse_holidays("2026-12-03"))
    start = at(BERLIN, 2026, 12, 1, 10, 17)
    pauses = [Pause(at(BERLIN, 2026, 12, 2, 9, 30), at(BERLIN, 2026, 12, 2, 14, 0))]
    durations = [minutes * M for minutes in (2500, 1, 59, 60, 61, 300, 421, 1000, 0, 60)]
    together = add_business_times(cal, start, durations, pauses)
    for duration, due in zip(durations, together, strict=True):
        assert due == add_business_time(cal, start, duration, pauses)
        assert due is not None
        assert business_time_between(cal, start, due, pauses) == duration
