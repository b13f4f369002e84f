#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Development SMTP server on 127.0.0.1:1025; every message lands in var/mail/*.eml.
# Usage: smtp.sh start|stop|status
set -euo pipefail
source "$(dirname "$0")/standin.sh"
COMPONENT=smtp SERVER=smtp_server.py STORE=mail STORE_FLAG=--maildir
HOST="${ROR_SMTP_HOST:-127.0.0.1}" PORT="${ROR_SMTP_PORT:-1025}"
URL_SHOWN="smtp://$HOST:$PORT"
standin "$@"
