"""Same Message-ID, different content: both kept, the second flagged and shown (issue 11, item 4).

Re-deliveries of one message (the same bytes, or the same message through another relay with
other trace fields and line endings) stay duplicates.
"""

from __future__ import annotations

import csv
import smtplib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import intake.core.message_rows as message_rows
from intake.core.accept import REUSED_MESSAGE_ID_OF, Accepted, accept_email
from intake.core.db.models import Message, Ticket
from intake.core.jobs import JobQueue
from intake.core.runtime import Runtime
from intake.domain import MessageState, Source
from intake.mail.fingerprint import content_fingerprint
from intake.mail.parse import peek_message_id
from tests.conftest import add_person, json_of, login, make_app, run_jobs
from tests.mailfactory import make_mail

MID = "<reused-1@customer.org>"
FIRST = make_mail(message_id=MID, body="My order 1234 has not arrived.\n")
SECOND = make_mail(message_id=MID, body="Please cancel my subscription.\n")


def accept(runtime: Runtime, raw: bytes) -> Accepted:
    return accept_email(
        runtime, raw, source=Source.SMTP, envelope_from=None, recipients=["support@example.com"]
    )


def messages(runtime: Runtime) -> list[Message]:
    with runtime.db.session() as session:
        rows = list(session.scalars(select(Message).order_by(Message.id)))
        session.expunge_all()
        return rows


def test_other_content_under_a_reused_message_id_is_kept_as_its_own_flagged_message(
    runtime: Runtime,
) -> None:
    first = accept(runtime, FIRST)
    second = accept(runtime, SECOND)
    assert not first.duplicate and first.reused_message_id_of is None
    assert not second.duplicate and second.message_id != first.message_id
    assert second.reused_message_id_of == first.message_id
    one, two = messages(runtime)
    assert (one.id, two.id) == (first.message_id, second.message_id)
    assert one.message_id_header == two.message_id_header == "reused-1@customer.org"
    assert REUSED_MESSAGE_ID_OF not in one.extra
    assert two.extra[REUSED_MESSAGE_ID_OF] == first.message_id
    assert runtime.blobs.get(two.raw_sha256) == SECOND
    # Both wait for the intake job like any other mail.
    queued = runtime.jobs.queue(JobQueue.INTAKE).job_ids
    assert {f"ingest-message-{first.message_id}", f"ingest-message-{second.message_id}"} <= set(
        queued
    )


def test_re_deliveries_stay_duplicates_of_the_message_they_repeat(runtime: Runtime) -> None:
    first = accept(runtime, FIRST)
    second = accept(runtime, SECOND)
    # The same bytes again (an MTA that did not hear our 250).
    assert accept(runtime, FIRST) == Accepted(first.message_id, duplicate=True)
    # The same message retried through another relay: one more Received field, LF line ends.
    relayed = (
        b"Received: from relay2.customer.org by mx.example.com; Fri, 20 Nov 2026 09:31:00 +0000\n"
        + FIRST.replace(b"\r\n", b"\n")
    )
    assert accept(runtime, relayed) == Accepted(first.message_id, duplicate=True)
    # A re-delivery of the second message is a duplicate of the second, not a third row.
    again = accept(runtime, SECOND)
    assert again.duplicate and again.message_id == second.message_id
    # A third content under the same Message-ID is kept too, flagged with the first.
    third = accept(runtime, make_mail(message_id=MID, body="And where is my refund?\n"))
    assert not third.duplicate and third.reused_message_id_of == first.message_id
    assert [m.id for m in messages(runtime)] == [
        first.message_id,
        second.message_id,
        third.message_id,
    ]


