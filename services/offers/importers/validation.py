"""Checks and normalisations of national identifiers and contact data (pure functions)."""

from __future__ import annotations

import re

from services.common import identifiers
from services.common.identifiers import luhn_check_digit
from services.common.identifiers import luhn_valid as luhn_ok  # noqa: F401  (FINESS keys too)

# ADELI: departement (2, "2A"/"2B" in Corsica) + profession (2) + order number (5).
ADELI_RE = re.compile(r"^[0-9][0-9AB][0-9]{7}$")
# FINESS: departement (2, "2A"/"2B", "9A".."9F" overseas) + 7 digits (last one a check digit).
FINESS_RE = re.compile(r"^[0-9][0-9A-Z][0-9]{7}$")
SIRET_RE = re.compile(r"^[0-9]{14}$")
SIREN_RE = re.compile(r"^[0-9]{9}$")
COMMUNE_RE = re.compile(r"^(?:[0-9]{2}|2A|2B)[0-9]{3}$")  # INSEE code of a commune
POSTCODE_RE = re.compile(r"^[0-9]{5}$")
DEPARTEMENT_RE = re.compile(r"^(?:[0-9]{2}|2A|2B|97[0-9])$")

ID_TYPE_RPPS = "8"
ID_TYPE_ADELI = "0"

# FINESS writes overseas departements as 9A..9F; INSEE uses 971..976.
FINESS_OVERSEAS = {"9A": "971", "9B": "972", "9C": "973", "9D": "974", "9E": "975", "9F": "976"}


def luhn_complete(prefix: str) -> str:
    """`prefix` followed by the Luhn check digit that makes it valid (to generate test numbers)."""
    return prefix + luhn_check_digit(prefix)


def rpps_error(rpps: str) -> str | None:
    """Why `rpps` is not a valid RPPS number, or None when it is."""
    error = identifiers.rpps_error(rpps)
    return f"RPPS invalide « {rpps} » : {error}" if error else None


def is_valid_rpps(rpps: str) -> bool:
    return rpps_error(rpps) is None


def normalise_phone(value: str) -> str | None:
    """French phone as 10 digits with no separator (the ROR rule), or None when unusable.

    National files carry "01 30 98 76 54", "01.30.98.76.54", "+33130987654" or, after a trip
    through a spreadsheet, "130987654" (leading zero lost).
    """
    digits = "".join(ch for ch in value if ch.isdigit())
    if not digits:
        return None
    if value.strip().startswith("+33") and len(digits) == 11:
        digits = "0" + digits[2:]
    elif len(digits) == 9 and digits[0] != "0":
        digits = "0" + digits
    return digits if len(digits) == 10 and digits[0] == "0" else None


def departement_of_commune(insee: str) -> str | None:
    """Departement code of a commune INSEE code (97x overseas, 2A/2B Corsica)."""
    if len(insee) != 5:
        return None
    return insee[:3] if insee.startswith("97") else insee[:2]


def departement_of_postcode(postcode: str) -> str | None:
    """Departement guessed from a postal code (fallback when the commune code is missing).

    Corsica (20xxx) cannot be told apart (2A/2B) and CEDEX codes can cross departement
    borders: only used when nothing better is available.
    """
    if len(postcode) != 5 or not postcode.isdigit():
        return None
    if postcode.startswith("97"):
        return postcode[:3]
    if postcode.startswith("20"):
        return None
    return postcode[:2]


def finess_commune_insee(departement: str, commune: str) -> str | None:
    """INSEE code of a commune from FINESS's (departement, 3-digit commune) pair."""
    commune = commune.strip()
    departement = departement.strip()
    if not commune or not departement:
        return None
    if departement in FINESS_OVERSEAS:
        # overseas communes: 971 + the last two digits ("101" -> "97101")
        code = FINESS_OVERSEAS[departement] + commune.zfill(3)[-2:]
    else:
        if len(departement) == 1:  # spreadsheets drop the leading zero of 01..09
            departement = departement.zfill(2)
        code = departement + commune.zfill(3)
    return code if COMMUNE_RE.match(code) else None


def finess_departement(departement: str) -> str:
    departement = departement.strip()
    if departement in FINESS_OVERSEAS:
        return FINESS_OVERSEAS[departement]
    return departement.zfill(2) if len(departement) == 1 else departement
