"""The SMS gateway stand-in (deploy/sms_server.py) for a test session: own port and folder."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.national_support import free_port

ROOT = Path(__file__).resolve().parent.parent


class SmsStandIn:
    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/messages"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "deploy" / "sms_server.py"), "--port", str(self.port),
             "--smsdir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=open(self.folder.parent / "sms.log", "w"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("SMS stand-in did not start")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(10)

    def messages(self, to: str) -> list[dict]:
        """Messages stored for `to` (+33… form), oldest first."""
        found = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(self.folder.glob("*.json"))]
        return [m for m in found if m["to"] == to]

    def last_code(self, to: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages(to)
            if messages:
                return re.search(r"\b(\d{6})\b", messages[-1]["text"]).group(1)
            if time.monotonic() > deadline:
                raise AssertionError(f"no SMS for {to} in {self.folder}")
            time.sleep(0.2)
