"""Building and sending e-mails (plain smtplib, no nameko)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formataddr, make_msgid


def build_message(sender: str, to: str, subject: str, text: str, html: str | None = None,
                  to_name: str = "", headers: dict | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = formataddr((to_name, to)) if to_name else to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="ror.local")
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    return msg


def send(msg: EmailMessage, host: str, port: int, timeout: float = 10) -> None:
    # An explicit EHLO name: smtplib would otherwise ask socket.getfqdn(), a reverse DNS look-up per mail.
    with smtplib.SMTP(host, port, timeout=timeout, local_hostname="ror.local") as smtp:
        smtp.send_message(msg)
