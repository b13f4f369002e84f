"""Habilitations of the callers, cached by the gateway so that an authenticated request makes no extra
RPC to accounts (issue 7).

An entry (region, subject) is dropped when accounts announces a change for that subject
(`accounts.role_granted` / `accounts.role_revoked`, received by every gateway instance: broadcast
handlers below), and when this gateway itself relays a grant or a revocation (the event is published
just after the RPC answers, so the local drop is what makes "works on the next request" exact). A
generation counter per entry keeps a fetch that started before a change from storing its stale answer;
the TTL only bounds the damage of an event lost while the broker was unreachable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from nameko.events import BROADCAST

from services.common.entrypoints import event_handler

DEFAULT_TTL = 300.0
MAX_ENTRIES = 50_000


class HabilitationCache:
    """(region, subject) -> [{role, structure_id}] (plain class, no nameko)."""

    def __init__(self, ttl: float = DEFAULT_TTL, max_entries: int = MAX_ENTRIES, clock=time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[tuple[str, str], tuple[float, list[dict]]] = {}
        self._generations: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def get(self, region: str, subject: str, fetch: Callable[[], list[dict]]) -> list[dict]:
        key = (region, subject)
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and now - entry[0] < self.ttl:
                return [dict(h) for h in entry[1]]
            generation = self._generations.get(key, 0)
        value = list(fetch())
        with self._lock:
            if self._generations.get(key, 0) == generation:  # no change announced while fetching
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
                self._entries[key] = (now, [dict(h) for h in value])
        return value

    def invalidate(self, region: str | None, subject: str | None) -> None:
        if not region or not subject:
            return
        key = (region, subject)
        with self._lock:
            self._entries.pop(key, None)
            self._generations[key] = self._generations.get(key, 0) + 1

    def clear(self) -> None:
        with self._lock:
            for key in self._entries:
                self._generations[key] = self._generations.get(key, 0) + 1
            self._entries.clear()


class HabilitationEvents:
    """Gateway mixin: every gateway instance drops the cached habilitations of a subject whose roles
    changed (broadcast: one queue per instance, not shared like a service pool)."""

    @event_handler("accounts", "accounts.role_granted", handler_type=BROADCAST, reliable_delivery=False)
    def on_role_granted(self, payload: dict):
        self.habilitations.invalidate(payload.get("region"), payload.get("subject"))

    @event_handler("accounts", "accounts.role_revoked", handler_type=BROADCAST, reliable_delivery=False)
    def on_role_revoked(self, payload: dict):
        self.habilitations.invalidate(payload.get("region"), payload.get("subject"))
