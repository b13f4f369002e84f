# Thin entry points; the work is done by the scripts in deploy/ (see docs/CONVENTIONS.md).
# Scripts are run through bash so that a checkout without exec bits still works.
.PHONY: up down test e2e lint

up:
	bash deploy/up.sh

down:
	bash deploy/down.sh

# Extra pytest arguments: make test PYTEST_ARGS="-k offers -x" (browser part: E2E_PYTEST_ARGS).
# Two pytest processes: the main suite, then the browser scenarios (tests/e2e) without eventlet.
test:
	bash deploy/test.sh

# Only the browser scenarios (headless Chromium, Playwright), the second part of `make test`.
e2e:
	ROR_E2E=1 bash deploy/test.sh

lint:
	bash deploy/lint.sh
