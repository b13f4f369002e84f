#!/usr/bin/env python3
"""Render the Kubernetes manifests of the ROR suite for the configured regions.

    .venv/bin/python deploy/k8s/render.py [--overlay production] [--regions-dir DIR] [-o FILE]

The manifests are plain kustomize (deploy/k8s/base + deploy/k8s/overlays/<overlay>). What depends on the
regions is generated here into a copy of the tree, then `kustomize build` (or `kubectl kustomize`) runs:
- one KeycloakRealmImport per region, from deploy/keycloak/gen_realms.py (the same realm as the dev run)
  made fit for production: no demo users, no test-only identity provider, public URLs instead of
  loopback, secrets as operator placeholders (never their dev defaults);
- the `ror-regions` ConfigMap holding the region files, mounted in every pod at ROR_REGIONS_DIR.
Adding a region is adding its file to the regions directory: nothing here names a region.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

# Overlay settings that the realms need (the rest of the overlay's configuration is in its kustomization).
PLACEHOLDER_SECRETS = {
    "ROR_ACCOUNTS_CLIENT_SECRET": {"secret": {"name": "ror-realm-secrets", "key": "accounts-client-secret"}},
    "ROR_PSC_CLIENT_SECRET": {"secret": {"name": "ror-realm-secrets", "key": "psc-client-secret"}},
}
DEV_KEYCLOAK = ("http://127.0.0.1:8080", "http://localhost:8080", "https://127.0.0.1:8443", "https://localhost:8443")
DEV_GATEWAY = ("http://127.0.0.1:8000", "http://localhost:8000")
TEST_ONLY_PROVIDERS = {"psc-no-eidas"}


def production_realm(realm: dict, public_url: str, keycloak_url: str, psc_url: str, smtp: dict) -> dict:
    """The dev realm of gen_realms made fit for a cluster (a pure function: tested)."""
    realm = json.loads(json.dumps(realm))
    realm.pop("users", None)  # demo users are for the dev run only
    realm["identityProviders"] = [p for p in realm.get("identityProviders", [])
                                  if p.get("alias") not in TEST_ONLY_PROVIDERS]
    realm["identityProviderMappers"] = [m for m in realm.get("identityProviderMappers", [])
                                        if m.get("identityProviderAlias") not in TEST_ONLY_PROVIDERS]
    if "smtpServer" in realm:
        realm["smtpServer"] = {**realm["smtpServer"], **smtp}
    text = json.dumps(realm, ensure_ascii=False)
    for dev in DEV_KEYCLOAK:
        # the broker's Pro Santé Connect endpoints: the simulation realm "psc" becomes the real PSC
        text = text.replace(f"{dev}/realms/psc", psc_url.rstrip("/")).replace(dev, keycloak_url.rstrip("/"))
    for dev in DEV_GATEWAY:
        text = text.replace(dev, public_url.rstrip("/"))
    # `${NAME:dev-default}` → `${NAME}`: a secret the operator did not provide fails the import loudly
    text = re.sub(r"\$\{(ROR_[A-Z_]+):[^}]*\}", r"${\1}", text)
    return json.loads(text)


def realm_import(code: str, realm: dict) -> dict:
    used = {name for name in PLACEHOLDER_SECRETS if "${" + name + "}" in json.dumps(realm)}
    return {
        "apiVersion": "k8s.keycloak.org/v2beta1",
        "kind": "KeycloakRealmImport",
        "metadata": {"name": f"ror-realm-{code}", "labels": {"ror.sante.fr/region": code}},
        "spec": {"keycloakCRName": "ror-keycloak", "realm": realm,
                 "placeholders": {name: PLACEHOLDER_SECRETS[name] for name in sorted(used)}},
    }


def kustomize(path: Path) -> str:
    local = ROOT / "var" / "bin" / "kustomize"  # installed by deploy/bootstrap.sh when the machine has none
    for cmd in (["kustomize", "build", str(path)], [str(local), "build", str(path)],
                ["kubectl", "kustomize", str(path)]):
        if shutil.which(cmd[0]):
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
            return done.stdout
    raise SystemExit("neither kustomize nor kubectl is installed (deploy/bootstrap.sh installs kubectl)")


def render(overlay: str = "production", regions_dir: Path | None = None) -> str:
    import yaml

    from deploy.keycloak import gen_realms
    from services.common import regions as registry

    regions = registry.load_regions(regions_dir) if regions_dir else registry.REGIONS
    source_dir = regions_dir or registry.regions_dir()
    with tempfile.TemporaryDirectory(prefix="ror-k8s-") as tmp:
        tree = Path(tmp) / "k8s"
        shutil.copytree(HERE, tree, ignore=shutil.ignore_patterns("__pycache__", "generated"))
        settings = yaml.safe_load((tree / "overlays" / overlay / "realms.yaml").read_text())
        generated = tree / "overlays" / overlay / "generated"
        generated.mkdir()
        resources, files = [], []
        for code, region in sorted(regions.items()):
            realm = production_realm(gen_realms.regional_realm(code, region=region), **settings)
            name = f"realm-{code}.yaml"
            (generated / name).write_text(yaml.safe_dump(realm_import(code, realm), allow_unicode=True,
                                                          sort_keys=False))
            resources.append(name)
            shutil.copy(Path(source_dir) / f"{code}.toml", generated / f"{code}.toml")
            files.append(f"{code}.toml")
        (generated / "kustomization.yaml").write_text(yaml.safe_dump({
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": resources,
            "configMapGenerator": [{"name": "ror-regions", "files": files}],
        }, sort_keys=False))
        return kustomize(tree / "overlays" / overlay)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--overlay", default="production")
    parser.add_argument("--regions-dir", type=Path, default=None,
                        help="folder of <code>.toml region files (default: ROR_REGIONS_DIR or deploy/regions)")
    parser.add_argument("-o", "--output", type=Path, default=None, help="write here instead of stdout")
    args = parser.parse_args()
    manifests = render(args.overlay, args.regions_dir)
    if args.output:
        args.output.write_text(manifests)
    else:
        sys.stdout.write(manifests)


if __name__ == "__main__":
    main()
