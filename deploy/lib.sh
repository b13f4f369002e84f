# shellcheck shell=bash
# Shared helpers for the deploy/ scripts. Source it; do not run it.
# Every wait below has a timeout: a component that does not come up stops the
# script with its name and the path of its log, it never hangs.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPLOY="$ROOT/deploy"
# ROR_DEPLOY_VAR / ROR_VENV: to drive the components of another checkout (e.g. a worktree restarting
# the Keycloak that /work/main started); by default this checkout's var/ and .venv/.
VAR="${ROR_DEPLOY_VAR:-$ROOT/var}"
LOG_DIR="$VAR/log"
RUN_DIR="$VAR/run"
LOCK_DIR="$VAR/lock"
# shellcheck disable=SC2034  # used by the scripts that source this file
VENV="${ROR_VENV:-$ROOT/.venv}"
mkdir -p "$LOG_DIR" "$RUN_DIR" "$LOCK_DIR"

log() { printf '%s [%s] %s\n' "$(date '+%F %T')" "${COMPONENT:-ror}" "$*" >&2; }

# die COMPONENT LOGFILE MESSAGE...: say what failed and where to look, show the log's tail.
die() {
    local component="$1" logfile="$2"; shift 2
    printf '%s [%s] ERROR: %s failed: %s\n' "$(date '+%F %T')" "$component" "$component" "$*" >&2
    if [[ -n "$logfile" ]]; then
        printf '    log: %s\n' "$logfile" >&2
        if [[ -r "$logfile" ]]; then
            printf '    --- last lines of %s ---\n' "$logfile" >&2
            tail -n 20 "$logfile" | sed 's/^/    | /' >&2
        fi
    fi
    exit 1
}

# Run as root / as postgres, using sudo when the caller is not root.
as_root() { if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
as_postgres() { if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

# ---- pidfiles ---------------------------------------------------------------
pidfile_of() { echo "$RUN_DIR/$1.pid"; }

# pid_alive PIDFILE [REGEX]: the pidfile names a live process (whose command line
# matches REGEX, which guards against a recycled pid).
pid_alive() {
    local pid
    [[ -s "$1" ]] || return 1
    pid="$(<"$1")"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    [[ -z "${2:-}" ]] || tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -Eq -- "$2"
}

# lock NAME: serialize concurrent starts/stops of one component (held on fd 8 until
# the script exits; start daemons with start_bg, which does not pass fd 8 on).
lock() {
    exec 8>"$LOCK_DIR/$1.lock"
    flock -w 600 8 || die "$1" "" "another script held $LOCK_DIR/$1.lock for 10 min"
}

# start_bg NAME LOGFILE CMD...: run CMD detached (own session, so Ctrl-C in the
# caller's terminal does not kill it), append output to LOGFILE, write the pidfile.
# fds 8 and 9 (the locks, see lock and bootstrap.sh) are closed: a daemon that
# inherited them would hold the lock for its whole life.
start_bg() {
    local name="$1" logfile="$2"; shift 2
    printf '\n==== %s starting %s ====\n' "$(date '+%F %T')" "$name" >>"$logfile"
    setsid "$@" >>"$logfile" 2>&1 </dev/null 8>&- 9>&- &
    echo $! >"$(pidfile_of "$name")"
    disown $!    # not a job of this shell: no "Killed" notice when it is stopped
}

# stop_pidfiles TIMEOUT PIDFILE...: TERM every process, KILL what is left after TIMEOUT s.
stop_pidfiles() {
    local timeout="$1"; shift
    local f pid deadline=$((SECONDS + timeout)) alive
    for f in "$@"; do
        if pid_alive "$f"; then kill -TERM "$(<"$f")" 2>/dev/null || true; fi
    done
    while :; do
        alive=()
        for f in "$@"; do pid_alive "$f" && alive+=("$f"); done
        ((${#alive[@]} == 0)) && break
        if ((SECONDS >= deadline)); then
            for f in "${alive[@]}"; do
                log "still running after ${timeout}s, sending KILL: $(basename "$f" .pid) (pid $(<"$f"))"
                kill -KILL "$(<"$f")" 2>/dev/null || true
            done
            sleep 0.5
            break
        fi
        sleep 0.2
    done
    for f in "$@"; do pid_alive "$f" || rm -f "$f"; done
}

# regex_quote STRING: STRING as a literal extended regex (to match a path in a command line).
regex_quote() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|]/\\&/g'; }

# ---- ports ------------------------------------------------------------------
# port_open HOST PORT: something accepts TCP connections there.
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# port_holders PORT: "pid command" of the listeners on PORT (empty if unknown: no ss, or not root).
port_holders() {
    command -v ss >/dev/null || return 0
    local pid
    for pid in $(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
        echo "pid $pid: $(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | sed 's/ $//')"
    done
}

# check_port PORT COMPONENT LOGFILE OURS_REGEX
#   returns 0 if the port is free, 1 if a process whose command line matches
#   OURS_REGEX (our component) already listens there; stops the script otherwise.
check_port() {
    local port="$1" component="$2" logfile="$3" ours="$4" holders
    if ! port_open 127.0.0.1 "$port" && ! ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
        return 0
    fi
    holders="$(port_holders "$port")"
    if [[ -n "$holders" ]] && grep -Eq -- "$ours" <<<"$holders"; then
        return 1
    fi
    die "$component" "$logfile" "port $port, needed by $component, is taken by another process" \
        "(${holders:-unknown: run as root to see it}); stop it or free port $port"
}

# wait_for_port HOST PORT TIMEOUT NAME LOGFILE [PIDFILE]
#   waits until HOST:PORT accepts connections; gives up early if PIDFILE's process dies.
wait_for_port() {
    local host="$1" port="$2" timeout="$3" name="$4" logfile="$5" pidfile="${6:-}"
    local deadline=$((SECONDS + timeout))
    until port_open "$host" "$port"; do
        if [[ -n "$pidfile" ]] && ! pid_alive "$pidfile"; then
            die "$name" "$logfile" "process exited before $host:$port answered"
        fi
        ((SECONDS < deadline)) || die "$name" "$logfile" "$host:$port did not answer within ${timeout}s"
        sleep 0.5
    done
}

# ---- Keycloak (scripts written in deploy/keycloak/) -------------------------
KEYCLOAK_LOG="$LOG_DIR/keycloak.log"
keycloak_running() { port_open 127.0.0.1 8080; }
keycloak_start() {
    if [[ ! -f "$DEPLOY/keycloak/start.sh" ]]; then
        log "deploy/keycloak/start.sh does not exist yet: Keycloak not started"
        return 0
    fi
    bash "$DEPLOY/keycloak/start.sh" || die keycloak "$KEYCLOAK_LOG" "deploy/keycloak/start.sh exited with status $?"
}
keycloak_stop() {
    [[ -f "$DEPLOY/keycloak/stop.sh" ]] || return 0
    bash "$DEPLOY/keycloak/stop.sh" || log "deploy/keycloak/stop.sh exited with status $? (see $KEYCLOAK_LOG)"
}
