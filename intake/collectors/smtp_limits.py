"""Pure decisions behind the SMTP collector's limits: who may connect, who may send now, and
when a client's bytes stop being a line we would ever accept.

No sockets and no clocks here (callers pass ``now``), so every rule is unit-tested directly;
``smtp.py`` only wires these into aiosmtpd's hooks. All of it runs on the SMTP event loop's one
thread, so nothing needs a lock.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_key(host: str) -> str:
    """The unit a per-client limit counts: the IPv4 address, or the IPv6 /64.

    One IPv6 customer is usually given a whole /64, so counting single IPv6 addresses would let
    one client open 2**64 "different" connections. IPv4-mapped IPv6 counts as the IPv4 address.
    """
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


def is_trusted(host: str, networks: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


@dataclass
class ConnectionGate:
    """Counts open connections, in total and per client; trusted clients count in total only."""

    max_total: int
    max_per_client: int
    trusted: tuple[Network, ...] = ()
    total: int = 0
    per_client: dict[str, int] = field(default_factory=dict)

    def admit(self, host: str) -> str | None:
        """The key to :meth:`release` later, or None when this connection is one too many."""
        if self.total >= self.max_total:
            return None
        key = "" if is_trusted(host, self.trusted) else client_key(host)
        if key and self.per_client.get(key, 0) >= self.max_per_client:
            return None
        self.total += 1
        if key:
            self.per_client[key] = self.per_client.get(key, 0) + 1
        return key

    def release(self, key: str) -> None:
        self.total -= 1
        if key:
            left = self.per_client[key] - 1
            if left:
                self.per_client[key] = left
            else:
                # Drop the entry, so a scan of many addresses leaves no memory behind.
                del self.per_client[key]


@dataclass
class RateWindow:
    """At most ``limit`` events per client in any ``window`` seconds (a sliding log).

    Each client keeps at most ``limit`` timestamps, and clients idle for a whole window are
    swept, so the memory is bounded by the events of the last window.
    """

    limit: int
    window: float = 60.0
    events: dict[str, deque[float]] = field(default_factory=dict)
    next_sweep: float = 0.0

    def allow(self, key: str, now: float) -> bool:
        if now >= self.next_sweep:
            self.sweep(now)
        times = self.events.get(key)
        if times is None:
            times = self.events[key] = deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True

    def full(self, key: str, now: float) -> bool:
        """Whether :meth:`allow` would refuse now (without counting an event)."""
        times = self.events.get(key)
        return times is not None and sum(t > now - self.window for t in times) >= self.limit

    def sweep(self, now: float) -> None:
        for key in [
            k for k, times in self.events.items() if not times or times[-1] <= now - self.window
        ]:
            del self.events[key]
        self.next_sweep = now + self.window


@dataclass
class DataBudget:
    """Message bytes all connections together may hold in memory at once.

    Each message's first :data:`FREE_MESSAGE_BYTES` are not charged, so ordinary mail is served
    even while large messages have used the budget up; those come to at most the connection
    limit times the allowance.
    """

    capacity: int
    used: int = 0

    def reserve(self, amount: int) -> bool:
        if self.used + amount > self.capacity:
            return False
        self.used += amount
        return True

    def release(self, amount: int) -> None:
        self.used -= amount


FREE_MESSAGE_BYTES = 1024 * 1024

COMMAND_LINE_CEILING = 12_288
"""No legitimate command line is longer: RFC 4954 section 4 allows AUTH lines of 12,288 octets.
Past this the connection is closed instead of drained (aiosmtpd answers 500 to lines between the
command limit and this, and the session goes on)."""


@dataclass
class StreamGuard:
    """Watches the raw bytes of one connection before aiosmtpd buffers them.

    aiosmtpd drains an over-long line or an over-size message to its end and only then answers,
    so a client sending 24 MB without a line end keeps us reading (and, with a large line limit,
    buffering) all of it. The guard lets the adapter answer and close as soon as the bytes can
    no longer become a message we would accept.
    """

    max_data_line: int
    max_data_bytes: int
    budget: DataBudget | None = None
    max_command_line: int = COMMAND_LINE_CEILING
    in_data: bool = False
    run: int = 0  # octets since the last line feed
    data_bytes: int = 0
    charged: int = 0  # what this connection holds of the shared budget

    def start_data(self) -> None:
        self.in_data = True
        self.data_bytes = 0

    def end_data(self) -> None:
        """The message was stored, refused or abandoned: its bytes are no longer held."""
        self.in_data = False
        if self.budget is not None:
            self.budget.release(self.charged)
        self.charged = 0

    def feed(self, chunk: bytes) -> str | None:
        """None while the bytes may still be accepted, else the reply to send before closing."""
        limit = self.max_data_line if self.in_data else self.max_command_line
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            if self.run + end + 1 - start > limit:
                return self._too_long()
            self.run = 0
            start = end + 1
        self.run += len(chunk) - start
        if self.run > limit:
            return self._too_long()
        if self.in_data:
            self.data_bytes += len(chunk)
            # The final "\r\n.\r\n" and dot-stuffing are not message bytes; a little slack
            # leaves messages right at the limit to aiosmtpd's own 552 after the full read.
            if self.data_bytes > self.max_data_bytes + 1024:
                return "552 5.3.4 Message too big, closing connection"
            due = max(0, self.data_bytes - FREE_MESSAGE_BYTES) - self.charged
            if due > 0 and self.budget is not None:
                if not self.budget.reserve(due):
                    return "451 4.3.1 Too much mail in progress, try again later"
                self.charged += due
        return None

    def _too_long(self) -> str:
        if self.in_data:
            return "500 5.5.2 Line too long (RFC 5321 4.5.3.1.6), closing connection"
        return "500 5.5.2 Command line too long, closing connection"
