#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Development SMTP server on 127.0.0.1:1025; every message lands in var/mail/*.eml.
# Usage: smtp.sh start|stop|status
set -euo pipefail
source "$(dirname "$0")/lib.sh"
COMPONENT=smtp
SMTP_LOG="$LOG_DIR/smtp.log"
PIDFILE="$(pidfile_of smtp)"
HOST="${ROR_SMTP_HOST:-127.0.0.1}"
PORT="${ROR_SMTP_PORT:-1025}"

# Our server is the one of THIS checkout (another checkout's would store mail elsewhere).
OURS="$(regex_quote "$DEPLOY/smtp_server.py")"

running() { pid_alive "$PIDFILE" "$OURS" && port_open "$HOST" "$PORT"; }

start() {
    [[ -x "$VENV/bin/python" ]] || die smtp "" "$VENV missing: run deploy/bootstrap.sh"
    lock smtp
    if pid_alive "$PIDFILE" "$OURS"; then
        log "already running (pid $(<"$PIDFILE"))"
    elif check_port "$PORT" smtp "$SMTP_LOG" "$OURS"; then
        log "starting on $HOST:$PORT (log: $SMTP_LOG)"
        start_bg smtp "$SMTP_LOG" "$VENV/bin/python" "$DEPLOY/smtp_server.py" \
            --host "$HOST" --port "$PORT" --maildir "$VAR/mail"
    fi    # else: our server from an earlier run whose pidfile was lost; keep it
    wait_for_port "$HOST" "$PORT" 30 smtp "$SMTP_LOG" "$(pid_alive "$PIDFILE" && echo "$PIDFILE")"
    log "ready: smtp://$HOST:$PORT, mail stored in $VAR/mail"
}

stop() {
    lock smtp
    if pid_alive "$PIDFILE" "$OURS"; then
        log "stopping"
        stop_pidfiles 10 "$PIDFILE"
    else
        log "not running"
        rm -f "$PIDFILE"    # stale: the pid may belong to another process by now
    fi
}

status() {
    if running; then echo "smtp: running (pid $(<"$PIDFILE"), $HOST:$PORT, mail in $VAR/mail)"
    else echo "smtp: stopped"; return 1; fi
}

case "${1:-}" in
    start|stop|status) "$1" ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
