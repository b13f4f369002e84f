#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# RabbitMQ without systemd: the Debian package's node, AMQP on 5672 and the
# management plugin on 15672 (nameko's pytest plugin creates a vhost per test
# through it). Usage: rabbitmq.sh start|stop|status
set -euo pipefail
source "$(dirname "$0")/lib.sh"
COMPONENT=rabbitmq
RMQ_LOG="$LOG_DIR/rabbitmq.log"
PIDFILE="$(pidfile_of rabbitmq)"
OURS='beam|rabbit'    # listener command line of a RabbitMQ node

# The node is named rabbit@<short hostname>; Erlang distribution fails if that
# name does not resolve (some containers), so fall back to localhost.
if [[ -z "${RABBITMQ_NODENAME:-}" ]] && ! getent hosts "$(hostname -s)" >/dev/null; then
    export RABBITMQ_NODENAME=rabbit@localhost
fi

node_up() { timeout 30 rabbitmq-diagnostics -q ping >/dev/null 2>&1; }
running() { port_open 127.0.0.1 5672 && node_up; }

start() {
    lock rabbitmq
    [[ -x /usr/sbin/rabbitmq-server ]] || die rabbitmq "" "rabbitmq-server is not installed: run deploy/bootstrap.sh"
    if running; then
        log "already running"
        if ! port_open 127.0.0.1 15672; then
            log "enabling rabbitmq_management on the running node"
            timeout 60 rabbitmq-plugins enable rabbitmq_management >>"$RMQ_LOG" 2>&1 \
                || die rabbitmq "$RMQ_LOG" "rabbitmq-plugins enable rabbitmq_management"
        fi
    elif node_up; then
        # The Erlang node is up but the broker app was stopped (`rabbitmqctl stop_app`,
        # e.g. by a test simulating an outage that did not restart it).
        log "node up but the RabbitMQ application is stopped: rabbitmqctl start_app"
        timeout 90 rabbitmqctl -q start_app >>"$RMQ_LOG" 2>&1 || die rabbitmq "$RMQ_LOG" "rabbitmqctl start_app"
    else
        local start=1
        check_port 5672 rabbitmq "$RMQ_LOG" "$OURS" || start=0
        check_port 15672 rabbitmq "$RMQ_LOG" "$OURS" || start=0
        if ((start)); then
            # Enabled offline (it only writes /etc/rabbitmq/enabled_plugins) so the
            # node starts with it: no restart needed.
            if ! grep -qs rabbitmq_management /etc/rabbitmq/enabled_plugins; then
                timeout 60 rabbitmq-plugins enable --offline rabbitmq_management >>"$RMQ_LOG" 2>&1 \
                    || die rabbitmq "$RMQ_LOG" "rabbitmq-plugins enable --offline rabbitmq_management"
            fi
            log "starting (log: $RMQ_LOG)"
            # RABBITMQ_LOGS=- : the node logs to stdout, i.e. to our log file.
            start_bg rabbitmq "$RMQ_LOG" env RABBITMQ_LOGS=- rabbitmq-server
        else
            log "a RabbitMQ node already holds the ports; waiting for it"
        fi
    fi
    local pf=""; pid_alive "$PIDFILE" && pf="$PIDFILE"
    wait_for_port 127.0.0.1 5672 120 rabbitmq "$RMQ_LOG" "$pf"
    timeout 90 rabbitmqctl -q await_startup --timeout 80 >>"$RMQ_LOG" 2>&1 \
        || die rabbitmq "$RMQ_LOG" "rabbitmqctl await_startup"
    wait_for_port 127.0.0.1 15672 60 "rabbitmq management plugin" "$RMQ_LOG" "$pf"
    log "ready: amqp://127.0.0.1:5672, management http://127.0.0.1:15672"
}

stop() {
    lock rabbitmq
    if node_up; then
        log "stopping"
        timeout 90 rabbitmqctl -q shutdown >>"$RMQ_LOG" 2>&1 || die rabbitmq "$RMQ_LOG" "rabbitmqctl shutdown"
    else
        log "not running"
    fi
    stop_pidfiles 10 "$PIDFILE"    # the launcher, normally gone with the node
}

status() {
    if running; then
        echo "rabbitmq: running (5672; management 15672 $(port_open 127.0.0.1 15672 && echo up || echo DOWN))"
    elif node_up; then echo "rabbitmq: node up, application stopped (rabbitmqctl start_app)"; return 1
    else echo "rabbitmq: stopped"; return 1; fi
}

case "${1:-}" in
    start|stop|status) "$1" ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
