"""A service reports "ok" only with something to offer (issue 7)."""

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from services.common.health import service_health


def _session() -> Session:
    return Session(create_engine("sqlite://"))


def test_a_service_without_capability_is_empty_not_ok():
    answer = service_health("dossiers", _session())
    assert answer["status"] == "empty" and answer["capabilities"] == [] and answer["database"] == "ok"


def test_a_service_declaring_capabilities_is_ok_and_lists_them():
    answer = service_health("offers", _session(), ("offers", "reference_data"))
    assert answer["status"] == "ok" and answer["capabilities"] == ["offers", "reference_data"]


def test_a_service_whose_database_fails_is_degraded_whatever_it_declares():
    session = _session()
    session.execute = lambda *a, **k: (_ for _ in ()).throw(OSError("no database"))
    assert service_health("offers", session, ("offers",))["status"] == "degraded"
