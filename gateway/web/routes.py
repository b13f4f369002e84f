"""Every page mixin of the web front, composed once for gateway.service.GatewayService."""

from gateway.web.account_pages import AccountPages
from gateway.web.dossier_pages import DossierPages
from gateway.web.framework import StaticRoutes, WebSessions
from gateway.web.my_account_pages import MyAccountPages
from gateway.web.offer_pages import OfferPages
from gateway.web.registration_pages import RegistrationPages
from gateway.web.repertoire_pages import RepertoirePages
from gateway.web.resource_person_pages import ResourcePersonPages
from gateway.web.search_pages import SearchPages
from gateway.web.support_pages import SupportPages


class WebRoutes(AccountPages, OfferPages, DossierPages, SearchPages, SupportPages, RegistrationPages,
                MyAccountPages, RepertoirePages, ResourcePersonPages, StaticRoutes):
    web_sessions = WebSessions()
