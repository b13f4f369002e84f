"""Runtime settings, read from the environment (dev defaults documented in docs/CONVENTIONS.md).

Nameko passes its own config dict to services; `setting()` looks there first so tests can run
an isolated copy of the suite (own vhost, own database) in-process.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

DEFAULTS: dict[str, str] = {
    "ROR_AMQP_URI": "amqp://guest:guest@127.0.0.1:5672/",
    "ROR_DATABASE_URL": "postgresql+psycopg2://ror:ror@127.0.0.1:5432/ror",
    "ROR_KEYCLOAK_URL": "http://127.0.0.1:8080",
    "ROR_KEYCLOAK_MANAGEMENT_URL": "http://127.0.0.1:9000",
    "ROR_KEYCLOAK_TLS_URL": "https://127.0.0.1:8443",  # CPS cards (mutual TLS)
    "ROR_KEYCLOAK_ISSUER_URL": "",  # accepted token issuers, comma-separated; empty: the two URLs above
    "ROR_RATE_LIMIT_FACTOR": "1",  # scales the gateway's rate limits (gateway.edge.RATE_LIMITS)
    "ROR_KEYCLOAK_ADMIN": "admin",
    "ROR_KEYCLOAK_ADMIN_PASSWORD": "admin",
    "ROR_DEMO_PASSWORD": "RorDemo2026",
    "ROR_DEMO_TOTP_SECRET": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
    "ROR_ACCOUNTS_CLIENT_SECRET": "ror-accounts-dev-secret",
    "ROR_SMTP_HOST": "127.0.0.1",
    "ROR_SMTP_PORT": "1025",
    "ROR_MAIL_FROM": "ROR <noreply@ror.local>",
    "ROR_PUBLIC_URL": "http://127.0.0.1:8000",
    "ROR_NATIONAL_URL": "http://127.0.0.1:8190/fhir",  # FHIR base of the national ROR (stand-in: deploy/national.sh)
    "ROR_RPC_TIMEOUT": "15",
    "ROR_READ_CACHE_TTL": "1",  # gateway: seconds a read endpoint's answer is kept (gateway.readcache); 0: off
    "ROR_STRICT_RESPONSES": "0",  # gateway: "1" fails an answer with a key its schema would drop (tests)
    "ROR_RPC_CONCURRENCY": "8",  # gateway: calls in flight per downstream service
    "ROR_BREAKER_THRESHOLD": "2",  # gateway: consecutive failures that open a service's breaker
    "ROR_BREAKER_COOL_DOWN": "5",  # gateway: seconds before an open breaker probes the service
    "ROR_QUEUE_TYPE": "classic",
    "ROR_ACTIVATION_CODE_DAYS": "90",
    "ROR_SMS_URL": "http://127.0.0.1:1026/messages",  # SMS gateway (stand-in: deploy/sms.sh)
    "ROR_SMS_TOKEN": "",
    "ROR_CAPTCHA_SECRET": "ror-captcha-dev-secret",  # HMAC key of the ALTCHA challenges
    "ROR_CAPTCHA_COST": "5000",
    "ROR_SMS_PER_IP_HOUR": "10",  # SMS codes one client address may ask for per hour
    "ROR_REGISTRATIONS_PER_IP_HOUR": "10",
    "ROR_CGU_VERSION": "2026-01",
    "ROR_TLS_PROXY_ADDRESSES": "",  # TLS front(s) allowed to forward the CPS card certificate (X-SSL-Client-Cert)  # version of the portal's conditions of use; a new one asks again
    "ROR_VAR_DIR": str(ROOT / "var"),
    # Webhooks: loopback / private receivers are refused (SSRF) unless allowed (the demo and tests
    # allow loopback); seconds between attempts (Standard Webhooks' schedule); concurrent attempts per
    # subscription (a slow receiver holds only these).
    "ROR_WEBHOOK_ALLOW_LOOPBACK": "0",
    "ROR_WEBHOOK_ALLOW_PRIVATE": "0",
    "ROR_WEBHOOK_SCHEDULE": "0,5,300,1800,7200,18000,36000,36000",
    "ROR_WEBHOOK_TIMEOUT": "15",
    "ROR_WEBHOOK_CONCURRENCY": "8",
}


def setting(name: str, config: dict | None = None) -> str:
    """Value of `name`: nameko config first, then the environment, then the dev default."""
    if config and config.get(name) not in (None, ""):
        return str(config[name])
    value = os.environ.get(name)
    if value not in (None, ""):
        return value
    if name in DEFAULTS:
        return DEFAULTS[name]
    raise KeyError(f"setting {name} is not defined")


def var_dir(config: dict | None = None) -> Path:
    path = Path(setting("ROR_VAR_DIR", config))
    path.mkdir(parents=True, exist_ok=True)
    return path
