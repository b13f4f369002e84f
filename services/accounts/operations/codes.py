"""Activation codes: the one-time codes of the URPS letters, issued to professionals of the RPPS import."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from marshmallow import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.accounts import activation as rules
from services.accounts.models import ActivationCode
from services.accounts.operations.ports import Directory
from services.accounts.schemas import NationalProfessionalSchema
from services.common.outbox import utcnow


@dataclass
class IssueResult:
    issued: list[dict]
    skipped: list[dict]  # {rpps, reason}
    not_reached: int = 0  # professionals left out by `limit`


def issue_codes(session: Session, region: str, professionals: Iterable[dict], issued_by: str,
                directory: Directory, days: int = rules.DEFAULT_CODE_DAYS,
                now: datetime | None = None, limit: int | None = None) -> IssueResult:
    """A new code for each professional not yet activated (at most `limit`); a previous unused code
    is revoked (the new letter replaces it). Returns the clear codes: they exist nowhere else after."""
    now = now or utcnow()
    expires_at = rules.code_expiry(now, days)
    result = IssueResult([], [])
    for raw in professionals:
        if limit is not None and len(result.issued) >= limit:
            result.not_reached += 1
            continue
        try:
            person = NationalProfessionalSchema().load(raw)
        except ValidationError as err:
            result.skipped.append({"rpps": str(raw.get("rpps")), "reason": f"invalid national data: {err.messages}"})
            continue
        rpps = person["rpps"]
        if rules.rpps_error(rpps):
            result.skipped.append({"rpps": rpps, "reason": "not an RPPS number"})
            continue
        # Keycloak is the truth: an account deleted since its activation may be activated again.
        if directory.rpps_has_account(rpps):
            result.skipped.append({"rpps": rpps, "reason": "already activated"})
            continue
        session.execute(
            update(ActivationCode)
            .where(ActivationCode.region == region, ActivationCode.rpps == rpps,
                   ActivationCode.used_at.is_(None), ActivationCode.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        code = rules.generate_code()
        session.add(ActivationCode(
            region=region, rpps=rpps, code_hash=rules.hash_code(code), civility=person["civility"],
            last_name=person["last_name"], first_name=person["first_name"] or "",
            profession_code=person["profession_code"], issued_by=issued_by, issued_at=now,
            expires_at=expires_at,
        ))
        session.flush()  # the live-code unique index fails here, not at commit, on a concurrent issue
        result.issued.append({
            "rpps": rpps, "civility": person["civility"], "last_name": person["last_name"],
            "first_name": person["first_name"] or "", "profession_code": person["profession_code"],
            "code": code, "expires_at": expires_at.isoformat(),
        })
    return result


def live_code_matches(session: Session, region: str, rpps: str, code: str, now: datetime | None = None) -> bool:
    """True when `code` is the usable code of `rpps` (the demo keeps a code it can still prove)."""
    now = now or utcnow()
    rows = session.scalars(select(ActivationCode).where(
        ActivationCode.region == region, ActivationCode.rpps == rpps,
        ActivationCode.used_at.is_(None), ActivationCode.revoked_at.is_(None)))
    return any(rules.code_usable(now, r.expires_at, r.used_at, r.revoked_at) and rules.verify_code(code, r.code_hash)
               for r in rows)
