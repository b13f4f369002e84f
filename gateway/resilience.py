"""Fail fast: one circuit breaker and one concurrency limit per downstream service (gateway side).

A dead service must cost only its own endpoints, and quickly:
- the breaker opens after `threshold` consecutive failures (timeouts, service unavailable) or when its
  health check fails; while open, calls to that service answer 503 at once; after `cool_down` seconds
  one caller probes the service's `health` (short deadline) and closes it again if the service answers;
- the bulkhead bounds the gateway workers one service may hold waiting: a saturated service gets 503s
  beyond `limit` concurrent calls instead of taking every worker (and with them `/me`).

Plain module: time and semaphores only (eventlet's, under the gateway's monkey patching).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from services.common.errors import Unavailable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class Breaker:
    def __init__(self, name: str, threshold: int = 2, cool_down: float = 5.0, clock: Callable = time.monotonic):
        self.name = name
        self.threshold = threshold
        self.cool_down = cool_down
        self.clock = clock
        self.state = CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self.last_error = ""
        self._lock = threading.Lock()

    def _refuse(self) -> Unavailable:
        return Unavailable(f"Le service {self.name} est indisponible, réessayez plus tard",
                           {"service": self.name, "breaker": "open"})

    def allow(self) -> bool:
        """True: call normally. False: this caller must probe the service first (half-open).
        Raises Unavailable while open."""
        with self._lock:
            if self.state == CLOSED:
                return True
            if self.state == OPEN and self.clock() - self.opened_at >= self.cool_down:
                self.state = HALF_OPEN  # exactly one caller probes; the others keep failing fast
                return False
            raise self._refuse()

    def success(self) -> None:
        with self._lock:
            self.state, self.failures = CLOSED, 0

    def failure(self, reason: str = "") -> None:
        with self._lock:
            self.failures += 1
            self.last_error = reason[:300]
            if self.state == HALF_OPEN or self.failures >= self.threshold:
                self.state, self.opened_at = OPEN, self.clock()

    def trip(self, reason: str = "") -> None:
        """Open now (its health check failed)."""
        with self._lock:
            self.failures = max(self.failures, self.threshold)
            self.last_error = reason[:300]
            self.state, self.opened_at = OPEN, self.clock()

    def snapshot(self) -> dict:
        return {"state": self.state, "failures": self.failures, "last_error": self.last_error}


class Bulkhead:
    """At most `limit` calls in flight; a caller waits at most `wait` seconds for a slot."""

    def __init__(self, name: str, limit: int, wait: float = 1.0):
        self.name = name
        self.limit = limit
        self.wait = wait
        self._slots = threading.BoundedSemaphore(limit)

    def __enter__(self):
        if not self._slots.acquire(timeout=self.wait):
            raise Unavailable(f"Le service {self.name} est saturé, réessayez dans un instant",
                              {"service": self.name, "concurrency": f"more than {self.limit} calls in flight"})
        return self

    def __exit__(self, *exc):
        self._slots.release()
        return False


class Guard:
    """Breaker + bulkhead of one downstream service."""

    def __init__(self, name: str, limit: int, threshold: int = 2, cool_down: float = 5.0):
        self.breaker = Breaker(name, threshold, cool_down)
        self.bulkhead = Bulkhead(name, limit)

    def run(self, fn: Callable, probe: Callable[[], object], is_failure: Callable[[BaseException], bool]):
        """fn() under the breaker and the bulkhead. `probe` checks the service's health (half-open);
        `is_failure` tells which exceptions say the service is unwell (not a 4xx answer)."""
        if not self.breaker.allow():
            try:
                with self.bulkhead:
                    probe()
            except BaseException as exc:  # noqa: BLE001 - eventlet timeouts are BaseExceptions
                self.breaker.failure(f"health: {type(exc).__name__}: {exc}")
                raise self.breaker._refuse() from exc
            self.breaker.success()
        with self.bulkhead:
            try:
                result = fn()
            except BaseException as exc:
                if is_failure(exc):
                    self.breaker.failure(f"{type(exc).__name__}: {exc}")
                else:
                    self.breaker.success()  # it answered: alive
                raise
        self.breaker.success()
        return result


class Guards:
    """Guard per service, created on first use (one set per gateway process)."""

    def __init__(self, limit: int = 4, threshold: int = 2, cool_down: float = 5.0):
        self.limit, self.threshold, self.cool_down = limit, threshold, cool_down
        self._guards: dict[str, Guard] = {}
        self._lock = threading.Lock()

    def __getitem__(self, service: str) -> Guard:
        with self._lock:
            guard = self._guards.get(service)
            if guard is None:
                guard = self._guards[service] = Guard(service, self.limit, self.threshold, self.cool_down)
            return guard

    def snapshot(self) -> dict:
        return {name: g.breaker.snapshot() for name, g in sorted(self._guards.items())}
