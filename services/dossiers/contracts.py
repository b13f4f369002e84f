"""What the dossiers service shares with the gateway (its pages read them): the roles a caller has on a
dossier, the dossier statuses' French labels, the states in which sheets can change. Plain values only;
the state machine itself is `lifecycle`."""

from __future__ import annotations

# What a caller is to a dossier (computed by operations.roles_on).
DIRECTEUR = "directeur"  # directeur habilitation on the EG or an ancestor
EDITOR = "structure_editor"  # structure_editor habilitation on the EG or an ancestor
OPENER = "opener"  # the account that opened the dossier
CONTRIBUTOR = "contributor"  # added by username to the dossier
VALIDATOR = "regional_validator"  # the regional team of the dossier's region
MEMBERS = frozenset({DIRECTEUR, EDITOR, OPENER, CONTRIBUTOR})
MANAGERS = frozenset({DIRECTEUR, EDITOR, OPENER})  # may cancel the dossier and add contributors

STATUS_LABELS = {
    "draft": "brouillon", "finalised": "fiches finalisées", "sent": "envoyé en validation",
    "approved": "validé par le Directeur", "validated": "validé par l'équipe régionale",
    "published": "publié", "cancelled": "annulé",
}
EDITABLE = ("draft", "finalised")  # sheets can change only before "Envoyer en validation"
