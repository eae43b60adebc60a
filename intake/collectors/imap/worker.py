"""One mailbox, one thread, one long-lived connection: sync, then IDLE (or poll), repeat.

Per message the order is fixed: FETCH BODY.PEEK[] (the server marks nothing), ``accept_email``
(durable: blob + committed row), post-action on the server, then the UID is recorded. A crash
between any two steps only repeats work that the per-mailbox Message-ID dedup makes harmless,
and a message stored but not yet recorded is finished by the next connection without being
fetched again (``mailbox_fence.last_stored_uid``).

Several ``intake imap`` processes may run: each mailbox is worked by the one holding its lease
(``intake.core.leases``); the others wait in standby and take over within seconds of the
holder's death. The UID bookkeeping is written with the lease's fencing token, so a holder that
lost its lease cannot move it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from imapclient import DELETED, SEEN, IMAPClient

from intake.core import mailbox_fence
from intake.core.accept import accept_email
from intake.core.db.engine import Database
from intake.core.heartbeat import process_name
from intake.core.leases import HeldLease, Leases
from intake.core.mailbox_state import (
    DEFAULT_ALERT_AFTER,
    ConnState,
    read_sync_state,
    record_failure,
    record_success,
    save_secret,
    set_state,
)
from intake.core.metrics import count_accepted, count_imap_error
from intake.core.runtime import Runtime
from intake.core.secrets import decrypt, encrypt
from intake.domain import Source
from intake.imap.backoff import BASE_SECONDS, backoff_delay
from intake.imap.config import AfterKind, Credentials, MailboxConfig
from intake.imap.connection import TokenCache, logout_quietly, open_connection, select_folder
from intake.imap.failures import Failure, FailureKind, ImapProtocolError, describe_failure
from intake.imap.sync import SyncMode, SyncState, plan_sync

log = logging.getLogger(__name__)

# RFC 2177: servers may drop an IDLE after 30 minutes; re-issue well before. Renewing also
# bounds how long a silently dead connection (no RST, no BYE) can go unnoticed.
IDLE_RENEW_SECONDS = 10 * 60
# How often an IDLE wait wakes to notice a stop request.
IDLE_CHECK_SECONDS = 1.0

# How often a poller in standby asks for a mailbox's lease: the takeover delay after a holder
# dies is its lease's time-to-live plus at most this.
STANDBY_SECONDS = 1.0

AlertHook = Callable[[MailboxConfig, Failure, int], None]


class ServerClosed(ConnectionError):
    """The server said BYE (shutdown, idle timeout): reconnect."""


class LeaseLost(Exception):
    """Another poller holds this mailbox now: drop the connection, back to standby."""


class MailboxWorker(threading.Thread):
    def __init__(
        self,
        runtime: Runtime,
        config: MailboxConfig,
        *,
        backoff_base: float = BASE_SECONDS,
        idle_renew: float = IDLE_RENEW_SECONDS,
        alert_after: int = DEFAULT_ALERT_AFTER,
        on_alert: AlertHook | None = None,
        leases: Leases | None = None,
    ) -> None:
        super().__init__(name=f"imap-{config.name}", daemon=True)
        self.leases = leases or Leases(runtime.jobs.connection)
        self.held: HeldLease | None = None
        # Set per connection: its first round looks for a message stored but not finished.
        self.finish_interrupted = True
        self.runtime = runtime
        self.config = config
        self.backoff_base = backoff_base
        self.idle_renew = idle_renew
        self.alert_after = alert_after
        self.on_alert = on_alert
        self.stopping = threading.Event()
        self.tokens = TokenCache()
        self.failures = 0

    def stop(self) -> None:
        self.stopping.set()

    @property
    def db(self) -> Database:
        return self.runtime.db

    def run(self) -> None:
        log.info(
            "mailbox %s: starting (%s:%s, folder %s)",
            self.config.name,
            self.config.host,
            self.config.port,
            self.config.folder,
        )
        while not self.stopping.is_set():
            self.held = self.wait_for_lease()
            if self.held is None:
                break
            try:
                self.serve_while_held()
            finally:
                self.held.release()
                self.held = None
        log.info("mailbox %s: stopped", self.config.name)

    def wait_for_lease(self) -> HeldLease | None:
        """Standby until this process holds the mailbox's lease (None: asked to stop)."""
        name = mailbox_fence.lease_name(self.config.id)
        waiting_logged = failing = False
        while not self.stopping.is_set():
            try:
                lease = self.leases.acquire(name, process_name())
                failing = False
                if lease is not None:
                    higher = mailbox_fence.claim(self.db, self.config.id, lease.token)
                    if higher is None:
                        log.info(
                            "mailbox %s: lease taken (token %d)", self.config.name, lease.token
                        )
                        return HeldLease(self.leases, lease)
                    # Redis lost the lease counter: lift it past the row's fence and ask again.
                    log.warning(
                        "mailbox %s: token %d is below the stored %d; raising the counter",
                        self.config.name,
                        lease.token,
                        higher,
                    )
                    self.leases.release(lease)
                    self.leases.raise_fence(name, higher)
                    continue
                if not waiting_logged:
                    log.info("mailbox %s: held by another poller; standing by", self.config.name)
                    waiting_logged = True
            except Exception:  # Redis or the database away: keep asking, say so once
                if not failing:
                    log.warning(
                        "mailbox %s: cannot take the lease", self.config.name, exc_info=True
                    )
                failing = True
            self.stopping.wait(STANDBY_SECONDS)
        return None

    def serve_while_held(self) -> None:
        while not self.stopping.is_set():
            try:
                self.connect_and_serve()
            except LeaseLost:
                log.warning("mailbox %s: lease lost; standing by", self.config.name)
                return
            except Exception as exc:  # any failure means: record, back off, retry
                self.fail(exc)
        try:
            self.check_lease()
            set_state(self.db, self.config.id, ConnState.STOPPED)
        except Exception:  # stopping anyway; the next start rewrites the state
            log.warning("mailbox %s: could not record the stop", self.config.name, exc_info=True)

    def check_lease(self) -> None:
        """Raises LeaseLost unless this thread still holds the mailbox."""
        if self.held is None or not self.held.valid():
            raise LeaseLost(self.config.name)

    def save_sync_state(self, state: SyncState) -> None:
        assert self.held is not None
        if not mailbox_fence.save_sync_state(self.db, self.config.id, self.held.token, state):
            raise LeaseLost(self.config.name)

    def fail(self, exc: BaseException) -> None:
        self.failures += 1
        failure = describe_failure(exc, self.config.host, self.config.port)
        count_imap_error(self.config.name, failure.kind.value)
        if failure.kind is FailureKind.AUTH:
            # A revoked access token looks fresh by its expiry: fetch a new one next time.
            self.tokens.current = None
        delay = backoff_delay(self.failures, base=self.backoff_base, jitter=random.random())
        log.warning(
            "mailbox %s: %s (failure %d, retrying in %.1f s)",
            self.config.name,
            failure.message,
            self.failures,
            delay,
        )
        try:
            if record_failure(self.db, self.config.id, failure, self.alert_after) and self.on_alert:
                self.on_alert(self.config, failure, self.failures)
        except Exception:  # the database may be what failed; keep the thread alive
            log.exception("mailbox %s: could not record the failure", self.config.name)
        self.stopping.wait(delay)

    def credentials(self) -> Credentials:
        if self.config.secret_encrypted is None:
            raise ValueError("no password or OAuth2 grant is stored for this mailbox")
        return Credentials.from_json(decrypt(self.runtime.settings, self.config.secret_encrypted))

    def rotate(self, creds: Credentials) -> None:
        """The provider rotated the refresh token: keep the new one, or the next refresh fails."""
        token = encrypt(self.runtime.settings, creds.to_json())
        save_secret(self.db, self.config.id, token)
        # The manager compares fingerprints: this change is ours, not a reason to reconnect.
        self.config = replace(self.config, secret_encrypted=token)

    def connect_and_serve(self) -> None:
        set_state(self.db, self.config.id, ConnState.CONNECTING)
        client = open_connection(self.config, self.credentials(), self.tokens, self.rotate)
        self.finish_interrupted = True
        try:
            self.prepare(client)
            idle = b"IDLE" in client.capabilities()
            while not self.stopping.is_set():
                # Mail that arrived while we fetched was announced (EXISTS) during our own
                # commands, where imapclient drops it; IDLE would not announce it again. So
                # sync until a round finds nothing, and only then wait.
                while self.sync(client) and not self.stopping.is_set():
                    pass
                self.failures = 0
                waiting = ConnState.IDLE if idle else ConnState.POLLING
                record_success(self.db, self.config.id, waiting)
                if idle:
                    self.wait_idle(client)
                else:
                    self.wait_poll()
        finally:
            logout_quietly(client)

    def prepare(self, client: IMAPClient) -> None:
        after = self.config.after
        if after.kind is AfterKind.MOVE and after.folder and not client.folder_exists(after.folder):
            client.create_folder(after.folder)

    def sync(self, client: IMAPClient) -> int:
        """One round: SELECT, search, take each message; returns how many were selected."""
        # Re-SELECT every round: cheap, and it reveals a UIDVALIDITY change.
        uidvalidity, uidnext = select_folder(client, self.config.folder)
        state = read_sync_state(self.db, self.config.id)
        plan = plan_sync(
            state, uidvalidity, uidnext, self.config.backfill_days, datetime.now(UTC).date()
        )
        if plan.mode is SyncMode.RESYNC:
            log.warning(
                "mailbox %s: UIDVALIDITY changed %s -> %s, resyncing",
                self.config.name,
                state.uidvalidity,
                uidvalidity,
            )
        uids = plan.select(client.search(plan.criteria))
        if uids:
            set_state(self.db, self.config.id, ConnState.SYNCING)
        stored = None
        if self.finish_interrupted:
            self.finish_interrupted = False
            stored = mailbox_fence.last_stored_uid(self.db, self.config.id, uidvalidity)
        for uid in uids:
            if self.stopping.is_set():
                return 0  # a flag-search batch is simply redone; incremental progress is saved
            self.check_lease()
            if uid == stored:
                log.info(
                    "mailbox %s: UID %s was stored before the last connection ended; finishing it",
                    self.config.name,
                    uid,
                )
                self.after_action(client, uid)
            else:
                self.take(client, uid, uidvalidity)
            if plan.mode is SyncMode.INCREMENTAL:
                self.save_sync_state(replace(state, uidvalidity=uidvalidity, last_uid=uid))
        if plan.mode is not SyncMode.INCREMENTAL:
            self.save_sync_state(plan.state_after_batch(uids))
        return len(uids)

    def take(self, client: IMAPClient, uid: int, uidvalidity: int) -> None:
        """Fetch one message (bodies one at a time: a 25 MiB mail blocks only this mailbox)."""
        started = time.monotonic()
        response = client.fetch([uid], [b"BODY.PEEK[]"]).get(uid)
        if response is None:
            log.info("mailbox %s: UID %s vanished before it was fetched", self.config.name, uid)
            return
        raw = response.get(b"BODY[]")
        if not isinstance(raw, bytes):
            # Raising keeps the UID unrecorded: the round is retried with backoff and the
            # mailbox shows the error instead of silently skipping the message.
            raise ImapProtocolError(f"UID {uid} came without a body; it stays on the server")
        accepted = accept_email(
            self.runtime,
            raw,
            source=Source.IMAP,
            envelope_from=None,
            recipients=list(self.config.addresses),
            mailbox_id=self.config.id,
            extra={"imap": {"folder": self.config.folder, "uid": uid, "uidvalidity": uidvalidity}},
        )
        count_accepted("imap")
        # Only now, with the message durable, may the server forget it.
        self.after_action(client, uid)
        log.info(
            "mailbox %s: UID %s -> message %s%s (%d bytes, %.2f s)",
            self.config.name,
            uid,
            accepted.message_id,
            " (duplicate)" if accepted.duplicate else "",
            len(raw),
            time.monotonic() - started,
        )

    def after_action(self, client: IMAPClient, uid: int) -> None:
        after = self.config.after
        if after.kind is AfterKind.SEEN:
            client.add_flags([uid], [SEEN], silent=True)
        elif after.kind is AfterKind.MOVE:
            assert after.folder is not None
            if client.has_capability("MOVE"):
                client.move([uid], after.folder)
            else:
                client.copy([uid], after.folder)
                self.expunge(client, uid)
        else:
            self.expunge(client, uid)

    def expunge(self, client: IMAPClient, uid: int) -> None:
        client.add_flags([uid], [DELETED], silent=True)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge([uid])
        else:
            client.expunge()

    def wait_poll(self) -> None:
        deadline = time.monotonic() + self.config.poll_seconds
        while not self.stopping.is_set() and time.monotonic() < deadline:
            self.check_lease()
            self.stopping.wait(min(IDLE_CHECK_SECONDS, max(0.0, deadline - time.monotonic())))

    def wait_idle(self, client: IMAPClient) -> None:
        """IDLE until the folder changes, a stop is requested, or it is time to renew."""
        client.idle()
        set_state(self.db, self.config.id, ConnState.IDLE)
        deadline = time.monotonic() + self.idle_renew
        early_empty = 0
        while not self.stopping.is_set() and time.monotonic() < deadline:
            self.check_lease()
            started = time.monotonic()
            responses = client.idle_check(timeout=IDLE_CHECK_SECONDS)
            # imapclient swallows EOF in idle_check and returns [] at once: the socket was
            # readable yet held no line. A timeout returns [] only after the full wait.
            if not responses and time.monotonic() - started < IDLE_CHECK_SECONDS / 2:
                early_empty += 1
                if early_empty >= 2:
                    raise ServerClosed("server closed the connection during IDLE")
                continue
            early_empty = 0
            if any(_is_bye(r) for r in responses):
                raise ServerClosed(f"server closed the connection: {_bye_text(responses)}")
            if any(_is_change(r) for r in responses):
                break
        client.idle_done()


def _is_change(response: tuple[object, ...]) -> bool:
    return len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT")


def _is_bye(response: tuple[object, ...]) -> bool:
    return bool(response) and response[0] == b"BYE"


def _bye_text(responses: list[tuple[object, ...]]) -> str:
    for response in responses:
        if _is_bye(response) and len(response) > 1 and isinstance(response[1], bytes):
            return response[1].decode("utf-8", "replace")
    return "BYE"
