"""The production manifests (deploy/k8s), rendered for the configured regions and validated offline:
Kubernetes kinds against the schemas of `kubernetes-validate`, the operators' resources against
deploy/k8s/schemas/crds.yaml. Every service has probes, limits and no inline secret."""

from __future__ import annotations

import copy
import re
import shutil
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from deploy.k8s.render import render
from services.common.regions import DEFAULT_DIR

ROOT = Path(__file__).resolve().parents[2]
CRDS = yaml.safe_load((ROOT / "deploy/k8s/schemas/crds.yaml").read_text())
K8S_VERSION = "1.33"
DEV_SECRETS = ("RorDemo2026", "ror-accounts-dev-secret", "psc-dev-secret", "JBSWY3DPEHPK3PXP")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE|_KEY$")


@cache
def rendered(regions_dir: Path | None = None) -> tuple[str, tuple[dict, ...]]:
    text = render("production", regions_dir)
    return text, tuple(d for d in yaml.safe_load_all(text) if d)


def validate(doc: dict) -> None:
    key = f"{doc['apiVersion']}/{doc['kind']}"
    if key in CRDS["kinds"]:
        schema = {**CRDS["kinds"][key], "$defs": CRDS["$defs"]}
        jsonschema.validate(doc, schema)
    else:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def of_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def pods(docs):
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def test_every_resource_is_valid_against_its_schema():
    _, docs = rendered()
    assert len(docs) > 20
    for doc in docs:
        validate(doc)


def test_the_validation_catches_a_typo():
    """Not a vacuous check: a misspelt field of a custom resource or of a Deployment fails."""
    _, docs = rendered()
    broker = copy.deepcopy(of_kind(docs, "RabbitmqCluster")[0])
    broker["spec"]["replica"] = broker["spec"].pop("replicas")
    with pytest.raises(jsonschema.ValidationError):
        validate(broker)
    gateway = copy.deepcopy(next(d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == "ror-gateway"))
    gateway["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(gateway)


def test_every_service_and_the_gateway_run_replicated_with_probes_and_limits():
    _, docs = rendered()
    deployments = {d["metadata"]["name"]: d for d in of_kind(docs, "Deployment")}
    assert set(deployments) == {"ror-gateway", "ror-accounts", "ror-offers", "ror-dossiers", "ror-anomalies",
                                "ror-notifications"}
    for name, deployment in deployments.items():
        assert deployment["spec"]["replicas"] >= 2, name
        spec = deployment["spec"]["template"]["spec"]
        for container in spec["containers"]:
            assert container.get("livenessProbe") and container.get("readinessProbe"), name
        for container in spec["containers"] + spec.get("initContainers", []):
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), (name, container["name"], kind)
        if name != "ror-gateway":  # workers wait for the migration Job
            assert any("ror db check" in " ".join(c["command"]) for c in spec["initContainers"]), name
    hpa = of_kind(docs, "HorizontalPodAutoscaler")
    assert [h["spec"]["scaleTargetRef"]["name"] for h in hpa] == ["ror-gateway"]
    job = of_kind(docs, "Job")[0]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["ror", "db", "upgrade"]


def test_no_secret_in_the_manifests():
    text, docs = rendered()
    assert of_kind(docs, "Secret") == []
    for dev in DEV_SECRETS:
        assert dev not in text, dev
    for name, spec in pods(docs):
        for container in spec["containers"] + spec.get("initContainers", []):
            for env in container.get("env", []):
                if SECRET_NAME.search(env["name"]):
                    assert "valueFrom" in env, (name, env["name"])
    for config in of_kind(docs, "ConfigMap"):
        for key in config.get("data", {}):
            assert not SECRET_NAME.search(key), key


def test_data_components_are_clustered_and_queues_are_quorum():
    _, docs = rendered()
    assert of_kind(docs, "RabbitmqCluster")[0]["spec"]["replicas"] == 3
    assert all(c["spec"]["instances"] >= 2 for c in of_kind(docs, "Cluster"))
    assert of_kind(docs, "Keycloak")[0]["spec"]["db"]["vendor"] == "postgres"
    config = next(c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"].startswith("ror-config"))
    assert config["data"]["ROR_QUEUE_TYPE"] == "quorum"
    assert {"ROR_SMTP_HOST", "ROR_NATIONAL_URL"} <= set(config["data"])


def test_the_realms_are_imported_without_demo_users_or_loopback_addresses():
    text, docs = rendered()
    imports = {d["spec"]["realm"]["realm"]: d for d in of_kind(docs, "KeycloakRealmImport")}
    assert set(imports) == {"ror-idf", "ror-pdl"}
    for realm_import in imports.values():
        realm = realm_import["spec"]["realm"]
        assert "users" not in realm
        assert "psc-no-eidas" not in str(realm)
        assert set(realm_import["spec"]["placeholders"]) <= {"ROR_ACCOUNTS_CLIENT_SECRET", "ROR_PSC_CLIENT_SECRET"}
    assert "127.0.0.1" not in text and "localhost" not in text


def test_a_third_region_is_one_more_file(tmp_path):
    """Bretagne added by configuration alone: its realm import and its file in the regions ConfigMap."""
    for path in DEFAULT_DIR.glob("*.toml"):
        shutil.copy(path, tmp_path)
    bre = (DEFAULT_DIR / "idf.toml").read_text(encoding="utf-8")
    bre = (bre.replace('code = "idf"', 'code = "bre"').replace('realm = "ror-idf"', 'realm = "ror-bre"')
           .replace("ROR Île-de-France", "ROR Bretagne"))
    (tmp_path / "bre.toml").write_text(bre, encoding="utf-8")
    _, docs = rendered(tmp_path)
    for doc in docs:
        validate(doc)
    assert {d["spec"]["realm"]["realm"] for d in of_kind(docs, "KeycloakRealmImport")} == {
        "ror-idf", "ror-pdl", "ror-bre"}
    regions = next(c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"].startswith("ror-regions"))
    assert set(regions["data"]) == {"idf.toml", "pdl.toml", "bre.toml"}
