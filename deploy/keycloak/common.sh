# shellcheck shell=bash disable=SC2034
# Shared by deploy/keycloak/start.sh and stop.sh (which use the variables below). Source it; do not run it.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
COMPONENT=keycloak

KC_DIR="$DEPLOY/keycloak"                          # this folder: realm files, provider sources
KC_VERSION="${ROR_KEYCLOAK_VERSION:-26.7.3}"
KC_BASE="$VAR/keycloak"                            # unpacked distributions + state files
KC_HOME="$KC_BASE/keycloak-$KC_VERSION"
KC_PIDFILE="$(pidfile_of keycloak)"
KC_LOG="$KEYCLOAK_LOG"
KC_PORTS=(8080 8443 9000)
KC_HEALTH_URL="http://127.0.0.1:9000/health/ready"
# Command line of a Keycloak of ours: kc.sh or java started from one of our distributions.
KC_OURS="$(printf '%s' "$KC_BASE/keycloak-" | sed 's/[][\.*^$]/\\&/g')"
PKI_DIR="$VAR/pki"

kc_healthy() { curl -fsS --max-time 3 "$KC_HEALTH_URL" 2>/dev/null | grep -q '"UP"'; }

# listener_pids PORT: pids of the processes listening on PORT (needs ss and root to see them).
listener_pids() {
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u
}

cmdline_of() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | sed 's/ $//'; }

# PIDs of Keycloak processes of ours (launcher script and java), from the pidfile and the ports.
kc_our_pids() {
    local port pid
    if pid_alive "$KC_PIDFILE" "$KC_OURS"; then cat "$KC_PIDFILE"; fi
    for port in "${KC_PORTS[@]}"; do
        for pid in $(listener_pids "$port"); do
            cmdline_of "$pid" | grep -Eq -- "$KC_OURS" && echo "$pid"
        done
    done
    return 0
}

# Stop our Keycloak: TERM (kc.sh forwards it to java), KILL after 60 s.
kc_stop() {
    local pids pid deadline
    mapfile -t pids < <(kc_our_pids | sort -u)
    if ((${#pids[@]} == 0)); then
        rm -f "$KC_PIDFILE"
        return 1
    fi
    log "stopping Keycloak (pids ${pids[*]})"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    deadline=$((SECONDS + 60))
    while :; do
        local alive=()
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
        ((${#alive[@]} == 0)) && break
        if ((SECONDS >= deadline)); then
            log "still running after 60s, sending KILL to ${alive[*]}"
            for pid in "${alive[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
            sleep 1
            break
        fi
        sleep 0.5
    done
    rm -f "$KC_PIDFILE"
    return 0
}
