#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Local stand-in of the national ROR's FHIR endpoint on 127.0.0.1:8190 (ROR_NATIONAL_URL's default);
# every resource received is validated and stored under var/national/.
# Usage: national.sh start|stop|status
set -euo pipefail
source "$(dirname "$0")/standin.sh"
COMPONENT=national SERVER=national_server.py STORE=national STORE_FLAG=--dir
HOST="${ROR_NATIONAL_HOST:-127.0.0.1}" PORT="${ROR_NATIONAL_PORT:-8190}"
URL_SHOWN="http://$HOST:$PORT/fhir"
standin "$@"
