"""Domain errors (plain Python: domain modules raise them). `services.common.dependencies` registers
them with nameko so they cross RPC intact, and the gateway
maps each `code` to an HTTP status and the contract's error shape:
{"error": {"code": ..., "message": ..., "fields": {...}}}.
"""

from __future__ import annotations

import json


class RorError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str = "", fields: dict | str | None = None):
        # nameko rebuilds the error from its args after stringifying every scalar in them;
        # the fields travel as one JSON string so that numbers and booleans stay what they are.
        if isinstance(fields, str):
            fields = json.loads(fields)
        fields = fields or {}
        super().__init__(message, json.dumps(fields, ensure_ascii=False, default=str))
        self.message = message
        self.fields = fields

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "fields": self.fields}}


class InvalidInput(RorError):
    code, status = "invalid_input", 400


class Unauthorized(RorError):
    code, status = "unauthorized", 401


class Forbidden(RorError):
    code, status = "forbidden", 403


class NotFound(RorError):
    code, status = "not_found", 404


class Conflict(RorError):
    code, status = "conflict", 409


class Gone(RorError):
    """It existed and was withdrawn (an unpublished offer read through FHIR)."""

    code, status = "gone", 410


class PreconditionFailed(RorError):
    code, status = "precondition_failed", 412


class PreconditionRequired(RorError):
    code, status = "precondition_required", 428


class TooManyRequests(RorError):
    code, status = "too_many_requests", 429


class Unavailable(RorError):
    code, status = "unavailable", 503


def from_marshmallow(err, message: str = "Données invalides") -> InvalidInput:
    """Turn a marshmallow ValidationError into InvalidInput naming each field."""
    messages = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
    return InvalidInput(message, messages)


ALL_ERRORS = (
    InvalidInput, Unauthorized, Forbidden, NotFound, Conflict, PreconditionFailed,
    PreconditionRequired, TooManyRequests, Unavailable, Gone,
)
