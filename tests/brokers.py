"""A RabbitMQ node of a test's own, for tests that stop, restart or break the broker.

Never stop the shared broker (5672): a `make up` suite and the other test runs use it. A test that needs
a broker outage asks for the session fixture `private_broker` (registered in tests/conftest.py) and
runs the services it needs on it::

    def test_something_survives_a_broker_outage(private_broker, suite_config):
        config = {**suite_config, "AMQP_URI": private_broker.amqp_uri}
        runner = ServiceRunner(config)            # the services under test, on the private node
        runner.add_service(OffersService)
        runner.start()
        try:
            private_broker.stop_app()             # the outage: only this node's clients see it
            ...
            private_broker.start_app()            # back (waits until it accepts connections)
        finally:
            runner.stop()

The node is started with the Debian `rabbitmq-server` binaries (`/usr/lib/rabbitmq/bin`), as the
current user, with its own node name (`ror_test_<vhost>_<pid>@localhost`), its own AMQP and Erlang
distribution ports (free ports picked at start), no plugins (no management port to collide with), and
its own cookie, mnesia, log and config under `$ROR_VAR_DIR/test-brokers/<node>/` (removed at the end).
It is started on first use and stopped (`rabbitmqctl shutdown`) at the end of the test session; a node
left behind by a killed session is stopped by the next session (`reap_orphans`).
`stop_app` / `start_app` simulate an outage with the node alive; `stop` / `start` stop and restart the
whole node (same ports and data: durable queues survive). Only the default vhost `/` is used (guest).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

RABBIT_BIN = Path(os.environ.get("ROR_RABBITMQ_BIN", "/usr/lib/rabbitmq/bin"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_orphans(base_dir: Path) -> None:
    """Stop and remove the nodes of test sessions that died without their teardown (kill -9): their
    directory name ends with the session's pid, and the node wrote its own pid in node.pid."""
    for node_dir in base_dir.glob("*_[0-9]*"):
        match = re.search(r"_(\d+)$", node_dir.name)
        if not match or _alive(int(match.group(1))):
            continue
        try:
            os.kill(int((node_dir / "node.pid").read_text().strip()), signal.SIGTERM)
        except (OSError, ValueError):
            pass  # no pid file, or the node is gone already
        shutil.rmtree(node_dir, ignore_errors=True)


class PrivateBroker:
    """One RabbitMQ node for the test session (see the module docstring)."""

    def __init__(self, base_dir: Path, name: str):
        self.nodename = f"{name}@localhost"
        self.dir = base_dir / name
        self.port = free_port()
        self.dist_port = free_port()
        self.amqp_uri = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        self._process: subprocess.Popen | None = None
        self.log_file = self.dir / "log" / "node.log"

    # ---- environment of the node and of its CLI tools -------------------------------------
    def env(self) -> dict[str, str]:
        home, etc = self.dir / "home", self.dir / "etc"
        return {
            **os.environ,
            "HOME": str(home),  # the Erlang cookie lives here: only our CLI calls can talk to the node
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_LOGS": str(self.log_file),
            "RABBITMQ_PID_FILE": str(self.dir / "node.pid"),
            "RABBITMQ_CONF_ENV_FILE": str(etc / "rabbitmq-env.conf"),  # not /etc/rabbitmq's
            "RABBITMQ_CONFIG_FILE": str(etc / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(etc / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(etc / "enabled_plugins"),  # none: no 15672 listener
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(self.dir / "plugins-expand"),
        }

    def ctl(self, *args: str, timeout: float = 120) -> str:
        """`rabbitmqctl -n <node> …` against this node only."""
        proc = subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), "-q", "-n", self.nodename, *args],
                              env=self.env(), capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} on {self.nodename}: {proc.stderr or proc.stdout}"
                               f"\n(node log: {self.log_file})")
        return proc.stdout

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = 120) -> None:
        """Start the node (its data kept from an earlier `stop`) and wait until it takes connections."""
        if self._process is not None and self._process.poll() is None:
            return
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is taken: cannot start {self.nodename}")
        for sub in ("home", "etc", "log", "mnesia"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        etc = self.dir / "etc"
        (etc / "rabbitmq-env.conf").write_text("", encoding="utf-8")
        (etc / "rabbitmq.conf").write_text("", encoding="utf-8")
        (etc / "advanced.config").write_text("[].\n", encoding="utf-8")
        (etc / "enabled_plugins").write_text("[].\n", encoding="utf-8")
        with open(self.dir / "log" / "stdout.log", "ab") as out:
            self._process = subprocess.Popen([str(RABBIT_BIN / "rabbitmq-server")], env=self.env(),
                                             stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_started(timeout)

    def _wait_started(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"{self.nodename} exited ({self._process.returncode}); see {self.dir / 'log'}")
            if port_open(self.port):
                self.ctl("await_startup", "--timeout", str(max(5, int(deadline - time.monotonic()))))
                return
            time.sleep(0.5)
        raise RuntimeError(f"{self.nodename} did not listen on {self.port} within {timeout:.0f} s; "
                           f"see {self.dir / 'log'}")

    def stop(self) -> None:
        """Stop the whole node (Erlang VM included)."""
        if self._process is None or self._process.poll() is not None:
            return
        try:
            self.ctl("shutdown", timeout=90)
        except (RuntimeError, subprocess.TimeoutExpired):
            self._process.terminate()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)

    def stop_app(self) -> None:
        """The broker stops (connections dropped, port closed); the Erlang node stays up."""
        self.ctl("stop_app")

    def start_app(self, timeout: float = 120) -> None:
        self.ctl("start_app", timeout=timeout)
        self.ctl("await_startup", "--timeout", str(int(timeout)), timeout=timeout + 10)

    def remove(self) -> None:
        """Stop, then delete the node's files."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
