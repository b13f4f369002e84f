"""OpenAPI 3 document generated from the endpoint registry and the marshmallow schemas."""

from __future__ import annotations

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from gateway.api import ANONYMOUS, ENDPOINTS
from gateway.schemas import ErrorSchema
from services.common.regions import REGIONS

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
_STATUS_TEXT = {400: "Invalid input", 401: "Not authenticated", 403: "Forbidden", 404: "Not found",
                409: "Conflict", 412: "Stale If-Match", 428: "If-Match required", 429: "Too many requests",
                503: "Service unavailable"}


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
        op: dict = {
            "summary": ep.summary or ep.name, "operationId": ep.name, "tags": list(ep.tags),
            "parameters": params, "x-access": ep.access,
            "responses": {str(ep.status): {"description": "Success"}},
        }
        if ep.response_schema is not None:
            op["responses"][str(ep.status)]["content"] = {"application/json": {"schema": ep.response_schema}}
        if ep.request_schema is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ep.request_schema}}}
        errors = [400, 404, 503] + ([] if ep.access == ANONYMOUS else [401, 403])
        if ep.method in ("PUT", "PATCH", "POST", "DELETE"):
            errors += [409, 412]
        for code in sorted(set(errors)):
            op["responses"][str(code)] = {
                "description": _STATUS_TEXT[code],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        if ep.access != ANONYMOUS:
            op["security"] = [{"bearer": []}]
        paths.setdefault(path, {})[ep.method.lower()] = op
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
