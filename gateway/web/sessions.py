"""Server-side web sessions (plain module, no nameko).

The browser holds only an opaque random id (cookie HttpOnly, SameSite=Lax, Secure under https). The
session itself (tokens, CSRF secret, pending logins, messages) is kept in the gateway's table
`web_sessions`, which every gateway process shares: a login made through one replica holds on the next,
and a restart or a rolling update logs nobody out. The row is found by a hash of the id and its content
is sealed (AES-GCM) with a key derived from the id: whoever reads the table gets neither a usable cookie
nor a token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete
from sqlalchemy.orm import sessionmaker

from gateway.models import WebSession

COOKIE = "ror_session"
IDLE_SECONDS = 30 * 60       # idle timeout
PENDING_LOGIN_SECONDS = 600  # an authorization request must come back within 10 minutes
PURGE_ONE_IN = 200           # one new session in so many also deletes the idle ones


@dataclass
class Session:
    id: str
    csrf: str
    touched: float
    region: str | None = None
    tokens: dict | None = None          # access_token, refresh_token, id_token, expires_at
    pending: dict = field(default_factory=dict)  # state -> {verifier, nonce, next, region, at}
    flash: list = field(default_factory=list)
    stored_key: str | None = None       # the row this session was read from (None: not stored yet)
    dropped: bool = False

    @property
    def logged_in(self) -> bool:
        return bool(self.tokens)

    def check_csrf(self, value: str | None) -> bool:
        return bool(value) and hmac.compare_digest(self.csrf, value)


def _key(session_id: str) -> str:
    return hashlib.sha256(b"ror-web-session-row:" + session_id.encode()).hexdigest()


def _cipher(session_id: str) -> AESGCM:
    return AESGCM(hashlib.sha256(b"ror-web-session-seal:" + session_id.encode()).digest())


def _seal(session: Session) -> bytes:
    content = {"csrf": session.csrf, "region": session.region, "tokens": session.tokens,
               "pending": session.pending, "flash": session.flash}
    nonce = os.urandom(12)
    return nonce + _cipher(session.id).encrypt(nonce, json.dumps(content).encode(), _key(session.id).encode())


def _open(session_id: str, sealed: bytes) -> dict | None:
    try:
        return json.loads(_cipher(session_id).decrypt(sealed[:12], sealed[12:], _key(session_id).encode()))
    except (InvalidTag, ValueError):
        return None


class SessionStore:
    """Sessions in the gateway's database, each call a short transaction of its own (like the edge's rate
    counters: the state must be visible to the other processes at once, whatever the page does)."""

    def __init__(self, factory: sessionmaker, idle: float = IDLE_SECONDS, clock=time.time):
        self.factory = factory
        self.idle = idle
        self.clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def get(self, session_id: str | None) -> Session | None:
        if not session_id or len(session_id) > 100:
            return None
        key = _key(session_id)
        with self.factory() as db:
            row = db.get(WebSession, key)
            if row is None:
                return None
            touched, sealed = row.touched_at.timestamp(), row.sealed
        if self.clock() - touched > self.idle:
            self._delete(key)
            return None
        content = _open(session_id, sealed)
        if content is None:  # not sealed with this id: never trust it
            return None
        return Session(id=session_id, csrf=content["csrf"], touched=touched, region=content.get("region"),
                       tokens=content.get("tokens"), pending=content.get("pending") or {},
                       flash=content.get("flash") or [], stored_key=key)

    def create(self) -> Session:
        """A new session; stored by `save` at the end of the request."""
        if secrets.randbelow(PURGE_ONE_IN) == 0:
            self.purge()
        return Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), touched=self.clock())

    def rotate(self, session: Session) -> Session:
        """A new id (and CSRF secret) at login: a session id fixed before login is worthless after it."""
        self._delete(session.stored_key)
        session.id = secrets.token_urlsafe(32)
        session.csrf = secrets.token_urlsafe(32)
        session.touched = self.clock()
        session.stored_key = None
        return session

    def drop(self, session: Session) -> None:
        self._delete(session.stored_key)
        session.stored_key = None
        session.dropped = True

    def save(self, session: Session) -> None:
        """Store the session as the request left it (and mark it used now)."""
        if session.dropped:
            return
        key = _key(session.id)
        session.touched = self.clock()
        with self.factory.begin() as db:
            row = db.get(WebSession, key)
            if row is None:
                db.add(WebSession(key=key, sealed=_seal(session), touched_at=self._now()))
            else:
                row.sealed, row.touched_at = _seal(session), self._now()
        session.stored_key = key

    def purge(self) -> int:
        """Delete the sessions idle for longer than the timeout."""
        with self.factory.begin() as db:
            result = db.execute(delete(WebSession).where(
                WebSession.touched_at < self._now() - timedelta(seconds=self.idle)))
        return result.rowcount or 0

    def _delete(self, key: str | None) -> None:
        if key:
            with self.factory.begin() as db:
                db.execute(delete(WebSession).where(WebSession.key == key))
