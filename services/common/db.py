"""Database access: one engine per URL, one session per nameko worker, one schema per service."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.common.config import setting

# Row ids are PostgreSQL `integer`: a larger id from a URL or a body names no row (and must not reach SQL,
# which would refuse it with an error instead of "not found").
ROW_ID_MAX = 2**31 - 1


def is_row_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= ROW_ID_MAX


@cache
def get_engine(url: str) -> Engine:
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, future=True)


def database_url(config: dict | None = None) -> str:
    return setting("ROR_DATABASE_URL", config)


@cache
def session_factory(url: str) -> sessionmaker:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False, future=True)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A transaction for scripts (CLI, imports, tests): commit on success, rollback on error."""
    session = session_factory(url or database_url())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ping(url: str) -> bool:
    with get_engine(url).connect() as conn:
        conn.execute(text("SELECT 1"))
    return True


def ensure_database(url: str) -> None:
    """Create the database of `url` when missing (tests, benchmarks; the role needs CREATEDB)."""
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"),
                                  {"d": target.database}).first()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()
