"""HTTP plumbing of the gateway: one decorator declares an endpoint (path, who may call it, schemas),
maps errors to the contract's shape, and feeds both the router and the OpenAPI document.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
from dataclasses import dataclass
from typing import Any

import eventlet
from marshmallow import Schema, ValidationError
from nameko.exceptions import RemoteError, RpcTimeout, UnknownService
from werkzeug.wrappers import Request, Response

from gateway import edge, readcache
from gateway.auth import Identity, bearer_token, verify
from gateway.models import IdempotentRequest, RateCounter
from services.common import rpc
from services.common.config import setting
from services.common.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionRequired,
    RorError,
    Unavailable,
    from_marshmallow,
)
from services.common.regions import get_region
from services.common.roles import PROFESSIONAL as PROFESSIONAL_ROLE
from services.common.roles import REGION_ADMIN, STRUCTURE_ROLES, TEAM_ROLES

log = logging.getLogger(__name__)

JSON = "application/json"
PROBE_TIMEOUT = 1.0  # health probe of a service whose breaker is half-open

# Who may call an endpoint. Structure-scoped access is checked by the handler with the structure id.
ANONYMOUS = "anonymous"
AUTHENTICATED = "authenticated"
PROFESSIONAL = "professional"
REGIONAL_TEAM = "regional_team"
ADMIN = "admin"


@dataclass
class Endpoint:
    method: str
    path: str  # werkzeug rule, e.g. /api/<region>/offers/<int:offer_id>
    access: str
    summary: str
    request_schema: type[Schema] | None
    response_schema: type[Schema] | None
    status: int
    tags: tuple[str, ...]
    name: str
    query_schema: type[Schema] | Schema | None = None
    produces: str = JSON
    errors: tuple[int, ...] = ()  # statuses beyond those openapi.py derives from method and access
    if_match: bool = False  # a write guarded by the ETag it read (412 stale, 428 missing)
    replies: dict[int, type[Schema]] | None = None  # other statuses answered with a body of their own
    cache: bool = False  # 200 answers kept a moment per caller (gateway.readcache)


_SCHEMAS: dict[type[Schema], Schema] = {}


def instance(schema: type[Schema] | Schema) -> Schema:
    """One instance per schema class: building one deep-copies its fields (~0.3 ms, most of a read's
    CPU in the gateway), and an instance is reusable for load and dump."""
    if isinstance(schema, Schema):
        return schema
    found = _SCHEMAS.get(schema)
    if found is None:
        found = _SCHEMAS[schema] = schema()
    return found


def dump(schema: type[Schema] | Schema, body: Any) -> Any:
    """`body` as its declared schema gives it (the only way an answer leaves the gateway)."""
    return instance(schema).dump(body)


ENDPOINTS: list[Endpoint] = []


@dataclass
class Reply:
    body: Any
    status: int = 200
    headers: dict | None = None
    mimetype: str = "application/json"


class Context:
    """What a handler gets: the request, its region and the caller's identity."""

    def __init__(self, service, request: Request, region: str | None, identity: Identity | None,
                 query_schema: type[Schema] | Schema | None = None):
        self.service = service
        self.query_schema = query_schema
        self.request = request
        self.region = region
        self.identity = identity
        self._actor: dict | None = None

    def actor(self) -> dict | None:
        """The caller as services see it (services.common.actor.Actor as a dict), with the
        habilitations the accounts service holds (cached by the gateway: gateway.habilitations);
        None for an anonymous call."""
        if self.identity is None:
            return None
        if self._actor is None:
            ident = self.identity
            habilitations = self.service.habilitations.get(
                self.region, ident.subject,
                lambda: call(self.service.accounts, "habilitations", self.region, ident.subject))
            self._actor = {"subject": ident.subject, "username": ident.username, "region": self.region,
                           "roles": sorted(ident.roles), "rpps": ident.rpps, "habilitations": habilitations}
        return self._actor

    def json(self, schema: Schema | None = None, partial: bool = False) -> dict:
        data: Any = edge.json_body(self.request)
        if data is None:
            data = {}
        if schema is None:
            if not isinstance(data, dict):
                raise InvalidInput("Un objet JSON est attendu", {"body": "expected a JSON object"})
            return data
        try:
            return schema.load(data, partial=partial)
        except ValidationError as err:
            raise from_marshmallow(err) from err

    def query(self) -> dict:
        """The query string loaded by the endpoint's `query` schema (400 naming the parameter)."""
        schema = instance(self.query_schema) if self.query_schema is not None else None
        if schema is None:
            return self.request.args.to_dict()
        try:
            return edge.check_query(schema.load(self.request.args.to_dict()))
        except ValidationError as err:
            raise from_marshmallow(err, "Paramètres invalides") from err

    def if_match(self, required: bool = True) -> str | None:
        value = self.request.headers.get("If-Match")
        if value is None and required:
            raise PreconditionRequired(
                "En-tête If-Match requis (ETag de la version lue)", {"If-Match": "missing"}
            )
        return value.strip().strip('"').removeprefix("W/").strip('"') if value else None

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.request.args.get(name, default)


