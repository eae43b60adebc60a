"""Deciding and inserting ``received`` message rows, for one item or a whole batch at once.

Email is deduplicated by (scope, Message-ID): a re-delivery of the same message (same bytes, or
the same content under other line endings and trace fields) is answered with the first row. A
different message that reuses the Message-ID is kept as its own row, under the key
``<Message-ID>#<content sha256>``, and flagged in ``extra[REUSED_MESSAGE_ID_OF]`` with the id
of the first message.

A batch costs one SELECT for every key it holds and one multi-row INSERT (two when a message
reuses the Message-ID of another message of the same batch), instead of a query and an ORM
flush per message; the decisions are the same as for items stored one at a time, including
between items of the same batch. The caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert, select, tuple_
from sqlalchemy.orm import Session

from intake.core.blobs import Blobs
from intake.core.db.base import utcnow
from intake.core.db.models import Message
from intake.domain import Channel, MessageState, Source
from intake.errors import NotFoundError
from intake.mail.fingerprint import content_fingerprint

_MESSAGES: Table = Message.__table__  # type: ignore[assignment]  # a Table, typed FromClause
DEDUP_KEY_MAX = 600  # the column's length
# ``Message.extra`` key on a message that reuses an earlier message's Message-ID with other
# content: the id of that earlier message.
REUSED_MESSAGE_ID_OF = "reused_message_id_of"
# Strings from outside are cut to their columns (PostgreSQL refuses longer ones; the raw bytes
# keep the whole value).
_LENGTHS: dict[str, int] = {
    column.name: length
    for column in Message.__table__.columns
    if (length := getattr(column.type, "length", None))
}


@dataclass(frozen=True)
class Accepted:
    message_id: int
    duplicate: bool
    # Kept as its own message although an earlier one (this id) has the same Message-ID.
    reused_message_id_of: int | None = None


@dataclass
class NewMessage:
    """What a collector knows about an item before any parsing."""

    source: Source
    channel: Channel
    dedup_scope: str
    dedup_key: str
    raw_sha256: str
    raw_size: int
    raw_content_type: str
    mailbox_id: int | None = None
    message_id_header: str | None = None
    envelope_from: str | None = None
    envelope_to: list[str] = field(default_factory=list)
    caller_number: str | None = None
    caller_name: str | None = None
    received_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def dedup_scope_for(mailbox_id: int | None, recipients: Sequence[str]) -> str:
    if mailbox_id is not None:
        return f"mailbox:{mailbox_id}"
    domains = sorted({r.rpartition("@")[2].lower() for r in recipients if "@" in r})
    return "domain:" + ",".join(domains) if domains else "unscoped"


@dataclass
class _Claim:
    """A (scope, key) taken: by a stored row (``id``) or by a row of this batch (``row``)."""

    sha256: str
    id: int | None = None
    row: int | None = None  # index into the batch's inserts
    raw: bytes | None = None  # a batch row's bytes, for its content fingerprint


@dataclass
class _Decision:
    claim: _Claim  # the row this item is, or duplicates
    duplicate: bool
    reused_of: _Claim | None = None


def store_rows(
    session: Session, blobs: Blobs, items: Sequence[tuple[NewMessage, bytes | None]]
) -> list[Accepted]:
    """Insert the rows of ``items`` (with ``raw`` for email) in the caller's transaction."""
    return plan_rows(session, blobs, items).insert(session)


@dataclass
class PlannedRows:
    """The rows of a batch, decided by reading only; :meth:`insert` writes them.

    Apart so that a caller can do the reading before it takes the database's one writer slot
    (SQLite), and hold that slot only for the INSERT and the commit.
    """

    inserts: list[dict[str, Any]]
    decisions: list[_Decision]

    def insert(self, session: Session) -> list[Accepted]:
        _insert_rows(session, self.inserts, self.decisions)
        return [
            Accepted(
                _id(d.claim),
                duplicate=d.duplicate,
                reused_message_id_of=_id(d.reused_of) if d.reused_of is not None else None,
            )
            for d in self.decisions
        ]


def plan_rows(
    session: Session, blobs: Blobs, items: Sequence[tuple[NewMessage, bytes | None]]
) -> PlannedRows:
    """Decide the rows of ``items`` (duplicates, reused Message-IDs) without writing."""
    scope_keys = {(item.dedup_scope[: _LENGTHS["dedup_scope"]], _key(item)) for item, _ in items}
    claims = _stored_claims(session, scope_keys)
    inserts: list[dict[str, Any]] = []
    decisions = [_decide(session, blobs, claims, inserts, item, raw) for item, raw in items]
    return PlannedRows(inserts, decisions)


def _key(item: NewMessage) -> str:
    return item.dedup_key[:DEDUP_KEY_MAX]


def _id(claim: _Claim) -> int:
    assert claim.id is not None  # every row of the batch has its id once inserted
    return claim.id


