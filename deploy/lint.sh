#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# `make lint`: ruff on the whole repository (configuration in pyproject.toml).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bash "$DEPLOY/bootstrap.sh"
cd "$ROOT"
exec "$VENV/bin/ruff" check .
