#!/usr/bin/env python3
"""Generate the realm import files ror-idf.json, ror-pdl.json, psc.json and deploy/demo-accounts.txt.

The JSON files are committed; run this script after changing it, then restart Keycloak with
deploy/keycloak/start.sh (it re-imports the realms when the files changed):

    .venv/bin/python deploy/keycloak/gen_realms.py

Secrets and demo credentials are `${ENV:default}` placeholders, resolved by Keycloak at import
from the environment that start.sh passes (ROR_DEMO_PASSWORD, ROR_DEMO_TOTP_SECRET,
ROR_ACCOUNTS_CLIENT_SECRET, ROR_PSC_CLIENT_SECRET).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from services.common.identifiers import luhn_valid
from services.common.regions import REGIONS as REGISTRY
from services.common.regions import Region
from services.common.roles import PRIVILEGED, ROLES

HERE = Path(__file__).resolve().parent
DEPLOY = HERE.parent

KC = "http://127.0.0.1:8080"  # Keycloak's own HTTP address (docs/CONVENTIONS.md)
GATEWAY_ORIGINS = ["http://127.0.0.1:8000", "http://localhost:8000"]

DEMO_PASSWORD = "${ROR_DEMO_PASSWORD:RorDemo2026}"
DEMO_TOTP_SECRET = "${ROR_DEMO_TOTP_SECRET:JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP}"
ACCOUNTS_SECRET = "${ROR_ACCOUNTS_CLIENT_SECRET:ror-accounts-dev-secret}"
PSC_SECRET = "${ROR_PSC_CLIENT_SECRET:psc-dev-secret}"

# Realm roles and the privileged ones (OTP required): services/common/roles.py, the services' source too.
# Composite target of every privileged role: "Condition - user role" takes a single role, so the
# OTP flows test this one and users holding any privileged role have it (effective role).
MFA_ROLE = "mfa_required"

PROFESSIONS = {"70": "Masseur-kinésithérapeute", "50": "Sage-femme"}

# Regions and their demo professionals come from the region files (services/common/regions.py).
def realm_settings(region: Region) -> dict:
    return {"realm": region.realm, "display": region.realm_display or region.label,
            "pros": list(region.demo_professionals)}


REGIONS = {code: realm_settings(region) for code, region in REGISTRY.items()}
STAFF = [
    {"username": "cpts.directeur", "first": "Nadia", "last": "Rousseau", "role": "directeur"},
    {"username": "validateur", "first": "Marc", "last": "Girard", "role": "regional_validator"},
    {"username": "support", "first": "Sophie", "last": "Lambert", "role": "support_agent"},
    {"username": "admin", "first": "Paul", "last": "Mercier", "role": "region_admin"},
]

X509_REGEX = r"(?:^|,\s*)CN=8(\d{11})(?:\s*,|$)"

# e-CPS: the acr every Pro Santé Connect ID token must carry (requested with acr_values, then checked
# by the authenticator ror-idp-require-acr in the first and post broker login flows).
PSC_ACR = "eidas1"
# Identity providers of the regional realms, all played by the psc realm:
#   psc           the real one (login page, kc_idp_hint=psc): sends acr_values=eidas1;
#   psc-no-eidas  tests only, hidden: same flows and mappers, own psc client whose tokens carry acr "1"
#                 and no acr_values: shows that an ID token without eidas1 is refused.
PSC_IDPS = {
    "psc": {"client": None, "acr_values": PSC_ACR, "display": "Pro Santé Connect (e-CPS)", "hidden": False,
            "order": "10"},
    "psc-no-eidas": {"client": "ror-no-eidas", "acr_values": None, "hidden": True, "order": "90",
                     "display": "Pro Santé Connect sans eidas1 (tests : connexion refusée)"},
}
# Realm localization texts (message keys of the custom authenticators). No ASCII apostrophe: the
# texts are java.text.MessageFormat patterns, where ' quotes.
MESSAGES = {
    "fr": {"rorPscAcrRefused": "Connexion Pro Santé Connect refusée : le niveau d’authentification « {0} » "
                               "(e-CPS) est exigé, l’identité transmise porte le niveau « {1} »."},
    "en": {"rorPscAcrRefused": "Pro Santé Connect login refused: authentication level “{0}” (e-CPS) is "
                               "required, the identity provider returned level “{1}”."},
}


# ---- helpers ----------------------------------------------------------------------------------


def flow_id(realm: str, alias: str) -> str:
    """Stable id: the ror-cps client's flow override references its flow by id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:ror:keycloak:{realm}:flow:{alias}"))


