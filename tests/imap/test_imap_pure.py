"""Pure parts of the IMAP collector: after-actions, backoff, UID sync plans, failure wording."""

from __future__ import annotations

import socket
import ssl
from datetime import date

import pytest
from imapclient.exceptions import IMAPClientError, LoginError

from intake.imap.backoff import backoff_delay
from intake.imap.config import (
    AfterAction,
    AfterKind,
    Credentials,
    OAuth2Credentials,
    parse_after_action,
)
from intake.imap.failures import FailureKind, describe_failure
from intake.imap.sync import SyncMode, SyncState, plan_sync


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("seen", AfterAction(AfterKind.SEEN)),
        (" DELETE ", AfterAction(AfterKind.DELETE)),
        ("move:Archive/2026", AfterAction(AfterKind.MOVE, "Archive/2026")),
        ("move: Processed ", AfterAction(AfterKind.MOVE, "Processed")),
    ],
)
def test_after_actions_parse_into_kind_and_folder(text: str, expected: AfterAction) -> None:
    assert parse_after_action(text) == expected
    assert parse_after_action(str(expected)) == expected


@pytest.mark.parametrize("text", ["move", "move:", "seen:INBOX", "archive", "", "move:a\r\nb"])
def test_malformed_after_actions_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        parse_after_action(text)


def test_backoff_doubles_per_failure_and_stops_at_the_cap() -> None:
    delays = [backoff_delay(n, base=2, cap=60) for n in range(0, 9)]
    assert delays == [0, 2, 4, 8, 16, 32, 60, 60, 60]
    assert backoff_delay(10_000, base=2, cap=60) == 60


def test_backoff_jitter_adds_at_most_ten_percent_and_never_passes_the_cap() -> None:
    assert backoff_delay(3, base=1, cap=100, jitter=0.999) == pytest.approx(4.3996)
    assert backoff_delay(20, base=1, cap=100, jitter=0.999) == 100


def test_first_sync_searches_unseen_mail_and_remembers_uidnext() -> None:
    plan = plan_sync(SyncState(None, None), 77, uidnext=40, backfill_days=0, today=date(2026, 1, 9))
    assert plan.mode is SyncMode.FIRST
    assert plan.criteria == ["UNSEEN"]
    assert plan.select([12, 3, 12]) == [3, 12]
    assert plan.state_after_batch([3, 12]) == SyncState(77, 39)
    assert plan.state_after_batch([3, 41]) == SyncState(77, 41)


def test_backfill_window_adds_read_mail_since_that_day() -> None:
    plan = plan_sync(
        SyncState(None, None), 1, uidnext=None, backfill_days=7, today=date(2026, 1, 9)
    )
    assert plan.criteria == ["OR", "UNSEEN", "SINCE", date(2026, 1, 2)]
    assert plan.state_after_batch([]) == SyncState(1, 0)


def test_same_uidvalidity_fetches_only_uids_above_the_last_one() -> None:
    plan = plan_sync(SyncState(5, 10), 5, uidnext=13, backfill_days=0, today=date(2026, 1, 9))
    assert plan.mode is SyncMode.INCREMENTAL
    assert plan.criteria == ["UID", "11:*"]
    # "11:*" matches the newest message even when its UID is 10: it must not be refetched.
    assert plan.select([10]) == []
    assert plan.select([12, 11]) == [11, 12]


def test_changed_uidvalidity_resyncs_by_flags_and_forgets_old_uids() -> None:
    plan = plan_sync(SyncState(5, 900), 6, uidnext=3, backfill_days=0, today=date(2026, 1, 9))
    assert plan.mode is SyncMode.RESYNC
    assert plan.criteria == ["UNSEEN"]
    assert plan.select([1, 2]) == [1, 2]
    assert plan.state_after_batch([1, 2]) == SyncState(6, 2)


def test_credentials_round_trip_through_json_and_reject_garbage() -> None:
    grant = OAuth2Credentials("https://login.example/token", "client", "refresh", "secret", "imap")
    for creds in (Credentials(password="pä ss"), Credentials(oauth2=grant)):
        assert Credentials.from_json(creds.to_json()) == creds
    for garbage in ("", "[]", '{"kind": "xoauth2"}', "not json"):
        with pytest.raises(ValueError, match="malformed"):
            Credentials.from_json(garbage)


@pytest.mark.parametrize(
    ("exc", "kind", "text"),
    [
        (
            socket.gaierror(-2, "Name or service not known"),
            FailureKind.DNS,
            "cannot resolve imap.x",
        ),
        (ConnectionRefusedError(111, "Connection refused"), FailureKind.REFUSED, "refused"),
        (TimeoutError("timed out"), FailureKind.TIMEOUT, "did not answer"),
        (
            ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"),
            FailureKind.TLS,
            "TLS",
        ),
        (
            LoginError("b'[AUTHENTICATIONFAILED] Authentication failed.'"),
            FailureKind.AUTH,
            "login refused: [AUTHENTICATIONFAILED] Authentication failed.",
        ),
        (
            LoginError("b'[UNAVAILABLE] Temporary authentication failure, try again later'"),
            FailureKind.THROTTLED,
            "[UNAVAILABLE]",
        ),
        (
            IMAPClientError("select failed: b'[NONEXISTENT] Mailbox doesn't exist'"),
            FailureKind.PROTOCOL,
            "Mailbox doesn't exist",
        ),
        (ConnectionResetError(104, "Connection reset by peer"), FailureKind.NETWORK, "lost"),
    ],
)
def test_failures_are_classified_and_keep_the_servers_words(
    exc: BaseException, kind: FailureKind, text: str
) -> None:
    failure = describe_failure(exc, "imap.x", 993)
    assert failure.kind is kind
    assert text in failure.message
