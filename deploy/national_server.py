"""Local stand-in of the national ROR's FHIR endpoint, for development and tests.

Receives `PUT <base>/<ResourceType>/<id>` (application/fhir+json), validates the resource with
`fhir.resources` (FHIR R4B models: HealthcareService, Organization, Location and PractitionerRole are the
same in R4 and R4B) and with the ROR IG's cardinalities that matter to the exchange (meta.lastUpdated,
profile, region tag, the mandatory extensions), then stores it as `<dir>/<ResourceType>/<id>.json`.

Idempotent like the real one should be: a PUT is by id (a second PUT of the same content changes
nothing); a request whose `X-Request-Id` was already received is answered again without storing
(`replay`); a resource older (meta.lastUpdated) than the stored one is not stored (`stale`). Every
request is appended to `<dir>/journal.jsonl`; `GET <base>/_stats` counts them.

    python deploy/national_server.py [--host 127.0.0.1] [--port 8190] [--dir var/national]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

log = logging.getLogger("national")
ROOT = Path(__file__).resolve().parent.parent
SD = "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/"
PROFILES = {"HealthcareService": SD + "ror-healthcareservice", "Organization": SD + "ror-organization",
            "Location": SD + "ror-location", "PractitionerRole": SD + "ror-practitionerrole"}
REGION_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R30-RegionOM/FHIR/TRE-R30-RegionOM"
# Extensions the IG makes mandatory (1..1) on each profile.
REQUIRED_EXTENSIONS = {
    "HealthcareService": ("ror-meta-creation-date", "ror-healthcareservice-sensitive-unit",
                          "ror-healthcareservice-patient-type"),
    "Organization": ("ror-meta-creation-date",),
    "Location": ("ror-meta-creation-date", "ror-commune-cog"),
    "PractitionerRole": ("ror-meta-creation-date", "ror-practitionerrole-unit-exercise-mode"),
}
MAX_BODY = 2 * 1024 * 1024
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def profile_errors(resource: dict) -> list[str]:
    """What the ROR IG requires beyond the FHIR base resource (the parts this exchange relies on)."""
    rtype = resource.get("resourceType")
    errors = []
    meta = resource.get("meta") or {}
    if not meta.get("lastUpdated"):
        errors.append("meta.lastUpdated: required (1..1)")
    if PROFILES.get(rtype) not in (meta.get("profile") or []):
        errors.append(f"meta.profile: must declare {PROFILES.get(rtype)}")
    if not any(t.get("system") == REGION_SYSTEM and t.get("code") for t in meta.get("tag") or []):
        errors.append("meta.tag[codeRegion]: the source region is required by this exchange")
    urls = {e.get("url") for e in resource.get("extension") or []}
    for name in REQUIRED_EXTENSIONS.get(rtype, ()):
        if SD + name not in urls:
            errors.append(f"extension[{name}]: required (1..1)")
    if rtype == "HealthcareService":
        if len(resource.get("identifier") or []) != 1:
            errors.append("identifier: 1..1")
        if len(resource.get("type") or []) != 1:
            errors.append("type: 1..1 (champ d'activité)")
        if not resource.get("specialty"):
            errors.append("specialty: 1..* (activité opérationnelle)")
        if not resource.get("characteristic"):
            errors.append("characteristic: 1..* (mode de prise en charge)")
        for e in resource.get("extension") or []:
            if e.get("url") == SD + "ror-healthcareservice-patient-type":
                ranges = [x for x in e.get("extension") or [] if x.get("url") == "ageRange"]
                value = ranges[0].get("valueRange") if ranges else None
                if not value or "low" not in value or "high" not in value:
                    errors.append("extension[ror-healthcareservice-patient-type].ageRange: low and high 1..1")
    if rtype == "PractitionerRole":
        for name in ("practitioner", "code"):
            if not resource.get(name):
                errors.append(f"{name}: 1..1")
        if len(resource.get("healthcareService") or []) != 1:
            errors.append("healthcareService: 1..1")
    return errors


def validate(resource: dict) -> list[str]:
    """Errors of `resource` as FHIR (fhir.resources) and as the ROR IG's profile; empty when valid."""
    rtype = resource.get("resourceType") if isinstance(resource, dict) else None
    if rtype not in PROFILES:
        return [f"resourceType: one of {sorted(PROFILES)}"]
    try:
        get_fhir_model_class(rtype).model_validate(resource)
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:20]]
    return profile_errors(resource)


def outcome(status: int, messages: list[str]) -> dict:
    code = {400: "invalid", 404: "not-found", 405: "not-supported", 413: "too-costly", 415: "not-supported",
            422: "processing"}.get(status, "processing")
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": m[:500]} for m in messages or ["error"]]}


