#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Local stand-in of the national ROR's FHIR endpoint on 127.0.0.1:8190 (ROR_NATIONAL_URL's default);
# every resource received is validated and stored under var/national/.
# Usage: national.sh start|stop|status
set -euo pipefail
source "$(dirname "$0")/lib.sh"
COMPONENT=national
NATIONAL_LOG="$LOG_DIR/national.log"
PIDFILE="$(pidfile_of national)"
HOST="${ROR_NATIONAL_HOST:-127.0.0.1}"
PORT="${ROR_NATIONAL_PORT:-8190}"

# Our server is the one of THIS checkout (another checkout's would store elsewhere).
OURS="$(regex_quote "$DEPLOY/national_server.py")"

running() { pid_alive "$PIDFILE" "$OURS" && port_open "$HOST" "$PORT"; }

start() {
    [[ -x "$VENV/bin/python" ]] || die national "" "$VENV missing: run deploy/bootstrap.sh"
    lock national
    if pid_alive "$PIDFILE" "$OURS"; then
        log "already running (pid $(<"$PIDFILE"))"
    elif check_port "$PORT" national "$NATIONAL_LOG" "$OURS"; then
        log "starting on $HOST:$PORT (log: $NATIONAL_LOG)"
        start_bg national "$NATIONAL_LOG" "$VENV/bin/python" "$DEPLOY/national_server.py" \
            --host "$HOST" --port "$PORT" --dir "$VAR/national"
    fi    # else: our server from an earlier run whose pidfile was lost; keep it
    wait_for_port "$HOST" "$PORT" 30 national "$NATIONAL_LOG" "$(pid_alive "$PIDFILE" && echo "$PIDFILE")"
    log "ready: http://$HOST:$PORT/fhir, resources stored in $VAR/national"
}

stop() {
    lock national
    if pid_alive "$PIDFILE" "$OURS"; then
        log "stopping"
        stop_pidfiles 10 "$PIDFILE"
    else
        log "not running"
        rm -f "$PIDFILE"
    fi
}

status() {
    if running; then echo "national: running (pid $(<"$PIDFILE"), http://$HOST:$PORT/fhir, resources in $VAR/national)"
    else echo "national: stopped"; return 1; fi
}

case "${1:-}" in
    start|stop|status) "$1" ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
