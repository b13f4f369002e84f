"""French wording of the e-mails, after the guides (ENRS "Validation de votre inscription")."""

from __future__ import annotations

from html import escape


def email_verification(first_name: str, last_name: str, username: str, url: str, region_label: str):
    name = f"{first_name} {last_name}".strip() or username
    subject = f"[{region_label}] Validation de votre inscription"
    text = (
        f"Bonjour {name},\n\n"
        f"Vous venez d'activer votre compte sur le {region_label}.\n"
        f"Votre identifiant utilisateur est : {username}.\n\n"
        "Afin de pouvoir vous connecter, vous devez valider votre adresse mail en ouvrant le lien suivant :\n"
        f"Je valide mon adresse mail : {url}\n\n"
        "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n"
    )
    html = (
        f"<p>Bonjour {escape(name)},</p>"
        f"<p>Vous venez d'activer votre compte sur le {escape(region_label)}.<br>"
        f"Votre identifiant utilisateur est : <b>{escape(username)}</b>.</p>"
        "<p>Afin de pouvoir vous connecter, vous devez valider votre adresse mail en cliquant sur le lien suivant :</p>"
        f'<p><a href="{escape(url, quote=True)}">Je valide mon adresse mail.</a></p>'
    )
    return subject, text, html


def offer_published(offer_name: str, published_at: str, region_label: str):
    subject = f"[{region_label}] Votre offre « {offer_name} » est publiée"
    text = (
        "Bonjour,\n\n"
        f"Votre offre « {offer_name} » a été validée et publiée le {published_at}.\n"
        "Elle est désormais visible dans la recherche du ROR et dans les outils connectés (Maillage, Santé.fr).\n"
    )
    return subject, text, None
