"""The page decorator: session, CSRF, login, errors as pages. What a page handler gets is a `Web`."""

from __future__ import annotations

import functools
import logging
import mimetypes
import time
from urllib.parse import quote, urlparse

import eventlet
from nameko.exceptions import RpcTimeout, UnknownService
from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Request, Response

from gateway import api
from gateway.auth import Identity, verify
from gateway.edge import http
from gateway.web import oidc
from gateway.web.errors import field_id, flatten
from gateway.web.render import STATIC, redirect, render, security_headers
from gateway.web.sessions import COOKIE, Session, SessionStore
from services.common.config import setting, var_dir
from services.common.db import database_url, session_factory
from services.common.errors import NotFound, RorError, Unauthorized
from services.common.regions import REGIONS, get_region

log = logging.getLogger(__name__)

FORM_MAX_BYTES = 256 * 1024  # a page form is small; the API has its own body limits


class WebSessions(DependencyProvider):
    """The session store, in the gateway's database (shared by every gateway process)."""

    def setup(self):
        self.store = SessionStore(session_factory(database_url(self.container.config)))

    def get_dependency(self, worker_ctx):
        return self.store


class Web:
    """A page request: region, session, identity (when logged in), form, and rendering with the layout."""

    def __init__(self, service, request: Request, region_code: str | None, session: Session):
        self.service = service
        self.request = request
        self.region = get_region(region_code) if region_code else None
        self.session = session
        self.config = service.config
        self.keycloak_url = setting("ROR_KEYCLOAK_URL", self.config).rstrip("/")
        self.public_url = setting("ROR_PUBLIC_URL", self.config).rstrip("/")
        self._identity: Identity | None = None
        self._actor: dict | None = None
        self._profile: dict | None = None

    # ---------------------------------------------------------------- identity
    @property
    def identity(self) -> Identity | None:
        if self._identity is not None:
            return self._identity
        tokens = self.session.tokens
        if not tokens or self.region is None or self.session.region != self.region.code:
            return None
        if tokens.get("expires_at", 0) - 10 < time.time():
            try:
                base = tokens.get("kc") or self.keycloak_url
                fresh = oidc.refresh(base, self.region.realm, tokens["refresh_token"],
                                     verify=tls_verify(self.config, base))
            except Unauthorized:
                self.session.tokens = None  # the Keycloak session ended (logout elsewhere, idle)
                return None
            self.session.tokens = {**store_tokens(fresh, tokens.get("id_token")), "kc": tokens.get("kc")}
        try:
            self._identity = verify(self.session.tokens["access_token"], self.region.code, self.service.jwks)
        except Unauthorized:
            self.session.tokens = None
            return None
        return self._identity

    def actor(self) -> dict | None:
        if self.identity is None:
            return None
        if self._actor is None:
            self._actor = api.Context(self.service, self.request, self.region.code, self.identity).actor()
        return self._actor

    def profile(self) -> dict | None:
        """The ROR account and habilitations (GET /me's extra fields)."""
        if self.identity is None:
            return None
        if self._profile is None:
            self._profile = api.call(self.service.accounts, "profile", self.region.code, self.identity.to_dict())
        return self._profile

    def has_role(self, *roles: str) -> bool:
        return bool(self.identity and self.identity.roles & set(roles))

    # ---------------------------------------------------------------- helpers
    def rpc(self, service: str, method: str, *args, **kwargs):
        return api.call(getattr(self.service, service), method, *args, **kwargs)

    @property
    def form(self):
        return self.request.form

    def url(self, path: str = "") -> str:
        return f"/{self.region.code}{path}" if self.region else path

    def flash(self, message: str, kind: str = "success") -> None:
        self.session.flash.append({"message": message, "kind": kind})

    def page(self, template: str, title: str, status: int = 200, errors: dict | None = None,
             error_message: str | None = None, **context) -> Response:
        flashes, self.session.flash = self.session.flash, []
        messages = flatten(errors or {})
        return render(template, status=status, title=title, web=self, region=self.region,
                      regions=list(REGIONS.values()), user=self.identity, csrf=self.session.csrf, flashes=flashes,
                      errors=messages, error_message=error_message, field_id=field_id,
                      path=self.request.path, **context)


def store_tokens(body: dict, id_token: str | None = None) -> dict:
    return {"access_token": body["access_token"], "refresh_token": body.get("refresh_token"),
            "id_token": body.get("id_token") or id_token,
            "expires_at": time.time() + int(body.get("expires_in", 60))}


def tls_verify(config, base: str):
    """Keycloak over https (CPS card) presents a certificate of the test PKI in dev: trust its CA."""
    if not base.startswith("https://"):
        return True
    ca = var_dir(config) / "pki" / "ca.pem"
    return str(ca) if ca.exists() else True


