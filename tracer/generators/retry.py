"""When to try a request again and how long to wait: exponential backoff with jitter.

Kept apart from any transport so that the policy is tested on its own: servers under load
answer 429/503 in bursts, and clients that retry in lockstep make the burst worse, so every
wait is drawn between half and all of the exponential step (equal jitter), and a server's
Retry-After is honoured up to the cap."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

# Statuses worth another try: the request was fine, the server was not (then or there).
RETRY_STATUSES = frozenset({408, 409, 425, 429})


def retryable_status(status: int) -> bool:
    return status in RETRY_STATUSES or 500 <= status <= 599


class Transient(Exception):
    """A failure that may go away: retried. `retry_after`: the server's hint, in seconds."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """`max_attempts` tries in all; the wait before try n+1 is about base * 2**(n-1), at most `cap`."""

    max_attempts: int = 6
    base: float = 0.5
    cap: float = 30.0

    def __post_init__(self):
        if self.max_attempts < 1 or self.base < 0 or self.cap < 0:
            raise ValueError(f"retry policy needs max_attempts >= 1 and waits >= 0, got {self}")

    def delay(self, attempt: int, retry_after: float | None = None, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait after the `attempt`-th failed try (1-based)."""
        step = min(self.cap, self.base * 2 ** (attempt - 1))
        wait = step / 2 + rng() * step / 2
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.cap))
        return wait


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (the HTTP-date form is rare from model servers and ignored)."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
