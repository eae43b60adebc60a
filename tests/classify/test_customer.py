from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from classify.customer import LoyaltyThresholds, customer_type
from intake.domain import CustomerType

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_first_contact_is_a_potential_customer() -> None:
    assert customer_type(1, NOW, NOW) is CustomerType.POTENTIAL
    assert customer_type(0, None, NOW) is CustomerType.POTENTIAL


def test_second_ticket_makes_an_existing_customer() -> None:
    assert customer_type(2, NOW - timedelta(days=3), NOW) is CustomerType.EXISTING


def test_many_tickets_over_half_a_year_make_a_loyal_customer() -> None:
    assert customer_type(5, NOW - timedelta(days=200), NOW) is CustomerType.LOYAL


def test_many_tickets_in_a_short_time_are_not_loyalty() -> None:
    assert customer_type(12, NOW - timedelta(days=20), NOW) is CustomerType.EXISTING


def test_thresholds_are_configurable() -> None:
    strict = LoyaltyThresholds(loyal_min_tickets=10, loyal_min_days=365)
    assert customer_type(6, NOW - timedelta(days=400), NOW, strict) is CustomerType.EXISTING
    assert customer_type(10, NOW - timedelta(days=400), NOW, strict) is CustomerType.LOYAL


def test_naive_database_timestamps_are_read_as_utc() -> None:
    naive = datetime(2025, 1, 1, 12, 0)
    assert customer_type(6, naive, NOW) is CustomerType.LOYAL


def test_nonsense_thresholds_are_rejected() -> None:
    with pytest.raises(ValueError):
        LoyaltyThresholds(loyal_min_tickets=1)
    with pytest.raises(ValueError):
        LoyaltyThresholds(loyal_min_days=-1)
