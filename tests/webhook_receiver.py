"""A connected tool's webhook endpoint for tests and the benchmark (run as a subprocess).

    python tests/webhook_receiver.py --port 8123 --log received.jsonl

Every request is appended to the log as one JSON line {path, headers, body, at}; the answer depends on
the path: /ok -> 204, /slow/<seconds> -> 200 after that long, /status/<code>[?retry_after=N] -> that code,
/flaky/<n> -> 503 for the first n requests of each webhook-id, then 200.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
SEEN: Counter = Counter()


class Handler(BaseHTTPRequestHandler):
    log_path = "received.jsonl"

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):  # noqa: N802 (http.server hook name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        parts = urlsplit(self.path)
        segments = [s for s in parts.path.split("/") if s]
        kind = segments[0] if segments else "ok"
        headers = {k.lower(): v for k, v in self.headers.items() if k.lower().startswith("webhook-")}
        with LOCK:
            SEEN[headers.get("webhook-id")] += 1
            seen = SEEN[headers.get("webhook-id")]
            with open(self.log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps({"path": parts.path, "headers": headers, "body": body,
                                      "at": time.time()}) + "\n")
        status, extra = 204, {}
        if kind == "slow":
            time.sleep(float(segments[1]))
            status = 200
        elif kind == "status":
            status = int(segments[1])
            retry = parse_qs(parts.query).get("retry_after")
            if retry:
                extra["Retry-After"] = retry[0]
        elif kind == "flaky":
            status = 503 if seen <= int(segments[1]) else 200
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    Handler.log_path = args.log
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
