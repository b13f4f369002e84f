#!/usr/bin/env bash
# Stop the Keycloak started by deploy/keycloak/start.sh (pidfile var/run/keycloak.pid, or a Keycloak
# of ours, i.e. started from var/keycloak/, found on ports 8080/8443/9000). The dev DB is kept.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/common.sh"

lock keycloak
if kc_stop; then
    log "stopped"
else
    log "not running"
fi
