package fr.ror.keycloak;

import jakarta.ws.rs.core.Response;

import org.keycloak.authentication.AuthenticationFlowContext;
import org.keycloak.authentication.AuthenticationFlowError;
import org.keycloak.authentication.authenticators.directgrant.ValidateOTP;
import org.keycloak.events.Errors;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;

/**
 * Direct grant OTP check for users who MUST use a one-time code (privileged roles).
 *
 * <p>The stock "OTP" direct grant authenticator, REQUIRED for a user without OTP credential, makes
 * the flow throw CREDENTIAL_SETUP_REQUIRED, which the token endpoint turns into a 500
 * "unknown_error". This one answers 400 {@code invalid_grant} "Account is not fully set up ..."
 * instead (like a pending required action), and otherwise behaves exactly as the stock one
 * (form parameter {@code otp}, or {@code totp}).
 */
public class DirectGrantRequiredOtp extends ValidateOTP {

    public static final String PROVIDER_ID = "ror-direct-grant-otp-required";
    static final String NOT_SET_UP = "Account is not fully set up: a one-time code (TOTP) is required for this "
            + "account, configure it by logging in with a browser";

    @Override
    public void authenticate(AuthenticationFlowContext context) {
        if (!super.configuredFor(context.getSession(), context.getRealm(), context.getUser())) {
            context.getEvent().user(context.getUser());
            context.getEvent().error(Errors.INVALID_USER_CREDENTIALS);
            Response challenge = errorResponse(Response.Status.BAD_REQUEST.getStatusCode(), "invalid_grant", NOT_SET_UP);
            context.failure(AuthenticationFlowError.CREDENTIAL_SETUP_REQUIRED, challenge);
            return;
        }
        super.authenticate(context);
    }

    /** Always "configured" so that the flow calls {@link #authenticate} (which reports the missing OTP). */
    @Override
    public boolean configuredFor(KeycloakSession session, RealmModel realm, UserModel user) {
        return true;
    }

    @Override
    public String getId() {
        return PROVIDER_ID;
    }

    @Override
    public String getDisplayType() {
        return "ROR - OTP required (direct grant)";
    }

    @Override
    public String getHelpText() {
        return "Validates the one-time code of the direct grant (parameter otp or totp); a user without OTP "
                + "credential is refused with 400 invalid_grant instead of a server error.";
    }
}
