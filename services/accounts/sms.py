"""SMS gateway port (plain Python): the accounts service sends one-time codes through it.

`HttpSmsGateway` POSTs ``{"to", "text", "sender"}`` as JSON to ``ROR_SMS_URL`` (bearer ``ROR_SMS_TOKEN``
when set). In development and tests that URL is the stand-in ``deploy/sms_server.py`` (``make up``),
which stores every message under ``var/sms/``; in production it is the provider's endpoint (or a small
adapter in front of it) — configuration only.
"""

from __future__ import annotations

import logging

import requests

from services.common.errors import Unavailable

log = logging.getLogger(__name__)


class HttpSmsGateway:
    def __init__(self, url: str, token: str = "", sender: str = "ROR", timeout: float = 10.0):
        self.url, self.token, self.sender, self.timeout = url, token, sender, timeout

    def send(self, to: str, text: str) -> str:
        """Hand the message to the gateway; its id. Unavailable (503) when the gateway refuses or is down."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            resp = requests.post(self.url, json={"to": to, "text": text, "sender": self.sender},
                                 headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            log.error("SMS gateway %s unreachable: %s", self.url, exc)
            raise Unavailable("Le service d'envoi de SMS ne répond pas, réessayez plus tard",
                              {"sms": f"{type(exc).__name__}: {exc}"[:300]}) from exc
        if resp.status_code not in (200, 201, 202):
            log.error("SMS gateway %s answered %s: %s", self.url, resp.status_code, resp.text[:200])
            raise Unavailable("Le service d'envoi de SMS a refusé le message, réessayez plus tard",
                              {"sms": f"HTTP {resp.status_code}"})
        try:
            return str(resp.json().get("id", ""))
        except ValueError:
            return ""
