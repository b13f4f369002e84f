"""Rules of self-registration (services.accounts.registration and its schemas), without any server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.accounts import registration as rules
from services.accounts.contracts import AccountPatchSchema, RegistrationSchema
from services.accounts.pki import ensure_ca, issue_cps_cert
from tests.helpers import fresh_rpps

SECRET = "unit-test-secret"


def test_a_solved_captcha_is_accepted_once_its_signature_is_known():
    challenge = rules.new_captcha(SECRET, cost=20)
    payload = rules.solve_captcha(challenge)
    signature, expires = rules.captcha_signature(payload, SECRET)
    assert signature == challenge["signature"] and expires > datetime.now(UTC)
    assert rules.captcha_signature(payload, "another-secret") == (None, None)  # not our challenge
    for garbage in ("", "x" * 5000, "bm90IGEgc29sdXRpb24=", None, 42, "\x00"):
        assert rules.captcha_signature(garbage, SECRET) == (None, None)


def test_an_expired_captcha_is_refused():
    challenge = rules.new_captcha(SECRET, cost=20, now=datetime.now(UTC) - timedelta(hours=1))
    assert rules.captcha_signature(rules.solve_captcha(challenge), SECRET) == (None, None)


def test_codes_are_compared_by_hash_and_typed_spaces_ignored():
    code, stored = rules.new_numeric_code()
    assert len(code) == 6 and code.isdigit() and rules.code_matches(f" {code[:3]} {code[3:]}", stored)
    assert not rules.code_matches("000000" if code != "000000" else "111111", stored)
    assert not rules.code_matches(None, stored)


@pytest.mark.parametrize("typed, expected", [
    ("06 12 34 56 78", "0612345678"), ("+33 7 12 34 56 78", "0712345678"), ("0033612345678", "0612345678"),
    ("06.12.34.56.78", "0612345678"), ("0012345678", None), ("06123", None), ("abc", None), ("", None)])
def test_phone_numbers(typed, expected):
    assert rules.normalize_phone(typed) == expected


def test_typed_rpps_is_checked_against_luhn_national_data_and_name():
    rpps = fresh_rpps()
    person = {"rpps": rpps, "last_name": "LEFÈVRE-DUPONT", "first_name": "Hélène"}
    assert rules.rpps_check(rpps, "Lefevre Dupont", "helene", [person]) is None
    assert "nom" in rules.rpps_check(rpps, "Martin", "Hélène", [person])
    assert "absent" in rules.rpps_check(rpps, "Lefevre Dupont", "Hélène", [])
    wrong_luhn = rpps[:-1] + str((int(rpps[-1]) + 1) % 10)
    assert rules.rpps_check(wrong_luhn, "Lefevre Dupont", "Hélène", [person])


def test_card_certificate_gives_the_rpps_only_when_our_ca_signed_it(tmp_path):
    ca = ensure_ca(tmp_path / "ca")
    other = ensure_ca(tmp_path / "other", name="AUTRE AC")
    rpps = fresh_rpps()
    card = issue_cps_cert(tmp_path / "ca", rpps, tmp_path).cert.read_text()
    assert rules.card_rpps(card, ca.cert.read_bytes()) == rpps
    assert rules.card_rpps(card, other.cert.read_bytes()) is None
    expired = issue_cps_cert(tmp_path / "ca", rpps, tmp_path, days=1, name="old",
                             not_before=datetime.now(UTC) - timedelta(days=10)).cert.read_text()
    assert rules.card_rpps(expired, ca.cert.read_bytes()) is None
    assert rules.card_rpps("not a certificate", ca.cert.read_bytes()) is None


def test_cgu_version_bump_asks_again():
    assert rules.cgu_required(set(), "2026-01")
    assert not rules.cgu_required({"2026-01"}, "2026-01")
    assert rules.cgu_required({"2026-01"}, "2026-09")


def _form(**over):
    body = {"civility": "MME", "last_name": "Dupont", "first_name": "Claire", "email": "c@example.org",
            "email_confirmation": "C@example.org", "mobile_phone": "06 12 34 56 78", "username": "claire.d",
            "password": "Secret2026", "password_confirmation": "Secret2026", "sms_code": "123456",
            "cgu_accepted": True, "cgu_version": "2026-01", "altcha": "x"}
    return {**body, **over}


def test_registration_form_rules():
    loaded = RegistrationSchema().load(_form())
    assert loaded["mobile_phone"] == "0612345678" and loaded["email"] == "c@example.org"
    errors = RegistrationSchema().validate(_form(email_confirmation="x@example.org", password="short",
                                                 cgu_accepted=False, mobile_phone="01 30 00 00 00",
                                                 national_id="123", username="a b", last_name="\x00"))
    assert {"email_confirmation", "password", "cgu_accepted", "mobile_phone", "national_id", "username",
            "last_name"} <= set(errors)
    missing = RegistrationSchema().validate({})
    assert {"civility", "last_name", "first_name", "email", "username", "password", "sms_code", "altcha",
            "cgu_accepted"} <= set(missing)


def test_mon_compte_national_data_are_read_only():
    errors = AccountPatchSchema().validate({"rpps": "10101234564", "last_name": "X"})
    assert set(errors) == {"rpps", "last_name"}
    errors = AccountPatchSchema().validate({"password": "Nouveau2027", "password_confirmation": "Autre2027"})
    assert {"current_password", "password_confirmation"} <= set(errors)


def test_nul_control_characters_and_lone_surrogates_are_refused_not_stored():
    errors = RegistrationSchema().validate(_form(last_name="Du\x00pont", comment="ligne\ud800", sms_code="12\ud8003",
                                                 password="Secret2026\ud800", altcha="\x00"))
    assert {"last_name", "comment", "sms_code", "password", "altcha"} <= set(errors)
    assert "comment" not in RegistrationSchema().validate(_form(comment="Première ligne\nSeconde ligne"))
