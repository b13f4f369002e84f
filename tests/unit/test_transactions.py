"""One place commits: the entrypoint's `transaction` commits, or rolls back and undoes the outside
changes the domain functions registered (services.common.db), on a plain SQLite session."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, String, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from services.common.db import commit, keeping_changes, on_rollback, transaction
from services.common.errors import InvalidInput


class Base(DeclarativeBase):
    pass


class Row(Base):
    __tablename__ = "rows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(20), unique=True)


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(Row))


def grant_in_keycloak(session, realm: set, name: str) -> None:
    """A domain function: a database row, an outside change and its undo; it only flushes."""
    session.add(Row(name=name))
    session.flush()
    realm.add(name)
    on_rollback(session, lambda: realm.discard(name))


def test_success_commits_and_keeps_the_outside_change(session):
    realm: set = set()
    with transaction(session):
        grant_in_keycloak(session, realm, "a")
    session.rollback()  # nothing left to roll back: it was committed
    assert count(session) == 1 and realm == {"a"}


def test_an_error_rolls_back_and_undoes_the_outside_change(session):
    realm: set = set()
    with pytest.raises(RuntimeError), transaction(session):
        grant_in_keycloak(session, realm, "a")
        raise RuntimeError("later step failed")
    assert count(session) == 0 and realm == set()


def test_a_failed_commit_undoes_the_outside_change(session):
    realm: set = set()
    with transaction(session):
        session.add(Row(name="taken"))
    grant_in_keycloak(session, realm, "b")
    session.add(Row(name="taken"))  # the unique index refuses it at commit time
    with pytest.raises(Exception, match="UNIQUE"):
        commit(session)
    assert realm == set() and count(session) == 1


def test_an_error_keeping_changes_commits_them_and_still_propagates(session):
    with pytest.raises(InvalidInput), transaction(session):
        session.add(Row(name="attempt"))
        session.flush()
        raise keeping_changes(InvalidInput("wrong code", {"code": "wrong"}))
    session.rollback()
    assert count(session) == 1