def execution(authenticator: str, requirement: str, priority: int, config: str | None = None) -> dict:
    rep = {"authenticator": authenticator, "authenticatorFlow": False, "requirement": requirement,
           "priority": priority, "userSetupAllowed": False}
    if config:
        rep["authenticatorConfig"] = config
    return rep


def subflow(alias: str, requirement: str, priority: int) -> dict:
    return {"authenticatorFlow": True, "flowAlias": alias, "requirement": requirement,
            "priority": priority, "userSetupAllowed": False}


def flow(realm: str, alias: str, description: str, executions: list[dict], top_level: bool = True) -> dict:
    return {"id": flow_id(realm, alias), "alias": alias, "description": description,
            "providerId": "basic-flow", "topLevel": top_level, "builtIn": False,
            "authenticationExecutions": executions}


def attr_mapper(name: str, attribute: str, claim: str, json_type: str = "String",
                access: bool = True, userinfo: bool = True) -> dict:
    return {
        "name": name, "protocol": "openid-connect", "protocolMapper": "oidc-usermodel-attribute-mapper",
        "consentRequired": False,
        "config": {
            "user.attribute": attribute, "claim.name": claim, "jsonType.label": json_type,
            "id.token.claim": "true", "access.token.claim": str(access).lower(),
            "userinfo.token.claim": str(userinfo).lower(), "introspection.token.claim": "true",
            "multivalued": "false",
        },
    }


def admin_only_attribute(name: str, display: str, validations: dict | None = None, user_view: bool = False) -> dict:
    return {
        "name": name, "displayName": display,
        "permissions": {"view": ["admin", "user"] if user_view else ["admin"], "edit": ["admin"]},
        "validations": validations or {}, "multivalued": False,
    }


def user_profile(extra: list[dict]) -> dict:
    def std(name, display, validations, required):
        rep = {"name": name, "displayName": display,
               "permissions": {"view": ["admin", "user"], "edit": ["admin", "user"]},
               "validations": validations, "multivalued": False}
        if required:
            rep["required"] = {"roles": ["user"]}
        return rep

    config = {
        "attributes": [
            std("username", "${username}", {"length": {"min": 3, "max": 255}, "username-prohibited-characters": {},
                                            "up-username-not-idn-homograph": {}}, False),
            std("email", "${email}", {"email": {}, "length": {"max": 255}}, True),
            std("firstName", "${firstName}", {"length": {"max": 255}, "person-name-prohibited-characters": {}}, True),
            std("lastName", "${lastName}", {"length": {"max": 255}, "person-name-prohibited-characters": {}}, True),
            *extra,
        ],
        "groups": [{"name": "user-metadata", "displayHeader": "User metadata",
                    "displayDescription": "Attributes, which refer to user metadata"}],
    }
    return {"org.keycloak.userprofile.UserProfileProvider": [{
        "providerId": "declarative-user-profile", "subComponents": {},
        "config": {"kc.user.profile.config": [json.dumps(config, ensure_ascii=False, separators=(",", ":"))]},
    }]}


