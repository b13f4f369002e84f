#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# `make test`: infrastructure up (idempotent), fresh ror_test database, then pytest.
# Extra pytest arguments: script arguments and/or $PYTEST_ARGS.
# Locally the infrastructure is left running for the next run; with CI=true what this
# script started is stopped at the end.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
COMPONENT="test"
cd "$ROOT"

started=()    # components this run started, stopped at exit when CI=true
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    [[ "${CI:-}" == true ]] || return 0
    local i
    for ((i = ${#started[@]} - 1; i >= 0; i--)); do
        case "${started[i]}" in
            keycloak) keycloak_stop ;;
            *) bash "$DEPLOY/${started[i]}.sh" stop || true ;;
        esac
    done
}
trap cleanup EXIT

bash "$DEPLOY/bootstrap.sh"
for c in postgres rabbitmq smtp sms; do
    bash "$DEPLOY/$c.sh" status >/dev/null 2>&1 || started+=("$c")
    bash "$DEPLOY/$c.sh" start
done
keycloak_running || started+=(keycloak)
keycloak_start    # once for the whole run; the tests share it

log "resetting database ror_test"
as_postgres dropdb --if-exists --force ror_test || die postgres "$LOG_DIR/postgres.log" "dropdb ror_test"
as_postgres createdb -O ror -E UTF8 -T template0 ror_test || die postgres "$LOG_DIR/postgres.log" "createdb ror_test"

read -r -a extra <<<"${PYTEST_ARGS:-}"
read -r -a e2e_extra <<<"${E2E_PYTEST_ARGS:-}"
# Two pytest processes. The main one (eventlet-patched, the suite in-process) runs everything but the
# browser scenarios; the second runs tests/e2e without eventlet (ROR_TEST_EVENTLET=0, tests/green.py)
# against the suite as `nameko run` processes: Playwright's sync driver hangs under eventlet's monkey
# patching (docs/web.md). ROR_E2E=1 (`make e2e`) runs only the browser part, ROR_E2E=0 only the main
# part. PYTEST_ARGS and the script's arguments go to the main part (to the browser part with
# ROR_E2E=1), E2E_PYTEST_ARGS to the browser part.
run_pytest() {    # label, then pytest arguments; sets rc
    log "pytest ($1) ${*:2}"
    set +e
    "$VENV/bin/python" -m pytest "${@:2}"
    rc=$?
    set -e
    if ((rc == 5)); then
        log "ERROR: pytest ($1) collected no tests; a suite that runs nothing is not green (exit 5)"
    fi
}

main_rc=0
e2e_rc=0
if [[ "${ROR_E2E:-}" != 1 ]]; then
    run_pytest main -m "not e2e" --ignore=tests/e2e "${extra[@]}" "$@"
    main_rc=$rc
fi
if [[ "${ROR_E2E:-}" != 0 ]]; then
    if [[ "${ROR_E2E:-}" == 1 ]]; then
        e2e_extra+=("${extra[@]}" "$@")
    fi
    # The same database and gateway address as the main part, which has ended by now (own vhost).
    started_e2e=$SECONDS
    ROR_TEST_EVENTLET=0 run_pytest e2e -m e2e -p no:randomly --suppress-nameko-eventlet-notification \
        tests/e2e "${e2e_extra[@]}"
    e2e_rc=$rc
    log "browser tests: exit $e2e_rc in $((SECONDS - started_e2e)) s"
fi
if ((main_rc != 0 || e2e_rc != 0)); then
    log "FAILED: main part exit $main_rc, browser part exit $e2e_rc"
    exit $((main_rc != 0 ? main_rc : e2e_rc))
fi
log "passed"
