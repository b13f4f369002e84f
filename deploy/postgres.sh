#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# PostgreSQL: the Debian cluster <version>/main on 127.0.0.1:5432, role ror/ror,
# databases ror and ror_test. Usage: postgres.sh start|stop|status
set -euo pipefail
source "$(dirname "$0")/lib.sh"
COMPONENT=postgres

# Newest installed server version (15 on Debian 12).
# shellcheck disable=SC2012  # version directories have plain names
PG_VERSION="${PG_VERSION:-$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n1)}"
PG_VERSION="${PG_VERSION:-15}"
PG_CLUSTER="${PG_CLUSTER:-main}"    # PG_CLUSTER/PG_PORT: only to try this script on a spare cluster
PORT="${PG_PORT:-5432}"
CLUSTER=(pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER")
PG_LOG="/var/log/postgresql/postgresql-$PG_VERSION-$PG_CLUSTER.log"

running() { as_root "${CLUSTER[@]}" status >/dev/null 2>&1; }
psql_su() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" "$@"; }

ensure_role_and_dbs() {
    psql_su -c "DO \$\$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ror') THEN
            CREATE ROLE ror LOGIN CREATEDB PASSWORD 'ror';
        END IF; END \$\$;" >/dev/null || die postgres "$PG_LOG" "creating role ror"
    # Keycloak's own role and database (its state: users, credentials, realm settings).
    psql_su -c "DO \$\$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'keycloak') THEN
            CREATE ROLE keycloak LOGIN PASSWORD '${ROR_KEYCLOAK_DB_PASSWORD:-keycloak}';
        END IF; END \$\$;" >/dev/null || die postgres "$PG_LOG" "creating role keycloak"
    if [[ -z "$(psql_su -tAc "SELECT 1 FROM pg_database WHERE datname = 'keycloak'")" ]]; then
        log "creating database keycloak"
        as_postgres createdb -p "$PORT" -O keycloak -E UTF8 -T template0 keycloak || die postgres "$PG_LOG" "createdb keycloak"
    fi
    local db
    for db in ror ror_test; do
        if [[ -z "$(psql_su -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]]; then
            log "creating database $db"
            as_postgres createdb -p "$PORT" -O ror -E UTF8 -T template0 "$db" || die postgres "$PG_LOG" "createdb $db"
        fi
        # Search (offers): trusted extensions the owner may create itself; made here as superuser too,
        # so that a database owned by another role still migrates.
        psql_su -d "$db" -c "CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public;
            CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;" >/dev/null \
            || die postgres "$PG_LOG" "extensions unaccent, pg_trgm in $db"
    done
}

start() {
    lock postgres
    command -v pg_ctlcluster >/dev/null || die postgres "" "PostgreSQL is not installed: run deploy/bootstrap.sh"
    # So that var/log/ lists every component.
    [[ "$PG_CLUSTER" != main ]] || ln -sfn "$PG_LOG" "$LOG_DIR/postgres.log"
    if running; then
        log "already running (cluster $PG_VERSION/$PG_CLUSTER)"
    else
        if [[ ! -f "/etc/postgresql/$PG_VERSION/$PG_CLUSTER/postgresql.conf" ]]; then
            log "creating cluster $PG_VERSION/$PG_CLUSTER"
            as_root pg_createcluster "$PG_VERSION" "$PG_CLUSTER" --port "$PORT" \
                --locale C.UTF-8 --encoding UTF8 >/dev/null \
                || die postgres "$PG_LOG" "pg_createcluster $PG_VERSION $PG_CLUSTER"
        fi
        check_port "$PORT" postgres "$PG_LOG" 'postgres|postmaster' || true
        # Loopback only, on the conventional port, whatever the cluster was created with.
        # listen_addresses goes in a conf.d drop-in: pg_conftool writes 127.0.0.1 unquoted,
        # which PostgreSQL rejects.
        as_root pg_conftool -s "$PG_VERSION" "$PG_CLUSTER" remove listen_addresses
        # max_connections: six processes with a pool each, Keycloak, and the in-process test suites.
        # shared_buffers: a quarter of the memory, 128 MB to 1 GB (the default 128 MB holds a small part
        # of a national search index: its scans would copy pages from the OS cache again and again).
        local mem_mb buffers_mb
        mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo 2>/dev/null || echo 0)
        buffers_mb=$((mem_mb / 4))
        if ((buffers_mb > 1024)); then buffers_mb=1024; fi
        if ((buffers_mb < 128)); then buffers_mb=128; fi
        printf "listen_addresses = '127.0.0.1'\nmax_connections = 500\nshared_buffers = %dMB\n" "$buffers_mb" \
            | as_root tee "/etc/postgresql/$PG_VERSION/$PG_CLUSTER/conf.d/ror.conf" >/dev/null
        as_root pg_conftool -s "$PG_VERSION" "$PG_CLUSTER" set port "$PORT"
        log "starting cluster $PG_VERSION/$PG_CLUSTER"
        # pg_ctlcluster waits for startup itself; timeout guards against a hang.
        # 8>&-: the postmaster must not inherit our lock.
        as_root timeout 120 "${CLUSTER[@]}" start 8>&- || die postgres "$PG_LOG" "pg_ctlcluster $PG_VERSION $PG_CLUSTER start"
    fi
    wait_for_port 127.0.0.1 "$PORT" 60 postgres "$PG_LOG"
    local deadline=$((SECONDS + 60))
    until as_postgres pg_isready -q -p "$PORT"; do
        ((SECONDS < deadline)) || die postgres "$PG_LOG" "pg_isready still failing after 60s"
        sleep 0.5
    done
    ensure_role_and_dbs
    log "ready on 127.0.0.1:$PORT (databases ror, ror_test; role ror)"
}

stop() {
    lock postgres
    if running; then
        log "stopping cluster $PG_VERSION/$PG_CLUSTER"
        as_root timeout 120 "${CLUSTER[@]}" stop -m fast || die postgres "$PG_LOG" "pg_ctlcluster stop"
    else
        log "not running"
    fi
}

status() {
    if running && port_open 127.0.0.1 "$PORT"; then echo "postgres: running (127.0.0.1:$PORT)"
    else echo "postgres: stopped"; return 1; fi
}

case "${1:-}" in
    start|stop|status) "$1" ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
