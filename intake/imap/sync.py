"""UID bookkeeping: which messages to fetch on this connection, and what to remember afterwards.

The mailbox row keeps (UIDVALIDITY, last UID). On the first connection, or when the server
changed UIDVALIDITY (folder recreated, server migrated), UIDs mean nothing: we search by flags
(unseen mail, optionally a backfill window) and let the per-mailbox Message-ID dedup of
``accept_email`` drop what is already stored. Otherwise we fetch UIDs above the last one seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum


class SyncMode(str, Enum):
    FIRST = "first"  # never synced: unseen mail (and the backfill window) only
    RESYNC = "resync"  # UIDVALIDITY changed: same search, dedup drops what we have
    INCREMENTAL = "incremental"  # UIDs above last_uid


@dataclass(frozen=True)
class SyncState:
    uidvalidity: int | None
    last_uid: int | None


@dataclass(frozen=True)
class SyncPlan:
    mode: SyncMode
    criteria: list[str | date]
    uidvalidity: int
    baseline_uid: int  # UIDNEXT - 1 at SELECT time: where a flag search leaves off
    last_uid: int  # for INCREMENTAL, the stored last UID

    def select(self, found: Iterable[int]) -> list[int]:
        """UIDs to fetch, oldest first. ``N:*`` always matches the newest message, even below N."""
        uids = sorted(set(found))
        if self.mode is SyncMode.INCREMENTAL:
            return [uid for uid in uids if uid > self.last_uid]
        return uids

    def state_after_batch(self, fetched: Iterable[int]) -> SyncState:
        """What to store once every selected message was handled."""
        return SyncState(self.uidvalidity, max([self.baseline_uid, self.last_uid, *fetched]))


def plan_sync(
    state: SyncState, uidvalidity: int, uidnext: int | None, backfill_days: int, today: date
) -> SyncPlan:
    baseline = max(0, (uidnext or 1) - 1)
    if state.uidvalidity is not None and state.uidvalidity == uidvalidity:
        last = state.last_uid or 0
        return SyncPlan(SyncMode.INCREMENTAL, ["UID", f"{last + 1}:*"], uidvalidity, last, last)
    mode = SyncMode.FIRST if state.uidvalidity is None else SyncMode.RESYNC
    criteria: list[str | date] = ["UNSEEN"]
    if backfill_days > 0:
        criteria = ["OR", "UNSEEN", "SINCE", today - timedelta(days=backfill_days)]
    # A flag search may meet UIDs beyond UIDNEXT-1 (mail arriving meanwhile): they are
    # fetched too, and the next incremental search starts above the highest one.
    return SyncPlan(mode, criteria, uidvalidity, baseline, 0)
