# Keycloak with the ROR providers (X.509 CPS login, e-CPS linking by RPPS, eIDAS level check).
#   make up (or deploy/keycloak/start.sh) builds var/keycloak/.../providers/ror-extensions.jar; copy it to
#   deploy/k8s/build/ror-extensions.jar, then
#   docker build -f deploy/k8s/keycloak.Dockerfile --build-arg KEYCLOAK_IMAGE=<official keycloak 26.7 image> \
#       -t <registry>/ror/ror-keycloak:26.7.3 .
ARG KEYCLOAK_IMAGE
FROM ${KEYCLOAK_IMAGE} AS builder
COPY deploy/k8s/build/ror-extensions.jar /opt/keycloak/providers/
RUN /opt/keycloak/bin/kc.sh build --db=postgres --health-enabled=true --metrics-enabled=true

FROM ${KEYCLOAK_IMAGE}
COPY --from=builder /opt/keycloak/ /opt/keycloak/
