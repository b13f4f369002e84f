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

public class IdpRequireAcrAuthenticatorFactory implements AuthenticatorFactory {

    public static final String PROVIDER_ID = "ror-idp-require-acr";
    public static final String REQUIRED_ACR = "ror.acr.required";
    public static final String DEFAULT_ACR = "eidas1";

    private static final IdpRequireAcrAuthenticator SINGLETON = new IdpRequireAcrAuthenticator();
    private static final AuthenticationExecutionModel.Requirement[] REQUIREMENTS = {
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
        return "ROR - PSC: require acr eidas1";
    }

    @Override
    public String getReferenceCategory() {
        return "acr";
    }

    @Override
    public String getHelpText() {
        return "First broker login and post broker login flows: refuses the login unless the ID token returned by "
                + "the identity provider carries the configured acr (default eidas1).";
    }

    @Override
    public boolean isConfigurable() {
        return true;
    }

    @Override
    public List<ProviderConfigProperty> getConfigProperties() {
        return ProviderConfigurationBuilder.create()
                .property().name(REQUIRED_ACR).label("Required acr")
                .type(ProviderConfigProperty.STRING_TYPE).defaultValue(DEFAULT_ACR)
                .helpText("Value the acr claim of the identity provider's ID token must equal.").add()
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