def error_response(exc: BaseException) -> Response:
    headers = {}
    if isinstance(exc, RorError):
        body, status = exc.to_dict(), exc.status
        retry_after = exc.fields.get("retry_after") if isinstance(exc.fields, dict) else None
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
    elif isinstance(exc, (RpcTimeout, eventlet.Timeout)):
        body, status = Unavailable("Le service ne répond pas, réessayez plus tard").to_dict(), 503
    elif isinstance(exc, UnknownService):
        body, status = Unavailable(f"Service indisponible : {exc}").to_dict(), 503
    else:
        # A bug, not bad input: log it fully, tell the caller little.
        log.error("unexpected error", exc_info=(type(exc), exc, exc.__traceback__))
        detail = exc.exc_type if isinstance(exc, RemoteError) else type(exc).__name__
        body = {"error": {"code": "internal", "message": "Erreur interne", "fields": {"detail": detail}}}
        status = 500
    return Response(json.dumps(body, ensure_ascii=False), status=status, headers=headers,
                    mimetype="application/json")


def dropped_keys(original: Any, dumped: Any, path: str = "") -> list[str]:
    """Paths of the keys of `original` that `dumped` lost (a schema dump silently drops the keys it
    does not declare)."""
    if isinstance(original, dict) and isinstance(dumped, dict):
        lost = []
        for key, value in original.items():
            if key not in dumped:
                lost.append(f"{path}.{key}" if path else str(key))
            else:
                lost += dropped_keys(value, dumped[key], f"{path}.{key}" if path else str(key))
        return lost
    if isinstance(original, (list, tuple)) and isinstance(dumped, (list, tuple)):
        return [p for i, (a, b) in enumerate(zip(original, dumped, strict=False))
                for p in dropped_keys(a, b, f"{path}[{i}]")]
    return []


class UndeclaredField(Exception):
    """A handler answered a key its response schema does not declare (strict mode: tests)."""


def to_response(result: Any, status: int, ep: Endpoint | None = None, strict: bool = False) -> Response:
    """The handler's answer as HTTP; a JSON body goes through the endpoint's declared schema. `strict`
    (ROR_STRICT_RESPONSES, on in the tests) turns a key the schema would drop into an error."""
    if isinstance(result, Response):
        return result
    if not isinstance(result, Reply):
        result = Reply(result, status)
    if result.mimetype == JSON:
        body = result.body
        schema = (ep.replies or {}).get(result.status, ep.response_schema) if ep is not None else None
        if schema is not None:
            dumped = dump(schema, body)
            if strict and (lost := dropped_keys(body, dumped)):
                raise UndeclaredField(f"{ep.name}: {type(instance(schema)).__name__} drops {lost}")
            body = dumped
        payload = json.dumps(body, ensure_ascii=False, default=str)
    else:
        payload = result.body
    return Response(payload, status=result.status, headers=result.headers or {}, mimetype=result.mimetype)


def check_access(access: str, identity: Identity | None) -> None:
    if access == ANONYMOUS:
        return
    assert identity is not None
    roles = identity.roles
    if access == AUTHENTICATED:
        return
    if access == PROFESSIONAL and (PROFESSIONAL_ROLE in roles or roles & TEAM_ROLES or
                                   roles & set(STRUCTURE_ROLES)):
        return
    if access == REGIONAL_TEAM and roles & TEAM_ROLES:
        return
    if access == ADMIN and REGION_ADMIN in roles:
        return
    raise Forbidden("Vous n'avez pas les droits pour cette action", {"role": f"requires {access}"})


