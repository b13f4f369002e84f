"""A small server of this repository (deploy/*_server.py, tests/webhook_receiver.py) run as a real
process for a test: its own port, started and stopped at will (outages of SMTP, SMS, national ROR,
a connected tool)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalServer:
    """`script` (relative to the repository) with `args`, listening on `port`; its output in `log`."""

    label = "server"

    def __init__(self, script: str, args: list[str], port: int | None = None, log: Path | None = None):
        self.script, self.args = script, args
        self.port = port or free_port()
        self.log = log
        self.process: subprocess.Popen | None = None

    def ready(self) -> bool:
        """The port accepts connections (subclasses may ask for a health answer)."""
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def start(self, timeout: float = 30.0) -> None:
        out = open(self.log, "a") if self.log else subprocess.DEVNULL  # noqa: SIM115 (kept open by the child)
        self.process = subprocess.Popen([sys.executable, str(ROOT / self.script), "--port", str(self.port), *self.args],
                                        stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self.ready():
                return
            time.sleep(0.1)
        raise AssertionError(f"{self.label} did not start" + (f"; see {self.log}" if self.log else ""))

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
