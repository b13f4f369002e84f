#!/usr/bin/env bash
# Front-end assets of the ROR pages: `npm ci` in deploy/web (versions pinned by package-lock.json), then
# copy the files the pages use into gateway/web/static/vendor (not committed; served by the gateway).
# Idempotent: does nothing when the lock file did not change since the last copy.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENDOR="$ROOT/gateway/web/static/vendor"
STAMP="$VENDOR/.lock.sha256"
want="$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" && -f "$VENDOR/axe.min.js" && -f "$VENDOR/altcha/altcha.min.js" ]]; then
    exit 0
fi
command -v npm >/dev/null || { echo "npm is needed for the web assets (apt-get install npm)" >&2; exit 1; }
(cd "$HERE" && npm ci --no-audit --no-fund --silent)
mkdir -p "$VENDOR/leaflet/images"
cp "$HERE/node_modules/htmx.org/dist/htmx.min.js" "$VENDOR/htmx.min.js"
cp "$HERE/node_modules/axe-core/axe.min.js" "$VENDOR/axe.min.js"
cp "$HERE/node_modules/leaflet/dist/leaflet.js" "$HERE/node_modules/leaflet/dist/leaflet.css" "$VENDOR/leaflet/"
cp "$HERE/node_modules/leaflet/dist/images/"*.png "$VENDOR/leaflet/images/"
# ALTCHA (registration captcha): the CSP-strict build (no inline style, no blob worker), its stylesheet,
# the French strings and the SHA worker that solves the server's challenges (services/accounts/registration.py).
mkdir -p "$VENDOR/altcha"
cp "$HERE/node_modules/altcha/dist/external/altcha.min.js" "$HERE/node_modules/altcha/dist/external/altcha.css" \
   "$HERE/node_modules/altcha/dist/i18n/fr-fr.js" "$HERE/node_modules/altcha/dist/workers/sha.js" "$VENDOR/altcha/"
echo "$want" >"$STAMP"
echo "web assets: htmx, Leaflet, ALTCHA, axe-core copied into $VENDOR"
