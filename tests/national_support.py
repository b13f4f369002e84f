"""The national ROR stand-in (deploy/national_server.py) run as a real process for the tests: its own
port and folder, stopped and started again by fault tests."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NationalStandIn:
    def __init__(self, directory: Path, port: int | None = None):
        self.dir = directory
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/fhir"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.dir / "server.log", "a")  # noqa: SIM115 (kept open by the child)
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "deploy" / "national_server.py"), "--port", str(self.port),
             "--dir", str(self.dir / "store")], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"national stand-in did not start; see {self.dir / 'server.log'}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

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
