"""Loopback SMS gateway stand-in for development and tests (the real provider is configuration).

Speaks the small HTTP protocol of services.accounts.sms.HttpSmsGateway: ``POST /messages`` with a JSON
body ``{"to": "+33612345678", "text": "...", "sender": "ROR"}`` answers ``201 {"id": "..."}``. Every
message is stored as ``<smsdir>/<UTC timestamp>-<id>.json`` (written to a hidden name, then renamed, so a
reader globbing ``*.json`` never sees half a message).

    python deploy/sms_server.py [--host 127.0.0.1] [--port 1026] [--smsdir var/sms]
"""

import argparse
import json
import logging
import os
import signal
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

log = logging.getLogger("sms")
ROOT = Path(__file__).resolve().parent.parent
MAX_BODY = 16 * 1024


class Handler(BaseHTTPRequestHandler):
    smsdir: Path = ROOT / "var" / "sms"

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server hook name)
        if self.path == "/health":
            return self._answer(200, {"status": "ok"})
        return self._answer(404, {"error": "not found"})

    def do_POST(self):  # noqa: N802
        if self.path != "/messages":
            return self._answer(404, {"error": "not found"})
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            return self._answer(413, {"error": "body size"})
        try:
            body = json.loads(self.rfile.read(length))
            to, text = body["to"], body["text"]
            if not isinstance(to, str) or not isinstance(text, str) or not to or not text:
                raise ValueError("to and text must be non-empty strings")
        except (ValueError, KeyError, TypeError) as exc:
            return self._answer(400, {"error": str(exc)[:200]})
        message_id = uuid.uuid4().hex
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        record = {"id": message_id, "to": to, "text": text, "sender": body.get("sender"),
                  "received_at": datetime.now(UTC).isoformat()}
        name = f"{stamp}-{message_id}.json"
        tmp = self.smsdir / f".tmp-{name}"
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, self.smsdir / name)
        log.info("stored %s to=%s", name, to)
        return self._answer(201, {"id": message_id})

    def log_message(self, fmt, *args):  # requests are logged by do_POST, not line by line
        pass


def serve(host: str, port: int, smsdir: Path) -> ThreadingHTTPServer:
    smsdir.mkdir(parents=True, exist_ok=True)
    handler = type("BoundHandler", (Handler,), {"smsdir": smsdir})
    return ThreadingHTTPServer((host, port), handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1026)
    parser.add_argument("--smsdir", type=Path, default=ROOT / "var" / "sms")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = serve(args.host, args.port, args.smsdir)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: threading.Thread(target=server.shutdown).start())
    log.info("listening on %s:%s, storing SMS in %s", args.host, args.port, args.smsdir)
    server.serve_forever()
    log.info("stopped")


if __name__ == "__main__":
    main()
