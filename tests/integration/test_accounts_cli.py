"""`ror accounts issue-codes` and the demo loader, against the suite running in-process (the national
professionals come from the offers service over RPC, as in production)."""

from __future__ import annotations

import csv
import io
import stat
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from services.accounts import demo
from services.accounts.cli import accounts
from tests.accounts_support import fresh_rpps, import_national
from tests.conftest import _ensure_vhost
from tests.helpers import demo_rpps

pytestmark = pytest.mark.integration


@pytest.fixture
def env(monkeypatch, suite, suite_config, tmp_path):
    """The CLI talks to the test suite: its vhost, its database, a private var/ directory."""
    monkeypatch.setenv("ROR_AMQP_URI", suite_config["AMQP_URI"])
    monkeypatch.setenv("ROR_DATABASE_URL", suite_config["ROR_DATABASE_URL"])
    monkeypatch.setenv("ROR_VAR_DIR", str(tmp_path / "var"))
    return tmp_path


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def delete_keycloak_user(username: str, region: str = "idf") -> None:
    from services.accounts.directory import directory_for

    directory = directory_for(region)
    user = directory.find_by_username(username)
    if user:
        directory.delete_user(user["id"])


def activate(api, rpps, code, unique):
    return api.post("/api/idf/accounts/activate", json={"rpps": rpps, "activation_code": code,
                                                        "password": "Secret2026",
                                                        "email": f"cli-{unique}@example.org"})


def test_issue_codes_prints_csv_and_a_new_letter_replaces_the_old_code(env, api, db_url, unique):
    rpps = fresh_rpps()
    import_national(db_url, "idf", [rpps], env)
    runner = CliRunner()
    first = runner.invoke(accounts, ["issue-codes", "--region", "idf", "--rpps", rpps])
    assert first.exit_code == 0, first.output
    [row] = rows(first.stdout)
    assert list(row) == ["rpps", "nom", "prenom", "code", "expires_at"]
    assert row["rpps"] == rpps and row["nom"] == f"TEST{rpps[-4:]}" and row["prenom"] == "Claire"
    expires = datetime.fromisoformat(row["expires_at"])
    assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)
    assert "1 code(s) émis" in first.stderr

    out = env / "letters.csv"
    second = runner.invoke(accounts, ["issue-codes", "--region", "idf", "--rpps", rpps, "--out", str(out),
                                      "--days", "10"])
    assert second.exit_code == 0, second.output and second.stdout == ""
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # clear codes: owner only
    [new] = rows(out.read_text(encoding="utf-8"))
    assert datetime.fromisoformat(new["expires_at"]) - datetime.now(UTC) <= timedelta(days=10)

    assert activate(api, rpps, row["code"], unique).status_code == 400  # replaced
    assert activate(api, rpps, new["code"], unique).status_code == 201
    again = runner.invoke(accounts, ["issue-codes", "--region", "idf", "--rpps", rpps])
    assert again.exit_code == 0 and rows(again.stdout) == [] and "1 already activated" in again.stderr
    delete_keycloak_user(rpps)


def test_issue_codes_by_profession(env, db_url):
    numbers = [fresh_rpps(), fresh_rpps()]
    import_national(db_url, "idf", numbers, env)
    result = CliRunner().invoke(accounts, ["issue-codes", "--region", "idf", "--profession", "70"])
    assert result.exit_code == 0, result.output
    assert set(numbers) <= {r["rpps"] for r in rows(result.stdout)}


def test_issue_codes_says_what_is_wrong(env, monkeypatch):
    runner = CliRunner()
    bad = runner.invoke(accounts, ["issue-codes", "--region", "idf", "--rpps", "10101234565"])
    assert bad.exit_code == 2 and "clé de contrôle" in bad.output
    unknown = runner.invoke(accounts, ["issue-codes", "--region", "idf", "--rpps", fresh_rpps()])
    assert unknown.exit_code == 1 and "Aucun professionnel" in unknown.output

    _ensure_vhost("ror_test_accounts_empty")  # RabbitMQ up, no service on this vhost
    monkeypatch.setenv("ROR_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/ror_test_accounts_empty")
    down = runner.invoke(accounts, ["issue-codes", "--region", "idf", "--profession", "70"])
    assert down.exit_code == 1 and "Le service offers n'est pas démarré" in down.output
    monkeypatch.setenv("ROR_AMQP_URI", "amqp://guest:guest@127.0.0.1:5999/")  # nothing listens there
    down = runner.invoke(accounts, ["issue-codes", "--region", "idf", "--profession", "70"])
    assert down.exit_code == 1 and "RabbitMQ ne répond pas" in down.output


def test_demo_codes_file_is_idempotent_and_its_codes_work(env, api, tokens, db_url, unique):
    from services.offers.demo import load as load_offers_demo

    load_offers_demo("idf", db_url)  # as `ror demo load` does, offers first
    import_national(db_url, "idf", [fresh_rpps()], env)
    summary = demo.load("idf")
    assert "cpts.directeur made directeur of CPTS du Mantois" in summary or \
        "cpts.directeur already directeur of CPTS du Mantois" in summary, summary
    habs = api.get("/api/idf/habilitations?username=cpts.directeur", token=tokens("idf", "admin")).json()
    [cpts] = [h for h in habs["habilitations"] if h["granted_by"] == "demo"]
    assert cpts["role"] == "directeur"
    path = demo.codes_file("idf")
    assert str(path).startswith(str(env)) and path.exists(), summary
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = rows(path.read_text(encoding="utf-8"))
    assert 1 <= len(first) <= demo.DEMO_LIMIT
    assert demo_rpps("idf", "kine.demo") not in {r["rpps"] for r in first}  # kine.demo already has an account

    demo.load("idf")
    assert rows(path.read_text(encoding="utf-8")) == first  # reloading keeps the usable codes

    chosen = first[0]
    assert activate(api, chosen["rpps"], chosen["code"], unique).status_code == 201
    demo.load("idf")
    after = rows(path.read_text(encoding="utf-8"))
    assert chosen["rpps"] not in {r["rpps"] for r in after}  # activated: left out
    kept = {r["rpps"]: r["code"] for r in first[1:]}
    assert all(kept.get(r["rpps"], r["code"]) == r["code"] for r in after)

    delete_keycloak_user(chosen["rpps"])
    # leave the shared test database as other tests expect it: no demo habilitation
    assert api.delete(f"/api/idf/habilitations/{cpts['id']}", token=tokens("idf", "admin")).status_code == 200


def test_demo_without_the_suite_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("ROR_AMQP_URI", "amqp://guest:guest@127.0.0.1:5999/")
    monkeypatch.setenv("ROR_VAR_DIR", str(tmp_path))
    assert "run `ror demo load` again once the suite is up" in demo.load("idf")
    assert not demo.codes_file("idf").exists()