class Store:
    def __init__(self, directory: Path):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.journal = self.dir / "journal.jsonl"
        self.lock = threading.Lock()
        self.seen: set[str] = set()
        if self.journal.exists():
            for line in self.journal.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("request_id") and entry.get("outcome") != "invalid":
                    self.seen.add(entry["request_id"])

    def path(self, rtype: str, rid: str) -> Path:
        return self.dir / rtype / f"{rid}.json"

    def get(self, rtype: str, rid: str) -> dict | None:
        path = self.path(rtype, rid)
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def put(self, rtype: str, rid: str, resource: dict, request_id: str | None) -> tuple[str, dict]:
        with self.lock:
            stored = self.get(rtype, rid)
            if request_id and request_id in self.seen:
                result = "replay"
            elif stored is not None and stored.get("meta", {}).get("lastUpdated", "") > resource["meta"]["lastUpdated"]:
                result = "stale"
            elif stored == resource:
                result = "unchanged"
            else:
                result = "updated" if stored is not None else "created"
                path = self.path(rtype, rid)
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.tmp")
                tmp.write_text(json.dumps(resource, ensure_ascii=False, indent=1), encoding="utf-8")
                os.replace(tmp, path)
                stored = resource
            if request_id:
                self.seen.add(request_id)
            self._journal(rtype, rid, request_id, result, resource)
            return result, stored if stored is not None else resource

    def _journal(self, rtype: str, rid: str, request_id: str | None, result: str, resource: dict | None) -> None:
        meta = (resource or {}).get("meta") or {}
        entry = {"received_at": datetime.now(UTC).isoformat(), "request_id": request_id, "type": rtype, "id": rid,
                 "outcome": result, "versionId": meta.get("versionId"), "lastUpdated": meta.get("lastUpdated")}
        with open(self.journal, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")

    def invalid(self, rtype: str, rid: str, request_id: str | None) -> None:
        with self.lock:
            self._journal(rtype, rid, request_id, "invalid", None)

    def stats(self) -> dict:
        by_outcome: dict[str, int] = {}
        by_type: dict[str, int] = {}
        requests: dict[str, int] = {}
        if self.journal.exists():
            for line in self.journal.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                by_outcome[entry["outcome"]] = by_outcome.get(entry["outcome"], 0) + 1
                if entry["outcome"] in ("created", "updated", "unchanged"):
                    by_type[entry["type"]] = by_type.get(entry["type"], 0) + 1
                if entry.get("request_id"):
                    requests[entry["request_id"]] = requests.get(entry["request_id"], 0) + 1
        stored = {d.name: len(list(d.glob("*.json"))) for d in self.dir.iterdir() if d.is_dir()}
        return {"stored": stored, "accepted_by_type": by_type, "by_outcome": by_outcome,
                "requests_received_more_than_once": sum(1 for n in requests.values() if n > 1)}


class Handler(BaseHTTPRequestHandler):
    server_version = "ror-national-standin/1"
    store: Store
    base = "/fhir"

    def log_message(self, fmt, *args):  # to our logger, not stderr
        log.info("%s %s", self.address_string(), fmt % args)

    def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
        payload = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/fhir+json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _target(self) -> tuple[str, str] | None:
        path = self.path.split("?", 1)[0]
        if not path.startswith(self.base + "/"):
            return None
        parts = path[len(self.base) + 1:].split("/")
        return (parts[0], parts[1]) if len(parts) == 2 else None

    def do_GET(self):  # noqa: N802 (http.server hook name)
        path = self.path.split("?", 1)[0]
        if path in ("/health", self.base + "/health"):
            return self._send(200, {"status": "ok"})
        if path == self.base + "/_stats":
            return self._send(200, self.store.stats())
        target = self._target()
        resource = self.store.get(*target) if target and target[0] in PROFILES and _ID.match(target[1]) else None
        if resource is None:
            return self._send(404, outcome(404, [f"{path}: not found"]))
        return self._send(200, resource, {"ETag": f'W/"{resource["meta"].get("versionId", "")}"'})

    def do_PUT(self):  # noqa: N802
        target = self._target()
        if target is None or target[0] not in PROFILES or not _ID.match(target[1]):
            return self._send(404, outcome(404, [f"{self.path[:200]}: not a resource of this endpoint"]))
        rtype, rid = target
        request_id = self.headers.get("X-Request-Id")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self._send(413, outcome(413, [f"body larger than {MAX_BODY} bytes"]))
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type not in ("application/fhir+json", "application/json"):
            return self._send(415, outcome(415, ["Content-Type: application/fhir+json expected"]))
        try:
            resource = json.loads(self.rfile.read(length) or b"null")
        except ValueError as exc:
            return self._send(400, outcome(400, [f"malformed JSON: {exc}"]))
        errors = validate(resource)
        if not errors and (resource.get("resourceType") != rtype or resource.get("id") != rid):
            errors = [f"resourceType/id of the body ({resource.get('resourceType')}/{resource.get('id')}) "
                      f"differ from the URL ({rtype}/{rid})"]
        if errors:
            self.store.invalid(rtype, rid, request_id)
            log.warning("refused %s/%s: %s", rtype, rid, errors)
            return self._send(422 if isinstance(resource, dict) and resource.get("resourceType") else 400,
                              outcome(422, errors))
        result, stored = self.store.put(rtype, rid, resource, request_id)
        headers = {"ETag": f'W/"{stored["meta"].get("versionId", "")}"', "X-Outcome": result}
        if result == "created":
            headers["Location"] = f"{self.base}/{rtype}/{rid}"
        return self._send(201 if result == "created" else 200, stored, headers)

    def do_POST(self):  # noqa: N802
        return self._send(405, outcome(405, ["PUT <type>/<id> only"]))

    do_DELETE = do_POST


def make_server(host: str, port: int, directory: Path) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"store": Store(directory)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8190)
    parser.add_argument("--dir", default=str(ROOT / "var" / "national"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    server = make_server(args.host, args.port, Path(args.dir))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    log.info("national ROR stand-in on http://%s:%d/fhir, resources stored in %s", args.host, args.port, args.dir)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
