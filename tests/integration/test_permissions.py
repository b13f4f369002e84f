"""Who may call what: every endpoint the gateway registers × every kind of caller × own / other region ×
own / other resource (for endpoints whose access depends on the structure or owner of the resource).

The rules below are the specification; the test fails when the gateway registers an endpoint that has
no rule here, so a new endpoint cannot ship without deciding who may call it. For each case it checks
the class of the answer: 401 for an anonymous call of a protected endpoint, 403 for a missing role, a
token of the other region or a resource the caller neither owns nor has a role on, and neither 401/403
nor 5xx when allowed (a 400/404/409/412/428 for the placeholder ids and empty bodies used is fine).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

import gateway.service  # noqa: F401  (registers every route in gateway.api.ENDPOINTS)
from gateway.api import ENDPOINTS, Endpoint
from tests.accounts_support import fresh_rpps, import_national
from tests.helpers import demo_rpps

pytestmark = pytest.mark.integration

ANONYMOUS = "anonymous"
CALLERS = ("kine.demo", "cpts.directeur", "validateur", "support", "admin")  # the demo users
KINE_DEMO_RPPS = demo_rpps("idf", "kine.demo")


@dataclass(frozen=True)
class Rule:
    allowed: frozenset[str]  # who may call it (ANONYMOUS included when public)
    # Path parameter of a resource whose owner / structure decides: `allowed` then holds for the
    # caller's own resource only, and any other resource gives 403.
    scoped: str | None = None


EVERYONE = frozenset({ANONYMOUS, *CALLERS})
USERS = frozenset(CALLERS)
TEAM = frozenset({"validateur", "support", "admin"})
# kine.demo owns an offer (generated from its RPPS); cpts.directeur is directeur of another offer's unit.
EDITORS = frozenset({"kine.demo", "cpts.directeur"})

RULES: dict[str, Rule] = {
    # accounts
    "me": Rule(USERS),
    "issue_activation_codes": Rule(frozenset({"admin"})),
    "activate_account": Rule(EVERYONE),
    "verify_email": Rule(EVERYONE),
    "verify_email_link": Rule(EVERYONE),
    "request_password_reset": Rule(EVERYONE),
    "support_password_reset": Rule(frozenset({"support", "admin"})),
    "create_ror_account": Rule(USERS),
    "list_habilitations": Rule(TEAM),
    "grant_habilitation": Rule(frozenset({"admin"})),
    "revoke_habilitation": Rule(frozenset({"admin"})),
    # offers
    "list_nomenclature": Rule(EVERYONE),
    "search_communes": Rule(EVERYONE),
    "structure_tree": Rule(USERS),
    "list_offers": Rule(USERS),
    "get_offer": Rule(EVERYONE),
    "save_offer_step": Rule(EDITORS, scoped="offer_id"),
    "publish_offer": Rule(EDITORS, scoped="offer_id"),
    "unpublish_offer": Rule(EDITORS, scoped="offer_id"),
    "prefill_offer": Rule(EDITORS, scoped="offer_id"),
    "offer_pdf": Rule(EVERYONE),
    # platform
    "health": Rule(EVERYONE),
    # dossiers collaboratifs: any logged-in user may reach the service, which decides per dossier / EG
    # (membership, habilitation on the EG, regional team: tests/integration/test_dossiers.py covers them)
    "open_dossier": Rule(USERS),
    "list_dossiers": Rule(USERS),
    "get_dossier": Rule(USERS),
    "rename_dossier": Rule(USERS),
    "save_dossier_sheet": Rule(USERS),
    "create_dossier_sheet": Rule(USERS),
    "remove_dossier_sheet": Rule(USERS),
    "finalise_dossier_sheets": Rule(USERS),
    "dossier_transition": Rule(USERS),
    "list_dossier_collaborators": Rule(USERS),
    "add_dossier_collaborator": Rule(USERS),
    "list_dossier_comments": Rule(USERS),
    "add_dossier_comment": Rule(USERS),
    "dossier_history": Rule(USERS),
    "dossier_pdf": Rule(USERS),
    # structures in place (habilitation on the structure: tests/integration/test_structure_updates.py)
    "get_structure": Rule(USERS),
    "update_structure": Rule(USERS),
    "set_structure_activities": Rule(USERS),
    "add_structure_practitioner": Rule(USERS),
    "remove_structure_practitioner": Rule(USERS),
    "set_structure_capacities": Rule(USERS),
    "create_structure": Rule(frozenset()),  # adding / removing units needs a dossier: 403 for everyone
    "delete_structure": Rule(frozenset()),
    # search and répertoire
    "search": Rule(EVERYONE),
    "search_geojson": Rule(EVERYONE),
    "search_export": Rule(USERS),
    "search_suggest": Rule(EVERYONE),
    "repertoire_legal_entities": Rule(USERS),
    "list_favourites": Rule(USERS),
    "get_favourite": Rule(USERS),
    "add_favourite": Rule(USERS),
    "remove_favourite": Rule(USERS),
    # FHIR read API (public; a token of the region adds the professionals' contacts)
    "fhir_metadata": Rule(EVERYONE),
    "fhir_search": Rule(EVERYONE),
    "fhir_read": Rule(EVERYONE),
    # anomalies and support desk (who sees which anomaly / ticket is decided by the service: see
    # tests/integration/test_support_desk.py)
    "declare_anomaly": Rule(EVERYONE),
    "list_anomalies": Rule(USERS),
    "export_anomalies_csv": Rule(TEAM),
    "export_anomalies_xlsx": Rule(TEAM),
    "get_anomaly": Rule(USERS),
    "transition_anomaly": Rule(USERS),
    "answer_anomaly": Rule(USERS),
    "support_info": Rule(EVERYONE),
    "create_ticket": Rule(EVERYONE),
    "list_tickets": Rule(USERS),
    "get_ticket": Rule(EVERYONE),
    "add_ticket_message": Rule(EVERYONE),
    "transition_ticket": Rule(EVERYONE),
    # self-registration, CGU, "Mon compte", linking (issue 15). The bodies sent here are empty, so the
    # calls that change something (OTP enrolment, closing sessions) stop at validation for the demo users.
    "registration_captcha": Rule(EVERYONE),
    "registration_sms_code": Rule(EVERYONE),
    "register": Rule(EVERYONE),
    "accept_cgu": Rule(USERS),
    "my_account": Rule(USERS),
    "update_my_account": Rule(USERS),
    "confirm_email_link": Rule(EVERYONE),
    "confirm_email": Rule(EVERYONE),
    "add_otp_device": Rule(USERS),
    "remove_otp_device": Rule(USERS),
    "logout_everywhere": Rule(USERS),
    "provision_ror_account": Rule(frozenset({"admin"})),
    "request_ror_account_link": Rule(USERS),
    "confirm_ror_account_link": Rule(USERS),
    # resource persons of an offer (who may edit which offer is decided by the offers service)
    "list_resource_persons": Rule(EVERYONE),
    "add_resource_person": Rule(EDITORS, scoped="offer_id"),
    "remove_resource_person": Rule(EDITORS, scoped="offer_id"),
    # notifications
    "list_notifications": Rule(USERS),
    "get_notification_preferences": Rule(USERS),
    "set_notification_preferences": Rule(USERS),
    "create_webhook": Rule(frozenset({"admin"})),
    "list_webhooks": Rule(frozenset({"admin"})),
    "get_webhook": Rule(frozenset({"admin"})),
    "update_webhook": Rule(frozenset({"admin"})),
    "rotate_webhook_secret": Rule(frozenset({"admin"})),
    "list_webhook_deliveries": Rule(frozenset({"admin"})),
    "replay_webhook_delivery": Rule(frozenset({"admin"})),
    "replay_webhook_since": Rule(frozenset({"admin"})),
    "completeness_dashboard": Rule(TEAM),
}

# Bodies that get past validation, so that an authorisation done in the service is what answers.
BODIES = {"prefill_offer": lambda ids: {"from_offer_id": ids.get("offer_id", 1)},
          "add_resource_person": lambda ids: {"kind": "trainee", "last_name": "Permissions",
                                              "first_name": "Test", "starts_on": "2026-01-01"}}
PLACEHOLDERS = {"name": "TRE_R211", "step": "description", "username": "nobody-permissions"}
FAKE_ID = 987654321


@dataclass(frozen=True)
class Case:
    endpoint: Endpoint
    caller: str
    region: str  # "own": idf token on an idf path; "other": the pdl user's token on the idf path
    resource: str | None  # "own" / "other" for scoped endpoints

    @property
    def id(self) -> str:
        return "-".join(x for x in (self.endpoint.name, self.caller, f"{self.region}-region",
                                    self.resource and f"{self.resource}-resource") if x)

    def expected(self) -> int | None:
        """401 / 403, or None for "allowed" (anything but 401, 403 and 5xx)."""
        rule = RULES[self.endpoint.name]
        if self.caller == ANONYMOUS:
            return None if ANONYMOUS in rule.allowed else 401
        if self.region == "other" or self.caller not in rule.allowed:
            return 403
        if rule.scoped and self.resource == "other":
            return 403
        return None


def build_cases() -> list[Case]:
    cases = []
    for ep in ENDPOINTS:
        rule = RULES.get(ep.name)
        if rule is None:
            continue  # test_every_endpoint_has_a_rule fails instead
        cases.append(Case(ep, ANONYMOUS, "own", "other" if rule.scoped else None))
        for caller in CALLERS:
            # a path without region (/health) has no other region to try
            for region in ("own", "other") if "<region>" in ep.path else ("own",):
                resources = [None]
                if rule.scoped:
                    resources = ["own", "other"] if (caller in EDITORS and region == "own") else ["other"]
                cases.extend(Case(ep, caller, region, r) for r in resources)
    return cases


CASES = build_cases()


def test_every_endpoint_has_a_rule():
    names = [ep.name for ep in ENDPOINTS]
    assert len(names) == len(set(names)), "endpoint names must be unique"
    assert not set(names) - set(RULES), f"endpoints without a permission rule: {sorted(set(names) - set(RULES))}"
    assert not set(RULES) - set(names), f"rules for endpoints that no longer exist: {sorted(set(RULES) - set(names))}"


def test_table_size():
    per_endpoint = {}
    for case in CASES:
        per_endpoint[case.endpoint.name] = per_endpoint.get(case.endpoint.name, 0) + 1
    print(f"\npermission table: {len(ENDPOINTS)} endpoints, {len(CASES)} cases "
          f"({min(per_endpoint.values())}–{max(per_endpoint.values())} per endpoint)")
    assert len(CASES) >= 11 * len(ENDPOINTS)


@pytest.fixture(scope="module")
def resources(api, tokens, db_url, suite_config, tmp_path_factory):
    """Offers for the scoped cases: kine.demo's own (from its RPPS), one in a unit where cpts.directeur
    is directeur (habilitation granted for the test), and one nobody here may edit."""
    from nameko.standalone.rpc import ClusterRpcProxy

    from services.offers.demo import load as load_offers_demo

    load_offers_demo("idf", db_url)  # kine.demo's offer, generated from its RPPS (idempotent)
    directed, foreign = fresh_rpps(), fresh_rpps()
    import_national(db_url, "idf", [directed, foreign], tmp_path_factory.mktemp("perm"))
    with ClusterRpcProxy(suite_config, timeout=30) as cluster:
        offer = {rpps: cluster.offers.national_professionals("idf", rpps=rpps)[0]["offer_ids"][0]
                 for rpps in (KINE_DEMO_RPPS, directed, foreign)}
    unit = api.get(f"/api/idf/offers/{offer[directed]}", token=tokens("idf", "validateur")).json()["unit_id"]
    granted = api.post("/api/idf/habilitations", token=tokens("idf", "admin"),
                       json={"username": "cpts.directeur", "role": "directeur", "structure_id": unit})
    assert granted.status_code == 201, granted.text
    yield {"own": {"kine.demo": offer[KINE_DEMO_RPPS], "cpts.directeur": offer[directed]},
           "other": offer[foreign]}
    api.delete(f"/api/idf/habilitations/{granted.json()['id']}", token=tokens("idf", "admin"))


def _path(case: Case, resources: dict) -> tuple[str, dict]:
    ids: dict[str, int] = {}
    rule = RULES[case.endpoint.name]
    if rule.scoped:
        ids[rule.scoped] = (resources["own"][case.caller] if case.resource == "own" else resources["other"])

    def fill_int(match):
        return str(ids.setdefault(match.group(1), FAKE_ID))

    path = case.endpoint.path.replace("<region>", "idf")
    path = re.sub(r"<int:(\w+)>", fill_int, path)
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: PLACEHOLDERS.get(m.group(1), "x"), path)
    return path, ids


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_permission(case: Case, api, tokens, resources):
    path, ids = _path(case, resources)
    token = None
    if case.caller != ANONYMOUS:
        token = tokens("idf" if case.region == "own" else "pdl", case.caller)
    body = BODIES.get(case.endpoint.name, lambda ids: {})(ids)
    resp = api.request(case.endpoint.method, path, token=token, json=body, headers={"If-Match": '"0"'})
    expected = case.expected()
    where = f"{case.endpoint.method} {path} as {case.caller} ({case.region} region): {resp.status_code} {resp.text[:300]}"
    if expected is None:
        assert resp.status_code not in (401, 403) and resp.status_code < 500, where
    else:
        assert resp.status_code == expected, where