def common_realm(realm: str, display: str) -> dict:
    return {
        "realm": realm,
        "enabled": True,
        "displayName": display,
        "sslRequired": "external",
        "registrationAllowed": False,
        "loginWithEmailAllowed": True,
        "duplicateEmailsAllowed": False,
        "resetPasswordAllowed": True,
        "editUsernameAllowed": False,
        "rememberMe": False,
        "verifyEmail": True,
        "bruteForceProtected": True,
        "permanentLockout": False,
        "failureFactor": 30,
        "waitIncrementSeconds": 60,
        "maxFailureWaitSeconds": 900,
        "maxDeltaTimeSeconds": 43200,
        # no "quick login" lockout: tests send a refused login and the right one within a second
        "quickLoginCheckMilliSeconds": 0,
        "minimumQuickLoginWaitSeconds": 60,
        "passwordPolicy": "length(8) and upperCase(1) and lowerCase(1) and digits(1)",
        "internationalizationEnabled": True,
        "supportedLocales": ["fr", "en"],
        "defaultLocale": "fr",
        "smtpServer": {"host": "127.0.0.1", "port": "1025", "from": "noreply@ror.local",
                       "fromDisplayName": "ROR", "replyTo": "", "auth": "false", "ssl": "false",
                       "starttls": "false"},
        "eventsEnabled": True,
        "eventsExpiration": 604800,
        "adminEventsEnabled": False,
    }


def demo_email(region: str, username: str) -> str:
    return f"{username}@{region}.ror.local"


def password_credential() -> dict:
    return {"type": "password", "value": DEMO_PASSWORD, "temporary": False}


def otp_credential() -> dict:
    return {
        "type": "otp",
        "userLabel": "Démo (ROR_DEMO_TOTP_SECRET)",
        "secretData": json.dumps({"value": DEMO_TOTP_SECRET}, separators=(",", ":")),
        "credentialData": json.dumps({"subType": "totp", "digits": 6, "counter": 0, "period": 30,
                                      "algorithm": "HmacSHA1", "secretEncoding": "BASE32"},
                                     separators=(",", ":")),
    }


def subject_ref_pro(pro: dict) -> str:
    return json.dumps({
        "codeCivilite": pro["civilite"],
        "exercices": [{
            "codeProfession": pro["profession"],
            "codeCategorieProfessionnelle": "C",
            "codeCiviliteDexercice": "",
            "nomDexercice": pro["last"].upper(),
            "prenomDexercice": pro["first"],
            "codeTypeSavoirFaire": "",
            "codeSavoirFaire": "",
            "activities": [],
        }],
    }, ensure_ascii=False, separators=(",", ":"))


# ---- regional realms --------------------------------------------------------------------------


