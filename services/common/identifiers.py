"""National identifiers of professionals (RPPS, national id) — one definition for every service."""

from __future__ import annotations

import re
import unicodedata

RPPS_LENGTH = 11
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # d -> digit sum of 2 * d


def luhn_valid(digits: str) -> bool:
    """Luhn (mod 10) checksum, the check digit being the last one (RPPS and FINESS numbers end with one)."""
    if not digits.isascii() or not digits.isdigit():
        return False
    # every second digit from the right is doubled; map/int keep the loop in C (imports call it per line)
    total = sum(map(int, digits[-1::-2])) + sum(map(_DOUBLED.__getitem__, map(int, digits[-2::-2])))
    return total % 10 == 0


def luhn_check_digit(payload: str) -> str:
    """The digit that makes `payload` + digit Luhn-valid (to build test and demo numbers)."""
    return next(str(d) for d in range(10) if luhn_valid(payload + str(d)))


def rpps_error(value: object) -> str | None:
    """Why `value` is not an RPPS number (French, for the user), or None when it is one."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        return "Le numéro RPPS doit être composé uniquement de chiffres."
    if len(value) != RPPS_LENGTH:
        return f"Le numéro RPPS doit comporter {RPPS_LENGTH} chiffres."
    if not luhn_valid(value):
        return "Le numéro RPPS n'est pas valide (clé de contrôle Luhn erronée)."
    return None


def is_valid_rpps(value: object) -> bool:
    return rpps_error(value) is None


def national_id(rpps: str) -> str:
    """National identifier of a professional identified by RPPS: "8" + RPPS ("0" + ADELI)."""
    return "8" + rpps


def folded_name(text: str | None) -> str:
    """A name as compared with the national record: upper case, no accents, hyphens or spaces
    ('Lefèvre-Dupont' == 'LEFEVRE DUPONT')."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return re.sub(r"[^A-Z]", "", "".join(c for c in decomposed if not unicodedata.combining(c)).upper())


def same_person_name(last_name: str, first_name: str, national_last: str | None, national_first: str | None) -> bool:
    """The typed names are those of the national record (a record without first name matches any)."""
    return (folded_name(last_name) == folded_name(national_last)
            and (not national_first or folded_name(first_name) == folded_name(national_first)))
