"""The per-pod probe: alive while the heartbeat is fresh, ready only when its checks pass."""

import json
import time

from click.testing import CliRunner

from services.common.cli import main
from services.common.heartbeat import check, probe, write


def test_fresh_and_ok_is_alive_and_ready(tmp_path):
    path = tmp_path / "hb.json"
    write(path, "offers", {"database": "ok", "broker": "ok"})
    assert probe(path, 30, ready=True)[0]
    result = CliRunner().invoke(main, ["probe", "--file", str(path), "--ready"])
    assert result.exit_code == 0, result.output


def test_a_failing_check_is_alive_but_not_ready(tmp_path):
    path = tmp_path / "hb.json"
    write(path, "offers", {"database": "OperationalError: connection refused", "broker": "ok"})
    assert probe(path, 30, ready=False)[0]
    healthy, why = probe(path, 30, ready=True)
    assert not healthy and "database" in why
    assert CliRunner().invoke(main, ["probe", "--file", str(path), "--ready"]).exit_code == 1


def test_a_stale_or_missing_heartbeat_is_dead(tmp_path):
    path = tmp_path / "hb.json"
    path.write_text(json.dumps({"service": "offers", "at": time.time() - 120, "checks": {}, "ready": True}))
    assert not probe(path, 30, ready=False)[0]
    assert not probe(tmp_path / "missing.json", 30, ready=False)[0]


def test_check_reports_an_unreachable_broker_and_database():
    checks = check("amqp://guest:guest@127.0.0.1:1/", "postgresql+psycopg2://ror:ror@127.0.0.1:1/none")
    assert checks["broker"] != "ok" and checks["database"] != "ok"


def test_db_check_tells_a_migrated_database_from_an_empty_one(tmp_path):
    """`ror db check` gates the pods until the migration Job has run (deploy/k8s)."""
    migrated = f"sqlite:///{tmp_path / 'empty.db'}"
    result = CliRunner().invoke(main, ["db", "check", "--url", migrated])
    assert result.exit_code == 1 and "behind, at none" in result.output
