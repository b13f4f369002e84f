"""Rules of self-registration on the regional portal (plain Python, no nameko, no database):
the proof-of-work captcha (ALTCHA), one-time codes (SMS, account linking), phone numbers, the national
identifier check and the CPS card certificate.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

import altcha
from cryptography import x509

from services.accounts.contracts import is_mobile, normalize_phone  # noqa: F401  (phones: one definition)
from services.common.identifiers import rpps_error, same_person_name

# --------------------------------------------------------------------------- captcha (ALTCHA)
# Proof of work solved by the browser (npm `altcha` widget), verified here: no third-party service.
CAPTCHA_ALGORITHM = "SHA-256"
CAPTCHA_MINUTES = 20


def new_captcha(secret: str, cost: int, now: datetime | None = None) -> dict:
    """A signed challenge for the widget (ALTCHA v2 JSON); its signature is what a solution replays."""
    now = now or datetime.now(UTC)
    challenge = altcha.create_challenge(CAPTCHA_ALGORITHM, cost, hmac_secret=secret,
                                        expires_at=now + timedelta(minutes=CAPTCHA_MINUTES))
    return challenge.to_dict()


def solve_captcha(challenge: dict) -> str:
    """The widget's work, in Python (tests and scripts): the base64 payload the form sends."""
    parsed = altcha.v2.Challenge.from_dict(challenge)
    solution = altcha.solve_challenge(parsed)
    return altcha.Payload(parsed, solution).to_base64()


def captcha_signature(payload: object, secret: str) -> tuple[str | None, datetime | None]:
    """(signature of the solved challenge, its expiry) when `payload` is a valid solution, else (None, None).
    The caller refuses a signature it has already seen (one solution, one form)."""
    if not isinstance(payload, str) or not payload or len(payload) > 4000:
        return None, None
    try:
        result = altcha.verify_solution(payload, secret)
        if not result.verified:
            return None, None
        parsed = altcha.Payload.from_base64(payload)
        expires = parsed.challenge.parameters.expires_at
    except Exception:  # malformed base64 / JSON: not a solution
        return None, None
    when = datetime.fromtimestamp(expires, UTC) if expires else datetime.now(UTC) + timedelta(minutes=30)
    return parsed.challenge.signature, when


# --------------------------------------------------------------------------- one-time codes
SMS_CODE_LENGTH = 6
SMS_CODE_MINUTES = 10
MAX_CODE_FAILURES = 5  # wrong tries on one code before it is burnt


def new_numeric_code(length: int = SMS_CODE_LENGTH) -> tuple[str, str]:
    """(code, its hash). 6 digits suffice: a code lives minutes and dies after MAX_CODE_FAILURES."""
    code = "".join(secrets.choice("0123456789") for _ in range(length))
    return code, code_hash(code)


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def code_matches(typed: object, stored_hash: str) -> bool:
    if not isinstance(typed, str):
        return False
    return hmac.compare_digest(code_hash(re.sub(r"\s+", "", typed)), stored_hash)


# --------------------------------------------------------------------------- phones
def international(phone: str) -> str:
    return "+33" + phone[1:]


# --------------------------------------------------------------------------- national identifier

def names_match(typed_last: str, typed_first: str, national: dict) -> bool:
    """The typed names are those of the national record (accents, case and separators aside)."""
    return same_person_name(typed_last, typed_first, national.get("last_name"), national.get("first_name"))


def rpps_check(rpps: str, last_name: str, first_name: str, national: list[dict]) -> str | None:
    """Why a typed RPPS cannot grant the `professional` role (None when it can). `national` is what the
    imported national data holds for it (offers.national_professionals)."""
    problem = rpps_error(rpps)
    if problem:
        return problem
    if not national:
        return "Ce numéro RPPS est absent des données nationales importées."
    if not any(names_match(last_name, first_name, person) for person in national):
        return "Le nom et le prénom ne correspondent pas à ceux du numéro RPPS."
    return None


# --------------------------------------------------------------------------- CPS card
_CARD_CN = re.compile(r"^8(\d{11})$")


def card_rpps(pem: str, ca_pem: bytes, now: datetime | None = None) -> str | None:
    """The RPPS of a CPS card certificate (CN = 8 + RPPS) when the CA signed it, it is valid now and it
    is a client-authentication certificate; None otherwise."""
    now = now or datetime.now(UTC)
    try:
        cert = x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
        ca = x509.load_pem_x509_certificate(ca_pem)
        cert.verify_directly_issued_by(ca)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            return None
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
            return None
        [cn] = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    except Exception:  # not PEM, wrong signature, missing extension...: not a card we trust
        return None
    match = _CARD_CN.match(str(cn.value))
    return match.group(1) if match else None


# --------------------------------------------------------------------------- conditions of use

def cgu_required(accepted_versions: set[str], current_version: str) -> bool:
    """A new version of the conditions of use asks again."""
    return current_version not in accepted_versions
