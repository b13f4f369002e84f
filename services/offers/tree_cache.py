"""Cache of the répertoire trees (GET /api/{region}/structures): building one costs four queries, two
recursive, and a few milliseconds of Python for every read of a tree that changes a few times a day.

A tree is kept per (region, département, discipline) while nothing it shows has changed. The database
says when: a trigger on the tables a tree shows sends NOTIFY offers_repertoire on commit, from whichever
process made the change (this service, another instance, an import; migration c4d5e6f7a8b9). The
service's listener (services.offers.dependencies.RepertoireListener) makes a round trip on its LISTEN
connection before serving a kept tree, which delivers the notifications of every earlier commit, and
calls `changed()` when there are any: a read sees every change committed before it. Without a live
listener nothing is cached (a lost connection could hide a change).

Plain module (no nameko, no database): unit-tested directly.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable


class TreeCache:
    def __init__(self, max_entries: int = 256):
        self.max_entries = max_entries
        self.generation = 0
        self.live = False
        self._entries: OrderedDict[Hashable, tuple[int, dict]] = OrderedDict()

    def changed(self) -> None:
        """Something a tree shows was committed: every tree built before is stale."""
        self.generation += 1
        self._entries.clear()

    def listening(self, live: bool) -> None:
        """The listener (re)connected or lost its connection: either way, what was kept is forgotten
        (a change may have been committed while nobody listened)."""
        self.live = live
        self.changed()

    def get(self, key: Hashable, build: Callable[[], dict]) -> dict:
        """The tree of `key`, built by `build` unless a tree built since the last change is kept."""
        if not self.live:
            return build()
        found = self._entries.get(key)
        if found is not None and found[0] == self.generation:
            self._entries.move_to_end(key)
            return found[1]
        generation = self.generation  # a change heard while building makes this tree stale at once
        tree = build()
        if self.live and generation == self.generation:
            self._entries[key] = (generation, tree)
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return tree
