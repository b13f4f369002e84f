"""Overlap parsing and database writes: one writer thread, a short queue of batches.

psycopg2 releases the GIL while PostgreSQL works, so on a 2-core machine the server executes one
batch while Python parses the next. The queue holds at most `depth` batches: memory stays flat.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
_DONE = object()


class BackgroundWriter(Generic[T]):
    def __init__(self, write: Callable[[T], None], depth: int = 2):
        self._write = write
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="import-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if self._error is None:  # after a failure, drain without writing
                try:
                    self._write(item)
                except BaseException as exc:  # re-raised in the caller's thread
                    self._error = exc

    def submit(self, batch: T) -> None:
        self._raise()
        self._queue.put(batch)

    def close(self) -> None:
        """Wait for the queued batches; re-raise the writer's error, if any."""
        self._queue.put(_DONE)
        self._thread.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error
