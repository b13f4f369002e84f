"""The gateway's RPC deadline is ROR_RPC_TIMEOUT (one setting), unless an endpoint asks for more; the
deadline itself (expiry in the broker, Unavailable when passed) is services.common.rpc's, tested with
the real broker in tests/integration/test_fail_fast.py."""

from types import SimpleNamespace

from gateway import api


class Proxy:
    service_name = "offers"

    def __init__(self, config: dict):
        self.worker_ctx = SimpleNamespace(service=SimpleNamespace(config=config))


def deadlines(monkeypatch) -> list[float]:
    seen: list[float] = []

    def fake_call(proxy, method, *args, timeout, **kwargs):
        seen.append(timeout)
        return "answered"

    monkeypatch.setattr(api.rpc, "call", fake_call)
    return seen


def test_the_deadline_comes_from_ror_rpc_timeout(monkeypatch):
    seen = deadlines(monkeypatch)
    assert api.call(Proxy({"ROR_RPC_TIMEOUT": "0.2"}), "list_offers", 5) == "answered"
    assert seen == [0.2]


def test_an_explicit_timeout_wins(monkeypatch):
    seen = deadlines(monkeypatch)
    api.call(Proxy({"ROR_RPC_TIMEOUT": "0.1"}), "list_offers", timeout=2)
    assert seen == [2]
