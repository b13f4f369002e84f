#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Development SMS gateway stand-in on 127.0.0.1:1026; every message lands in var/sms/*.json.
# Usage: sms.sh start|stop|status
set -euo pipefail
source "$(dirname "$0")/lib.sh"
COMPONENT=sms
SMS_LOG="$LOG_DIR/sms.log"
PIDFILE="$(pidfile_of sms)"
HOST="${ROR_SMS_HOST:-127.0.0.1}"
PORT="${ROR_SMS_PORT:-1026}"

# Our server is the one of THIS checkout (another checkout's would store SMS elsewhere).
OURS="$(regex_quote "$DEPLOY/sms_server.py")"

running() { pid_alive "$PIDFILE" "$OURS" && port_open "$HOST" "$PORT"; }

start() {
    [[ -x "$VENV/bin/python" ]] || die sms "" "$VENV missing: run deploy/bootstrap.sh"
    lock sms
    if pid_alive "$PIDFILE" "$OURS"; then
        log "already running (pid $(<"$PIDFILE"))"
    elif check_port "$PORT" sms "$SMS_LOG" "$OURS"; then
        log "starting on $HOST:$PORT (log: $SMS_LOG)"
        start_bg sms "$SMS_LOG" "$VENV/bin/python" "$DEPLOY/sms_server.py" \
            --host "$HOST" --port "$PORT" --smsdir "$VAR/sms"
    fi    # else: our server from an earlier run whose pidfile was lost; keep it
    wait_for_port "$HOST" "$PORT" 30 sms "$SMS_LOG" "$(pid_alive "$PIDFILE" && echo "$PIDFILE")"
    log "ready: http://$HOST:$PORT/messages, SMS stored in $VAR/sms"
}

stop() {
    lock sms
    if pid_alive "$PIDFILE" "$OURS"; then
        log "stopping"
        stop_pidfiles 10 "$PIDFILE"
    else
        log "not running"
        rm -f "$PIDFILE"    # stale: the pid may belong to another process by now
    fi
}

status() {
    if running; then echo "sms: running (pid $(<"$PIDFILE"), $HOST:$PORT, SMS in $VAR/sms)"
    else echo "sms: stopped"; return 1; fi
}

case "${1:-}" in
    start|stop|status) "$1" ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
