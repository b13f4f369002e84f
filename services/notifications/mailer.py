"""Building and sending e-mails (plain smtplib, no nameko)."""

from __future__ import annotations

import smtplib
import threading
import time
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

EHLO_NAME = "ror.local"  # explicit: smtplib would otherwise ask socket.getfqdn(), a reverse DNS look-up


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
    with smtplib.SMTP(host, port, timeout=timeout, local_hostname=EHLO_NAME) as smtp:
        smtp.send_message(msg)


class SmtpPool:
    """A few SMTP connections kept open between mails (connecting and greeting cost more than sending).

    A connection idle for more than `fresh` seconds is checked with NOOP before use. A failure while
    sending closes the connection and raises: the caller keeps the mail and tries again later (a mail
    is never retried here, so a reply lost after DATA cannot turn into two mails at once)."""

    def __init__(self, host: str, port: int, size: int = 4, timeout: float = 10, fresh: float = 10):
        self.host, self.port, self.size, self.timeout, self.fresh = host, port, size, timeout, fresh
        self._idle: list[tuple[smtplib.SMTP, float]] = []
        self._lock = threading.Lock()

    def _connect(self) -> smtplib.SMTP:
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout, local_hostname=EHLO_NAME)

    def _take(self) -> smtplib.SMTP:
        while True:
            with self._lock:
                if not self._idle:
                    break
                conn, since = self._idle.pop()
            if time.monotonic() - since < self.fresh:
                return conn
            try:
                if conn.noop()[0] == 250:
                    return conn
            except (smtplib.SMTPException, OSError):
                pass
            _close(conn)
        return self._connect()

    def send(self, msg: EmailMessage) -> None:
        conn = self._take()
        try:
            conn.send_message(msg)
        except BaseException:
            _close(conn)
            raise
        with self._lock:
            if len(self._idle) < self.size:
                self._idle.append((conn, time.monotonic()))
                return
        _close(conn)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            _close(conn)


def _close(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()
