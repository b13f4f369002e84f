"""The national ROR stand-in (deploy/national_server.py) run as a real process for the tests: its own
port and folder, stopped and started again by fault tests."""

from __future__ import annotations

import json
import time
from pathlib import Path

import requests

from tests.local_servers import LocalServer


class NationalStandIn(LocalServer):
    label = "national stand-in"

    def __init__(self, directory: Path, port: int | None = None):
        super().__init__("deploy/national_server.py", ["--dir", str(directory / "store")], port,
                         log=directory / "server.log")
        self.dir = directory
        self.url = f"http://127.0.0.1:{self.port}/fhir"

    def ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/health", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def get(self, rtype: str, rid: str) -> dict | None:
        resp = requests.get(f"{self.url}/{rtype}/{rid}", timeout=5)
        return resp.json() if resp.status_code == 200 else None

    def journal(self) -> list[dict]:
        path = self.dir / "store" / "journal.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def wait_for(self, rtype: str, rid: str, timeout: float = 30.0, check=lambda r: True) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            resource = self.get(rtype, rid)
            if resource is not None and check(resource):
                return resource
            time.sleep(0.1)
        raise AssertionError(f"{rtype}/{rid} not received by the national stand-in within {timeout}s")
