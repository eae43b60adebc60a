"""IMAP IDLE delivery latency against a local Dovecot: APPEND returns -> message row committed.

Also measures a small message's latency on one mailbox while another mailbox fetches a 25 MiB
message. Needs dovecot (Debian dovecot-imapd). Run from the repository root:
    .venv/bin/python tests/bench/bench_imap_idle.py [--messages N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from intake.cli.embedded_redis import EmbeddedRedis  # noqa: E402
from intake.collectors.imap.manager import ImapManager  # noqa: E402
from intake.core.db.migrate import upgrade  # noqa: E402
from intake.core.runtime import Runtime  # noqa: E402
from tests.conftest import make_runtime  # noqa: E402
from tests.imap.conftest import add_imap_mailbox, stored_count, wait_for  # noqa: E402
from tests.imap.dovecot import running_dovecot  # noqa: E402
from tests.imap.test_imap_dovecot import mail_with_attachment  # noqa: E402
from tests.mailfactory import make_mail  # noqa: E402


def has_count(runtime: Runtime, mailbox_id: int, count: int) -> bool:
    return stored_count(runtime, mailbox_id) == count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        redis = EmbeddedRedis(work / "redis")
        redis_url = redis.start()
        database_url = f"sqlite:///{work / 'intake.sqlite3'}"
        upgrade(database_url)
        runtime = make_runtime(work, database_url, redis_url)
        stop = threading.Event()
        try:
            with running_dovecot({"alice": "pw-a", "bob": "pw-b"}) as server:
                from tests.imap import conftest

                conftest.USERS.update({"alice": "pw-a", "bob": "pw-b"})
                a = add_imap_mailbox(runtime, server, "a", "alice", poll_seconds=3600)
                b = add_imap_mailbox(runtime, server, "b", "bob", poll_seconds=3600)
                manager = ImapManager(runtime, reload_seconds=0.2)
                thread = threading.Thread(target=manager.run, args=(stop,), daemon=True)
                thread.start()
                wait_for(lambda: stored_count(runtime) == 0 and len(manager.workers) == 2)
                time.sleep(1.0)  # let both connections reach IDLE
                latencies = []
                for n in range(args.messages):
                    server.append(make_mail(message_id=f"<bench-{n}@x>"), user="alice")
                    latencies.append(wait_for(partial(has_count, runtime, a, n + 1)))
                print(
                    f"IDLE latency over {args.messages} messages: "
                    f"median {statistics.median(latencies) * 1000:.0f} ms, "
                    f"max {max(latencies) * 1000:.0f} ms"
                )
                big = mail_with_attachment("<bench-big@x>", os.urandom(19 * 1024 * 1024))
                started = time.monotonic()
                server.append(big, user="alice")
                appended = time.monotonic()
                server.append(make_mail(message_id="<bench-small@x>"), user="bob")
                small = wait_for(lambda: stored_count(runtime, b) == 1, timeout=60)
                total = wait_for(lambda: stored_count(runtime, a) == args.messages + 1, timeout=120)
                print(
                    f"{len(big) / 2**20:.1f} MiB message: APPEND {appended - started:.2f} s, "
                    f"stored {total:.2f} s after that; small message on the other mailbox "
                    f"stored {small:.2f} s after its APPEND"
                )
                stop.set()
                thread.join(30)
        finally:
            runtime.close()
            redis.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
