#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# `make up`: the whole suite on this machine. Components already running are kept;
# the services are restarted so that code changes apply. Safe to run twice.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
COMPONENT=up
cd "$ROOT"
CLI_LOG="$LOG_DIR/ror-cli.log"
PUBLIC_URL="${ROR_PUBLIC_URL:-http://127.0.0.1:8000}"
GATEWAY_ADDRESS="${ROR_GATEWAY_ADDRESS:-127.0.0.1:8000}"
HEALTH_URL="http://${GATEWAY_ADDRESS/#0.0.0.0/127.0.0.1}/health"

ror() {
    log "ror $*"
    "$VENV/bin/ror" "$@" 2>&1 | tee -a "$CLI_LOG" || die "ror $*" "$CLI_LOG" "exit status ${PIPESTATUS[0]}"
}

wait_for_health() {
    local deadline=$((SECONDS + 120)) code body="$RUN_DIR/health.body" f
    rm -f "$body"
    log "waiting for $HEALTH_URL"
    until code="$(curl -s -o "$body" -w '%{http_code}' --max-time 5 "$HEALTH_URL")" && [[ "$code" == 200 ]]; do
        if ((SECONDS >= deadline)); then
            log "ERROR: gateway /health did not return 200 within 120s (last status: ${code:-none}). Body:"
            cat "$body" >&2 2>/dev/null || echo "(no response)" >&2
            echo >&2
            for f in "$LOG_DIR"/{accounts,offers,dossiers,anomalies,notifications,gateway}.log; do
                printf -- '--- last lines of %s ---\n' "$f" >&2
                tail -n 15 "$f" >&2 2>/dev/null || true
            done
            exit 1
        fi
        sleep 1
    done
}

bash "$DEPLOY/bootstrap.sh"
bash "$DEPLOY/postgres.sh" start
bash "$DEPLOY/rabbitmq.sh" start
bash "$DEPLOY/smtp.sh" start
bash "$DEPLOY/sms.sh" start
bash "$DEPLOY/national.sh" start
keycloak_start
ror db upgrade
bash "$DEPLOY/services.sh" start
wait_for_health
# After the services: the demo loader issues activation codes through them (RPC).
ror demo load

cat <<INFO

ROR suite is up (took ${SECONDS}s).
  gateway            $PUBLIC_URL/
  health             $PUBLIC_URL/health
  OpenAPI            $PUBLIC_URL/openapi.json
  Keycloak admin     ${ROR_KEYCLOAK_URL:-http://127.0.0.1:8080}/admin/  (${ROR_KEYCLOAK_ADMIN:-admin} / ${ROR_KEYCLOAK_ADMIN_PASSWORD:-admin})
  RabbitMQ mgmt      http://127.0.0.1:15672/  (guest / guest)
  mail folder        $VAR/mail/
  SMS folder         $VAR/sms/  (SMS gateway stand-in on 127.0.0.1:1026)
  national ROR       http://127.0.0.1:8190/fhir (stand-in; resources stored in $VAR/national/)
  FHIR API           $PUBLIC_URL/fhir/idf/metadata
  logs               $LOG_DIR/
  stop everything    make down

INFO
if [[ -f "$DEPLOY/demo-accounts.txt" ]]; then
    cat "$DEPLOY/demo-accounts.txt"
else
    echo "Demo accounts: see README.md."
fi