def _stored_claims(
    session: Session, scope_keys: set[tuple[str, str]]
) -> dict[tuple[str, str], _Claim]:
    rows = session.execute(
        select(Message.dedup_scope, Message.dedup_key, Message.id, Message.raw_sha256).where(
            tuple_(Message.dedup_scope, Message.dedup_key).in_(sorted(scope_keys))
        )
    )
    return {(scope, key): _Claim(sha256, id=row_id) for scope, key, row_id, sha256 in rows}


def _decide(
    session: Session,
    blobs: Blobs,
    claims: dict[tuple[str, str], _Claim],
    inserts: list[dict[str, Any]],
    item: NewMessage,
    raw: bytes | None,
) -> _Decision:
    scope = item.dedup_scope[: _LENGTHS["dedup_scope"]]
    first = claims.get((scope, _key(item)))
    if first is None:
        claim = claims[(scope, _key(item))] = _new_row(inserts, item, _key(item), raw)
        return _Decision(claim, duplicate=False)
    if raw is None or first.sha256 == item.raw_sha256:
        return _Decision(first, duplicate=True)
    fingerprint = content_fingerprint(raw)
    if _fingerprint(blobs, first) == fingerprint:
        return _Decision(first, duplicate=True)  # the same message, other transit headers
    # Other content under the same Message-ID: its own key, so that a re-delivery of this one
    # is still a duplicate (of it), and a third variant gets a key of its own too.
    variant_key = f"{item.dedup_key[: DEDUP_KEY_MAX - 65]}#{fingerprint}"
    variant = claims.get((scope, variant_key))
    if variant is None:
        variant = _stored_claims(session, {(scope, variant_key)}).get((scope, variant_key))
    if variant is not None:
        claims[(scope, variant_key)] = variant
        return _Decision(variant, duplicate=True, reused_of=first)
    claim = claims[(scope, variant_key)] = _new_row(inserts, item, variant_key, raw)
    return _Decision(claim, duplicate=False, reused_of=first)


def _fingerprint(blobs: Blobs, claim: _Claim) -> str | None:
    if claim.raw is not None:
        return content_fingerprint(claim.raw)
    try:
        return content_fingerprint(blobs.get(claim.sha256))
    except NotFoundError:
        # The first message's bytes are gone: nothing shows it was the same, so keep this one.
        return None


def _new_row(
    inserts: list[dict[str, Any]], item: NewMessage, key: str, raw: bytes | None
) -> _Claim:
    values = {
        "source": item.source,
        "channel": item.channel,
        "state": MessageState.RECEIVED,
        "dedup_scope": item.dedup_scope,
        "dedup_key": key,
        "raw_sha256": item.raw_sha256,
        "raw_size": item.raw_size,
        "raw_content_type": item.raw_content_type,
        "mailbox_id": item.mailbox_id,
        "message_id_header": item.message_id_header,
        "envelope_from": item.envelope_from,
        "envelope_to": item.envelope_to,
        "caller_number": item.caller_number,
        "caller_name": item.caller_name,
        "received_at": item.received_at or utcnow(),
        "extra": dict(item.extra),
    }
    for name, value in values.items():
        if isinstance(value, str) and len(value) > _LENGTHS.get(name, len(value)):
            values[name] = value[: _LENGTHS[name]]
    inserts.append(values)
    return _Claim(item.raw_sha256, row=len(inserts) - 1, raw=raw)


def _insert_rows(
    session: Session, inserts: list[dict[str, Any]], decisions: list[_Decision]
) -> None:
    """Insert in one statement; rows that name another row of the batch in a second one."""
    claims = {d.claim.row: d for d in decisions if not d.duplicate and d.claim.row is not None}
    waiting = {row for row, d in claims.items() if d.reused_of and d.reused_of.id is None}
    for rows in ([r for r in claims if r not in waiting], sorted(waiting)):
        if not rows:
            continue
        for row in rows:
            reused_of = claims[row].reused_of
            if reused_of is not None:
                inserts[row]["extra"][REUSED_MESSAGE_ID_OF] = _id(reused_of)
        # RETURNING in parameter order makes SQLite run one INSERT per row; unordered, the rows
        # go in one multi-row statement, and each id is matched back by its unique key. On the
        # table, not the ORM class: the ORM's bulk path costs a fifth more CPU a row (the values
        # are complete dicts already, nothing of the ORM applies to them).
        returned = session.execute(
            insert(_MESSAGES).returning(
                _MESSAGES.c.id, _MESSAGES.c.dedup_scope, _MESSAGES.c.dedup_key
            ),
            [inserts[row] for row in rows],
        )
        ids = {(scope, key): row_id for row_id, scope, key in returned}
        for row in rows:
            claims[row].claim.id = ids[(inserts[row]["dedup_scope"], inserts[row]["dedup_key"])]
