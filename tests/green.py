"""eventlet patches the standard library before anything opens a socket or builds an SSL context.

Loaded as the first pytest plugin (`-p tests.green` in pyproject's addopts, which pytest reads before
the plugins installed in the virtualenv): such a plugin may import `ssl` / `requests` at load time
(schemathesis does), and an SSLContext class imported before the patch makes every later TLS
connection recurse forever (RecursionError in `minimum_version`). nameko's pytest plugin no longer
patches. Its deprecation warning is known (DESIGN.md §8).
"""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()
