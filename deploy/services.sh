#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The six nameko service processes, one per module (docs/CONVENTIONS.md), each with
# var/log/<name>.log and var/run/<name>.pid. `start` restarts running ones so that
# code changes apply. Usage: services.sh start|stop|restart|status
set -euo pipefail
source "$(dirname "$0")/lib.sh"
COMPONENT=services
cd "$ROOT"    # nameko imports the modules from the current directory

# name=module[:Class]. The gateway names its class: its module also imports the route
# mixins, which have entrypoints but no `name`, and `nameko run` would try to run them too.
SERVICES=(
    accounts=services.accounts.service
    offers=services.offers.service
    dossiers=services.dossiers.service
    anomalies=services.anomalies.service
    notifications=services.notifications.service
    gateway=gateway.service:GatewayService
)
OURS="nameko run --config $(regex_quote "$DEPLOY/nameko/")"    # this checkout's services
GATEWAY_ADDRESS="${ROR_GATEWAY_ADDRESS:-127.0.0.1:8000}"
GATEWAY_HOST="${GATEWAY_ADDRESS%:*}"
GATEWAY_PORT="${GATEWAY_ADDRESS##*:}"
[[ "$GATEWAY_HOST" == 0.0.0.0 ]] && GATEWAY_HOST=127.0.0.1

pidfiles() { local s; for s in "${SERVICES[@]}"; do pidfile_of "${s%%=*}"; done; }

stop() {
    local running=() f
    while read -r f; do
        if pid_alive "$f" "$OURS"; then running+=("$f"); else rm -f "$f"; fi
    done < <(pidfiles)
    if ((${#running[@]})); then
        log "stopping $(for f in "${running[@]}"; do basename "$f" .pid; done | xargs)"
        stop_pidfiles 10 "${running[@]}"    # TERM, KILL after 10 s
    else
        log "no service running"
    fi
}

start() {
    [[ -x "$VENV/bin/nameko" ]] || die services "" "$VENV/bin/nameko missing: run deploy/bootstrap.sh"
    lock services
    stop
    check_port "$GATEWAY_PORT" gateway "$LOG_DIR/gateway.log" "$OURS" \
        || die gateway "$LOG_DIR/gateway.log" "port $GATEWAY_PORT still held by an old gateway after stop"
    local s name
    # No half-started set: if one service fails, stop the others (their logs stay).
    trap 'log "start failed: stopping the other services"; stop' EXIT
    for s in "${SERVICES[@]}"; do
        name="${s%%=*}"
        start_bg "$name" "$LOG_DIR/$name.log" "$VENV/bin/nameko" run --config "$DEPLOY/nameko/$name.yaml" "${s#*=}"
    done
    log "started ${#SERVICES[@]} services; waiting for the gateway on $GATEWAY_ADDRESS"
    wait_for_port "$GATEWAY_HOST" "$GATEWAY_PORT" 60 gateway "$LOG_DIR/gateway.log" "$(pidfile_of gateway)"
    sleep 1    # a service that fails at import dies within this time
    for s in "${SERVICES[@]}"; do
        name="${s%%=*}"
        pid_alive "$(pidfile_of "$name")" "$OURS" || die "$name" "$LOG_DIR/$name.log" "the process exited"
    done
    trap - EXIT
    log "all services running (logs: $LOG_DIR/<name>.log)"
}

status() {
    local s name rc=0
    for s in "${SERVICES[@]}"; do
        name="${s%%=*}"
        if pid_alive "$(pidfile_of "$name")" "$OURS"; then
            echo "$name: running (pid $(<"$(pidfile_of "$name")"))"
        else echo "$name: stopped"; rc=1; fi
    done
    return "$rc"
}

case "${1:-}" in
    start|restart) start ;;
    stop) lock services; stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
