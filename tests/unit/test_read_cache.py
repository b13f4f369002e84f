"""The gateway's read cache as a plain class: TTL, drops by region, a fetch overtaken by a drop."""

from gateway.readcache import ALL, ReadCache, bypass


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def put(cache, key, region, generation, body=b"{}"):
    cache.put(key, region, generation, body, 200, {"ETag": '"1-1"'}, "application/json")


def test_an_answer_is_kept_for_the_ttl_only():
    clock = Clock()
    cache = ReadCache(clock=clock)
    key = ("idf", None, "/api/idf/offers/1", b"")
    put(cache, key, "idf", cache.generation("idf"))
    assert cache.get(key, ttl=1.0).headers == (("ETag", '"1-1"'),)
    clock.now += 1.0
    assert cache.get(key, ttl=1.0) is None


def test_a_drop_empties_its_region_only():
    cache = ReadCache(clock=Clock())
    idf, pdl = ("idf", None, "/a", b""), ("pdl", None, "/a", b"")
    put(cache, idf, "idf", cache.generation("idf"))
    put(cache, pdl, "pdl", cache.generation("pdl"))
    cache.drop("idf")
    assert cache.get(idf, 10) is None and cache.get(pdl, 10) is not None
    cache.drop(None)  # an event without a region: everything
    assert cache.get(pdl, 10) is None


def test_a_fetch_that_started_before_a_drop_does_not_store_its_older_answer():
    cache = ReadCache(clock=Clock())
    key = ("idf", ("sub", ("professional",), None), "/api/idf/me", b"")
    before = cache.generation("idf")
    cache.drop("idf")  # a write was answered while the read was on its way
    put(cache, key, "idf", before, b'{"old": true}')
    assert cache.get(key, 10) is None
    put(cache, key, "idf", cache.generation("idf"))
    assert cache.get(key, 10) is not None


def test_a_drop_of_everything_also_refuses_fetches_of_any_region():
    cache = ReadCache(clock=Clock())
    before_idf, before_all = cache.generation("idf"), cache.generation(None)
    cache.drop(None)
    put(cache, ("idf", None, "/a", b""), "idf", before_idf)
    put(cache, (ALL, None, "/openapi", b""), None, before_all)
    assert cache.get(("idf", None, "/a", b""), 10) is None
    assert cache.get((ALL, None, "/openapi", b""), 10) is None


def test_bounded_in_entries_and_body_size():
    cache = ReadCache(max_entries=2, clock=Clock())
    for n in range(3):
        put(cache, ("idf", None, f"/{n}", b""), "idf", cache.generation("idf"))
    assert cache.get(("idf", None, "/2", b""), 10) is not None
    assert sum(cache.get(("idf", None, f"/{n}", b""), 10) is not None for n in range(3)) <= 2
    put(cache, ("idf", None, "/big", b""), "idf", cache.generation("idf"), b"x" * (600 * 1024))
    assert cache.get(("idf", None, "/big", b""), 10) is None
    small = ReadCache(max_bytes=1000, clock=Clock())
    for n in range(3):
        put(small, ("idf", None, f"/{n}", b""), "idf", small.generation("idf"), b"x" * 400)
    assert small._bytes <= 1000 and small.get(("idf", None, "/2", b""), 10) is not None
    small.drop("idf")
    assert small._bytes == 0


def test_no_cache_and_no_store_skip_it():
    assert bypass("no-cache") and bypass("max-age=0, No-Store") and not bypass(None) and not bypass("max-age=60")


def test_one_fetch_per_key_at_a_time():
    cache = ReadCache(clock=Clock())
    key = ("idf", None, "/api/idf/offers/1", b"")
    assert cache.lead(key) is None  # the first request fetches
    running = cache.lead(key)  # the next ones wait for it
    assert running is not None and not running.is_set()
    assert cache.lead(("idf", None, "/other", b"")) is None  # another key is not held up
    cache.done(key)
    assert running.is_set() and cache.lead(key) is None  # done: the next miss fetches again
