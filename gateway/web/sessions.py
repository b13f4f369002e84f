"""Server-side web sessions (plain module, no nameko).

The browser holds only an opaque random id (cookie HttpOnly, SameSite=Lax, Secure under https); tokens
and the CSRF secret stay in the gateway process. Sessions are kept in memory per gateway process: a
gateway restart logs people out, and several gateway replicas need sticky sessions (see docs/web.md).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

COOKIE = "ror_session"
IDLE_SECONDS = 30 * 60       # idle timeout
MAX_SESSIONS = 50_000        # bound memory: the oldest idle sessions go first
PENDING_LOGIN_SECONDS = 600  # an authorization request must come back within 10 minutes


@dataclass
class Session:
    id: str
    csrf: str
    touched: float
    region: str | None = None
    tokens: dict | None = None          # access_token, refresh_token, id_token, expires_at
    pending: dict = field(default_factory=dict)  # state -> {verifier, nonce, next, region, at}
    flash: list = field(default_factory=list)

    @property
    def logged_in(self) -> bool:
        return bool(self.tokens)

    def check_csrf(self, value: str | None) -> bool:
        return bool(value) and hmac.compare_digest(self.csrf, value)


class SessionStore:
    def __init__(self, idle: float = IDLE_SECONDS, max_sessions: int = MAX_SESSIONS, clock=time.monotonic):
        self.idle = idle
        self.max_sessions = max_sessions
        self.clock = clock
        self._data: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            session = self._data.get(session_id)
            if session is None:
                return None
            now = self.clock()
            if now - session.touched > self.idle:
                del self._data[session_id]
                return None
            session.touched = now
            return session

    def create(self) -> Session:
        session = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), touched=self.clock())
        with self._lock:
            if len(self._data) >= self.max_sessions:
                self._evict()
            self._data[session.id] = session
        return session

    def rotate(self, session: Session) -> Session:
        """A new id (and CSRF secret) at login: a session id fixed before login is worthless after it."""
        with self._lock:
            self._data.pop(session.id, None)
            session.id = secrets.token_urlsafe(32)
            session.csrf = secrets.token_urlsafe(32)
            session.touched = self.clock()
            self._data[session.id] = session
        return session

    def drop(self, session: Session) -> None:
        with self._lock:
            self._data.pop(session.id, None)

    def _evict(self) -> None:
        now = self.clock()
        for sid in [sid for sid, s in self._data.items() if now - s.touched > self.idle]:
            del self._data[sid]
        if len(self._data) >= self.max_sessions:
            oldest = sorted(self._data.values(), key=lambda s: s.touched)[: len(self._data) // 10 or 1]
            for s in oldest:
                del self._data[s.id]

    def __len__(self) -> int:
        return len(self._data)
