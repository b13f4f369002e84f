"""Pooled connections are checked only after a rest (no ping round trip on every RPC), and a connection
PostgreSQL closed meanwhile is replaced, not handed to a request (services.common.db)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from services.common import db

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("read_only", [False, True])
def test_a_connection_killed_while_resting_is_replaced(db_url, monkeypatch, read_only):
    engine = db.get_engine.__wrapped__(db_url, read_only)  # a pool of its own, not the suite's
    with engine.connect() as conn:
        first_pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    with engine.connect() as conn:  # just used: no ping, same connection
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == first_pid
    killer = db.get_engine(db_url)
    with killer.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid}).scalar()
    monkeypatch.setattr(db, "IDLE_PING_AFTER", 0.0)  # as if it had rested
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != first_pid
    engine.dispose()


def test_the_read_only_engine_refuses_writes(db_url):
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError, match="read-only"):
        with db.get_engine(db_url, read_only=True).connect() as conn:
            conn.execute(text("CREATE TEMPORARY TABLE read_only_probe (x int)"))
