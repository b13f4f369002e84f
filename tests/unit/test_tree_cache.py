"""The répertoire tree cache (services.offers.tree_cache): a tree is built again after any committed change,
and nothing is kept while no listener hears the changes."""

from services.offers.tree_cache import TreeCache


class Builder:
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return {"roots": [], "built": self.calls}


def test_a_tree_is_built_once_until_a_change_is_committed():
    cache, build = TreeCache(), Builder()
    cache.listening(True)
    assert cache.get(("idf", "78", None), build) == {"roots": [], "built": 1}
    assert cache.get(("idf", "78", None), build)["built"] == 1
    assert cache.get(("idf", "92", None), build)["built"] == 2  # another département, another tree
    cache.changed()
    assert cache.get(("idf", "78", None), build)["built"] == 3


def test_nothing_is_kept_without_a_listener():
    cache, build = TreeCache(), Builder()
    cache.get("k", build)
    cache.get("k", build)
    assert build.calls == 2
    cache.listening(True)
    cache.get("k", build)
    cache.listening(False)  # connection lost: a change may go unheard
    cache.get("k", build)
    assert build.calls == 4


def test_a_change_heard_while_building_is_not_hidden():
    cache = TreeCache()
    cache.listening(True)

    def build_during_a_change():
        cache.changed()  # committed while the tree was being read
        return {"stale": True}

    assert cache.get("k", build_during_a_change) == {"stale": True}
    assert cache.get("k", lambda: {"fresh": True}) == {"fresh": True}


def test_the_least_recently_used_tree_goes_first():
    cache, build = TreeCache(max_entries=2), Builder()
    cache.listening(True)
    cache.get("a", build)
    cache.get("b", build)
    cache.get("a", build)  # a used again
    cache.get("c", build)  # b goes
    assert cache.get("a", build)["built"] == 1
    assert cache.get("b", build)["built"] == 4
