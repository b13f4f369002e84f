"""The health answer every service gives over RPC.

A service declares what it can do in one line, `capabilities = ("offers", …)` on its class, and answers
`health` with `service_health(self.name, self.db, self.capabilities)`. A service whose database answers
but that declares no capability yet says "empty": it is running, but must not be reported as working
("ok") when it does nothing; the gateway does not count it as down either.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

OK, EMPTY, DEGRADED = "ok", "empty", "degraded"


def service_health(name: str, session: Session, capabilities: Iterable[str] = ()) -> dict:
    try:
        session.execute(text("SELECT 1"))
        db = "ok"
    except Exception as exc:  # reported, not raised: the gateway decides what is down
        db = f"down: {type(exc).__name__}"
    capabilities = sorted(capabilities)
    if db != "ok":
        status = DEGRADED
    else:
        status = OK if capabilities else EMPTY
    return {"service": name, "status": status, "database": db, "capabilities": capabilities}
