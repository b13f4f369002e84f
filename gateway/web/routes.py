"""Every page mixin of the web front, composed once for gateway.service.GatewayService."""

from gateway.web.account_pages import AccountPages
from gateway.web.dossier_pages import DossierPages
from gateway.web.framework import StaticRoutes, WebSessions
from gateway.web.offer_pages import OfferPages
from gateway.web.search_pages import SearchPages
from gateway.web.support_pages import SupportPages


class WebRoutes(AccountPages, OfferPages, DossierPages, SearchPages, SupportPages, StaticRoutes):
    web_sessions = WebSessions()