def send(port: int, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        assert client.sendmail("alice@customer.org", ["support@example.com"], raw) == {}


def test_over_smtp_both_are_processed_threaded_and_the_second_is_shown_as_reusing(
    runtime: Runtime, smtp_port: int
) -> None:
    send(smtp_port, FIRST)
    send(smtp_port, SECOND)
    send(smtp_port, FIRST)  # a retry: still one row for it
    run_jobs(runtime, "intake")
    one, two = messages(runtime)
    assert one.state == two.state == MessageState.PROCESSED
    assert one.ticket_id is not None and two.ticket_id is not None
    assert two.text is not None and "cancel my subscription" in two.text
    # A reply to that Message-ID joins one of their tickets instead of opening a new one.
    send(smtp_port, make_mail(message_id="<reply-1@customer.org>", in_reply_to=MID, body="Hi?\n"))
    run_jobs(runtime, "intake")
    reply = messages(runtime)[-1]
    assert reply.ticket_id in {one.ticket_id, two.ticket_id}
    with runtime.db.session() as session:
        assert session.scalar(select(func.count(Ticket.id))) == 2

    token = add_person(runtime, "agent@example.com")
    bearer = {"Authorization": f"Bearer {token}"}
    client = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    login(client, "agent@example.com")
    page = client.get(f"/tickets/{two.ticket_id}").get_data(as_text=True)
    assert f'This message reuses the Message-ID of <a href="/messages/{one.id}/raw">' in page
    assert f"message {one.id}</a> with different content." in page
    first_page = client.get(f"/tickets/{one.ticket_id}").get_data(as_text=True)
    assert "reuses the Message-ID" not in first_page
    api = json_of(client.get(f"/api/tickets/{two.ticket_id}", headers=bearer))
    shown = {m["id"]: m["reused_message_id_of"] for m in api["messages"]}
    assert shown[two.id] == one.id
    api_first = json_of(client.get(f"/api/tickets/{one.ticket_id}", headers=bearer))
    assert [m["reused_message_id_of"] for m in api_first["messages"]] == [None]


def test_real_corpus_mail_reusing_a_message_id(shared_data: Path, runtime: Runtime) -> None:
    """Pairs from ../shared/data/email: other mail under one Message-ID, and one mail as LF, CRLF
    and CR copies (sisimai's bsd/dos/mac folders), which is the same message."""
    corpus = shared_data / "email"
    different = ["zbateson-mail-mime-parser/m0014.txt", "zbateson-mail-mime-parser/m4003.txt"]
    same = [f"sisimai-set-of-emails/maildir/{d}/lhost-postfix-01.eml" for d in ("bsd", "dos")]
    raws = {path: (corpus / path).read_bytes() for path in different + same}
    assert raws[different[0]] != raws[different[1]] and raws[same[0]] != raws[same[1]]
    assert peek_message_id(raws[different[0]]) == peek_message_id(raws[different[1]])
    a, b = (accept(runtime, raws[p]) for p in different)
    assert not b.duplicate and b.reused_message_id_of == a.message_id
    c, d = (accept(runtime, raws[p]) for p in same)
    assert d == Accepted(c.message_id, duplicate=True)
    # Every message of the corpus whose Message-ID another one also uses, delivered in index
    # order: one row per distinct content of each Message-ID, every later content flagged.
    with (corpus / "INDEX.tsv").open(encoding="utf-8") as index:
        paths = [
            row["path"] for row in csv.DictReader(index, delimiter="\t") if row["kind"] == "message"
        ]
    by_id: dict[str, list[bytes]] = {}
    for path in paths:
        raw = (corpus / path).read_bytes()
        by_id.setdefault(peek_message_id(raw), []).append(raw)
    groups = {mid: raws for mid, raws in by_id.items() if len(raws) > 1}
    contents = {(mid, content_fingerprint(raw)) for mid, raws in groups.items() for raw in raws}
    byte_variants = {(mid, raw) for mid, raws in groups.items() for raw in raws}
    assert len(byte_variants) > len(contents) > len(groups)  # the corpus has both kinds
    results = [accept(runtime, raw) for raws in groups.values() for raw in raws]
    kept = [r for r in results if not r.duplicate]
    with runtime.db.session() as session:
        rows = session.scalar(select(func.count(Message.id)))
    assert rows == len(contents)  # a, b and c were among them: their deliveries here are repeats
    assert len(kept) == len(contents) - 3
    flagged = [r for r in kept if r.reused_message_id_of is not None]
    assert len(flagged) == len(contents) - len(groups) - 1  # b was flagged before the loop


@pytest.mark.parametrize("raw", [FIRST, SECOND], ids=["same content", "other content"])
def test_losing_the_insert_race_decides_again_against_the_winner(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, raw: bytes
) -> None:
    winner = accept(runtime, FIRST)
    real_find = message_rows._stored_claims
    calls: list[object] = []

    def find_before_the_winner_committed(session: Session, scope_keys: set[Any]) -> Any:
        # The first look-up runs as if the concurrent delivery had not committed yet, so the
        # insert hits the unique constraint; the retry must see the winner and decide again.
        calls.append(scope_keys)
        return {} if len(calls) == 1 else real_find(session, scope_keys)

    monkeypatch.setattr(message_rows, "_stored_claims", find_before_the_winner_committed)
    loser = accept(runtime, raw)
    assert len(calls) >= 2
    if raw == FIRST:
        assert loser == Accepted(winner.message_id, duplicate=True)
    else:
        assert not loser.duplicate and loser.reused_message_id_of == winner.message_id
    assert len(messages(runtime)) == (1 if raw == FIRST else 2)
