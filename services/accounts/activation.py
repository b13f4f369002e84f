"""Activation rules (plain Python, no nameko, no database): RPPS numbers, one-time activation codes,
the password policy, the attempt limit and e-mail verification tokens.

The URPS letter gives a professional an RPPS number and a code; both are typed by hand, so codes use an
alphabet without look-alike characters and are compared after normalisation (case, spaces, dashes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

# --------------------------------------------------------------------------- password policy
# Part of the HTTP contract (the gateway checks it too): services.accounts.contracts.
from services.accounts.contracts import PASSWORD_MIN_LENGTH, password_errors  # noqa: E402,F401

# --------------------------------------------------------------------------- RPPS
# The rules live in services.common.identifiers (imports and the test PKI use them too).
from services.common.identifiers import RPPS_LENGTH, luhn_check_digit, luhn_valid, rpps_error  # noqa: E402,F401

# --------------------------------------------------------------------------- activation codes

# No 0/O, 1/I/L: the code is read on paper and typed by hand. 31 symbols ** 10 ≈ 2^49.5.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
CODE_GROUP = 5
DEFAULT_CODE_DAYS = 90

# scrypt rather than a bare hash: a 50-bit code is short, so a leaked table must stay costly to attack.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_SEPARATORS = re.compile(r"[\s\-_.]+")


def generate_code() -> str:
    """A new code, grouped for reading: e.g. 'K7QX2-M9PRT'."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + CODE_GROUP] for i in range(0, CODE_LENGTH, CODE_GROUP))


def normalize_code(text: object) -> str | None:
    """The code as stored (upper case, no separators), or None when it cannot be one of ours."""
    if not isinstance(text, str):
        return None
    code = _SEPARATORS.sub("", text).upper()
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


# scrypt costs ~50 ms of CPU and 16 MiB: a flood of attempts must not starve the process. At most
# SCRYPT_SLOTS run at once; `offload` runs each one off the event loop (the service sets it to
# eventlet's thread pool; hashlib.scrypt releases the GIL), so other requests keep being served.
SCRYPT_SLOTS = threading.BoundedSemaphore(2)
offload: Callable = lambda fn, *args, **kwargs: fn(*args, **kwargs)  # noqa: E731


def _scrypt(secret: bytes, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    with SCRYPT_SLOTS:
        return offload(hashlib.scrypt, secret, salt=salt, n=n, r=r, p=p, dklen=dklen)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_code(code: str, salt: bytes | None = None) -> str:
    """Self-describing hash of a code: 'scrypt$n$r$p$salt$digest' (a fresh salt per code)."""
    normalized = normalize_code(code)
    if normalized is None:
        raise ValueError("not an activation code")
    salt = salt or secrets.token_bytes(16)
    digest = _scrypt(normalized.encode(), salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P, 32)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_code(code: object, stored: str) -> bool:
    normalized = normalize_code(code)
    if normalized is None:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = _scrypt(normalized.encode(), _unb64(salt), int(n), int(r), int(p), len(_unb64(digest)))
    return hmac.compare_digest(candidate, _unb64(digest))


def code_expiry(issued_at: datetime, days: int = DEFAULT_CODE_DAYS) -> datetime:
    if days < 1:
        raise ValueError("a code must be valid at least one day")
    return issued_at + timedelta(days=days)


def code_usable(now: datetime, expires_at: datetime, used_at: datetime | None,
                revoked_at: datetime | None) -> bool:
    """A code works once, before it expires, unless a newer letter replaced it."""
    return used_at is None and revoked_at is None and now < expires_at


# --------------------------------------------------------------------------- attempt limit

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(hours=1)


def retry_after(failures: Iterable[datetime], now: datetime, limit: int = MAX_FAILURES,
                window: timedelta = FAILURE_WINDOW) -> timedelta | None:
    """None when another attempt is allowed; otherwise how long until it is.

    `limit` wrong codes within a sliding `window` block the RPPS until enough of them age out.
    """
    recent = sorted(f for f in failures if timedelta(0) <= now - f < window)
    if len(recent) < limit:
        return None
    # Allowed again when only limit-1 failures remain inside the window.
    return recent[len(recent) - limit] + window - now


# --------------------------------------------------------------------------- e-mail verification

EMAIL_TOKEN_DAYS = 7


def new_email_token() -> tuple[str, str]:
    """(token for the link, its hash for the database). 256 random bits: a plain SHA-256 suffices."""
    token = secrets.token_urlsafe(32)
    return token, email_token_hash(token)


def email_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
