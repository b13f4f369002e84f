#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Prepare a machine and the repo: system packages (only the missing ones),
# .venv, and `pip install -e '.[dev]'` (only when pyproject.toml changed).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
COMPONENT=bootstrap
BOOT_LOG="$LOG_DIR/bootstrap.log"

# Two scripts bootstrapping at once would race in apt and pip.
exec 9>"$LOCK_DIR/bootstrap.lock"
flock -w 900 9 || die bootstrap "$BOOT_LOG" "another bootstrap held $LOCK_DIR/bootstrap.lock for 15 min"

# ---- system packages -------------------------------------------------------
missing=()
[[ -x /usr/sbin/rabbitmq-server ]] || missing+=(rabbitmq-server)
{ command -v pg_ctlcluster >/dev/null && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; } \
    || missing+=(postgresql)
command -v curl >/dev/null || missing+=(curl)
command -v ss >/dev/null || missing+=(iproute2)        # tells us who holds a port
command -v wrk >/dev/null || missing+=(wrk)            # load tool of tests/bench/bench_read_path.py
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v chromium >/dev/null || missing+=(chromium)  # the browser of the e2e tests (Playwright drives it)
command -v npm >/dev/null || missing+=(npm)            # web assets (deploy/web: htmx, Leaflet, axe-core)

if ((${#missing[@]})); then
    log "installing system packages: ${missing[*]} (output in $BOOT_LOG)"
    # Without systemd the packages' postinst would try to start the daemons through
    # invoke-rc.d and fail; policy-rc.d exit 101 tells it not to. We start them ourselves.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
        as_root chmod +x /usr/sbin/policy-rc.d
        trap 'as_root rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    as_root apt-get update >>"$BOOT_LOG" 2>&1 || die bootstrap "$BOOT_LOG" "apt-get update"
    # LANG: the postgresql package creates its first cluster with the current locale;
    # a UTF-8 one keeps accented data intact.
    as_root env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 apt-get install -y "${missing[@]}" >>"$BOOT_LOG" 2>&1 \
        || die bootstrap "$BOOT_LOG" "apt-get install ${missing[*]}"
fi

# ---- Python virtualenv -----------------------------------------------------
[[ -f "$ROOT/pyproject.toml" ]] || die bootstrap "" "$ROOT/pyproject.toml not found"
stamp="$VAR/pyproject.sha256"
if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV"
    python3 -m venv "$VENV" >>"$BOOT_LOG" 2>&1 || die bootstrap "$BOOT_LOG" "python3 -m venv $VENV"
    rm -f "$stamp"
fi
want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    log "pyproject.toml changed: pip install -e '.[dev]' (output in $BOOT_LOG)"
    # Playwright drives Debian's chromium: never download its own browsers.
    (cd "$ROOT" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$VENV/bin/python" -m pip install -e '.[dev]') >>"$BOOT_LOG" 2>&1 \
        || die bootstrap "$BOOT_LOG" "pip install -e '.[dev]'"
    echo "$want" >"$stamp"    # only after success, so a failed install is retried
else
    log "virtualenv up to date"
fi

# ---- web assets: npm ci in deploy/web, copied into gateway/web/static/vendor (idempotent) ----------
bash "$DEPLOY/web/build.sh" >>"$BOOT_LOG" 2>&1 || die bootstrap "$BOOT_LOG" "deploy/web/build.sh (npm ci of the web assets)"

# ---- kustomize (renders deploy/k8s; the tests validate the manifests offline) ---------------
# kubectl carries kustomize; without either, build kustomize from its Go module when Go is there.
if ! command -v kustomize >/dev/null && ! command -v kubectl >/dev/null && [[ ! -x "$VAR/bin/kustomize" ]]; then
    command -v go >/dev/null || die bootstrap "" "deploy/k8s needs kustomize, kubectl or Go to build kustomize"
    log "installing kustomize into $VAR/bin (go install, output in $BOOT_LOG)"
    GOBIN="$VAR/bin" go install sigs.k8s.io/kustomize/kustomize/v5@v5.5.0 >>"$BOOT_LOG" 2>&1 \
        || die bootstrap "$BOOT_LOG" "go install kustomize"
fi
