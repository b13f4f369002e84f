"""Test helpers of the accounts side: fresh RPPS numbers and an in-memory Keycloak directory."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

from services.common.errors import Conflict, NotFound
from tests.helpers import (
    KEYCLOAK_URL,
    fresh_rpps,  # noqa: E402,F401  (prefix 19: the accounts family)
    sql,
    wait_for_mail,
)

PASSWORD = "Secret2026"

SITES = {  # a practice address per region: commune INSEE code, postal code, city, departement
    "idf": ("78646", "78000", "VERSAILLES", "78"),
    "pdl": ("44109", "44000", "NANTES", "44"),
    "bre": ("35238", "35000", "RENNES", "35"),  # tests/integration/test_new_region.py
}


def rpps_extract(region: str, numbers: list[str]) -> str:
    """An RPPS open-data extract (official header) with one liberal kiné activity per number."""
    from services.offers.importers.rpps import format_header, format_line

    commune, postcode, city, dep = SITES[region]
    lines = [format_header()]
    for n in numbers:
        lines.append(format_line({
            "Type d'identifiant PP": "8", "Identifiant PP": n, "Identification nationale PP": "8" + n,
            "Code civilité d'exercice": "MME", "Libellé civilité d'exercice": "Madame",
            "Nom d'exercice": f"TEST{n[-4:]}", "Prénom d'exercice": "Claire", "Code profession": "70",
            "Libellé profession": "Masseur-Kinésithérapeute", "Code mode exercice": "L",
            "Libellé mode exercice": "Libéral", "Numéro Voie (coord. structure)": n[-3:],
            "Libellé type de voie (coord. structure)": "Rue", "Libellé Voie (coord. structure)": "des Tests",
            "Code postal (coord. structure)": postcode, "Code commune (coord. structure)": commune,
            "Libellé commune (coord. structure)": city, "Code Département (structure)": dep,
        }))
    return "\n".join(lines) + "\n"


def import_national(db_url: str, region: str, numbers: list[str], workdir: Path) -> None:
    """Put professionals into the national data the way production does: `ror import rpps`."""
    path = workdir / f"PS_LibreAcces_Personne_activite_{region}.txt"
    path.write_text(rpps_extract(region, numbers), encoding="utf-8")
    done = subprocess.run([str(Path(sys.executable).parent / "ror"), "import", "rpps", str(path), "--region",
                           region, "--url", db_url, "--quiet"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


# --------------------------------------------------------------------------- the activation path

def issue(api, tokens, rpps, region="idf", admin_token: str | None = None):
    """A one-time activation code issued by the region admin (as the URPS letter carries it)."""
    token = admin_token or tokens(region, "admin")
    resp = api.post(f"/api/{region}/accounts/activation-codes", token=token, json={"rpps": rpps})
    assert resp.status_code == 201, resp.text
    [code] = resp.json()["codes"]
    assert code["rpps"] == rpps and re.fullmatch(r"[A-Z2-9]{5}-[A-Z2-9]{5}", code["code"])
    return code["code"]


def activate(api, rpps, code, email, region="idf", **over):
    body = {"rpps": rpps, "activation_code": code, "password": PASSWORD, "email": email, **over}
    return api.post(f"/api/{region}/accounts/activate", json=body)


def created(resp):
    assert resp.status_code == 201, resp.text
    return resp


def login(region, username, password=PASSWORD):
    return requests.post(f"{KEYCLOAK_URL}/realms/ror-{region}/protocol/openid-connect/token", timeout=30,
                         data={"grant_type": "password", "client_id": "ror-gateway", "username": username,
                               "password": password, "scope": "openid"})


def mails_for(email: str, at_least: int, timeout: float = 30.0) -> list:
    """Messages for `email` once there are `at_least` of them (or whatever arrived by the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        mails = wait_for_mail(email, timeout=1)
        if len(mails) >= at_least or time.monotonic() > deadline:
            return mails
        time.sleep(0.3)


def verification_link(email: str) -> str:
    [mail] = wait_for_mail(email)
    text = mail.get_body(("plain",)).get_content()
    assert "Je valide mon adresse mail" in text
    return re.search(r"https?://\S+verify-email\?token=\S+", text).group(0)



class FakeDirectory:
    """Keycloak directory in memory; `fail_create` makes the next user creation fail like Keycloak down."""

    def __init__(self):
        self.users: dict[str, dict] = {}
        self.roles: dict[str, set[str]] = {}
        self.deleted: list[str] = []
        self.resets: list[str] = []
        self.fail_create: Exception | None = None

    def add_user(self, username: str, rpps: str | None = None, roles=(), email: str | None = None) -> str:
        user_id = str(uuid.uuid4())
        self.users[user_id] = {"id": user_id, "username": username, "email": email, "enabled": True,
                               "emailVerified": True, "requiredActions": [],
                               "attributes": {"rpps": [rpps]} if rpps else {}}
        self.roles[user_id] = set(roles)
        return user_id

    def find_by_username(self, username):
        return next((u for u in self.users.values() if u["username"] == username), None)

    def find_by_email(self, email):
        return next((u for u in self.users.values() if u.get("email") == email), None)

    def rpps_has_account(self, rpps):
        return any(u["username"] == rpps or rpps in u["attributes"].get("rpps", []) for u in self.users.values())

    def create_professional(self, rpps, email, first_name, last_name, password):
        if self.fail_create is not None:
            exc, self.fail_create = self.fail_create, None
            raise exc
        if self.find_by_username(rpps):
            raise Conflict("exists", {"rpps": "already activated"})
        user_id = self.add_user(rpps, rpps, roles={"professional"}, email=email)
        self.users[user_id].update(emailVerified=False, requiredActions=["VERIFY_EMAIL"],
                                   firstName=first_name, lastName=last_name)
        return user_id

    def delete_user(self, user_id, quiet=False):
        self.deleted.append(user_id)
        self.users.pop(user_id, None)

    def mark_email_verified(self, user_id):
        if user_id not in self.users:
            raise NotFound("gone")
        self.users[user_id].update(emailVerified=True, requiredActions=[])

    def send_password_reset(self, user_id):
        self.resets.append(user_id)

    def has_realm_role(self, user_id, role):
        return role in self.roles[user_id]

    def add_realm_role(self, user_id, role):
        self.roles[user_id].add(role)

    def remove_realm_role(self, user_id, role):
        self.roles[user_id].discard(role)


def fresh_national(db_url: str, region: str, count: int, workdir: Path) -> list[str]:
    """`count` new RPPS numbers imported as national data of `region` (not activated yet)."""
    numbers = [fresh_rpps() for _ in range(count)]
    import_national(db_url, region, numbers, workdir)
    return numbers


def delete_users(region: str, usernames: list[str]) -> None:
    """Remove the Keycloak users a test module made (registration tests create real ones)."""
    from services.accounts.directory import directory_for

    directory = directory_for(region)
    for name in usernames:
        user = directory.find_by_username(name)
        if user:
            directory.delete_user(user["id"], quiet=True)


def outbox_event(db_url: str, event_type: str, **match) -> dict:
    """The last event of `event_type` the accounts service recorded whose payload has `match`."""
    rows = sql(db_url, "SELECT payload FROM accounts.outbox WHERE event_type = :t ORDER BY created_at",
               t=event_type).all()
    payloads = [r[0] if isinstance(r[0], dict) else json.loads(r[0]) for r in rows]
    found = [p for p in payloads if all(p.get(k) == v for k, v in match.items())]
    assert found, f"no {event_type} event with {match}"
    return found[-1]
