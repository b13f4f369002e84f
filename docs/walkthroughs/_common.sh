# Shared by the walkthrough scripts: settings, demo tokens (password + TOTP), section titles.
set -euo pipefail
BASE=${BASE:-http://127.0.0.1:8000}
KC=${ROR_KEYCLOAK_URL:-http://127.0.0.1:8080}
PY=${PY:-.venv/bin/python}
PASSWORD=${ROR_DEMO_PASSWORD:-RorDemo2026}
TOTP_SECRET=${ROR_DEMO_TOTP_SECRET:-JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP}
H=(-H "Content-Type: application/json")

token() {  # token <region> <username>: direct grant with the demo password and the current TOTP code
  curl -sf "$KC/realms/ror-$1/protocol/openid-connect/token" -d grant_type=password -d client_id=ror-gateway \
       -d scope=openid -d "username=$2" -d "password=$PASSWORD" \
       -d "totp=$($PY -c "import pyotp; print(pyotp.TOTP('$TOTP_SECRET').now())")" | jq -r .access_token
}
show() { echo; echo "### $*"; }
