"""Reconnect delays: exponential per mailbox, capped, with a little jitter so mailboxes on one
server do not all knock at the same instant after an outage."""

from __future__ import annotations

BASE_SECONDS = 5.0
CAP_SECONDS = 600.0


def backoff_delay(
    failures: int, *, base: float = BASE_SECONDS, cap: float = CAP_SECONDS, jitter: float = 0.0
) -> float:
    """Seconds to wait after ``failures`` failures in a row; ``jitter`` in [0, 1) adds up to 10%."""
    if failures <= 0:
        return 0.0
    # 2**failures overflows floats long after the cap is reached: clamp the exponent.
    delay = min(cap, base * float(2 ** min(failures - 1, 62)))
    return min(cap, delay * (1.0 + 0.1 * max(0.0, min(jitter, 1.0))))
