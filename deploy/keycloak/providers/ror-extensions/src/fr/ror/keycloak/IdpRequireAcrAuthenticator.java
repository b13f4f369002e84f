package fr.ror.keycloak;

import java.util.Map;

import jakarta.ws.rs.core.Response;

import org.jboss.logging.Logger;
import org.keycloak.authentication.AuthenticationFlowContext;
import org.keycloak.authentication.AuthenticationFlowError;
import org.keycloak.authentication.Authenticator;
import org.keycloak.authentication.authenticators.broker.AbstractIdpAuthenticator;
import org.keycloak.authentication.authenticators.broker.util.PostBrokerLoginConstants;
import org.keycloak.authentication.authenticators.broker.util.SerializedBrokeredIdentityContext;
import org.keycloak.broker.oidc.OIDCIdentityProvider;
import org.keycloak.broker.provider.BrokeredIdentityContext;
import org.keycloak.events.Details;
import org.keycloak.models.AuthenticatorConfigModel;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;
import org.keycloak.representations.IDToken;
import org.keycloak.representations.JsonWebToken;
import org.keycloak.services.resources.LoginActionsService;
import org.keycloak.sessions.AuthenticationSessionModel;

/**
 * Broker login step (first broker login AND post broker login flows): the ID token the identity
 * provider (Pro Santé Connect) returned must carry {@code acr} = the configured value ({@code eidas1}).
 *
 * <p>Sending {@code acr_values=eidas1} is not enough: the authorization request goes through the
 * browser (the parameter can be stripped) and the provider may authenticate at another level. The
 * claim is read from the ID token validated by the broker ({@link OIDCIdentityProvider#VALIDATED_ID_TOKEN}
 * in the context data of the brokered identity), not from a mapped user attribute.
 *
 * <p>The brokered identity is in the authentication note {@code BROKERED_CONTEXT} during the first
 * broker login flow and {@code PBL_BROKERED_IDENTITY_CONTEXT} during the post broker login flow (the
 * same choice LoginActionsService makes, by flow path). No brokered identity, no ID token, no
 * {@code acr} or another value: error page (403), event error {@code access_denied}, login refused.
 */
public class IdpRequireAcrAuthenticator implements Authenticator {

    private static final Logger LOG = Logger.getLogger(IdpRequireAcrAuthenticator.class);
    /** Message key, defined in the realm's localization texts (fr, en); parameters: required acr, received acr. */
    static final String MESSAGE = "rorPscAcrRefused";
    static final String EVENT_ERROR = "access_denied";

    @Override
    public void authenticate(AuthenticationFlowContext context) {
        String required = requiredAcr(context);
        AuthenticationSessionModel authSession = context.getAuthenticationSession();
        boolean postBrokerLogin = LoginActionsService.POST_BROKER_LOGIN_PATH.equals(context.getFlowPath());
        String note = postBrokerLogin ? PostBrokerLoginConstants.PBL_BROKERED_IDENTITY_CONTEXT
                : AbstractIdpAuthenticator.BROKERED_CONTEXT_NOTE;
        SerializedBrokeredIdentityContext serialized = SerializedBrokeredIdentityContext.readFromAuthenticationSession(
                authSession, note);
        if (serialized == null) {
            LOG.warnf("No brokered identity (auth note %s) in flow %s: this step belongs in a broker login flow",
                    note, context.getFlowPath());
            refuse(context, required, null, null);
            return;
        }
        BrokeredIdentityContext brokered = serialized.deserialize(context.getSession(), authSession);
        String alias = brokered.getIdpConfig().getAlias();
        String acr = acrOf(brokered.getContextData().get(OIDCIdentityProvider.VALIDATED_ID_TOKEN));
        if (required.equals(acr)) {
            LOG.debugf("Identity provider %s: acr %s accepted for %s", alias, acr, brokered.getUsername());
            context.success();
            return;
        }
        LOG.warnf("Identity provider %s: login of %s refused, ID token acr=%s, required %s (%s)", alias,
                brokered.getUsername(), acr, required, context.getFlowPath());
        refuse(context, required, acr, alias);
    }

    /** The {@code acr} claim of the validated ID token (a JsonWebToken whose other claims hold it), or null. */
    static String acrOf(Object idToken) {
        if (idToken instanceof IDToken token && token.getAcr() != null) {
            return token.getAcr();
        }
        if (idToken instanceof JsonWebToken token && token.getOtherClaims() != null) {
            Object acr = token.getOtherClaims().get(IDToken.ACR);
            return acr instanceof String value ? value : null;
        }
        return null;
    }

    private static String requiredAcr(AuthenticationFlowContext context) {
        AuthenticatorConfigModel model = context.getAuthenticatorConfig();
        Map<String, String> config = model == null || model.getConfig() == null ? Map.of() : model.getConfig();
        String value = config.get(IdpRequireAcrAuthenticatorFactory.REQUIRED_ACR);
        return value == null || value.isBlank() ? IdpRequireAcrAuthenticatorFactory.DEFAULT_ACR : value.trim();
    }

    private static void refuse(AuthenticationFlowContext context, String required, String acr, String alias) {
        if (alias != null) {
            context.getEvent().detail(Details.IDENTITY_PROVIDER, alias);
        }
        if (context.getUser() != null) {  // post broker login: the linked user
            context.getEvent().user(context.getUser());
        }
        context.getEvent().detail("acr", acr == null ? "" : acr).detail("required_acr", required).error(EVENT_ERROR);
        Response page = context.form().setError(MESSAGE, required, acr == null ? "-" : acr)
                .createErrorPage(Response.Status.FORBIDDEN);
        context.failure(AuthenticationFlowError.ACCESS_DENIED, page);
    }

    @Override
    public void action(AuthenticationFlowContext context) {
        authenticate(context);
    }

    @Override
    public boolean requiresUser() {
        return false;
    }

    @Override
    public boolean configuredFor(KeycloakSession session, RealmModel realm, UserModel user) {
        return true;
    }

    @Override
    public void setRequiredActions(KeycloakSession session, RealmModel realm, UserModel user) {
    }

    @Override
    public void close() {
    }
}