def regional_realm(code: str, region: Region | None = None) -> dict:
    """The realm of region `code` (of the registry, or `region` for one not yet in it)."""
    region = realm_settings(region) if region is not None else REGIONS[code]
    realm = region["realm"]
    rep = common_realm(realm, region["display"])
    rep["loginTheme"] = "ror"  # deploy/keycloak/themes/ror, copied into Keycloak by start.sh
    rep.update({
        "otpPolicyType": "totp",
        "otpPolicyAlgorithm": "HmacSHA1",
        "otpPolicyDigits": 6,
        "otpPolicyPeriod": 30,
        "otpPolicyLookAheadWindow": 1,
        "otpPolicyInitialCounter": 0,
        # dev/test: several tests log the same demo user in with the same code within 30 s.
        # Production must set this to false (replay protection).
        "otpPolicyCodeReusable": True,
        "attributes": {"CreateDefaultClientScopes": "true"},
    })

    rep["roles"] = {"realm": [
        {"name": MFA_ROLE, "description": "Technique : second facteur exigé (rôle inclus dans les rôles privilégiés)",
         "composite": False},
        *[
            {"name": name, "description": desc, "composite": name in PRIVILEGED,
             **({"composites": {"realm": [MFA_ROLE]}} if name in PRIVILEGED else {})}
            for name, desc in ROLES.items()
        ],
    ]}

    rep["clientScopes"] = [{
        "name": "rpps",
        "description": "RPPS of the professional (claim rpps)",
        "protocol": "openid-connect",
        "attributes": {"include.in.token.scope": "false", "display.on.consent.screen": "false"},
        "protocolMappers": [attr_mapper("rpps", "rpps", "rpps")],
    }]
    rep["defaultDefaultClientScopes"] = ["rpps"]

    cps_flow = "ror cps direct grant"
    rep["clients"] = [
        {
            "clientId": "ror-gateway",
            "name": "ROR (gateway)",
            "enabled": True,
            # the web pages of the region: the login theme links back to them (« carte CPS »)
            "rootUrl": GATEWAY_ORIGINS[0],
            "baseUrl": f"/{code}/",
            "protocol": "openid-connect",
            "publicClient": True,
            "standardFlowEnabled": True,
            "implicitFlowEnabled": False,
            "directAccessGrantsEnabled": True,
            "serviceAccountsEnabled": False,
            "frontchannelLogout": True,
            "redirectUris": [f"{o}/*" for o in GATEWAY_ORIGINS],
            "webOrigins": list(GATEWAY_ORIGINS),
            "attributes": {
                "pkce.code.challenge.method": "S256",
                "post.logout.redirect.uris": "##".join(f"{o}/*" for o in GATEWAY_ORIGINS),
            },
        },
        {
            "clientId": "ror-cps",
            "name": "ROR (carte CPS, X.509)",
            "description": "Direct grant authenticated by the TLS client certificate of a CPS card (port 8443)",
            "enabled": True,
            "protocol": "openid-connect",
            "publicClient": True,
            "standardFlowEnabled": False,
            "implicitFlowEnabled": False,
            "directAccessGrantsEnabled": True,
            "serviceAccountsEnabled": False,
            "authenticationFlowBindingOverrides": {"direct_grant": flow_id(realm, cps_flow)},
        },
        {
            "clientId": "ror-accounts",
            "name": "ROR accounts service (admin API)",
            "enabled": True,
            "protocol": "openid-connect",
            "publicClient": False,
            "clientAuthenticatorType": "client-secret",
            "secret": ACCOUNTS_SECRET,
            "standardFlowEnabled": False,
            "implicitFlowEnabled": False,
            "directAccessGrantsEnabled": False,
            "serviceAccountsEnabled": True,
        },
    ]

    users = [{
        "username": "service-account-ror-accounts",
        "enabled": True,
        "serviceAccountClientId": "ror-accounts",
        "realmRoles": [f"default-roles-{realm}"],
        # least privilege, see deploy/keycloak/README.md (no view-realm: roles are mapped through
        # /users/{id}/role-mappings/realm/available)
        "clientRoles": {"realm-management": ["manage-users", "view-users", "query-users"]},
    }]
    for pro in region["pros"]:
        users.append({
            "username": pro["username"], "enabled": True, "emailVerified": True,
            "email": demo_email(code, pro["username"]), "firstName": pro["first"], "lastName": pro["last"],
            "attributes": {"rpps": [pro["rpps"]]},
            "credentials": [password_credential()],
            "realmRoles": [f"default-roles-{realm}", "professional"],
        })
    for staff in STAFF:
        users.append({
            "username": staff["username"], "enabled": True, "emailVerified": True,
            "email": demo_email(code, staff["username"]), "firstName": staff["first"], "lastName": staff["last"],
            "credentials": [password_credential(), otp_credential()],
            "realmRoles": [f"default-roles-{realm}", staff["role"]],
        })
    rep["users"] = users

    rep["components"] = user_profile([
        admin_only_attribute("rpps", "RPPS", {"pattern": {"pattern": r"^\d{11}$",
                                                          "error-message": "Le RPPS comporte 11 chiffres"}},
                             user_view=True),
        admin_only_attribute("psc_national_id", "Identifiant national PSC (SubjectNameID)"),
        admin_only_attribute("psc_acr", "Niveau d'authentification PSC (acr)"),
    ])

    # ---- authentication flows ----
    x509_common = {
        "x509-cert-auth.mapping-source-selection": "Match SubjectDN using regular expression",
        "x509-cert-auth.regular-expression": X509_REGEX,
        "x509-cert-auth.canonical-dn-enabled": "false",
        "x509-cert-auth.serialnumber-hex-enabled": "false",
        "x509-cert-auth.mapper-selection": "Custom Attribute Mapper",
        "x509-cert-auth.mapper-selection.user-attribute-name": "rpps",
        "x509-cert-auth.revalidate-certificate-enabled": "true",
        "x509-cert-auth.timestamp-validation-enabled": "true",
        "x509-cert-auth.crl-checking-enabled": "false",
        "x509-cert-auth.crldp-checking-enabled": "false",
        "x509-cert-auth.ocsp-checking-enabled": "false",
        "x509-cert-auth.ocsp-fail-open": "false",
        "x509-cert-auth.keyusage": "digitalSignature",
        "x509-cert-auth.extendedkeyusage": "1.3.6.1.5.5.7.3.2",
    }
    rep["authenticatorConfig"] = [
        {"alias": "ror x509 browser", "config": {**x509_common, "x509-cert-auth.confirmation-page-disallowed": "false"}},
        {"alias": "ror x509 direct grant", "config": dict(x509_common)},
        {"alias": "ror not mfa_required", "config": {"condUserRole": MFA_ROLE, "negate": "true"}},
        {"alias": "ror mfa_required", "config": {"condUserRole": MFA_ROLE, "negate": "false"}},
        {"alias": "ror not mfa_required (direct grant)", "config": {"condUserRole": MFA_ROLE, "negate": "true"}},
        {"alias": "ror mfa_required (direct grant)", "config": {"condUserRole": MFA_ROLE, "negate": "false"}},
        {"alias": "ror link by rpps", "config": {"ror.user.attribute": "rpps",
                                                 "ror.national.id.attribute": "psc_national_id"}},
        {"alias": "ror review profile", "config": {"update.profile.on.first.login": "missing"}},
        {"alias": "ror create unique user", "config": {"require.password.update.after.registration": "false"}},
        {"alias": "ror acr eidas1 (first broker login)", "config": {"ror.acr.required": PSC_ACR}},
        {"alias": "ror acr eidas1 (post broker login)", "config": {"ror.acr.required": PSC_ACR}},
    ]
    rep["authenticationFlows"] = [
        flow(realm, "ror browser", "Cookie, IdP redirector (kc_idp_hint=psc), CPS card (X.509), "
             "password + conditional OTP", [
                 execution("auth-cookie", "ALTERNATIVE", 10),
                 execution("identity-provider-redirector", "ALTERNATIVE", 20),
                 execution("auth-x509-client-username-form", "ALTERNATIVE", 30, "ror x509 browser"),
                 subflow("ror browser forms", "ALTERNATIVE", 40),
             ]),
        flow(realm, "ror browser forms", "Username/password, then OTP when configured or privileged", [
            execution("auth-username-password-form", "REQUIRED", 10),
            subflow("ror browser otp configured", "CONDITIONAL", 20),
            subflow("ror browser otp privileged", "CONDITIONAL", 30),
        ], top_level=False),
        flow(realm, "ror browser otp configured", "OTP for a non-privileged user who configured one", [
            execution("conditional-user-role", "REQUIRED", 10, "ror not mfa_required"),
            execution("conditional-user-configured", "REQUIRED", 20),
            execution("auth-otp-form", "REQUIRED", 30),
        ], top_level=False),
        flow(realm, "ror browser otp privileged", "OTP always for privileged roles (CONFIGURE_TOTP if none)", [
            execution("conditional-user-role", "REQUIRED", 10, "ror mfa_required"),
            execution("auth-otp-form", "REQUIRED", 20),
        ], top_level=False),
        flow(realm, "ror direct grant", "Username, password, then OTP (form parameter otp or totp) "
             "when configured or privileged", [
                 execution("direct-grant-validate-username", "REQUIRED", 10),
                 execution("direct-grant-validate-password", "REQUIRED", 20),
                 subflow("ror direct grant otp configured", "CONDITIONAL", 30),
                 subflow("ror direct grant otp privileged", "CONDITIONAL", 40),
             ]),
        flow(realm, "ror direct grant otp configured", "OTP for a non-privileged user who configured one", [
            execution("conditional-user-role", "REQUIRED", 10, "ror not mfa_required (direct grant)"),
            execution("conditional-user-configured", "REQUIRED", 20),
            execution("direct-grant-validate-otp", "REQUIRED", 30),
        ], top_level=False),
        flow(realm, "ror direct grant otp privileged", "OTP always for privileged roles (400 if none configured)", [
            execution("conditional-user-role", "REQUIRED", 10, "ror mfa_required (direct grant)"),
            execution("ror-direct-grant-otp-required", "REQUIRED", 20),
        ], top_level=False),
        flow(realm, cps_flow, "CPS card: user found from the TLS client certificate (bound to client ror-cps)", [
            execution("direct-grant-auth-x509-username", "REQUIRED", 10, "ror x509 direct grant"),
        ]),
        flow(realm, "ror first broker login", "Pro Santé Connect: acr eidas1 required, then link to the user "
             "with the same RPPS, else create one", [
                 execution("ror-idp-require-acr", "REQUIRED", 10, "ror acr eidas1 (first broker login)"),
                 subflow("ror first broker login link or create", "REQUIRED", 20),
             ]),
        flow(realm, "ror first broker login link or create", "Link by RPPS, else create the user", [
            execution("ror-idp-link-by-rpps", "ALTERNATIVE", 10, "ror link by rpps"),
            subflow("ror first broker login create", "ALTERNATIVE", 20),
        ], top_level=False),
        flow(realm, "ror first broker login create", "Review missing profile data, create the user if unique", [
            execution("idp-review-profile", "REQUIRED", 10, "ror review profile"),
            execution("idp-create-user-if-unique", "REQUIRED", 20, "ror create unique user"),
        ], top_level=False),
        # Runs after every login through the identity provider, also after the first broker login
        # (IdentityBrokerService.afterFirstBrokerLogin -> finishOrRedirectToPostBrokerLogin).
        flow(realm, "ror post broker login", "Pro Santé Connect: acr eidas1 required at every login", [
            execution("ror-idp-require-acr", "REQUIRED", 10, "ror acr eidas1 (post broker login)"),
        ]),
    ]
    rep["browserFlow"] = "ror browser"
    rep["directGrantFlow"] = "ror direct grant"
    rep["firstBrokerLoginFlow"] = "ror first broker login"

    # ---- Pro Santé Connect (e-CPS), played by the psc realm ----
    psc = f"{KC}/realms/psc"
    rep["identityProviders"] = []
    rep["identityProviderMappers"] = []
    for alias, idp in PSC_IDPS.items():
        # acr_values is always sent when set: it is part of the authorization URL.
        query = f"?acr_values={idp['acr_values']}" if idp["acr_values"] else ""
        rep["identityProviders"].append({
            "alias": alias,
            "displayName": idp["display"],
            "providerId": "oidc",
            "enabled": True,
            "trustEmail": True,
            "storeToken": False,
            "addReadTokenRoleOnCreate": False,
            "authenticateByDefault": False,
            "linkOnly": False,
            "hideOnLogin": idp["hidden"],
            "firstBrokerLoginFlowAlias": "ror first broker login",
            "postBrokerLoginFlowAlias": "ror post broker login",
            "config": {
                "issuer": psc,
                "authorizationUrl": f"{psc}/protocol/openid-connect/auth{query}",
                "tokenUrl": f"{psc}/protocol/openid-connect/token",
                "userInfoUrl": f"{psc}/protocol/openid-connect/userinfo",
                "jwksUrl": f"{psc}/protocol/openid-connect/certs",
                "logoutUrl": f"{psc}/protocol/openid-connect/logout",
                "clientId": idp["client"] or realm,
                "clientSecret": PSC_SECRET,
                "clientAuthMethod": "client_secret_post",
                "defaultScope": "openid scope_all",
                "validateSignature": "true",
                "useJwksUrl": "true",
                "pkceEnabled": "true",
                "pkceMethod": "S256",
                "syncMode": "IMPORT",
                "backchannelSupported": "false",
                "disableUserInfo": "false",
                "loginHint": "false",
                "uiLocales": "false",
                "guiOrder": idp["order"],
            },
        })
        rep["identityProviderMappers"] += [
            {"name": "national id (SubjectNameID)", "identityProviderAlias": alias,
             "identityProviderMapper": "oidc-user-attribute-idp-mapper",
             "config": {"syncMode": "FORCE", "claim": "SubjectNameID", "user.attribute": "psc_national_id"}},
            {"name": "acr", "identityProviderAlias": alias,
             "identityProviderMapper": "oidc-user-attribute-idp-mapper",
             "config": {"syncMode": "FORCE", "claim": "acr", "user.attribute": "psc_acr"}},
            {"name": "username = national id", "identityProviderAlias": alias,
             "identityProviderMapper": "oidc-username-idp-mapper",
             "config": {"syncMode": "IMPORT", "template": "${CLAIM.SubjectNameID}", "target": "LOCAL"}},
            {"name": "role professional", "identityProviderAlias": alias,
             "identityProviderMapper": "oidc-hardcoded-role-idp-mapper",
             "config": {"syncMode": "IMPORT", "role": "professional"}},
        ]
    rep["localizationTexts"] = MESSAGES
    return rep


