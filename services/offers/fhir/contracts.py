"""What the gateway needs to speak FHIR for the offers service, without importing its models or domain
modules: the media type, the resource types served, and OperationOutcome for every error."""

from __future__ import annotations

FHIR_JSON = "application/fhir+json"
FHIR_VERSION = "4.0.1"
RESOURCE_TYPES = ("HealthcareService", "Organization", "Location", "PractitionerRole")
MAX_COUNT = 200  # entries per searchset page, at most (also the default)

# HTTP status -> OperationOutcome.issue.code (http://hl7.org/fhir/issue-type)
ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               409: "conflict", 410: "deleted", 412: "conflict", 413: "too-costly", 422: "processing",
               428: "required", 429: "throttled", 503: "transient", 504: "timeout"}


def operation_outcome(status: int, message: str, fields: dict | None = None) -> dict:
    """One issue per offending field (the parameter in `expression`), or one for the whole request."""
    code = ISSUE_CODES.get(status, "exception" if status >= 500 else "processing")
    severity = "fatal" if status >= 500 else "error"
    issues = []
    for name, detail in (fields or {}).items():
        issues.append({"severity": severity, "code": code, "diagnostics": f"{message} — {name} : {detail}"[:2000],
                       "expression": [str(name)]})
    if not issues:
        issues.append({"severity": severity, "code": code, "diagnostics": message[:2000]})
    return {"resourceType": "OperationOutcome", "issue": issues}
