package fr.ror.keycloak;

import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import jakarta.ws.rs.core.Response;

import org.jboss.logging.Logger;
import org.keycloak.authentication.AuthenticationFlowContext;
import org.keycloak.authentication.AuthenticationFlowError;
import org.keycloak.authentication.authenticators.broker.AbstractIdpAuthenticator;
import org.keycloak.authentication.authenticators.broker.util.ExistingUserInfo;
import org.keycloak.authentication.authenticators.broker.util.SerializedBrokeredIdentityContext;
import org.keycloak.broker.provider.BrokeredIdentityContext;
import org.keycloak.events.Errors;
import org.keycloak.models.AuthenticatorConfigModel;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;
import org.keycloak.services.messages.Messages;

/**
 * First broker login step: link the brokered identity (Pro Santé Connect) to the local user whose
 * attribute {@code rpps} equals the RPPS of the professional.
 *
 * <p>The RPPS is taken from the brokered attribute {@code rpps} when an identity provider mapper set
 * it, otherwise derived from the brokered attribute holding the national identifier
 * ({@code psc_national_id}, imported from the PSC claim {@code SubjectNameID}: "8" + RPPS).
 *
 * <ul>
 *   <li>exactly one enabled user has that RPPS: that user is set on the flow (success; the broker
 *       then links the identity to it, as "Automatically set existing user" does);</li>
 *   <li>no user: the RPPS is recorded as brokered attribute {@code rpps} (so that a user created by
 *       the next step, "Create User If Unique", carries it) and the step is "attempted";</li>
 *   <li>no usable RPPS: "attempted";</li>
 *   <li>several users share the RPPS, or the user is disabled: error page, login refused.</li>
 * </ul>
 */
public class IdpLinkByRppsAuthenticator extends AbstractIdpAuthenticator {

    private static final Logger LOG = Logger.getLogger(IdpLinkByRppsAuthenticator.class);
    private static final Pattern RPPS = Pattern.compile("^\\d{11}$");
    private static final Pattern NATIONAL_ID = Pattern.compile("^8(\\d{11})$");

    @Override
    protected void authenticateImpl(AuthenticationFlowContext context, SerializedBrokeredIdentityContext serializedCtx,
                                     BrokeredIdentityContext brokerContext) {
        Map<String, String> config = config(context);
        String userAttribute = config.getOrDefault(IdpLinkByRppsAuthenticatorFactory.USER_ATTRIBUTE, "rpps");
        String nationalIdAttribute = config.getOrDefault(IdpLinkByRppsAuthenticatorFactory.NATIONAL_ID_ATTRIBUTE,
                "psc_national_id");

        String rpps = resolveRpps(serializedCtx, userAttribute, nationalIdAttribute);
        if (rpps == null) {
            LOG.debugf("Brokered identity %s carries no RPPS: not linking by RPPS", brokerContext.getUsername());
            context.attempted();
            return;
        }

        KeycloakSession session = context.getSession();
        RealmModel realm = context.getRealm();
        List<UserModel> users = session.users().searchForUserByUserAttributeStream(realm, userAttribute, rpps)
                .limit(2).toList();

        if (users.isEmpty()) {
            LOG.debugf("No user with %s=%s in realm %s: a new user may be created", userAttribute, rpps, realm.getName());
            serializedCtx.setSingleAttribute(userAttribute, rpps);
            serializedCtx.saveToAuthenticationSession(context.getAuthenticationSession(), BROKERED_CONTEXT_NOTE);
            context.attempted();
            return;
        }
        if (users.size() > 1) {
            LOG.warnf("Several users have %s=%s in realm %s: refusing to link", userAttribute, rpps, realm.getName());
            fail(context, Errors.FEDERATED_IDENTITY_EXISTS, Response.Status.CONFLICT);
            return;
        }
        UserModel user = users.get(0);
        if (!user.isEnabled()) {
            context.getEvent().user(user);
            fail(context, Errors.USER_DISABLED, Response.Status.BAD_REQUEST);
            return;
        }
        LOG.debugf("Linking brokered identity %s to user %s (%s=%s)", brokerContext.getUsername(), user.getUsername(),
                userAttribute, rpps);
        context.getAuthenticationSession().setAuthNote(EXISTING_USER_INFO,
                new ExistingUserInfo(user.getId(), userAttribute, rpps).serialize());
        context.setUser(user);
        context.success();
    }

    static String resolveRpps(SerializedBrokeredIdentityContext ctx, String userAttribute, String nationalIdAttribute) {
        String direct = ctx.getFirstAttribute(userAttribute);
        if (direct != null && RPPS.matcher(direct.trim()).matches()) {
            return direct.trim();
        }
        String nationalId = ctx.getFirstAttribute(nationalIdAttribute);
        if (nationalId != null) {
            Matcher m = NATIONAL_ID.matcher(nationalId.trim());
            if (m.matches()) {
                return m.group(1);
            }
        }
        return null;
    }

    private static Map<String, String> config(AuthenticationFlowContext context) {
        AuthenticatorConfigModel model = context.getAuthenticatorConfig();
        return model == null || model.getConfig() == null ? Map.of() : model.getConfig();
    }

    private void fail(AuthenticationFlowContext context, String eventError, Response.Status status) {
        context.getEvent().error(eventError);
        Response challenge = context.form().setError(Messages.INVALID_USER).createErrorPage(status);
        context.failureChallenge(AuthenticationFlowError.INVALID_USER, challenge);
    }

    @Override
    protected void actionImpl(AuthenticationFlowContext context, SerializedBrokeredIdentityContext serializedCtx,
                              BrokeredIdentityContext brokerContext) {
        authenticateImpl(context, serializedCtx, brokerContext);
    }

    @Override
    public boolean requiresUser() {
        return false;
    }

    @Override
    public boolean configuredFor(KeycloakSession session, RealmModel realm, UserModel user) {
        return true;
    }
}
