"""Leases in Redis with fencing tokens: one holder of a named resource at a time, across hosts.

A lease is a Redis key that names its holder and expires unless renewed, so a holder that dies
frees the resource within one time-to-live. Each grant also takes the next number of a counter
that only grows (``INCR``): the fencing token. A holder that was paused past its lease (a long
GC, a frozen VM) may still believe it holds it; the store it writes to therefore compares
tokens and refuses writes carrying a token lower than the highest it has seen
(``intake.core.mailbox_fence`` does this for IMAP mailboxes).

If Redis loses the counter (no persistence, a fresh server), tokens restart low and the store
refuses them; the holder then lifts the counter above the store's token (:meth:`Leases.raise_fence`)
and asks again, so a lost counter costs one retry, never a write by two holders.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

LEASE_KEY = "intake:lease:{}"
FENCE_KEY = "intake:fence:{}"
DEFAULT_TTL_S = 10.0

# Grant only when nobody holds it; the token comes from the counter in the same step.
_ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '#' .. token, 'PX', ARGV[2])
return token
"""
# Renew or release only the lease we hold: after an expiry the key may name someone else.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_RAISE_FENCE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""


@dataclass(frozen=True)
class Lease:
    name: str
    owner: str
    token: int
    ttl_s: float
    asked_at: float  # this host's monotonic clock before the grant was asked for

    @property
    def value(self) -> str:
        """What the Redis key holds: the owner and the token, so a re-grant never matches."""
        return f"{self.owner}#{self.token}"


class Leases:
    """Grants, renews and releases leases; every method is one atomic Redis script."""

    def __init__(self, connection: Redis, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.connection = connection
        self.ttl_s = ttl_s
        self._acquire = connection.register_script(_ACQUIRE)
        self._renew = connection.register_script(_RENEW)
        self._release = connection.register_script(_RELEASE)
        self._raise_fence = connection.register_script(_RAISE_FENCE)

    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl_s * 1000))

    def acquire(self, name: str, owner: str) -> Lease | None:
        """The lease, or None while someone else holds it. Raises RedisError."""
        keys = [LEASE_KEY.format(name), FENCE_KEY.format(name)]
        asked_at = time.monotonic()
        token = int(self._acquire(keys=keys, args=[owner, self._ttl_ms()]))
        return Lease(name, owner, token, self.ttl_s, asked_at) if token else None

    def renew(self, lease: Lease) -> bool:
        """False when the lease expired or passed to another holder. Raises RedisError."""
        keys = [LEASE_KEY.format(lease.name)]
        return bool(self._renew(keys=keys, args=[lease.value, self._ttl_ms()]))

    def release(self, lease: Lease) -> None:
        """Let the next holder in at once instead of after the expiry; quiet if Redis is gone."""
        try:
            self._release(keys=[LEASE_KEY.format(lease.name)], args=[lease.value])
        except RedisError as exc:
            log.warning("lease %s not released (expires by itself): %s", lease.name, exc)

    def holder(self, name: str) -> str | None:
        """``owner#token`` of the current holder, or None. Raises RedisError."""
        value = self.connection.get(LEASE_KEY.format(name))
        return value.decode() if isinstance(value, bytes) else None

    def raise_fence(self, name: str, at_least: int) -> None:
        """Make the next token exceed ``at_least`` (the counter was lost). Raises RedisError."""
        self._raise_fence(keys=[FENCE_KEY.format(name)], args=[at_least])


class HeldLease:
    """A lease kept alive by a daemon thread until released or lost.

    Lost means a renewal was refused, or no renewal succeeded within the time-to-live (Redis
    unreachable): by then another process may hold it, so the holder must stop. The deadline is
    measured on this host's monotonic clock from before the grant and each renewal were asked
    for, so it never ends later than the key in Redis does.
    """

    def __init__(self, leases: Leases, lease: Lease) -> None:
        self.leases = leases
        self.lease = lease
        self._deadline = lease.asked_at + lease.ttl_s
        self._lost = threading.Event()
        self._released = threading.Event()
        self._thread = threading.Thread(
            target=self._renew_loop, name=f"lease-{lease.name}", daemon=True
        )
        self._thread.start()

    @property
    def token(self) -> int:
        return self.lease.token

    def valid(self) -> bool:
        if self._lost.is_set() or time.monotonic() >= self._deadline:
            self._lost.set()
            return False
        return True

    def _renew_loop(self) -> None:
        interval = self.lease.ttl_s / 3
        while not self._released.wait(interval):
            sent = time.monotonic()
            try:
                renewed = self.leases.renew(self.lease)
            except RedisError as exc:
                log.warning("lease %s not renewed: %s", self.lease.name, exc)
                continue  # valid() ends it at the deadline if Redis stays away
            if not renewed:
                log.warning("lease %s was lost (expired or taken over)", self.lease.name)
                self._lost.set()
                return
            self._deadline = sent + self.lease.ttl_s

    def release(self) -> None:
        self._released.set()
        self._thread.join(5)
        if not self._lost.is_set():
            self.leases.release(self.lease)
        self._lost.set()