def safe_next(value: str | None, default: str) -> str:
    """Only a local path: `next` must never send the browser to another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parsed = urlparse(value)
    return default if parsed.scheme or parsed.netloc else value


def _same_origin(request: Request, public_url: str) -> bool:
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return origin is None  # browsers send Origin on POST; "null" (sandboxed, opaque) is refused
    allowed = {public_url.rstrip("/"), f"{request.scheme}://{request.host}"}
    return origin.rstrip("/") in allowed


REGION_SEGMENT = f"<any({','.join(sorted(REGIONS))}):region>"


def page(methods: str, path: str, login: bool = False, roles: tuple[str, ...] = ()):
    """Declare a page. POST forms must carry the session's CSRF token (field `csrf`) and come from
    our own origin; `login` pages send anonymous visitors to the login page and back."""

    def decorate(fn):
        @functools.wraps(fn)
        def handler(self, request: Request, **params):
            store: SessionStore = self.web_sessions
            try:
                session = store.get(request.cookies.get(COOKIE))
            except Exception:  # the database is away: the page still answers, as a visitor's
                log.exception("web session not read")
                session = None
            if session is None:
                session = store.create()
            region = params.pop("region", None)
            web = None
            try:
                web = Web(self, request, region, session)
                if request.method == "POST":
                    if (request.content_length or 0) > FORM_MAX_BYTES:
                        response = _error_page(web, 413, "Formulaire trop volumineux",
                                               "Le formulaire envoyé est trop volumineux.")
                        return _finish(web, response, session, store)
                    if not (_same_origin(request, web.public_url) and session.check_csrf(request.form.get("csrf"))):
                        response = _error_page(web, 403, "Formulaire expiré",
                                               "Ce formulaire a expiré ou ne vient pas de ce site. "
                                               "Rechargez la page et recommencez.")
                        return _finish(web, response, session, store)
                if login and web.identity is None:
                    target = quote(request.full_path.rstrip("?"), safe="/?=&")
                    return _finish(web, redirect(web.url(f"/connexion?next={target}")), session, store)
                if roles and not web.has_role(*roles):
                    return _finish(web, _error_page(web, 403, "Accès refusé",
                                                    "Vous n'avez pas les droits pour cette page."), session, store)
                response = fn(self, web, **params)
            except Exception as exc:  # every failure becomes a page in French, never a traceback
                response = _failure(web, exc, region)
            return _finish(web, response, session, store)

        # only configured regions match: any other first segment stays an unknown path (404, error shape)
        return http(methods, path.replace("<region>", REGION_SEGMENT))(handler)

    return decorate


def _failure(web: Web | None, exc: BaseException, region: str | None) -> Response:
    if isinstance(exc, RorError):
        status, message = exc.status, exc.message
    elif isinstance(exc, (RpcTimeout, eventlet.Timeout, UnknownService)):
        status, message = 503, "Le service ne répond pas, réessayez dans quelques instants."
    else:
        log.error("page failed", exc_info=(type(exc), exc, exc.__traceback__))
        status, message = 500, "Une erreur inattendue s'est produite. Réessayez ou contactez le support."
    title = {404: "Page introuvable", 403: "Accès refusé", 401: "Connexion requise"}.get(status, "Erreur")
    if web is None:
        return Response(f"<!doctype html><html lang=\"fr\"><title>{title}</title><h1>{title}</h1>",
                        status=status, mimetype="text/html")
    return _error_page(web, status, title, message)


def _error_page(web: Web, status: int, title: str, message: str) -> Response:
    return web.page("error.html", title, status=status, message=message)


def _finish(web: Web | None, response: Response, session: Session, store: SessionStore) -> Response:
    kc = web.keycloak_url if web else setting("ROR_KEYCLOAK_URL")
    for name, value in security_headers(kc, tiles=setting_or_empty("ROR_MAP_TILES_ORIGIN")).items():
        response.headers.setdefault(name, value)
    public = web.public_url if web else setting("ROR_PUBLIC_URL")
    try:
        store.save(session)
    except Exception:  # the database is away: the page is answered, the session not kept
        log.exception("web session not saved")
    response.set_cookie(COOKIE, session.id, httponly=True, samesite="Lax", path="/",
                        secure=public.startswith("https://"))
    return response


def setting_or_empty(name: str) -> str:
    try:
        return setting(name)
    except KeyError:
        return ""


class StaticRoutes:
    """CSS, scripts and the vendored libraries (htmx, Leaflet, axe-core for the tests), served locally."""

    @http("GET", "/static/<path:filename>")
    def web_static(self, request: Request, filename: str):
        target = (STATIC / filename).resolve()
        if STATIC.resolve() not in target.parents or not target.is_file():
            return api.error_response(NotFound("Fichier inconnu", {"path": filename}))
        mimetype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return Response(target.read_bytes(), mimetype=mimetype,
                        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})


class _Visitor:
    """What the layout needs of a `Web` for a page rendered outside the page decorator (no session)."""

    def __init__(self, region):
        self.region = region

    def url(self, path: str = "") -> str:
        return f"/{self.region.code}{path}" if self.region else path

    def has_role(self, *roles: str) -> bool:
        return False


def message_page(region_code: str | None, title: str, message: str, status: int = 200,
                 login_link: bool = True) -> Response:
    """A French message page with the site's layout, for links opened from an e-mail (API routes)."""
    region = get_region(region_code) if region_code else None
    response = render("message.html", status=status, title=title, message=message, web=_Visitor(region),
                      region=region, regions=list(REGIONS.values()), user=None, csrf="", flashes=[],
                      errors={}, error_message=None, field_id=field_id, path="", login_link=login_link)
    for name, value in security_headers(setting("ROR_KEYCLOAK_URL")).items():
        response.headers.setdefault(name, value)
    return response
