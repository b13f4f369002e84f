#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# `make down`: stop what is running, in the reverse order of up.sh. Each stop is a
# no-op for a component that is not running; one failure does not stop the others.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
COMPONENT=down
rc=0
bash "$DEPLOY/services.sh" stop || rc=1
bash "$DEPLOY/national.sh" stop || rc=1
bash "$DEPLOY/smtp.sh" stop || rc=1
bash "$DEPLOY/sms.sh" stop || rc=1
keycloak_stop || rc=1
bash "$DEPLOY/rabbitmq.sh" stop || rc=1
bash "$DEPLOY/postgres.sh" stop || rc=1
log "done in ${SECONDS}s"
exit "$rc"
