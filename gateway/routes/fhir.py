"""FHIR R4 read API per region at /fhir/{region}/ (ANS ROR IG), for connected tools.

Answers are `application/fhir+json`; every error is an OperationOutcome (not the /api error shape).
Anonymous reads give the patients' contacts only; a bearer token of the region gives the professionals'
contacts too (a token of another region: 403). Reads carry ETag (W/"versionId") and Last-Modified
(meta.lastUpdated) and honour If-None-Match (304).
"""

from __future__ import annotations

import functools
import json
import logging
from datetime import datetime
from email.utils import format_datetime

import eventlet
from nameko.exceptions import RemoteError, RpcTimeout, UnknownService
from werkzeug.wrappers import Request, Response

from gateway import api
from gateway.api import ANONYMOUS, ENDPOINTS, Endpoint
from gateway.auth import bearer_token, verify
from gateway.edge import http
from services.common.errors import InvalidInput, NotFound, RorError
from services.common.regions import get_region
from services.offers.fhir.contracts import FHIR_JSON, RESOURCE_TYPES, operation_outcome

log = logging.getLogger(__name__)
TAGS = ("fhir",)
MAX_QUERY = 4096  # characters of query string


def fhir_response(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, headers=headers or {}, mimetype=FHIR_JSON)


def outcome_response(exc: BaseException) -> Response:
    if isinstance(exc, RorError):
        status, message, fields = exc.status, exc.message, exc.fields
    elif isinstance(exc, (RpcTimeout, eventlet.Timeout, UnknownService)):
        status, message, fields = 503, "Le service ne répond pas, réessayez plus tard", None
    else:
        log.error("unexpected error", exc_info=(type(exc), exc, exc.__traceback__))
        detail = exc.exc_type if isinstance(exc, RemoteError) else type(exc).__name__
        status, message, fields = 500, "Erreur interne", {"detail": detail}
    return fhir_response(operation_outcome(status, message, fields), status)


def fhir_endpoint(path: str, summary: str = "", errors: tuple[int, ...] = ()):
    """A GET of the FHIR API: region checked, optional bearer token verified, errors as OperationOutcome;
    registered with the other endpoints (permissions table, OpenAPI)."""

    def decorate(fn):
        ENDPOINTS.append(Endpoint("GET", path, ANONYMOUS, summary or (fn.__doc__ or "").strip().split("\n")[0],
                                  None, None, 200, TAGS, fn.__name__, produces=FHIR_JSON, errors=errors))

        @functools.wraps(fn)
        def handler(self, request: Request, **params):
            try:
                region = params.pop("region")
                get_region(region)
                actor = None
                header = request.headers.get("Authorization")
                if header:
                    who = verify(bearer_token(header), region, self.jwks)
                    actor = {"subject": who.subject, "username": who.username, "region": region,
                             "roles": sorted(who.roles), "rpps": who.rpps, "habilitations": []}
                return fn(self, request, region, actor, **params)
            except Exception as exc:  # every failure leaves as an OperationOutcome
                return outcome_response(exc)

        return http("GET", path)(handler)

    return decorate


def _base_url(request: Request, region: str) -> str:
    return f"{request.host_url.rstrip('/')}/fhir/{region}"


def _http_date(instant: str | None) -> str | None:
    if not instant:
        return None
    try:
        return format_datetime(datetime.fromisoformat(instant.replace("Z", "+00:00")), usegmt=True)
    except ValueError:
        return None


def _query(request: Request) -> dict:
    if len(request.query_string) > MAX_QUERY:
        raise InvalidInput("Requête trop longue", {"query": f"more than {MAX_QUERY} characters"})
    return {name: request.args.getlist(name) for name in request.args}


class FhirRoutes:
    @fhir_endpoint("/fhir/<region>/metadata")
    def fhir_metadata(self, request, region, actor):
        """CapabilityStatement of the region's FHIR API (resources, profiles, search parameters)."""
        return fhir_response(api.call(self.offers, "fhir_metadata", region, _base_url(request, region)))

    @fhir_endpoint("/fhir/<region>/<resource_type>")
    def fhir_search(self, request, region, actor, resource_type):
        """Search (searchset Bundle, 200 entries per page at most, `next` link, `_lastUpdated` for incremental pulls)."""
        if resource_type not in RESOURCE_TYPES:
            raise NotFound(f"Type de ressource non servi : {resource_type[:100]}",
                               {"type": f"one of {list(RESOURCE_TYPES)}"})
        bundle = api.call(self.offers, "fhir_search", region, resource_type, _query(request),
                          _base_url(request, region), actor=actor, timeout=60)
        return fhir_response(bundle)

    @fhir_endpoint("/fhir/<region>/<resource_type>/<resource_id>", errors=(304,))
    def fhir_read(self, request, region, actor, resource_type, resource_id):
        """Read one resource by id, with ETag and Last-Modified (If-None-Match gives 304)."""
        if resource_type not in RESOURCE_TYPES:
            raise NotFound(f"Type de ressource non servi : {resource_type[:100]}",
                               {"type": f"one of {list(RESOURCE_TYPES)}"})
        resource = api.call(self.offers, "fhir_read", region, resource_type, resource_id, actor=actor)
        meta = resource.get("meta") or {}
        etag = f'W/"{meta.get("versionId", "")}"'
        headers = {"ETag": etag}
        modified = _http_date(meta.get("lastUpdated"))
        if modified:
            headers["Last-Modified"] = modified
        wanted = [t.strip() for t in (request.headers.get("If-None-Match") or "").split(",") if t.strip()]
        if etag in wanted or etag.removeprefix("W/") in wanted or "*" in wanted:
            return Response(status=304, headers=headers)
        return fhir_response(resource, headers=headers)

    @http("GET,POST,PUT,PATCH,DELETE", "/fhir/<path:path>")
    def fhir_unknown(self, request, path):
        """Anything else under /fhir: an OperationOutcome (404, or 405 for a write: this API only reads)."""
        if request.method != "GET":
            return fhir_response(operation_outcome(405, "Cette API FHIR est en lecture seule",
                                                   {"method": request.method}), 405, headers={"Allow": "GET"})
        return fhir_response(operation_outcome(404, "Ressource inconnue", {"path": f"/fhir/{path}"[:200]}), 404)
