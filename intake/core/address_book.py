"""Which RCPT TO addresses are ours, answered from memory.

The SMTP collector asks for every recipient; reading the mailbox table each time cost a query
and a table scan per RCPT. The book keeps an immutable snapshot of the enabled mailboxes'
addresses and refreshes it when the table changed: a one-row aggregate (row count, highest id,
latest ``updated_at``) says whether anything was added, removed or edited, and only then is the
table read again. Every change path (admin UI, CLI, IMAP state updates) sets ``updated_at``.

A snapshot younger than ``max_age`` is trusted without asking; an address it does not know is
always checked against the database first, so a mailbox added a moment ago is accepted at once.
A mailbox removed within ``max_age`` may still be accepted at RCPT; the store checks again
inside its transaction (:meth:`AddressBook.refresh`), so such mail gets 451, never a false 250.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.core.db.engine import Database
from intake.core.db.models import Mailbox


@dataclass(frozen=True)
class RecipientMatch:
    address: str
    mailbox_id: int | None  # None: accepted by domain, no mailbox configured


TableVersion = tuple[int, int | None, datetime | None]


@dataclass(frozen=True)
class AddressTable:
    version: TableVersion
    mailbox_of: dict[str, int]  # lower-cased address -> enabled mailbox id


def table_version(session: Session) -> TableVersion:
    row = session.execute(
        select(func.count(Mailbox.id), func.max(Mailbox.id), func.max(Mailbox.updated_at))
    ).one()
    return (int(row[0]), row[1], row[2])


def load_table(session: Session) -> AddressTable:
    version = table_version(session)
    mailbox_of: dict[str, int] = {}
    rows = session.execute(
        select(Mailbox.id, Mailbox.addresses).where(Mailbox.enabled.is_(True)).order_by(Mailbox.id)
    )
    for mailbox_id, addresses in rows:
        for address in addresses or ():
            # Addresses are unique across mailboxes (the admin checks); the oldest wins if not.
            mailbox_of.setdefault(str(address).strip().lower(), mailbox_id)
    return AddressTable(version, mailbox_of)


class AddressBook:
    """The accepted recipients of one process; safe to use from several threads."""

    def __init__(self, db: Database, accept_domains: Sequence[str], max_age: float = 1.0) -> None:
        self.db = db
        self.accept_domains = frozenset(d.strip().lower() for d in accept_domains)
        self.max_age = max_age
        self._table: AddressTable | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def cached(self, address: str) -> RecipientMatch | None:
        """The match from memory when the snapshot is fresh and knows the answer, else None.

        None means "ask :meth:`lookup`" (which may query the database); it never means refused.
        """
        table = self._table
        if table is None or time.monotonic() - self._checked_at > self.max_age:
            return None
        return self.match_in(table, address)

    def lookup(self, address: str) -> RecipientMatch | None:
        """The match, or None when the address is not ours (checked against the database)."""
        table = self._table
        fresh = table is not None and time.monotonic() - self._checked_at <= self.max_age
        if fresh and table is not None and (match := self.match_in(table, address)) is not None:
            return match
        with self.db.session() as session:
            table = self.refresh(session)
        return self.match_in(table, address)

    def refresh(self, session: Session) -> AddressTable:
        """Bring the snapshot up to date within ``session`` (one aggregate query if unchanged)."""
        with self._lock:
            version = table_version(session)
            table = self._table
            if table is None or table.version != version:
                table = load_table(session)
                self._table = table
            self._checked_at = time.monotonic()
            return table

    def match_in(self, table: AddressTable, address: str) -> RecipientMatch | None:
        address = address.strip().lower()
        mailbox_id = table.mailbox_of.get(address)
        if mailbox_id is not None:
            return RecipientMatch(address, mailbox_id)
        domain = address.rpartition("@")[2]
        if domain and (domain in self.accept_domains or "*" in self.accept_domains):
            return RecipientMatch(address, None)
        return None
