"""Loopback SMTP server for development and tests.

Every message received is stored as ``<maildir>/<UTC timestamp>-<uuid>.eml``: the message
as received, preceded by ``X-Envelope-From`` / ``X-Envelope-To`` headers (the envelope,
so that Bcc recipients can be checked). Files are written to a hidden temporary name and
renamed, so a reader globbing ``*.eml`` never sees a half-written message.

    python deploy/smtp_server.py [--host 127.0.0.1] [--port 1025] [--maildir var/mail]
"""

import argparse
import asyncio
import logging
import os
import signal
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiosmtpd.smtp import SMTP

log = logging.getLogger("smtp")
ROOT = Path(__file__).resolve().parent.parent


class MaildirHandler:
    def __init__(self, maildir: Path):
        self.maildir = maildir

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook name)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        name = f"{stamp}-{uuid.uuid4().hex}.eml"
        headers = (
            f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        tmp = self.maildir / f".tmp-{name}"
        tmp.write_bytes(headers + envelope.original_content)
        os.replace(tmp, self.maildir / name)  # atomic within one directory
        log.info("stored %s from=%s to=%s", name, envelope.mail_from, envelope.rcpt_tos)
        return "250 Message accepted for delivery"


async def serve(host: str, port: int, maildir: Path) -> None:
    maildir.mkdir(parents=True, exist_ok=True)
    handler = MaildirHandler(maildir)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, enable_SMTPUTF8=True), host, port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("listening on %s:%s, storing mail in %s", host, port, maildir)
    async with server:
        await stop.wait()
    log.info("stopped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("ROR_SMTP_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("ROR_SMTP_PORT", "1025")))
    parser.add_argument("--maildir", type=Path, default=ROOT / "var" / "mail")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command
    asyncio.run(serve(args.host, args.port, args.maildir))


if __name__ == "__main__":
    main()
