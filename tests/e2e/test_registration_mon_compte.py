"""A professional without an account, in her browser (guide « kiné / sage-femme 78 », part II): she
registers on the regional portal — the guide's form, the code received by SMS (read from the SMS gateway's
files), the conditions of use, the ALTCHA proof of work solved by the widget in the page — validates her
e-mail from the message in the SMTP sink (« Je valide mon adresse mail »), logs in and sees « Mon compte »
with her national data. Every page passes axe-core (no serious or critical violation) at 360 px wide.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from services.accounts.directory import directory_for
from tests.accounts_support import PASSWORD, import_national
from tests.helpers import fresh_rpps, wait_for_mail


def test_a_professional_registers_on_the_portal_validates_her_email_and_sees_mon_compte(
        browser, sms_gateway, db_url, tmp_path, unique):
    rpps = fresh_rpps("17")
    import_national(db_url, "idf", [rpps], tmp_path)  # her RPPS is in the national data, name TEST<last 4>
    username = f"claire.{unique}"
    email = f"{username}@example.org"
    phone = "07" + f"{int(unique[:8], 16) % 10**8:08d}"
    try:
        page = browser.goto("/idf/")
        page.get_by_role("link", name=re.compile("Je crée mon compte")).first.click()
        expect(page.get_by_role("heading", name="Inscription")).to_be_visible()
        browser.check("formulaire-inscription")

        page.get_by_label("Titre").select_option("MME")
        page.get_by_label("Nom (obligatoire)", exact=True).fill(f"Test{rpps[-4:]}")
        page.get_by_label("Prénom").fill("Claire")
        page.get_by_label("Email (obligatoire)", exact=True).fill(email)
        page.get_by_label("Confirmer l'email").fill(email)
        page.get_by_label("Profession").fill("Masseur-kinésithérapeute")
        page.get_by_label(re.compile("^Identifiant national")).fill(rpps)
        page.get_by_label("Téléphone mobile").fill(phone)
        page.get_by_label("Identifiant (obligatoire)", exact=True).fill(username)
        page.get_by_label("Mot de passe (obligatoire)", exact=True).fill(PASSWORD)
        page.get_by_label("Confirmer le mot de passe").fill(PASSWORD)

        # the code by SMS (htmx: only the status line changes, what she typed stays)
        page.get_by_role("button", name="Recevoir le code par SMS").click()
        expect(page.locator("#sms-status")).to_contain_text("SMS")
        code = sms_gateway.last_code("+33" + phone[1:])
        expect(page.get_by_label("Mot de passe (obligatoire)", exact=True)).to_have_value(PASSWORD)
        browser.check("code-sms-envoye")

        # a first « Enregistrer » without the conditions of use nor the captcha: errors next to their fields
        page.get_by_label("Code reçu par SMS").fill(code)
        page.get_by_role("button", name="Enregistrer").click()
        expect(page.locator("#f-cgu_accepted-err")).to_be_visible()
        expect(page.locator("#f-altcha-err")).to_be_visible()
        browser.check("inscription-erreurs")

        # the SMS code is still valid: fill the secrets again, accept, solve the proof of work, register
        page.get_by_label("Mot de passe (obligatoire)", exact=True).fill(PASSWORD)
        page.get_by_label("Confirmer le mot de passe").fill(PASSWORD)
        page.get_by_label("Code reçu par SMS").fill(code)
        page.get_by_label(re.compile("J'accepte les")).check()
        page.locator("altcha-widget").get_by_text("Je ne suis pas un robot").click()
        expect(page.locator("altcha-widget input[name=altcha]")).to_have_value(re.compile(r".{20,}"),
                                                                                 timeout=60_000)
        browser.check("verification-anti-robot")
        page.get_by_role("button", name="Enregistrer").click()
        expect(page.get_by_role("heading", name="Inscription enregistrée")).to_be_visible()
        expect(page.locator("main")).to_contain_text("Professionnel de santé")
        browser.check("inscription-enregistree")

        # « [Portail ENRS] Validation de votre inscription » in the SMTP sink → « Je valide mon adresse mail »
        [mail] = wait_for_mail(email, timeout=90)
        assert "Validation de votre inscription" in mail["Subject"]
        link = re.search(r"https?://\S+verify-email\?token=\S+", mail.get_body(("plain",)).get_content()).group(0)
        browser.goto(link)
        expect(page.locator("main")).to_contain_text("validée")
        browser.check("adresse-validee")

        # login on the realm's page with her chosen identifier, then « Mon compte »
        page.get_by_role("link", name="Se connecter").first.click()
        page.locator("#username").fill(username)
        page.locator("#password").fill(PASSWORD)
        page.locator("#kc-login").click()
        expect(page).to_have_url(re.compile(r"/idf/premiere-connexion$"))
        expect(page.get_by_role("button", name=re.compile("Se connecter avec un compte ROR existant"))).to_be_visible()
        browser.check("premiere-connexion")
        page.get_by_role("link", name="Mon compte").click()
        expect(page.get_by_role("heading", name="Mon compte")).to_be_visible()
        national = page.locator("section").filter(has=page.get_by_role("heading", name="Données nationales"))
        expect(national).to_contain_text(rpps)
        expect(page.get_by_label("Téléphone mobile")).to_have_value(phone)
        expect(page.get_by_role("heading", name="Sessions actives")).to_be_visible()
        browser.check("mon-compte")

        page.get_by_label("Téléphone fixe").fill("01 30 00 00 00")
        page.get_by_role("button", name="Enregistrer mes coordonnées").click()
        expect(page.get_by_role("status").first).to_contain_text("téléphone sont enregistrés")
        expect(page.get_by_label("Téléphone fixe")).to_have_value("0130000000")
        browser.check("mon-compte-telephone")
    finally:
        directory = directory_for("idf")
        user = directory.find_by_username(username)
        if user:
            directory.delete_user(user["id"], quiet=True)
