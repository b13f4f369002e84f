"""Accounts operations on the real PostgreSQL with an in-memory Keycloak: the consistency rules that are
hard to provoke through HTTP (Keycloak down, commit failing after Keycloak acted, role bookkeeping)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from services.accounts.models import (
    Activation,
    ActivationAttempt,
    ActivationCode,
    EmailVerification,
    Habilitation,
    Outbox,
)
from services.accounts.operations import (
    activation,
    codes,
    email_verification,
    habilitations,
    password_reset,
    ror_account,
)
from services.common.actor import Actor
from services.common.db import transaction
from services.common.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unavailable,
)
from services.common.outbox import utcnow
from tests.accounts_support import FakeDirectory, fresh_rpps

pytestmark = pytest.mark.integration
PUBLIC = "http://gw.test"


@pytest.fixture
def session(db_url):
    from services.common.db import session_factory

    s = session_factory(db_url)()
    yield s
    s.rollback()
    s.close()


def run(session, operation, *args, **kwargs):
    """Call an operation the way its nameko entrypoint does: operations only flush, the entrypoint's
    `transaction` commits (or rolls back and undoes the Keycloak changes)."""
    with transaction(session):
        return operation(session, *args, **kwargs)


@pytest.fixture
def kc():
    return FakeDirectory()


def person(rpps=None, **over):
    return {"rpps": rpps or fresh_rpps(), "civility": "MME", "last_name": "Martin", "first_name": "Claire",
            "profession_code": "70", "profession_label": "Masseur-Kinésithérapeute", "email": None,
            "offer_ids": [], **over}


def issue(session, kc, rpps=None, region="idf", **kw):
    result = run(session, codes.issue_codes, region, [person(rpps)], "test", kc, **kw)
    return result.issued[0]


def form(code, **over):
    return {"rpps": code["rpps"], "activation_code": code["code"], "password": "Secret123",
            "email": f"{code['rpps']}@example.org", "phone": None, **over}


def outbox_events(session, event_type, **match):
    rows = session.scalars(select(Outbox).where(Outbox.event_type == event_type)).all()
    return [r.payload for r in rows if all(r.payload.get(k) == v for k, v in match.items())]


def test_activation_uses_the_code_and_records_the_event_with_the_link(session, kc):
    code = issue(session, kc)
    answer = run(session, activation.activate, "idf", form(code), kc, PUBLIC)
    assert answer["username"] == code["rpps"] and answer["email_verified"] is False
    row = session.scalar(select(ActivationCode).where(ActivationCode.rpps == code["rpps"]))
    assert row.used_at is not None and code["code"] not in row.code_hash
    user = kc.find_by_username(code["rpps"])
    assert user["requiredActions"] == ["VERIFY_EMAIL"] and user["firstName"] == "Claire"
    [event] = outbox_events(session, "accounts.activated", username=code["rpps"])
    assert event["email"] == f"{code['rpps']}@example.org" and event["region"] == "idf"
    assert event["verification_url"].startswith(f"{PUBLIC}/api/idf/accounts/verify-email?token=")
    token = event["verification_url"].split("token=")[1]
    assert session.scalar(select(EmailVerification.token_hash).where(
        EmailVerification.subject == user["id"])) != token  # only the hash is kept

    verified = run(session, email_verification.verify_email, "idf", token, kc)
    assert verified["email_verified"] and kc.users[user["id"]]["requiredActions"] == []
    assert outbox_events(session, "accounts.email_verified", username=code["rpps"])
    with pytest.raises(InvalidInput):  # single use
        run(session, email_verification.verify_email, "idf", token, kc)
    with pytest.raises(InvalidInput):  # a token works in its own region only
        run(session, email_verification.verify_email, "pdl", token, kc)


def test_an_expired_link_is_refused(session, kc):
    code = issue(session, kc)
    run(session, activation.activate, "idf", form(code), kc, PUBLIC)
    token = outbox_events(session, "accounts.activated", username=code["rpps"])[0]["verification_url"].split("=")[1]
    with pytest.raises(InvalidInput):
        run(session, email_verification.verify_email, "idf", token, kc, now=utcnow() + timedelta(days=8))


def test_keycloak_down_stores_nothing_and_the_code_stays_usable(session, kc):
    code = issue(session, kc)
    kc.fail_create = Unavailable("down")
    with pytest.raises(Unavailable):
        run(session, activation.activate, "idf", form(code), kc, PUBLIC)
    assert session.scalar(select(ActivationCode.used_at).where(ActivationCode.rpps == code["rpps"])) is None
    assert session.scalar(select(Activation.id).where(Activation.rpps == code["rpps"])) is None
    assert not outbox_events(session, "accounts.activated", username=code["rpps"])
    run(session, activation.activate, "idf", form(code), kc, PUBLIC)  # the same code then works


def test_a_failed_commit_deletes_the_keycloak_user(session, kc, monkeypatch):
    code = issue(session, kc)

    def broken_commit():
        raise OperationalError("COMMIT", {}, Exception("database went away"))

    monkeypatch.setattr(session, "commit", broken_commit)
    with pytest.raises(OperationalError):
        run(session, activation.activate, "idf", form(code), kc, PUBLIC)
    monkeypatch.undo()
    assert kc.deleted and kc.find_by_username(code["rpps"]) is None
    assert session.scalar(select(ActivationCode.used_at).where(ActivationCode.rpps == code["rpps"])) is None
    run(session, activation.activate, "idf", form(code), kc, PUBLIC)


def test_five_wrong_codes_in_an_hour_block_even_the_right_one(session, kc):
    code = issue(session, kc)
    for _ in range(5):
        with pytest.raises(InvalidInput) as err:
            run(session, activation.activate, "idf", form(code, activation_code="AAAAA-BBBBB"), kc, PUBLIC)
        assert err.value.message == activation.INVALID_CODE
    with pytest.raises(TooManyRequests) as err:
        run(session, activation.activate, "idf", form(code), kc, PUBLIC)
    assert 3000 < err.value.fields["retry_after"] <= 3601
    assert session.scalar(select(func.count()).select_from(ActivationAttempt).where(
        ActivationAttempt.rpps == code["rpps"], ActivationAttempt.succeeded.is_(False))) == 5
    # an hour later the right code works
    run(session, activation.activate, "idf", form(code), kc, PUBLIC, now=utcnow() + timedelta(minutes=61))


def test_unknown_rpps_and_wrong_code_look_the_same(session, kc):
    code = issue(session, kc)
    errors = []
    for rpps, value in ((fresh_rpps(), code["code"]), (code["rpps"], "AAAAA-BBBBB")):
        with pytest.raises(InvalidInput) as err:
            run(session, activation.activate, "idf", form(code, rpps=rpps, activation_code=value), kc, PUBLIC)
        errors.append(err.value.to_dict())
    assert errors[0] == errors[1]


def test_used_expired_and_replaced_codes_are_refused(session, kc):
    used = issue(session, kc)
    run(session, activation.activate, "idf", form(used), kc, PUBLIC)
    kc.users.clear()  # even if the Keycloak user were gone, a used code never works again
    with pytest.raises(InvalidInput):
        run(session, activation.activate, "idf", form(used, email="other@example.org"), kc, PUBLIC)

    expiring = issue(session, kc, days=1)
    with pytest.raises(InvalidInput):
        run(session, activation.activate, "idf", form(expiring), kc, PUBLIC, now=utcnow() + timedelta(days=2))

    first = issue(session, kc)
    second = issue(session, kc, rpps=first["rpps"])  # a new letter replaces the first code
    with pytest.raises(InvalidInput):
        run(session, activation.activate, "idf", form(first), kc, PUBLIC)
    run(session, activation.activate, "idf", form(second), kc, PUBLIC)


def test_codes_are_per_region(session, kc):
    code = issue(session, kc, region="pdl")
    with pytest.raises(InvalidInput):
        run(session, activation.activate, "idf", form(code), kc, PUBLIC)
    run(session, activation.activate, "pdl", form(code), kc, PUBLIC)


def test_an_rpps_with_an_account_gets_409_only_with_a_valid_code(session, kc):
    code = issue(session, kc)
    kc.add_user("someone.else", rpps=code["rpps"])  # e.g. created by a first e-CPS login
    with pytest.raises(InvalidInput):
        run(session, activation.activate, "idf", form(code, activation_code="AAAAA-BBBBB"), kc, PUBLIC)
    with pytest.raises(Conflict):
        run(session, activation.activate, "idf", form(code), kc, PUBLIC)
    assert session.scalar(select(ActivationCode.used_at).where(ActivationCode.rpps == code["rpps"])) is None


def test_issuing_skips_activated_professionals_and_bad_numbers(session, kc):
    done = issue(session, kc)
    run(session, activation.activate, "idf", form(done), kc, PUBLIC)
    demo = fresh_rpps()
    kc.add_user("kine.other", rpps=demo)
    result = codes.issue_codes(session, "idf", [person(done["rpps"]), person(demo), person("12345678901"),
                                                    {"rpps": "1"}], "test", kc)
    assert result.issued == []
    assert [s["reason"] for s in result.skipped][:2] == ["already activated", "already activated"]
    assert len(result.skipped) == 4


def test_live_code_matches_only_the_usable_code(session, kc):
    code = issue(session, kc)
    assert codes.live_code_matches(session, "idf", code["rpps"], code["code"])
    assert not codes.live_code_matches(session, "idf", code["rpps"], "AAAAA-BBBBB")
    assert not codes.live_code_matches(session, "pdl", code["rpps"], code["code"])


# --------------------------------------------------------------------------- ROR account

def actor(region="idf", rpps=None, roles=("professional",), username=None, subject=None):
    return Actor(subject=subject or f"sub-{fresh_rpps()}", username=username or "someone", region=region,
                 roles=frozenset(roles), rpps=rpps)


def test_ror_account_is_created_once_per_rpps(session):
    calls = []
    me = actor(rpps=fresh_rpps())
    created = run(session, ror_account.create_ror_account, me, lambda *a: calls.append(a) or [11, 12])
    assert created["offer_ids"] == [11, 12] and calls == [("idf", me.rpps, me.subject, me.username)]
    assert outbox_events(session, "accounts.ror_account_created", rpps=me.rpps)
    for again in (me, actor(rpps=me.rpps)):  # same person, or another identity with the same RPPS
        with pytest.raises(Conflict) as err:
            run(session, ror_account.create_ror_account, again, lambda *a: [])
        assert err.value.message == ror_account.ROR_ACCOUNT_EXISTS
    run(session, ror_account.create_ror_account, actor(region="pdl", rpps=me.rpps), lambda *a: [])  # other region
    assert ror_account.profile(session, "idf", me.subject)["ror_account"]["offer_ids"] == [11, 12]


def test_ror_account_needs_an_rpps(session):
    with pytest.raises(InvalidInput) as err:
        run(session, ror_account.create_ror_account, actor(rpps=None), lambda *a: [])
    assert "rpps" in err.value.fields


# --------------------------------------------------------------------------- habilitations

ADMIN = Actor(subject="admin-sub", username="admin", region="idf", roles=frozenset({"region_admin"}))


def grant(session, kc, username, role="directeur", structure_id=1, region="idf", exists=None):
    return run(session, habilitations.grant_habilitation, region,
               {"username": username, "role": role, "structure_id": structure_id}, ADMIN, kc, exists)


def test_grant_and_revoke_manage_the_realm_role(session, kc):
    name = f"u{fresh_rpps()}"
    uid = kc.add_user(name)
    first = grant(session, kc, name, structure_id=101)
    second = grant(session, kc, name, structure_id=102)
    assert kc.has_realm_role(uid, "directeur")
    with pytest.raises(Conflict):
        grant(session, kc, name, structure_id=101)
    assert {(h["role"], h["structure_id"]) for h in habilitations.habilitation_pairs(session, "idf", uid)} == {
        ("directeur", 101), ("directeur", 102)}
    assert [h["id"] for h in habilitations.list_habilitations(session, "idf", name)] == [first["id"], second["id"]]
    assert habilitations.list_habilitations(session, "pdl", name) == []
    with pytest.raises(NotFound):  # another region cannot touch it
        run(session, habilitations.revoke_habilitation, "pdl", first["id"], ADMIN, kc)
    run(session, habilitations.revoke_habilitation, "idf", first["id"], ADMIN, kc)
    assert kc.has_realm_role(uid, "directeur")  # still directeur of 102
    run(session, habilitations.revoke_habilitation, "idf", second["id"], ADMIN, kc)
    assert not kc.has_realm_role(uid, "directeur")
    assert outbox_events(session, "accounts.role_revoked", habilitation_id=second["id"])


def test_a_failed_commit_gives_back_the_realm_role_a_revocation_removed(session, kc, monkeypatch):
    name = f"u{fresh_rpps()}"
    uid = kc.add_user(name)
    h = grant(session, kc, name, structure_id=9)
    monkeypatch.setattr(session, "commit", lambda: (_ for _ in ()).throw(
        OperationalError("COMMIT", {}, Exception("database went away"))))
    with pytest.raises(OperationalError):
        run(session, habilitations.revoke_habilitation, "idf", h["id"], ADMIN, kc)
    monkeypatch.undo()
    assert kc.has_realm_role(uid, "directeur")  # compensation: Keycloak agrees with the kept habilitation
    assert [x["id"] for x in habilitations.list_habilitations(session, "idf", name)] == [h["id"]]


def test_a_role_from_the_realm_is_not_removed_with_the_last_habilitation(session, kc):
    name = f"u{fresh_rpps()}"
    uid = kc.add_user(name, roles={"directeur"})
    h = grant(session, kc, name, structure_id=7)
    run(session, habilitations.revoke_habilitation, "idf", h["id"], ADMIN, kc)
    assert kc.has_realm_role(uid, "directeur")


def test_grant_checks_the_user_and_the_structure(session, kc):
    with pytest.raises(NotFound) as err:
        grant(session, kc, "nobody-here")
    assert "username" in err.value.fields
    name = f"u{fresh_rpps()}"
    kc.add_user(name)
    with pytest.raises(NotFound) as err:
        grant(session, kc, name, exists=lambda region, sid: False)
    assert "structure_id" in err.value.fields
    assert session.scalar(select(func.count()).select_from(Habilitation).where(Habilitation.username == name)) == 0


def test_support_reset_is_for_support_and_admins(kc):
    kc.add_user("someone", email="someone@example.org")
    validator = Actor(subject="v", username="validateur", region="idf", roles=frozenset({"regional_validator"}))
    with pytest.raises(Forbidden):
        password_reset.support_password_reset("idf", "someone", validator, kc)
    with pytest.raises(NotFound):
        password_reset.support_password_reset("idf", "nobody", ADMIN, kc)
    password_reset.support_password_reset("idf", "someone", ADMIN, kc)
    assert len(kc.resets) == 1
    assert password_reset.request_password_reset("idf", "someone@example.org", kc) is True
    assert password_reset.request_password_reset("idf", "nobody@example.org", kc) is False


def test_an_account_deleted_in_keycloak_can_be_activated_again_with_a_new_letter(session, kc):
    code = issue(session, kc)
    run(session, activation.activate, "idf", form(code), kc, PUBLIC)
    assert codes.issue_codes(session, "idf", [person(code["rpps"])], "test", kc).issued == []
    kc.users.clear()  # support deleted the account
    again = issue(session, kc, rpps=code["rpps"])
    run(session, activation.activate, "idf", form(again, email="new@example.org"), kc, PUBLIC)
    [row] = session.scalars(select(Activation).where(Activation.region == "idf",
                                                     Activation.rpps == code["rpps"])).all()
    assert row.email == "new@example.org"
