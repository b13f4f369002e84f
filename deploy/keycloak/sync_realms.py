"""Apply the realm files to a running Keycloak without deleting anyone (called by start.sh when the
realm files or their ${ROR_…} placeholder values changed; safe to run any time).

For each realm file (placeholders replaced from the environment, as Keycloak's import does):
- a realm that does not exist is created whole (with its demo users);
- an existing realm keeps its users, their ids (`sub`), passwords, OTP and role mappings:
  * its settings (the file's scalar fields, smtpServer, attributes…) are updated in place (PUT realm);
  * what the file adds (users, clients, roles, groups, identity providers) is created by a partial
    import that SKIPs what exists — a demo user deleted by hand comes back, nobody is overwritten;
  * existing clients and identity providers are updated in place (PUT), never deleted and re-created
    (that would drop their role mappings and service-account users).
Not synced: authentication flows and their configs (Keycloak's partial import does not carry them);
a change there needs a new flow alias in the file (created by the realm PUT's flow bindings) or the
admin console.

    python deploy/keycloak/sync_realms.py deploy/keycloak/ror-idf.json … [--url http://127.0.0.1:8080]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import requests

PLACEHOLDER = re.compile(r"\$\{(ROR_[A-Z0-9_]+)(?::([^}]*))?\}")
NOT_SETTINGS = {"users", "clients", "roles", "groups", "identityProviders", "identityProviderMappers",
                "authenticationFlows", "authenticatorConfig", "components", "clientScopes",
                "requiredActions", "scopeMappings", "clientScopeMappings", "federatedUsers",
                "organizations", "id"}


def substitute(text: str) -> str:
    def value(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name, default if default is not None else match.group(0))
        return json.dumps(found)[1:-1]  # stays a valid JSON string body

    return PLACEHOLDER.sub(value, text)


class Admin:
    def __init__(self, url: str, username: str, password: str):
        self.url = url.rstrip("/")
        resp = requests.post(f"{self.url}/realms/master/protocol/openid-connect/token", timeout=30, data={
            "grant_type": "password", "client_id": "admin-cli", "username": username, "password": password})
        resp.raise_for_status()
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"

    def __call__(self, method: str, path: str, **kwargs) -> requests.Response:
        resp = self.http.request(method, f"{self.url}/admin/realms{path}", timeout=120, **kwargs)
        if resp.status_code >= 400:
            raise SystemExit(f"sync_realms: {method} {path}: {resp.status_code} {resp.text[:500]}")
        return resp


def sync(admin: Admin, realm: dict) -> str:
    name = realm["realm"]
    if requests.get(f"{admin.url}/realms/{name}", timeout=30).status_code == 404:
        admin("POST", "", json=realm)
        return f"{name}: created"
    settings = {k: v for k, v in realm.items() if k not in NOT_SETTINGS}
    admin("PUT", f"/{name}", json=settings)
    partial = {k: realm[k] for k in ("users", "clients", "roles", "groups", "identityProviders",
                                     "identityProviderMappers") if k in realm}
    result = admin("POST", f"/{name}/partialImport", json={**partial, "ifResourceExists": "SKIP"}).json()
    for client in realm.get("clients", []):
        found = admin("GET", f"/{name}/clients", params={"clientId": client["clientId"]}).json()
        if found:
            admin("PUT", f"/{name}/clients/{found[0]['id']}", json={**client, "id": found[0]["id"]})
    for provider in realm.get("identityProviders", []):
        admin("PUT", f"/{name}/identity-provider/instances/{provider['alias']}", json=provider)
    return f"{name}: updated (added {result.get('added', 0)}, kept {result.get('skipped', 0)} existing)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--url", default=os.environ.get("ROR_KEYCLOAK_URL", "http://127.0.0.1:8080"))
    args = parser.parse_args()
    admin = Admin(args.url, os.environ.get("KC_BOOTSTRAP_ADMIN_USERNAME", "admin"),
                  os.environ.get("KC_BOOTSTRAP_ADMIN_PASSWORD", "admin"))
    for path in args.files:
        print(sync(admin, json.loads(substitute(path.read_text(encoding="utf-8")))), file=sys.stderr)


if __name__ == "__main__":
    main()
