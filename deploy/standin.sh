#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The local stand-ins of outside parties (SMTP sink, SMS gateway, national ROR): one small Python server
# each (deploy/<name>_server.py) storing what it receives under var/<folder>/, with
# var/log/<name>.log and var/run/<name>.pid. Sourced by smtp.sh, sms.sh and national.sh, which
# set the variables below and call `standin "$@"`:
#   COMPONENT     name (log, pidfile, lock)     SERVER    deploy/<server>.py
#   HOST, PORT    where it listens              STORE     folder under var/ where it stores
#   STORE_FLAG    the server's option naming the folder    URL_SHOWN  what `ready` prints
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

standin() {
    local log_file pidfile ours
    log_file="$LOG_DIR/$COMPONENT.log"
    pidfile="$(pidfile_of "$COMPONENT")"
    # Our server is the one of THIS checkout (another checkout's would store elsewhere).
    ours="$(regex_quote "$DEPLOY/$SERVER")"
    case "${1:-}" in
        start)
            [[ -x "$VENV/bin/python" ]] || die "$COMPONENT" "" "$VENV missing: run deploy/bootstrap.sh"
            lock "$COMPONENT"
            if pid_alive "$pidfile" "$ours"; then
                log "already running (pid $(<"$pidfile"))"
            elif check_port "$PORT" "$COMPONENT" "$log_file" "$ours"; then
                log "starting on $HOST:$PORT (log: $log_file)"
                start_bg "$COMPONENT" "$log_file" "$VENV/bin/python" "$DEPLOY/$SERVER" \
                    --host "$HOST" --port "$PORT" "$STORE_FLAG" "$VAR/$STORE"
            fi    # else: our server from an earlier run whose pidfile was lost; keep it
            wait_for_port "$HOST" "$PORT" 30 "$COMPONENT" "$log_file" "$(pid_alive "$pidfile" && echo "$pidfile")"
            log "ready: $URL_SHOWN, stored in $VAR/$STORE"
            ;;
        stop)
            lock "$COMPONENT"
            if pid_alive "$pidfile" "$ours"; then
                log "stopping"
                stop_pidfiles 10 "$pidfile"
            else
                log "not running"
                rm -f "$pidfile"    # stale: the pid may belong to another process by now
            fi
            ;;
        status)
            if pid_alive "$pidfile" "$ours" && port_open "$HOST" "$PORT"; then
                echo "$COMPONENT: running (pid $(<"$pidfile"), $URL_SHOWN, stored in $VAR/$STORE)"
            else echo "$COMPONENT: stopped"; return 1; fi
            ;;
        *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
    esac
}
