"""Every answer matches /openapi.json: schemathesis sends a bounded number of generated requests (valid
and invalid) to every operation, anonymously and with a professional's token, and fails on any 5xx, on a
body that does not match its declared schema, on an undocumented status code or content type (issue 7,
issue 12 item 8)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from eventlet.green import subprocess  # the gateway under test runs in this process: do not block it

from tests.helpers import password_token

pytestmark = pytest.mark.integration

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
MAX_EXAMPLES = 15  # per operation and phase: bounded, ~1,000 requests per run
SEED = 7  # reproducible runs; change it to explore other inputs


def run_schemathesis(base: str, tmp_path: Path, token: str | None = None) -> tuple[int, str]:
    command = [str(SCHEMATHESIS), "run", f"{base}/openapi.json", "--checks", CHECKS,
               "--phases", "examples,coverage,fuzzing", "--mode", "all", "--max-examples", str(MAX_EXAMPLES),
               "--seed", str(SEED), "--workers", "1", "--request-timeout", "30", "--max-failures", "20",
               "--report-dir", str(tmp_path / "report")]
    if token:
        # The token is a shared demo user's: leave out what would change its Keycloak account for everybody
        # (OTP enrolment makes its next password login ask for a device; closing its sessions).
        command += ["--header", f"Authorization: Bearer {token}",
                    "--exclude-path-regex", r"/me/account/(otp-devices|logout-everywhere)"]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "HOME": str(tmp_path)})
    out, _ = proc.communicate(timeout=900)
    return proc.returncode, out.decode(errors="replace")


def _failures(output: str) -> str:
    """The failures part of schemathesis's report (its tail is advice about test data)."""
    start = output.find("FAILURES")
    return output[start:start + 8000] if start >= 0 else output[-6000:]


def _summary(output: str) -> str:
    found = re.search(r"(\d+) generated[^\n]*", output)
    return found.group(0) if found else "no summary"


def test_anonymous_requests_conform_to_the_openapi_document(api, tmp_path):
    code, output = run_schemathesis(api.base, tmp_path)
    print("schemathesis anonymous:", _summary(output))
    assert code == 0, _failures(output)


def test_a_professionals_requests_conform_to_the_openapi_document(api, tmp_path):
    token = password_token("idf", "kine.demo")["access_token"]  # fresh: the run lasts a while
    code, output = run_schemathesis(api.base, tmp_path, token=token)
    print("schemathesis professional:", _summary(output))
    assert code == 0, _failures(output)
