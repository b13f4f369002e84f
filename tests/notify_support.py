"""Test helpers of the notifications side: a private SMTP sink (a subprocess of deploy/smtp_server.py on
a port of the test's own) and mail look-ups."""

from __future__ import annotations

import email
import json
import socket
import subprocess
import sys
import time
from email import policy
from pathlib import Path

from tests.helpers import MAIL_DIR

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """deploy/smtp_server.py on `port`, storing into `maildir`; start / stop at will (SMTP outages)."""

    def __init__(self, port: int, maildir: Path):
        self.port, self.maildir, self.proc = port, maildir, None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "deploy" / "smtp_server.py"), "--port", str(self.port),
             "--maildir", str(self.maildir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("private SMTP sink did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

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


class Receiver:
    """tests/webhook_receiver.py on `port` (a connected tool); start / stop at will (receiver outages)."""

    def __init__(self, port: int, log: Path):
        self.port, self.log, self.proc = port, log, None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "webhook_receiver.py"), "--port", str(self.port),
             "--log", str(self.log)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("webhook receiver did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def received(self, path_prefix: str = "/") -> list[dict]:
        if not self.log.exists():
            return []
        rows = [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [r for r in rows if r["path"].startswith(path_prefix)]

    def wait(self, predicate, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            rows = self.received()
            if predicate(rows) or time.monotonic() > deadline:
                return rows
            time.sleep(0.2)
