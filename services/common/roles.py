"""The realm roles, in one place: the realms are generated with them (deploy/keycloak/gen_realms.py),
the gateway and the services check them (tests/unit/test_realms.py keeps both in step)."""

from __future__ import annotations

PROFESSIONAL = "professional"
STRUCTURE_EDITOR = "structure_editor"
DIRECTEUR = "directeur"
REGIONAL_VALIDATOR = "regional_validator"
SUPPORT_AGENT = "support_agent"
REGION_ADMIN = "region_admin"

# role -> description shown in Keycloak
ROLES: dict[str, str] = {
    PROFESSIONAL: "Professionnel de santé (décrit sa propre offre)",
    STRUCTURE_EDITOR: "Compte structure (édite les fiches d'une structure)",
    DIRECTEUR: "Directeur de structure (approuve les dossiers collaboratifs)",
    REGIONAL_VALIDATOR: "Équipe régionale (valide les dossiers collaboratifs)",
    SUPPORT_AGENT: "Agent du support (traite les tickets)",
    REGION_ADMIN: "Administrateur régional",
}
# granted on a structure by a region admin (habilitations); they edit the offers of that structure
STRUCTURE_ROLES = (STRUCTURE_EDITOR, DIRECTEUR)
# the regional team: sees every offer of the region
TEAM_ROLES = frozenset({REGIONAL_VALIDATOR, SUPPORT_AGENT, REGION_ADMIN})
# the support desk (password renewal for a requester…)
SUPPORT_ROLES = frozenset({SUPPORT_AGENT, REGION_ADMIN})
# roles whose login requires a one-time code
PRIVILEGED = (DIRECTEUR, REGIONAL_VALIDATOR, SUPPORT_AGENT, REGION_ADMIN)
