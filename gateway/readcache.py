"""Answers of read endpoints kept for a moment by each gateway process (issue 7).

The same published offer, commune list or /me is asked for many times a second (Maillage, the
répertoire pages, a form's commune picker); each time costs an RPC, a query and a dump. An endpoint
declared `cache=True` keeps its 200 answers, per caller (anonymous, or subject + roles + RPPS of the
token: what a view depends on), for at most ROR_READ_CACHE_TTL seconds (1 s by default, 0 turns it off).

Freshness:
- a write (POST/PUT/PATCH/DELETE) through this gateway drops the entries of its region when it has
  been answered: whoever wrote reads their write on the next request (gateway.edge);
- every event of every service (a publication, a grant, a dossier applied, an import…) drops the
  entries of its region in every gateway process (broadcast queue bound to all `<service>.events`
  exchanges, below); changes made elsewhere reach the other gateway replicas that way;
- the TTL bounds what no event announces (a date passing) and an event lost with the broker;
- a generation per region keeps a fetch that started before a drop from storing its older answer;
- `Cache-Control: no-cache` (or no-store) on a request skips the cache (and refreshes the entry);
- one fetch per key at a time: when an entry expires under load, the requests that find it missing
  wait for the one already fetching it instead of all making the same RPC at once (the p99 would be
  that burst every TTL).
The token is verified and the endpoint's access rule checked before the cache is looked at.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

from kombu import Queue, binding
from nameko.messaging import Consumer
from nameko.standalone.events import get_event_exchange

from services.common.entrypoints import RorQueueConsumer
from services.common.events import source_services

MAX_ENTRIES = 20_000
MAX_BYTES = 64 * 1024 * 1024  # bodies kept, all entries together
MAX_BODY_BYTES = 512 * 1024
FOLLOW_WAIT = 5.0  # seconds a request waits for the same read already under way, then makes its own
ALL = "*"  # region key of the entries outside a region


@dataclass(frozen=True)
class Cached:
    body: bytes
    status: int
    headers: tuple[tuple[str, str], ...]
    mimetype: str
    stored_at: float


class ReadCache:
    """key -> Cached, dropped by region (plain class, no nameko)."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES, clock=time.monotonic):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock = clock
        self._entries: dict[tuple, Cached] = {}
        self._bytes = 0
        self._generations: dict[str, int] = {}  # per region
        self._everything = 0  # drops of every region
        self._lock = threading.Lock()
        self._fetching: dict[tuple, threading.Event] = {}

    def get(self, key: tuple, ttl: float) -> Cached | None:
        entry = self._entries.get(key)
        if entry is not None and self.clock() - entry.stored_at < ttl:
            return entry
        return None

    def generation(self, region: str | None) -> tuple[int, int]:
        return self._generations.get(region or ALL, 0), self._everything

    def put(self, key: tuple, region: str | None, generation: tuple[int, int], body: bytes, status: int,
            headers: dict, mimetype: str) -> None:
        """Stored unless the region was dropped since `generation` was read (the answer may predate it)."""
        if len(body) > MAX_BODY_BYTES:
            return
        entry = Cached(body, status, tuple(headers.items()), mimetype, self.clock())
        with self._lock:
            if self.generation(region) != generation:
                return
            if len(self._entries) >= self.max_entries or self._bytes + len(body) > self.max_bytes:
                self._entries.clear()  # full: start again (entries live a second anyway)
                self._bytes = 0
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= len(previous.body)
            self._entries[key] = entry
            self._bytes += len(body)

    def lead(self, key: tuple) -> threading.Event | None:
        """None: the caller fetches `key` and must call `done(key)` after; otherwise the event that the
        fetch already under way sets when it is done (then look again)."""
        with self._lock:
            running = self._fetching.get(key)
            if running is None:
                self._fetching[key] = threading.Event()
            return running

    def done(self, key: tuple) -> None:
        with self._lock:
            running = self._fetching.pop(key, None)
        if running is not None:
            running.set()

    def drop(self, region: str | None = None) -> None:
        """Entries of `region` (key[0]), or all of them when region is None or unknown."""
        with self._lock:
            if region is None:
                self._everything += 1
                self._entries.clear()
                self._bytes = 0
                return
            self._generations[region] = self._generations.get(region, 0) + 1
            for key in [k for k in self._entries if k[0] == region]:
                self._bytes -= len(self._entries.pop(key).body)


# One per gateway process: the endpoints (gateway.api) and the HTTP edge (gateway.edge) share it.
READ_CACHE = ReadCache()


def bypass(cache_control: str | None) -> bool:
    value = (cache_control or "").lower()
    return "no-cache" in value or "no-store" in value


class EveryEventBroadcast(Consumer):
    """Every event of every service, to each gateway process (an exclusive queue of its own, gone with
    the process: not a durable subscription, publishers do not wait for it)."""

    queue_consumer = RorQueueConsumer()

    def __init__(self, **kwargs):
        super().__init__(queue=None, requeue_on_error=False, **kwargs)

    def setup(self):
        config = self.container.config
        self.queue = Queue(
            f"evt-all--gateway.read_cache-{uuid.uuid4().hex}", durable=False, auto_delete=True, exclusive=True,
            bindings=[binding(get_event_exchange(source, config), routing_key="#") for source in source_services()],
        )
        super().setup()


every_event_broadcast = EveryEventBroadcast.decorator


class ReadCacheEvents:
    """Gateway mixin: an event drops the cached answers of its region."""

    @every_event_broadcast()
    def on_any_event(self, payload: dict):
        region = payload.get("region") if isinstance(payload, dict) else None
        READ_CACHE.drop(region if isinstance(region, str) and region else None)
