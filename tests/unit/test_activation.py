"""Activation rules without any infrastructure: RPPS, codes, expiry, attempt limit, password policy."""

from datetime import UTC, datetime, timedelta

import pytest
from marshmallow import ValidationError

from services.accounts import activation as rules
from services.accounts.schemas import ActivateSchema, GrantSchema, IssueCodesSchema

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


# --------------------------------------------------------------------------- RPPS / Luhn

@pytest.mark.parametrize("number", ["10101234564", "10102345674", "10203456784", "79927398713"])
def test_valid_luhn_numbers(number):
    assert rules.luhn_valid(number)
    assert rules.rpps_error(number) is None


@pytest.mark.parametrize("number", ["10101234565", "10000000001", "79927398710"])
def test_a_wrong_check_digit_is_refused(number):
    assert not rules.luhn_valid(number)
    assert "contrôle" in rules.rpps_error(number)


@pytest.mark.parametrize("value, words", [
    ("1010123456", "11 chiffres"), ("101012345640", "11 chiffres"), ("1010123456a", "chiffres"),
    ("", "chiffres"), (None, "chiffres"), ("١٠١٠١٢٣٤٥٦٤", "chiffres"),  # Arabic-Indic digits are not ASCII
])
def test_malformed_rpps(value, words):
    assert words in rules.rpps_error(value)


def test_check_digit_completes_any_payload():
    for payload in ("1010123456", "0000000000", "9999999999", "1234567890"):
        assert rules.luhn_valid(payload + rules.luhn_check_digit(payload))


def test_every_single_digit_error_is_detected():
    number = "10101234564"
    for i in range(len(number)):
        for d in "0123456789":
            if d != number[i]:
                assert not rules.luhn_valid(number[:i] + d + number[i + 1:])


# --------------------------------------------------------------------------- codes