# ---- psc realm (stands in for Pro Santé Connect) ---------------------------------------------


def psc_realm() -> dict:
    realm = "psc"
    rep = common_realm(realm, "Pro Santé Connect (simulation)")
    rep.update({
        "resetPasswordAllowed": False,
        "attributes": {"CreateDefaultClientScopes": "true", "acr.loa.map": json.dumps({PSC_ACR: 1})},
    })
    rep["clientScopes"] = [{
        "name": "scope_all",
        "description": "Pro Santé Connect claims: SubjectNameID, SubjectRefPro, given_name, family_name",
        "protocol": "openid-connect",
        "attributes": {"include.in.token.scope": "true", "display.on.consent.screen": "false"},
        "protocolMappers": [
            attr_mapper("SubjectNameID", "national_id", "SubjectNameID"),
            attr_mapper("SubjectRefPro", "SubjectRefPro", "SubjectRefPro", json_type="JSON"),
            attr_mapper("given_name", "firstName", "given_name"),
            attr_mapper("family_name", "lastName", "family_name"),
        ],
    }]
    rep["defaultOptionalClientScopes"] = ["scope_all"]
    rep["clients"] = []
    for region in REGIONS.values():
        broker = region["realm"]
        rep["clients"].append({
            "clientId": broker,
            "name": f"{region['display']} (broker)",
            "enabled": True,
            "protocol": "openid-connect",
            "publicClient": False,
            "clientAuthenticatorType": "client-secret",
            "secret": PSC_SECRET,
            "standardFlowEnabled": True,
            "implicitFlowEnabled": False,
            "directAccessGrantsEnabled": False,
            "serviceAccountsEnabled": False,
            "redirectUris": [f"{base}/realms/{broker}/broker/psc/endpoint"
                             for base in (KC, "http://localhost:8080", "https://127.0.0.1:8443",
                                          "https://localhost:8443")],
            "webOrigins": [],
            "attributes": {"pkce.code.challenge.method": "S256"},
            "defaultClientScopes": ["basic", "acr", "profile", "email", "web-origins", "roles"],
            "optionalClientScopes": ["scope_all"],
        })
    # Tests only (identity provider psc-no-eidas of the regional realms): a client-level acr.loa.map
    # overrides the realm's, so that a level-1 login of this client is named "1", not eidas1 (with the
    # realm map every level-1 login is eidas1, requested or not).
    rep["clients"].append({
        "clientId": "ror-no-eidas",
        "name": "ROR regions, tests only: ID tokens without acr eidas1 (refused by the regions)",
        "enabled": True,
        "protocol": "openid-connect",
        "publicClient": False,
        "clientAuthenticatorType": "client-secret",
        "secret": PSC_SECRET,
        "standardFlowEnabled": True,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False,
        "redirectUris": [f"{base}/realms/{region['realm']}/broker/psc-no-eidas/endpoint"
                         for region in REGIONS.values()
                         for base in (KC, "http://localhost:8080", "https://127.0.0.1:8443", "https://localhost:8443")],
        "webOrigins": [],
        "attributes": {"pkce.code.challenge.method": "S256", "acr.loa.map": json.dumps({"1": 1})},
        "defaultClientScopes": ["basic", "acr", "profile", "email", "web-origins", "roles"],
        "optionalClientScopes": ["scope_all"],
    })
    users = []
    for code, region in REGIONS.items():
        for pro in region["pros"]:
            nid = "8" + pro["rpps"]
            users.append({
                "username": nid, "enabled": True, "emailVerified": True,
                "email": demo_email(code, pro["username"]), "firstName": pro["first"], "lastName": pro["last"],
                "attributes": {"national_id": [nid], "rpps": [pro["rpps"]],
                               "SubjectRefPro": [subject_ref_pro(pro)]},
                "credentials": [password_credential()],
            })
    rep["users"] = users
    rep["components"] = user_profile([
        admin_only_attribute("national_id", "Identifiant national (8 + RPPS)"),
        admin_only_attribute("rpps", "RPPS"),
        admin_only_attribute("SubjectRefPro", "SubjectRefPro (JSON)"),
    ])
    rep["authenticatorConfig"] = [
        {"alias": "psc eidas1", "config": {"loa-condition-level": "1", "loa-max-age": "36000"}},
    ]
    rep["authenticationFlows"] = [
        flow(realm, "psc browser", "Cookie or level 1 (eidas1): national id + password", [
            execution("auth-cookie", "ALTERNATIVE", 10),
            subflow("psc browser forms", "ALTERNATIVE", 20),
        ]),
        flow(realm, "psc browser forms", "Levels of authentication", [
            subflow("psc browser eidas1", "CONDITIONAL", 10),
        ], top_level=False),
        flow(realm, "psc browser eidas1", "Level 1 = acr eidas1", [
            execution("conditional-level-of-authentication", "REQUIRED", 10, "psc eidas1"),
            execution("auth-username-password-form", "REQUIRED", 20),
        ], top_level=False),
    ]
    rep["browserFlow"] = "psc browser"
    return rep


