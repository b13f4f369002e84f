"""The gateway's edge: what every request goes through before a service sees it.

- HTTP server: nameko's, with every answer it makes by itself (unknown method, malformed request line,
  over-long URL or header) in the contract's error shape instead of HTML or an empty body;
- input limits: body size (413), JSON depth, strings with NUL or lone surrogates, integers out of range
  (400 naming the field) — in bodies, query strings and paths;
- rate limits per client IP and global on anonymous writes (429 with Retry-After), counted in
  PostgreSQL so that several gateway processes share them (gateway.models.RateCounter);
- idempotency keys: a write sent again with the same `Idempotency-Key` replays the first answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from datetime import timedelta

from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer, WsgiApp
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from gateway.readcache import READ_CACHE
from services.common import ratelimit
from services.common.config import setting
from services.common.errors import Conflict, InvalidInput, RorError, TooManyRequests, Unavailable
from services.common.outbox import utcnow
from services.common.regions import REGIONS

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32
INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # the database's integer columns
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KNOWN_METHODS = WRITE_METHODS | {"GET", "HEAD", "OPTIONS"}
IDEMPOTENCY_TTL = timedelta(hours=24)


class PayloadTooLarge(RorError):
    code, status = "payload_too_large", 413


class MethodNotAllowed(RorError):
    code, status = "method_not_allowed", 405


def error_body(code: str, message: str, fields: dict | None = None) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "fields": fields or {}}},
                      ensure_ascii=False).encode()


# =========================================================================== HTTP server

class _ShapedWfile:
    """eventlet.wsgi writes its own canned answers (414, 400 header too long) straight to the socket;
    this rewrites those into the error shape and passes everything else through."""

    CANNED = {
        b"HTTP/1.0 414 ": (414, "uri_too_long", "Adresse (URL) trop longue"),
        b"HTTP/1.0 400 Header Line Too Long": (431, "headers_too_large", "En-tête HTTP trop long"),
        b"HTTP/1.0 400 Headers Too Large": (431, "headers_too_large", "En-têtes HTTP trop volumineux"),
    }
    REASONS = {414: "Request-URI Too Long", 431: "Request Header Fields Too Large"}

    def __init__(self, wfile):
        self._wfile = wfile

    def write(self, data):
        for prefix, (status, code, message) in self.CANNED.items():
            if isinstance(data, bytes) and data.startswith(prefix):
                body = error_body(code, message)
                data = (f"HTTP/1.0 {status} {self.REASONS[status]}\r\nConnection: close\r\n"
                        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
                break
        return self._wfile.write(data)

    def __getattr__(self, name):
        return getattr(self._wfile, name)


class ShapedProtocol(HttpOnlyProtocol):
    # http.server's own errors (malformed request line, unsupported version): JSON, not HTML.
    error_content_type = "application/json"
    error_message_format = ('{"error": {"code": "bad_request", "message": "Requête HTTP invalide", '
                            '"fields": {"request": "%(code)d %(message)s"}}}')

    def handle_one_request(self):
        wfile = self.wfile
        self.wfile = _ShapedWfile(wfile)
        try:
            return super().handle_one_request()
        finally:
            if isinstance(self.wfile, _ShapedWfile):
                self.wfile = wfile


class ShapedWsgiApp(WsgiApp):
    """nameko's WSGI app, answering routing errors and unknown methods (TRACE, CONNECT, made-up ones)
    in the error shape."""

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "")
        values = None
        try:
            if method not in KNOWN_METHODS:
                raise MethodNotAllowed("Méthode HTTP non prise en charge", {"method": method[:20]})
            request = Request(environ, shallow=True)
            # Every route, the endpoints' and the raw ones (FHIR): no NUL or lone surrogate in path or query.
            for name, value in request.args.items(multi=True):
                if _bad_text(name) or _bad_text(value):
                    raise InvalidInput("Caractère interdit", {name if not _bad_text(name) else "query":
                                                              _bad_text(value) or _bad_text(name)})
            adapter = self.url_map.bind_to_environ(environ)
            provider, values = adapter.match()
            for name, value in values.items():  # named after the route's parameter
                if isinstance(value, str) and _bad_text(value):
                    raise InvalidInput("Caractère interdit", {name: _bad_text(value)})
            if _bad_text(request.path):
                raise InvalidInput("Caractère interdit", {"path": _bad_text(request.path)})
            request.path_values = values
            resp = provider.handle_request(request)
        except HTTPException as exc:
            resp = Response(error_body(exc.name.lower().replace(" ", "_"), exc.description or exc.name),
                            status=exc.code, mimetype="application/json")
        except RorError as exc:
            resp = Response(json.dumps(exc.to_dict(), ensure_ascii=False), status=exc.status,
                            mimetype="application/json")
        except Exception:  # noqa: BLE001 - last resort: never an HTML 500
            log.exception("request failed before reaching an endpoint")
            resp = Response(error_body("internal", "Erreur interne"), status=500, mimetype="application/json")
        if isinstance(resp, HTTPException):
            resp = Response(error_body(resp.name.lower().replace(" ", "_"), resp.description or resp.name),
                            status=resp.code, mimetype="application/json")
        if method in WRITE_METHODS and values is not None:
            # answered: whoever wrote reads it on the next request, from any endpoint (gateway.readcache)
            region = values.get("region")
            if region is None or region in REGIONS:  # an unknown region changed nothing (404)
                READ_CACHE.drop(region)
        return resp(environ, start_response)


class ShapedWebServer(WebServer):
    def get_wsgi_app(self):
        return ShapedWsgiApp(self)

    def get_wsgi_server(self, sock, wsgi_app, protocol=ShapedProtocol, debug=False):
        return super().get_wsgi_server(sock, wsgi_app, protocol=protocol, debug=debug)


class ShapedHttpRequestHandler(HttpRequestHandler):
    server = ShapedWebServer()

    def response_from_exception(self, exc):
        # nameko answers a failure outside the endpoint (e.g. a worker that could not start) in text.
        if isinstance(exc, RorError):
            return Response(json.dumps(exc.to_dict(), ensure_ascii=False), status=exc.status,
                            mimetype="application/json")
        log.error("request failed outside its endpoint: %r", exc)
        return Response(error_body("internal", "Erreur interne"), status=500, mimetype="application/json")


http = ShapedHttpRequestHandler.decorator


# =========================================================================== input limits

def _bad_text(value: str) -> str | None:
    if "\x00" in value:
        return "contains a NUL character"
    for ch in value:
        if "\ud800" <= ch <= "\udfff":
            return "contains an invalid character (lone surrogate)"
    return None


def check_value(value, field: str, depth: int = 0) -> None:
    """Walks a decoded JSON value (iteratively: no recursion to exhaust), refusing what would break
    further down: nesting beyond MAX_JSON_DEPTH, NUL / lone surrogates, integers out of range.
    Every offending field is named (sorted by path)."""
    problems: dict[str, str] = {}
    stack = [(value, field, 1)]
    while stack:
        item, path, level = stack.pop()
        name = path or "body"
        if level > MAX_JSON_DEPTH:
            raise InvalidInput("Données trop imbriquées", {name: f"malformed JSON: nesting deeper than {MAX_JSON_DEPTH}"})
        if isinstance(item, str):
            problem = _bad_text(item)
            if problem:
                problems[name] = problem
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not INT_MIN <= item <= INT_MAX:
                problems[name] = f"integer out of range [{INT_MIN}, {INT_MAX}]"
        elif isinstance(item, float):
            if not math.isfinite(item) or abs(item) > 1e15:
                problems[name] = "number out of range"
        elif isinstance(item, dict):
            for key, sub in item.items():
                problem = _bad_text(key)
                if problem:
                    problems[name] = f"a key {problem}"
                    continue
                stack.append((sub, f"{path}.{key}" if path else key, level + 1))
        elif isinstance(item, list):
            for i, sub in enumerate(item):
                stack.append((sub, f"{path}.{i}" if path else str(i), level + 1))
    if problems:
        raise InvalidInput("Données invalides", dict(sorted(problems.items())))


def _json_nesting(raw: bytes) -> int:
    """Deepest nesting of [ and { outside strings (a scan: json.loads would recurse first)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    return deepest
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def parse_json(raw: bytes):
    """The decoded body, checked (400 naming the field, never a RecursionError)."""
    if _json_nesting(raw) > MAX_JSON_DEPTH:
        raise InvalidInput("Données trop imbriquées", {"body": f"malformed JSON: nesting deeper than {MAX_JSON_DEPTH}"})
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput("Corps de requête JSON invalide", {"body": f"malformed JSON: {exc}"[:300]}) from exc
    check_value(data, "")
    return data


def body(req: Request) -> bytes:
    """The request body, at most MAX_BODY_BYTES (413 beyond, whether announced or streamed)."""
    if req.content_length is not None and req.content_length > MAX_BODY_BYTES:
        raise PayloadTooLarge("Corps de requête trop volumineux", {"body": f"more than {MAX_BODY_BYTES} bytes"})
    req.max_content_length = MAX_BODY_BYTES
    try:
        return req.get_data(cache=True)
    except RequestEntityTooLarge as exc:
        raise PayloadTooLarge("Corps de requête trop volumineux", {"body": f"more than {MAX_BODY_BYTES} bytes"}) from exc


def check_request(req: Request, path_params: dict) -> None:
    """Path and query values, and the body size, before anything else runs."""
    for name, value in path_params.items():
        if isinstance(value, str) and _bad_text(value):
            raise InvalidInput("Caractère interdit", {name: _bad_text(value)})
        if isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
            raise InvalidInput("Nombre hors limites", {name: "integer out of range"})
    for name, value in req.args.items(multi=True):
        problem = _bad_text(name) or _bad_text(value)
        if problem:
            raise InvalidInput("Caractère interdit", {name if not _bad_text(name) else "query": problem})
    if req.method in WRITE_METHODS:
        raw = body(req)
        # Every write body is JSON: checked here, whether or not the endpoint reads it.
        req.environ["ror.json"] = parse_json(raw) if raw else None


def json_body(req: Request):
    """The checked JSON body (None when empty)."""
    if "ror.json" not in req.environ:
        raw = body(req)
        req.environ["ror.json"] = parse_json(raw) if raw else None
    return req.environ["ror.json"]


def check_query(values: dict) -> dict:
    """Loaded query values: integers within the database's range (offset=1e30 is not a page)."""
    for name, value in values.items():
        if isinstance(value, int) and not isinstance(value, bool) and not INT_MIN <= value <= INT_MAX:
            raise InvalidInput("Paramètres invalides", {name: [f"must be between {INT_MIN} and {INT_MAX}"]})
    return values


# =========================================================================== rate limits

# (uses, seconds) per client IP and for everyone, per endpoint; ROR_RATE_LIMIT_FACTOR scales them
# (tests that run many activations from 127.0.0.1 raise it; a fault test lowers it).
RATE_LIMITS = {
    "activate_account": ((10, 600), (300, 60)),
    "request_password_reset": ((5, 900), (100, 60)),
    "verify_email": ((20, 600), (300, 60)),
}
DEFAULT_ANONYMOUS_WRITE_LIMITS = ((30, 60), (600, 60))


def client_ip(req: Request) -> str:
    # The gateway faces clients directly (no trusted proxy): the socket's peer, never X-Forwarded-For.
    return req.remote_addr or "unknown"


def rate_limit(session, counter_cls, endpoint_name: str, ip: str, config: dict | None) -> None:
    """429 with retry_after when the client, or everyone, made too many anonymous writes."""
    factor = float(setting("ROR_RATE_LIMIT_FACTOR", config))
    per_ip, overall = RATE_LIMITS.get(endpoint_name, DEFAULT_ANONYMOUS_WRITE_LIMITS)
    try:
        for key, (limit, window) in ((f"ip:{endpoint_name}:{ip}", per_ip), (f"all:{endpoint_name}", overall)):
            wait = ratelimit.hit(session, counter_cls, key, max(1, int(limit * factor)), window)
            if wait is not None:
                session.commit()
                raise TooManyRequests("Trop de requêtes, réessayez plus tard.", {"retry_after": wait})
        session.commit()
    except RorError:
        raise
    except Exception as exc:  # no shared counter, no anonymous write: refuse rather than run unlimited
        session.rollback()
        log.exception("rate limit store unavailable")
        raise Unavailable("Service momentanément indisponible", {"rate_limit": type(exc).__name__}) from exc


# =========================================================================== idempotency keys

def idempotency_key(req: Request) -> str | None:
    value = req.headers.get("Idempotency-Key")
    if value is None:
        return None
    value = value.strip()
    if not 1 <= len(value) <= 200 or not value.isascii() or not value.isprintable():
        raise InvalidInput("En-tête Idempotency-Key invalide",
                           {"Idempotency-Key": "1 to 200 printable ASCII characters"})
    return value


def fingerprint(req: Request) -> str:
    digest = hashlib.sha256()
    for part in (req.method.encode(), req.path.encode(), req.query_string, body(req)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def idempotent(session, model, scope: str, key: str, req: Request, run) -> Response:
    """run() once per (scope, key): a retry with the same request replays the stored answer; another
    request under the same key is refused (409). An answer ≥ 500 (503: nothing happened) is not kept:
    the client's retry runs again."""
    full_key = f"{scope}:{key}"[:400]
    print_ = fingerprint(req)
    now = utcnow()
    session.execute(delete(model).where(model.key == full_key, model.created_at < now - IDEMPOTENCY_TTL))
    inserted = session.execute(
        pg_insert(model.__table__).values(key=full_key, fingerprint=print_, created_at=now)
        .on_conflict_do_nothing().returning(model.__table__.c.key)).first()
    session.commit()
    if inserted is None:
        row = session.scalars(select(model).where(model.key == full_key)).first()
        if row is None:  # expired and deleted meanwhile: the retry is a new request
            return idempotent(session, model, scope, key, req, run)
        if row.fingerprint != print_:
            raise Conflict("Cette clé d'idempotence a déjà servi pour une autre requête",
                           {"Idempotency-Key": "already used with another method, path or body"})
        if row.status is None:
            raise Conflict("Une requête avec cette clé d'idempotence est en cours de traitement",
                           {"Idempotency-Key": "in progress", "retry_after": 1})
        headers = dict(row.headers or {})
        headers["Idempotent-Replayed"] = "true"
        return Response(row.body, status=row.status, headers=headers, mimetype=row.mimetype)
    response = None
    try:
        response = run()
    finally:
        row = session.get(model, full_key)
        if row is not None:
            if response is None or response.status_code >= 500:
                session.delete(row)
            else:
                row.status = response.status_code
                row.body = response.get_data(as_text=True)
                row.mimetype = response.mimetype
                row.headers = {k: v for k, v in response.headers.items()
                               if k.lower() in ("etag", "location", "retry-after")}
        session.commit()
    return response
