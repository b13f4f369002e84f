"""The gateway's habilitation cache (gateway.habilitations): one fetch per subject until a change is
announced; a fetch that raced with a change does not store its stale answer."""

from gateway.habilitations import HabilitationCache

EDITOR = [{"role": "structure_editor", "structure_id": 12}]


def test_fetched_once_then_served_from_the_cache_until_invalidated():
    calls = []
    cache = HabilitationCache()

    def fetch():
        calls.append(1)
        return EDITOR

    assert cache.get("idf", "s1", fetch) == EDITOR and cache.get("idf", "s1", fetch) == EDITOR
    assert len(calls) == 1
    cache.invalidate("idf", "s1")
    assert cache.get("idf", "s1", lambda: []) == []


def test_entries_are_per_region_and_subject():
    cache = HabilitationCache()
    cache.get("idf", "s1", lambda: EDITOR)
    assert cache.get("pdl", "s1", lambda: []) == [] and cache.get("idf", "s2", lambda: []) == []
    cache.invalidate("pdl", "s1")
    assert cache.get("idf", "s1", lambda: []) == EDITOR


def test_a_fetch_overtaken_by_a_revocation_is_not_stored():
    cache = HabilitationCache()

    def slow_fetch():  # answered before the revocation, received after it
        cache.invalidate("idf", "s1")
        return EDITOR

    assert cache.get("idf", "s1", slow_fetch) == EDITOR  # this request saw the old state
    assert cache.get("idf", "s1", lambda: []) == []  # the next one does not


def test_entries_expire_after_the_ttl():
    now = [0.0]
    cache = HabilitationCache(ttl=60, clock=lambda: now[0])
    cache.get("idf", "s1", lambda: EDITOR)
    now[0] = 61
    assert cache.get("idf", "s1", lambda: []) == []


def test_a_caller_cannot_alter_the_cached_entry():
    cache = HabilitationCache()
    cache.get("idf", "s1", lambda: [dict(h) for h in EDITOR])[0]["structure_id"] = 99
    cache.get("idf", "s1", lambda: [])[0]["structure_id"] = 98
    assert cache.get("idf", "s1", lambda: []) == EDITOR