# ---- output -----------------------------------------------------------------------------------


def demo_accounts() -> str:
    lines = [
        "# Demo accounts (generated by deploy/keycloak/gen_realms.py; password: $ROR_DEMO_PASSWORD, default RorDemo2026)",
        "# Privileged accounts (directeur, regional_validator, support_agent, region_admin) also need a TOTP code:",
        "#   .venv/bin/python -c 'import pyotp; print(pyotp.TOTP(\"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\").now())'  ($ROR_DEMO_TOTP_SECRET)",
        "# e-CPS (realm psc, Pro Santé Connect simulation): log in with the national id 8+RPPS and the same password.",
        f"{'realm':<9} {'username':<15} {'role':<19} {'rpps':<12} e-CPS login (psc)",
    ]
    for region in REGIONS.values():
        for pro in region["pros"]:
            lines.append(f"{region['realm']:<9} {pro['username']:<15} {'professional':<19} {pro['rpps']:<12} "
                         f"8{pro['rpps']}")
        for staff in STAFF:
            lines.append(f"{region['realm']:<9} {staff['username']:<15} {staff['role']:<19} {'-':<12} -")
    return "\n".join(lines) + "\n"


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    for region in REGIONS.values():
        for pro in region["pros"]:
            assert len(pro["rpps"]) == 11 and luhn_valid(pro["rpps"]), pro
    for code, region in REGIONS.items():
        write_json(HERE / f"{region['realm']}.json", regional_realm(code))
    write_json(HERE / "psc.json", psc_realm())
    (DEPLOY / "demo-accounts.txt").write_text(demo_accounts(), encoding="utf-8")


if __name__ == "__main__":
    main()
