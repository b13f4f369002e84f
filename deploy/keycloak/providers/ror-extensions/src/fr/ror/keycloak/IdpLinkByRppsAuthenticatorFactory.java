package fr.ror.keycloak;

import java.util.List;

import org.keycloak.Config;
import org.keycloak.authentication.Authenticator;
import org.keycloak.authentication.AuthenticatorFactory;
import org.keycloak.models.AuthenticationExecutionModel;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.KeycloakSessionFactory;
import org.keycloak.provider.ProviderConfigProperty;
import org.keycloak.provider.ProviderConfigurationBuilder;

public class IdpLinkByRppsAuthenticatorFactory implements AuthenticatorFactory {

    public static final String PROVIDER_ID = "ror-idp-link-by-rpps";
    public static final String USER_ATTRIBUTE = "ror.user.attribute";
    public static final String NATIONAL_ID_ATTRIBUTE = "ror.national.id.attribute";

    private static final IdpLinkByRppsAuthenticator SINGLETON = new IdpLinkByRppsAuthenticator();
    private static final AuthenticationExecutionModel.Requirement[] REQUIREMENTS = {
            AuthenticationExecutionModel.Requirement.ALTERNATIVE,
            AuthenticationExecutionModel.Requirement.REQUIRED,
            AuthenticationExecutionModel.Requirement.DISABLED,
    };

    @Override
    public Authenticator create(KeycloakSession session) {
        return SINGLETON;
    }

    @Override
    public String getId() {
        return PROVIDER_ID;
    }

    @Override
    public String getDisplayType() {
        return "ROR - Link existing user by RPPS";
    }

    @Override
    public String getReferenceCategory() {
        return "autoLink";
    }

    @Override
    public String getHelpText() {
        return "First broker login: sets the user whose RPPS attribute matches the brokered RPPS (or the national id "
                + "8+RPPS), so that the brokered identity is linked to it. Attempted when no user matches.";
    }

    @Override
    public boolean isConfigurable() {
        return true;
    }

    @Override
    public List<ProviderConfigProperty> getConfigProperties() {
        return ProviderConfigurationBuilder.create()
                .property().name(USER_ATTRIBUTE).label("User attribute holding the RPPS")
                .type(ProviderConfigProperty.STRING_TYPE).defaultValue("rpps")
                .helpText("Local user attribute matched against the RPPS; also the brokered attribute read first.").add()
                .property().name(NATIONAL_ID_ATTRIBUTE).label("Brokered attribute holding the national id")
                .type(ProviderConfigProperty.STRING_TYPE).defaultValue("psc_national_id")
                .helpText("Brokered attribute with the national id ('8' + RPPS), e.g. imported from SubjectNameID.").add()
                .build();
    }

    @Override
    public AuthenticationExecutionModel.Requirement[] getRequirementChoices() {
        return REQUIREMENTS;
    }

    @Override
    public boolean isUserSetupAllowed() {
        return false;
    }

    @Override
    public void init(Config.Scope config) {
    }

    @Override
    public void postInit(KeycloakSessionFactory factory) {
    }

    @Override
    public void close() {
    }
}
