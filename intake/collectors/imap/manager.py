"""Run one worker thread per enabled IMAP mailbox and follow the table as admins change it.

Every few seconds the manager re-reads the mailboxes: new ones start, removed or disabled ones
stop, and a changed one is stopped and restarted with the new settings once its old thread has
finished (so two connections never work one mailbox at once). No restart of ``intake imap``.
Across processes and hosts, each mailbox's lease in Redis decides which worker thread connects.
"""

from __future__ import annotations

import logging
import threading
from functools import partial

from intake.collectors.imap.alerts import send_failure_alert
from intake.collectors.imap.worker import IDLE_RENEW_SECONDS, MailboxWorker
from intake.core.leases import DEFAULT_TTL_S, Leases
from intake.core.mailbox_state import DEFAULT_ALERT_AFTER, load_imap_configs
from intake.core.runtime import Runtime
from intake.imap.backoff import BASE_SECONDS
from intake.imap.config import MailboxConfig
from intake.imap.failures import Failure

log = logging.getLogger(__name__)

RELOAD_SECONDS = 3.0
STOP_TIMEOUT = 15.0


class ImapManager:
    def __init__(
        self,
        runtime: Runtime,
        *,
        reload_seconds: float = RELOAD_SECONDS,
        backoff_base: float = BASE_SECONDS,
        idle_renew: float = IDLE_RENEW_SECONDS,
        alert_after: int = DEFAULT_ALERT_AFTER,
        lease_ttl: float = DEFAULT_TTL_S,
    ) -> None:
        self.runtime = runtime
        self.leases = Leases(runtime.jobs.connection, lease_ttl)
        self.reload_seconds = reload_seconds
        self.worker_options = {
            "backoff_base": backoff_base,
            "idle_renew": idle_renew,
            "alert_after": alert_after,
        }
        self.workers: dict[int, MailboxWorker] = {}
        self.retiring: dict[int, list[MailboxWorker]] = {}

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    self.reload()
                except Exception:  # database hiccup: keep the running workers
                    log.exception("could not reload mailboxes; keeping the current ones")
                stop.wait(self.reload_seconds)
        finally:
            self.stop_all()

    def reload(self) -> None:
        configs = {c.id: c for c in load_imap_configs(self.runtime.db)}
        for mailbox_id, worker in list(self.workers.items()):
            config = configs.get(mailbox_id)
            if config is None or config.fingerprint() != worker.config.fingerprint():
                log.info(
                    "mailbox %s %s; stopping its connection",
                    worker.config.name,
                    "removed or disabled" if config is None else "changed",
                )
                self.retire(mailbox_id)
        for mailbox_id, retired in list(self.retiring.items()):
            alive = [w for w in retired if w.is_alive()]
            if alive:
                self.retiring[mailbox_id] = alive
            else:
                del self.retiring[mailbox_id]
        for mailbox_id, config in configs.items():
            if mailbox_id not in self.workers and mailbox_id not in self.retiring:
                self.start(config)

    def start(self, config: MailboxConfig) -> None:
        worker = MailboxWorker(
            self.runtime,
            config,
            on_alert=partial(alert_admins, self.runtime),
            backoff_base=self.worker_options["backoff_base"],
            idle_renew=self.worker_options["idle_renew"],
            alert_after=int(self.worker_options["alert_after"]),
            leases=self.leases,
        )
        self.workers[config.id] = worker
        worker.start()

    def retire(self, mailbox_id: int) -> None:
        worker = self.workers.pop(mailbox_id)
        worker.stop()
        self.retiring.setdefault(mailbox_id, []).append(worker)

    def stop_all(self, timeout: float = STOP_TIMEOUT) -> None:
        for mailbox_id in list(self.workers):
            self.retire(mailbox_id)
        for retired in self.retiring.values():
            for worker in retired:
                worker.join(timeout)
                if worker.is_alive():
                    log.warning("mailbox %s did not stop in %.0f s", worker.config.name, timeout)
        self.retiring.clear()


def alert_admins(runtime: Runtime, config: MailboxConfig, failure: Failure, failures: int) -> None:
    log.error("mailbox %s failed %d times in a row: %s", config.name, failures, failure.message)
    send_failure_alert(runtime, config.name, failure.message, failures)
