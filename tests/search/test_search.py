"""Full-text search in English and Chinese, on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select, text

from intake.cli import main
from intake.core.db.models import Message, Ticket, Transcript
from intake.core.runtime import Runtime
from intake.core.search import SQLITE_TABLE, is_postgres
from intake.core.search_reindex import reindex_all
from intake.core.search_text import document_terms, query_parts, snippet
from intake.core.settings import load_settings
from tests.search.tickets import add_ticket
from web.live import snippet_markup
from web.queries import queue_page
from web.queue_filter import QueueFilter, Viewer

REFUND = "我申请退款已经一个星期了，客服一直没有回复，太失望了"
DELIVERY = "送餐速度很快，味道也不错，下次还会再点"
ENGLISH = "My card payment was declined twice and I want a refund of the duplicate charge."


def search(runtime: Runtime, query: str, **args: str) -> list[int]:
    with runtime.db.session() as session:
        page = queue_page(
            session,
            QueueFilter.from_args({"q": query, **args}),
            Viewer(None, runtime.settings),
            limit=50,
        )
        return [t.id for t in page.tickets]


@pytest.fixture
def tickets(runtime: Runtime) -> dict[str, int]:
    with runtime.db.session() as session:
        rows = {
            "refund_zh": add_ticket(session, "退款问题", REFUND, sender_name="王小明"),
            "delivery_zh": add_ticket(session, "外卖评价", DELIVERY),
            "refund_en": add_ticket(
                session, "Duplicate charge", ENGLISH, sender="alice.w@shop.example"
            ),
            "voicemail": add_ticket(
                session,
                "Voicemail from +15551234567",
                transcript="Hello, this is Bob calling about the broken dishwasher.",
            ),
            "other": add_ticket(session, "Opening hours", "When do you open on Sundays?"),
        }
        session.flush()
        return {name: ticket.id for name, ticket in rows.items()}


def test_terms_split_words_and_chinese_bigrams() -> None:
    assert document_terms("Refund, PLEASE! 退款了") == [
        "refund",
        "please",
        "退款",
        "款了",
        "退",
        "款",
        "了",
    ]
    assert [p.terms for p in query_parts("退款")] == [("退款",)]
    assert [p.terms for p in query_parts("alice.w@shop.example")] == [
        ("alice", "w", "shop", "example")
    ]
    assert query_parts("退")[0].terms == ("退",) and not query_parts("退")[0].prefix
    assert query_parts("refund")[0].prefix
    assert query_parts("  ,, ") == []
    cut = snippet("Hello <b>there</b>, I want a Refund now", "refund")
    assert cut is not None
    assert (
        str(snippet_markup(cut))
        == "Hello &lt;b&gt;there&lt;/b&gt;, I want a <mark>Refund</mark> now"
    )


def test_english_and_chinese_queries_find_their_tickets(
    runtime: Runtime, tickets: dict[str, int]
) -> None:
    assert search(runtime, "退款") == [tickets["refund_zh"]]
    assert search(runtime, "送餐") == [tickets["delivery_zh"]]
    assert search(runtime, "送餐速度很快") == [tickets["delivery_zh"]]
    assert search(runtime, "送餐很快") == []  # its characters, but not side by side
    assert search(runtime, "退") == [tickets["refund_zh"]]  # one character
    assert search(runtime, "王小明") == [tickets["refund_zh"]]  # the sender's name
    assert search(runtime, "refund") == [tickets["refund_en"]]
    assert search(runtime, "DECLINED charge") == [tickets["refund_en"]]
    assert search(runtime, "declin") == [tickets["refund_en"]]  # a word's beginning
    assert search(runtime, "alice.w@shop.example") == [tickets["refund_en"]]
    assert search(runtime, "dishwasher") == [tickets["voicemail"]]  # a transcript
    assert search(runtime, "zzqx nothing like this") == []
    assert search(runtime, "refund", status="resolved") == []  # filters still apply


def test_results_are_ranked_and_carry_marked_snippets(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        weak = add_ticket(session, "Question", "About a refund, maybe, some day. " + "x " * 200)
        strong = add_ticket(session, "Refund refund", "Refund please: refund the refund.")
        session.flush()
        weak_id, strong_id = weak.id, strong.id
    with runtime.db.session() as session:
        page = queue_page(
            session, QueueFilter(q="refund"), Viewer(None, runtime.settings), limit=10
        )
        assert [t.id for t in page.tickets] == [strong_id, weak_id]
        html = str(snippet_markup(page.snippets[weak_id]))
        assert html.startswith("Question someone@example.com About a <mark>refund</mark>, maybe")


def test_the_index_follows_every_write_and_a_rollback(
    runtime: Runtime, tickets: dict[str, int]
) -> None:
    with runtime.db.session() as session:
        message = session.scalars(
            select(Message).where(Message.ticket_id == tickets["other"])
        ).one()
        message.text = "The espresso machine leaks water"
    assert search(runtime, "espresso") == [tickets["other"]]
    assert search(runtime, "sundays") == []
    with runtime.db.session() as session:
        transcript = session.scalars(select(Transcript)).one()
        transcript.text = "Bob again: the fridge hums"
    assert search(runtime, "fridge") == [tickets["voicemail"]]
    assert search(runtime, "dishwasher") == []
    with runtime.db.session() as session:
        ticket = session.get(Ticket, tickets["other"])
        assert ticket is not None
        ticket.subject = "Kaffeemaschine"
        session.flush()
        session.rollback()
    assert search(runtime, "kaffeemaschine") == []
    with runtime.db.session() as session:
        gone = session.get(Ticket, tickets["delivery_zh"])
        assert gone is not None
        session.delete(session.scalars(select(Message).where(Message.ticket_id == gone.id)).one())
        session.delete(gone)
    assert search(runtime, "送餐") == []


def test_reindex_rebuilds_the_same_index(
    runtime: Runtime, tickets: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    with runtime.db.engine.begin() as connection:
        table = "ticket_search" if is_postgres(connection) else SQLITE_TABLE
        connection.execute(text(f"DELETE FROM {table}"))
    assert search(runtime, "退款") == []
    for name, value in {
        "INTAKE_DATA_DIR": str(runtime.settings.data_dir),
        "INTAKE_DATABASE_URL": runtime.settings.database_url,
        "INTAKE_REDIS_URL": runtime.settings.redis_url or "",
        "INTAKE_SECRET_KEY": "test-secret-key-test-secret-key-0123456789",
    }.items():
        monkeypatch.setenv(name, value)
    assert load_settings(os.environ).database_url == runtime.settings.database_url
    assert main(["search", "reindex"]) == 0
    assert search(runtime, "退款") == [tickets["refund_zh"]]
    assert search(runtime, "dishwasher") == [tickets["voicemail"]]
    with runtime.db.engine.begin() as connection:
        assert reindex_all(connection) == len(tickets)