def endpoint(method: str, path: str, access: str, summary: str = "", request: type[Schema] | None = None,
             response: type[Schema] | Schema | None = None, status: int = 200, tags: tuple[str, ...] = (),
             query: type[Schema] | Schema | None = None, produces: str = JSON, errors: tuple[int, ...] = (),
             if_match: bool = False, replies: dict[int, type[Schema]] | None = None, cache: bool = False):
    """Declare an endpoint. A JSON endpoint declares its `response` schema: every answer is dumped
    through it (`replies` for other statuses with a body of their own), which is also what
    /openapi.json documents (tests/unit/test_contracts.py lists the endpoints still without one)."""

    def decorate(fn):
        # a handler that reads If-Match is an ETag-guarded write, declared or not (412 / 428 documented)
        guarded = if_match or "ctx.if_match(" in inspect.getsource(fn)
        ep = Endpoint(method, path, access, summary or (fn.__doc__ or "").strip().split("\n")[0],
                      request, response, status, tags, fn.__name__, query, produces, tuple(errors), guarded,
                      replies, cache and method == "GET")
        ENDPOINTS.append(ep)

        @functools.wraps(fn)
        def handler(self, req: Request, **params):
            strict = setting("ROR_STRICT_RESPONSES", self.config) == "1"
            try:
                edge.check_request(req, params)  # sizes and characters before anything else
                region = params.pop("region", None)
                if region is not None:
                    get_region(region)  # 404 before anything else
                identity = None
                header = req.headers.get("Authorization")
                if access != ANONYMOUS or (header and region):
                    if region is None:
                        raise NotFound("Région manquante", {"region": "missing"})
                    identity = verify(bearer_token(header), region, self.jwks, self.config)
                check_access(access, identity)
                if access == ANONYMOUS and method in edge.WRITE_METHODS:
                    edge.rate_limit(self.db, RateCounter, fn.__name__, edge.client_ip(req), self.config)

                def run() -> Response:
                    try:
                        return to_response(fn(self, Context(self, req, region, identity, query), **params), status, ep,
                                           strict)
                    except Exception as exc:
                        return error_response(exc)

                if ep.cache:
                    return cached(self, req, region, identity, run)
                key = edge.idempotency_key(req) if method in edge.WRITE_METHODS else None
                if key is None:
                    return run()
                scope = f"{region}:{identity.subject if identity else 'ip:' + edge.client_ip(req)}"
                return edge.idempotent(self.db, IdempotentRequest, scope, key, req, run)
            except Exception as exc:  # every failure leaves as the contract's error shape
                return error_response(exc)

        return edge.http(method, path)(handler)

    return decorate


def cached(service, req: Request, region: str | None, identity: Identity | None, run) -> Response:
    """run()'s answer, or the one kept for the same caller and URL (gateway.readcache)."""
    ttl = float(setting("ROR_READ_CACHE_TTL", service.config))
    if ttl <= 0:
        return run()
    caller = (identity.subject, tuple(sorted(identity.roles)), identity.rpps) if identity else None
    key = (region or readcache.ALL, caller, req.path, req.query_string)
    cache = readcache.READ_CACHE
    fresh = readcache.bypass(req.headers.get("Cache-Control"))
    if not fresh:
        entry = cache.get(key, ttl)
        if entry is None and (running := cache.lead(key)) is not None:
            running.wait(readcache.FOLLOW_WAIT)  # the same read is under way: its answer, not a second RPC
            entry = cache.get(key, ttl)
            if entry is None:  # it failed, or was not kept: this request makes its own
                return _fetch(cache, key, region, run, lead=False)
        if entry is not None:
            return Response(entry.body, status=entry.status, headers=[*entry.headers, ("X-Cache", "hit")],
                            mimetype=entry.mimetype)
    return _fetch(cache, key, region, run, lead=not fresh)


def _fetch(cache: readcache.ReadCache, key: tuple, region: str | None, run, lead: bool) -> Response:
    generation = cache.generation(region)
    try:
        response = run()
        if response.status_code == 200:
            kept = {k: v for k, v in response.headers.items() if k.lower() not in ("content-type", "content-length")}
            cache.put(key, region, generation, response.get_data(), 200, kept, response.mimetype)
    finally:
        if lead:
            cache.done(key)
    response.headers["X-Cache"] = "miss"
    return response


def _unwell(exc: BaseException) -> bool:
    """Exceptions that say the service is unwell (they count for its breaker); a domain answer does not."""
    if isinstance(exc, RorError):
        return isinstance(exc, Unavailable)
    return isinstance(exc, (RpcTimeout, eventlet.Timeout, UnknownService, OSError))


def call(proxy, method: str, *args, timeout: float | None = None, **kwargs):
    """RPC with a deadline (the request expires in the broker when the caller gives up:
    services.common.rpc), under the downstream service's breaker and concurrency limit
    (gateway.resilience): a dead or saturated service answers 503 quickly and costs only its endpoints."""
    service = getattr(proxy.worker_ctx, "service", None)
    if timeout is None:
        timeout = float(setting("ROR_RPC_TIMEOUT", getattr(service, "config", None)))
    guards = getattr(service, "guards", None)
    if guards is None:
        return rpc.call(proxy, method, *args, timeout=timeout, **kwargs)
    guard = guards[proxy.service_name]
    return guard.run(lambda: rpc.call(proxy, method, *args, timeout=timeout, **kwargs),
                     probe=lambda: rpc.call(proxy, "health", timeout=PROBE_TIMEOUT),
                     is_failure=_unwell)
