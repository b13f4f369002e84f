"""The offers service with its search answers memoized: `bench_search.py --floor` runs it to measure what
the path (HTTP client, gateway, RabbitMQ, nameko) costs for a search-sized answer when the search itself
costs nothing. A measurement aid of the benchmark only: never deployed."""

from services.offers.search import query

_search = query.search
_answers: dict = {}


def _memoized(session, criteria, audience, now=None):
    key = (repr(criteria), audience)  # Criteria holds lists and dicts: its repr is the key
    if key not in _answers:
        _answers[key] = _search(session, criteria, audience, now)
    return _answers[key]


query.search = _memoized  # the entrypoint looks it up in the module at each call

from services.offers.service import OffersService  # noqa: E402,F401  (nameko run …:OffersService)
