#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Development SMS gateway stand-in on 127.0.0.1:1026; every message lands in var/sms/*.json.
# Usage: sms.sh start|stop|status
set -euo pipefail
source "$(dirname "$0")/standin.sh"
COMPONENT=sms SERVER=sms_server.py STORE=sms STORE_FLAG=--smsdir
HOST="${ROR_SMS_HOST:-127.0.0.1}" PORT="${ROR_SMS_PORT:-1026}"
URL_SHOWN="http://$HOST:$PORT/messages"
standin "$@"
