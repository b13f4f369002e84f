"""OpenAPI 3 document generated from the endpoint registry and the marshmallow schemas."""

from __future__ import annotations

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from gateway.api import ANONYMOUS, ENDPOINTS, JSON, Endpoint
from gateway.schemas import ErrorSchema
from services.common.regions import REGIONS

FHIR_JSON = "application/fhir+json"
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
_STATUS_TEXT = {304: "Not modified (If-None-Match)", 400: "Invalid input", 401: "Not authenticated",
                403: "Forbidden (role, or a token of another region's realm)", 404: "Not found",
                409: "Conflict", 412: "Stale If-Match", 413: "Request body too large", 428: "If-Match required",
                429: "Too many requests (see Retry-After)",
                414: "URL too long", 431: "Request headers too large", 503: "Service unavailable"}
WRITES = ("PUT", "PATCH", "POST", "DELETE")


def error_statuses(ep: Endpoint) -> list[int]:
    """Every error status `ep` can answer (schemathesis checks that no other one comes back)."""
    # bad input; unknown region or resource; a service that does not answer; a URL or headers over the
    # server's limits (gateway.edge)
    codes = {400, 404, 503, 414, 431}
    if "<region>" in ep.path or ep.access != ANONYMOUS:
        # A token, when one is sent (even to a public endpoint), is verified: expired or malformed 401,
        # a token of another region's realm 403.
        codes |= {401, 403}
    if ep.method in WRITES:
        codes |= {409, 413}  # a state that forbids the write; a body over the size limit
        if ep.access == ANONYMOUS:
            codes.add(429)  # anonymous writes are rate-limited
    if ep.if_match:
        codes |= {412, 428}
    codes |= set(ep.errors)
    return sorted(codes)


def openapi_path(rule: str) -> tuple[str, list[dict]]:
    params = []
    for conv, name in _PARAM.findall(rule):
        schema = {"type": "integer"} if conv == "int" else {"type": "string"}
        if name == "region":
            schema = {"type": "string", "enum": sorted(REGIONS)}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule), params


def build_spec() -> dict:
    spec = APISpec(
        title="ROR suite API", version="1.0.0", openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Back office of a Répertoire Opérationnel des Ressources (regions idf, pdl)."},
    )
    spec.components.schema("Error", schema=ErrorSchema)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    paths: dict[str, dict] = {}
    for ep in ENDPOINTS:
        path, params = openapi_path(ep.path)
        if ep.query_schema is not None:  # expanded into one parameter per field by the plugin
            params = params + [{"in": "query", "schema": ep.query_schema}]
        if ep.if_match:
            params = params + [{"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
                                "description": "ETag of the version read (required: 428 without, 412 stale)"}]
        op: dict = {
            "summary": ep.summary or ep.name, "operationId": ep.name, "tags": list(ep.tags),
            "parameters": params, "x-access": ep.access,
            # an endpoint that always refuses (structures added / removed only through a dossier) says so
            "responses": {str(ep.status): {"description": "Success" if ep.status < 400 else _STATUS_TEXT[ep.status]}},
        }
        if ep.status == 204:
            pass  # no content
        elif ep.produces == JSON:
            # an endpoint without its schema yet (tests/unit/test_contracts.py) documents any JSON value
            op["responses"][str(ep.status)]["content"] = {JSON: {"schema": ep.response_schema or {}}}
        elif ep.produces.endswith("+json"):  # FHIR resources, GeoJSON: JSON of their own media type
            op["responses"][str(ep.status)]["content"] = {ep.produces: {"schema": {}}}
        else:
            op["responses"][str(ep.status)]["content"] = {ep.produces: {"schema": {"type": "string"}}}
        if ep.request_schema is not None:
            op["requestBody"] = {"required": True, "content": {JSON: {"schema": ep.request_schema}}}
        for code, schema in (ep.replies or {}).items():
            op["responses"][str(code)] = {"description": _STATUS_TEXT.get(code, "Answer"),
                                          "content": {JSON: {"schema": schema}}}
        for code in error_statuses(ep):
            if str(code) in op["responses"]:
                continue
            if code == 304:
                op["responses"]["304"] = {"description": _STATUS_TEXT[304]}
                continue
            content = {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}
            if ep.produces == FHIR_JSON:
                content = {ep.produces: {"schema": {}}}  # an OperationOutcome
            elif ep.produces == "text/html":  # a page for the browser, in French, whatever the outcome
                content["text/html"] = {"schema": {"type": "string"}}
            op["responses"][str(code)] = {"description": _STATUS_TEXT[code], "content": content}
        if ep.access != ANONYMOUS:
            op["security"] = [{"bearer": []}]
        paths.setdefault(path, {})[ep.method.lower()] = op
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