def test_codes_are_grouped_from_an_unambiguous_alphabet():
    codes = {rules.generate_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 11 and code[5] == "-"
        assert set(code.replace("-", "")) <= set(rules.CODE_ALPHABET)
    assert not set("01OIL") & set(rules.CODE_ALPHABET)


def test_codes_are_normalised_before_comparison():
    assert rules.normalize_code(" k7qx2 - m9prt ") == "K7QX2M9PRT"
    assert rules.normalize_code("K7QX2M9PRT") == "K7QX2M9PRT"
    assert rules.normalize_code("K7QX2-M9PR") is None  # too short
    assert rules.normalize_code("K7QX2-M9PR0") is None  # 0 is not in the alphabet
    assert rules.normalize_code(12345) is None


def test_code_hash_is_salted_and_verifies_only_the_right_code():
    code = rules.generate_code()
    first, second = rules.hash_code(code), rules.hash_code(code)
    assert first != second  # one salt per code
    assert code.replace("-", "") not in first
    assert first.startswith("scrypt$")
    assert rules.verify_code(code, first) and rules.verify_code(code.lower().replace("-", " "), second)
    other = rules.generate_code()
    assert not rules.verify_code(other, first)
    assert not rules.verify_code("not a code", first)
    assert not rules.verify_code(code, "garbage")


def test_code_expiry_and_single_use():
    expires = rules.code_expiry(NOW)
    assert expires == NOW + timedelta(days=90)
    assert rules.code_expiry(NOW, 7) == NOW + timedelta(days=7)
    with pytest.raises(ValueError):
        rules.code_expiry(NOW, 0)
    assert rules.code_usable(NOW, expires, None, None)
    assert not rules.code_usable(expires, expires, None, None)  # expired at the exact instant
    assert not rules.code_usable(NOW, expires, NOW, None)  # used once: done
    assert not rules.code_usable(NOW, expires, None, NOW)  # replaced by a newer letter


# --------------------------------------------------------------------------- attempt limit

def test_four_failures_in_an_hour_still_allow_an_attempt():
    failures = [NOW - timedelta(minutes=m) for m in (1, 10, 20, 30)]
    assert rules.retry_after(failures, NOW) is None


def test_five_failures_in_an_hour_block_until_the_oldest_ages_out():
    failures = [NOW - timedelta(minutes=m) for m in (1, 10, 20, 30, 50)]
    assert rules.retry_after(failures, NOW) == timedelta(minutes=10)


def test_old_failures_do_not_count():
    failures = [NOW - timedelta(minutes=m) for m in (1, 2, 3, 4, 61, 90)]
    assert rules.retry_after(failures, NOW) is None


def test_more_failures_block_until_only_four_remain_in_the_window():
    failures = [NOW - timedelta(minutes=m) for m in (1, 2, 3, 4, 5, 40, 55)]
    # 7 recent: allowed again when the 3 oldest (55, 40, 5 min ago) have left the window.
    assert rules.retry_after(failures, NOW) == timedelta(minutes=55)


def test_limit_and_window_are_parameters():
    failures = [NOW - timedelta(seconds=s) for s in (1, 2)]
    assert rules.retry_after(failures, NOW, limit=2, window=timedelta(seconds=10)) == timedelta(seconds=8)


# --------------------------------------------------------------------------- password policy

@pytest.mark.parametrize("password", ["Secret123", "Abcdefg1", "ÉtéÀ2026x"])
def test_good_passwords(password):
    assert rules.password_errors(password) == []


@pytest.mark.parametrize("password, missing", [
    ("Abc1", "8 caractères"), ("secret123", "majuscule"), ("SECRET123", "minuscule"), ("SecretSecret", "chiffre"),
])
def test_each_rule_is_named(password, missing):
    errors = rules.password_errors(password)
    assert len(errors) == 1 and missing in errors[0] and "mot de passe" in errors[0]


def test_all_broken_rules_are_listed():
    assert len(rules.password_errors("")) == 4


# --------------------------------------------------------------------------- e-mail tokens

def test_email_tokens_are_random_and_stored_hashed():
    token, digest = rules.new_email_token()
    other, _ = rules.new_email_token()
    assert token != other and len(token) >= 40
    assert digest == rules.email_token_hash(token) and token not in digest and len(digest) == 64


# --------------------------------------------------------------------------- boundary schemas

GOOD = {"rpps": "10101234564", "activation_code": "K7QX2-M9PRT", "password": "Secret123",
        "email": "anne@example.org"}


def test_activation_input_is_accepted():
    assert ActivateSchema().load(GOOD)["phone"] is None
    assert ActivateSchema().load({**GOOD, "phone": "0612345678"})["phone"] == "0612345678"


@pytest.mark.parametrize("field, value", [
    ("rpps", "10101234565"), ("rpps", "123"), ("password", "weak"), ("email", "nope"),
    ("phone", "06 12 34 56 78"), ("activation_code", ""),
])
def test_activation_errors_name_the_field(field, value):
    with pytest.raises(ValidationError) as err:
        ActivateSchema().load({**GOOD, field: value})
    assert set(err.value.messages) == {field}


def test_missing_fields_are_named():
    with pytest.raises(ValidationError) as err:
        ActivateSchema().load({})
    assert set(err.value.messages) == {"rpps", "activation_code", "password", "email"}


def test_code_batches_need_a_target_and_grants_a_known_role():
    with pytest.raises(ValidationError):
        IssueCodesSchema().load({})
    assert IssueCodesSchema().load({"profession_code": "70"})["rpps"] is None
    with pytest.raises(ValidationError) as err:
        GrantSchema().load({"username": "x", "role": "region_admin", "structure_id": 1})
    assert set(err.value.messages) == {"role"}


def test_every_professional_follows_the_pages_and_sorts_by_name():
    from services.accounts import offers_client

    people = [{"rpps": f"{i:011d}", "last_name": f"NOM{(7 * i) % 2500:04d}", "first_name": "A"}
              for i in range(2500)]
    calls = []

    def fetch(after, limit):
        calls.append(after)
        rest = [p for p in people if after is None or p["rpps"] > after]
        return rest[:limit]

    got = offers_client.every_professional(fetch)
    assert len(got) == 2500 and len(calls) == 3
    assert [p["last_name"] for p in got] == sorted(p["last_name"] for p in people)


def test_scrypt_runs_at_most_two_at_once_and_through_the_offload(monkeypatch):
    """A flood of activation attempts cannot run scrypt more than SCRYPT_SLOTS times in parallel."""
    import threading
    import time as time_module

    from services.accounts import activation

    running, peak, lock = [0], [0], threading.Lock()

    def offload(fn, *args, **kwargs):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time_module.sleep(0.05)
        try:
            return fn(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(activation, "offload", offload)
    stored = activation.hash_code("ABCDE-FGHJK")
    threads = [threading.Thread(target=activation.verify_code, args=("ABCDE-FGHJK", stored)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2
