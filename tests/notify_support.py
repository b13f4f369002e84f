"""Test helpers of the notifications side: a private SMTP sink (a subprocess of deploy/smtp_server.py on
a port of the test's own) and mail look-ups."""

from __future__ import annotations

import email
import json
import time
from email import policy
from pathlib import Path

from tests.helpers import MAIL_DIR
from tests.local_servers import LocalServer


class SmtpSink(LocalServer):
    """deploy/smtp_server.py on `port`, storing into `maildir`; start / stop at will (SMTP outages)."""

    label = "private SMTP sink"

    def __init__(self, port: int, maildir: Path):
        super().__init__("deploy/smtp_server.py", ["--maildir", str(maildir)], port)
        self.maildir = maildir

    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(p.read_bytes(), policy=policy.default)
                for p in sorted(self.maildir.glob("*.eml"))]


def mails_to(recipient: str, needle: str = "", timeout: float = 20.0, expect: int = 1,
             maildir: Path = MAIL_DIR) -> list[email.message.EmailMessage]:
    """Messages for `recipient` whose subject contains `needle`; waits until `expect` are there."""
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for path in sorted(maildir.glob("*.eml")):
            msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            if recipient.lower() in str(msg.get("To", "")).lower() and needle in str(msg.get("Subject", "")):
                found.append(msg)
        if len(found) >= expect or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


class Receiver(LocalServer):
    """tests/webhook_receiver.py on `port` (a connected tool); start / stop at will (receiver outages).
    `log` is the receiver's journal of requests (one JSON line each), not its output."""

    label = "webhook receiver"

    def __init__(self, port: int, log: Path):
        super().__init__("tests/webhook_receiver.py", ["--log", str(log)], port)
        self.journal = log

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def received(self, path_prefix: str = "/") -> list[dict]:
        if not self.journal.exists():
            return []
        rows = [json.loads(line) for line in self.journal.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [r for r in rows if r["path"].startswith(path_prefix)]

    def wait(self, predicate, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            rows = self.received()
            if predicate(rows) or time.monotonic() > deadline:
                return rows
            time.sleep(0.2)
