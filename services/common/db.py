"""Database access: one engine per URL, one session per nameko worker, one schema per service.

One place commits: domain functions only flush; the entrypoint (a nameko RPC or event handler, the
driver of a command such as an import batch or `ror demo load`) ends the transaction, with `commit` /
`transaction` below. A domain function that changed something outside the database (Keycloak)
registers its undo with `on_rollback`: when the transaction does not commit, `rollback` runs it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from services.common.config import setting

log = logging.getLogger(__name__)
_UNDO = "ror.undo"  # key of Session.info: compensations of the current transaction
IDLE_PING_AFTER = 5.0  # seconds a pooled connection may rest before it is checked again

# Row ids are PostgreSQL `integer`: a larger id from a URL or a body names no row (and must not reach SQL,
# which would refuse it with an error instead of "not found").
ROW_ID_MAX = 2**31 - 1


def is_row_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= ROW_ID_MAX


@cache
def get_engine(url: str, read_only: bool = False) -> Engine:
    """One engine per URL. `read_only`: connections in autocommit and refused any write by PostgreSQL
    (default_transaction_read_only, set at connection start): a read then costs its queries only, not
    the BEGIN and ROLLBACK round trips psycopg2 adds around them."""
    options: dict = {"isolation_level": "AUTOCOMMIT",
                     "connect_args": {"options": "-c default_transaction_read_only=on"}} if read_only else {}
    engine = create_engine(url, pool_size=10, max_overflow=10, future=True, **options)
    event.listen(engine, "checkout", _ping_if_idle)
    event.listen(engine, "checkin", _mark_used)
    return engine


def _ping_if_idle(dbapi_connection, record, proxy) -> None:
    """Pessimistic disconnect handling, but only for a connection that rested: SQLAlchemy's
    pool_pre_ping would add a round trip to every checkout (every RPC), where a busy connection was
    just proven alive. A failed ping makes the pool replace the connection (DisconnectionError)."""
    if time.monotonic() - record.info.get("used_at", 0.0) < IDLE_PING_AFTER:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        if not getattr(dbapi_connection, "autocommit", False):
            dbapi_connection.rollback()  # the ping opened a transaction: leave the connection clean
    except Exception as exc:  # whatever the driver says, this connection is not usable
        raise DisconnectionError(str(exc)) from exc


def _mark_used(dbapi_connection, record) -> None:
    record.info["used_at"] = time.monotonic()


def database_url(config: dict | None = None) -> str:
    return setting("ROR_DATABASE_URL", config)


@cache
def session_factory(url: str, read_only: bool = False) -> sessionmaker:
    return sessionmaker(bind=get_engine(url, read_only), expire_on_commit=False, future=True)


def on_rollback(session: Session, undo: Callable[[], object]) -> None:
    """Undo an outside change (e.g. a Keycloak role given) if this transaction does not commit."""
    session.info.setdefault(_UNDO, []).append(undo)


def rollback(session: Session) -> None:
    """Roll back, then undo the outside changes of the transaction, newest first."""
    undos = session.info.pop(_UNDO, [])
    session.rollback()
    for undo in reversed(undos):
        try:
            undo()
        except Exception:  # keep undoing the others; the original error is what the caller sees
            log.exception("compensation %r failed", undo)


def commit(session: Session) -> None:
    """Commit; when the commit fails, roll back and undo the outside changes, then re-raise."""
    try:
        session.commit()
    except BaseException:
        rollback(session)
        raise
    session.info.pop(_UNDO, None)


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """The entrypoint's unit of work: commit when the block succeeds, roll back (and compensate)
    when it raises — except for an error marked `keep_changes` (see `keeping_changes`), whose
    changes are committed before it propagates."""
    try:
        yield session
    except BaseException as exc:
        if getattr(exc, "keep_changes", False):
            commit(session)
        else:
            rollback(session)
        raise
    commit(session)


def keeping_changes(error: BaseException) -> BaseException:
    """Mark `error` so that `transaction` commits what was done before it (e.g. a wrong activation
    code is counted although the request fails). Plain attribute: it does not cross RPC."""
    error.keep_changes = True  # type: ignore[attr-defined]
    return error


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session and its transaction for scripts (CLI, demo, tests) and background threads that own their
    unit of work: see `transaction`."""
    session = session_factory(url or database_url())()
    try:
        with transaction(session):
            yield session
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
