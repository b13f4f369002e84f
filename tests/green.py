"""eventlet patches the standard library before anything opens a socket or builds an SSL context.

Loaded as the first pytest plugin (`-p tests.green` in pyproject's addopts, which pytest reads before
the plugins installed in the virtualenv): such a plugin may import `ssl` / `requests` at load time
(schemathesis does), and an SSLContext class imported before the patch makes every later TLS
connection recurse forever (RecursionError in `minimum_version`). nameko's pytest plugin no longer
patches. Its deprecation warning is known (DESIGN.md §8).

`ROR_TEST_EVENTLET=0` leaves the standard library alone: the browser tests (tests/e2e) run that way,
against the suite in separate processes, because Playwright's sync driver hangs under the patching
(deploy/test.sh runs them in a second pytest process).
"""

import os
import sys
import warnings

if os.environ.get("ROR_TEST_EVENTLET", "1") != "0":
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

    import eventlet

    eventlet.monkey_patch()


def patched() -> bool:
    """Whether this test process runs under eventlet's monkey patching."""
    if "eventlet" not in sys.modules:
        return False
    from eventlet import patcher

    return patcher.is_monkey_patched("socket")
