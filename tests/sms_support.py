"""The SMS gateway stand-in (deploy/sms_server.py) for a test session: own port and folder."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import requests

from tests.local_servers import LocalServer


class SmsStandIn(LocalServer):
    label = "SMS stand-in"

    def __init__(self, folder: Path):
        super().__init__("deploy/sms_server.py", ["--smsdir", str(folder)], log=folder.parent / "sms.log")
        self.folder = folder
        self.url = f"http://127.0.0.1:{self.port}/messages"

    def ready(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200
        except requests.RequestException:
            return False

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
