"""The gateway's RPC deadline is ROR_RPC_TIMEOUT (one setting), unless an endpoint asks for more."""

import time
from types import SimpleNamespace

import eventlet
import pytest

from gateway.api import call
from services.common.errors import Unavailable


class SlowProxy:
    service_name = "offers"

    def __init__(self, config: dict):
        self.worker_ctx = SimpleNamespace(service=SimpleNamespace(config=config))

    def list_offers(self, seconds):
        eventlet.sleep(seconds)
        return "answered"


def test_the_deadline_comes_from_ror_rpc_timeout():
    started = time.monotonic()
    with pytest.raises(Unavailable):
        call(SlowProxy({"ROR_RPC_TIMEOUT": "0.2"}), "list_offers", 5)
    assert time.monotonic() - started < 1


def test_an_explicit_timeout_wins_and_a_quick_answer_passes():
    assert call(SlowProxy({"ROR_RPC_TIMEOUT": "0.1"}), "list_offers", 0.3, timeout=2) == "answered"
    assert call(SlowProxy({"ROR_RPC_TIMEOUT": "2"}), "list_offers", 0) == "answered"
