"""A kiné of the Yvelines, in her browser (guide « kiné / sage-femme 78 »): she activates her account with
the code of the URPS letter, validates her e-mail from the message, logs in, creates her ROR account,
fills the six steps of « Mon offre » (the API's errors shown next to their fields), publishes, gets the
PDF, and logs out. Every page passes axe-core (no serious or critical violation) at 360 px wide.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from playwright.sync_api import expect

from tests.accounts_support import PASSWORD, import_national, issue
from tests.helpers import fresh_rpps, wait_for_mail


def test_kine_activates_describes_and_publishes_her_offer(browser, api, tokens, db_url, tmp_path, unique):
    rpps = fresh_rpps("17")
    import_national(db_url, "idf", [rpps], tmp_path)
    code = issue(api, tokens, rpps)  # the URPS letter
    email = f"kine.{unique}@example.org"
    page = browser.goto("/idf/")
    browser.check("accueil")

    # -- activation, with a first mistake: the two passwords differ
    page.get_by_role("link", name=re.compile("Activer mon compte")).first.click()
    page.get_by_label("Numéro RPPS").fill(rpps)
    page.get_by_label("Code d'activation").fill(code)
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe (obligatoire)", exact=True).fill(PASSWORD)
    page.get_by_label("Confirmer le mot de passe").fill(PASSWORD + "x")
    page.get_by_role("button", name="Activer mon compte").click()
    expect(page.locator("#f-password_confirmation-err")).to_contain_text("ne sont pas identiques")
    browser.check("activation-erreur")
    page.get_by_label("Mot de passe (obligatoire)", exact=True).fill(PASSWORD)
    page.get_by_label("Confirmer le mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Activer mon compte").click()
    expect(page.get_by_role("heading", name="Compte activé")).to_be_visible()
    browser.check("compte-active")

    # -- the e-mail validation link, from the message in the SMTP sink
    [mail] = wait_for_mail(email, timeout=90)  # the notifications service sends it after the commit
    link = re.search(r"https?://\S+verify-email\?token=\S+", mail.get_body(("plain",)).get_content()).group(0)
    browser.goto(link)
    expect(page.locator("main")).to_contain_text("validée")
    browser.check("email-valide")

    # -- login on the realm's page (identifier = RPPS, password), back to the first-connection page
    browser.goto("/idf/connexion")
    browser.check("page-de-connexion-keycloak")
    page.locator("#username").fill(rpps)
    page.locator("#password").fill(PASSWORD)
    page.locator("#kc-login").click()
    expect(page).to_have_url(re.compile(r"/idf/premiere-connexion$"))
    browser.check("premiere-connexion")
    page.get_by_role("button", name=re.compile("Créer un nouveau compte ROR")).click()
    expect(page).to_have_url(re.compile(r"/idf/mon-offre$"))
    browser.check("mon-offre")

    # -- step 1: national data
    page.locator("main .cards a").first.click()
    expect(page.get_by_role("heading", name=re.compile("Étape 1 sur 6"))).to_be_visible()
    browser.check("etape-1")
    page.get_by_label("Je confirme que ces informations nationales sont exactes").check()
    page.get_by_role("button", name=re.compile("Valider")).click()

    # -- step 2: description (pre-filled from her RPPS profession); a maximum age below the minimum first
    expect(page.get_by_role("heading", name=re.compile("Étape 2 sur 6"))).to_be_visible()
    page.get_by_label(re.compile("Âge minimum")).fill("18")
    page.get_by_label(re.compile("Âge maximum")).fill("10")
    page.get_by_role("button", name=re.compile("Valider")).click()
    expect(page.locator("#f-age_max-err")).to_contain_text("supérieur ou égal")
    browser.check("etape-2-erreurs")
    page.get_by_label(re.compile("Âge maximum")).fill("109")
    activities = page.locator("#f-operational_activities")
    activities.get_by_label("Rechercher dans la liste").fill("kinésithérapie")
    activities.locator("li:visible input[type=checkbox]").first.check()
    page.get_by_label("Accessibilité du lieu").select_option("conforme")
    browser.check("etape-2")
    page.get_by_role("button", name=re.compile("Valider")).click()

    # -- step 3: modalities; communes found by name
    expect(page.get_by_role("heading", name=re.compile("Étape 3 sur 6"))).to_be_visible()
    page.get_by_label(re.compile("Ajouter une commune")).fill("meulan")
    page.get_by_label("Meulan-en-Yvelines (78250)").check()
    page.get_by_label(re.compile("Ajouter une commune")).fill("78200")
    page.get_by_label(re.compile("Mantes-la-Jolie")).check()
    expect(page.locator("#communes-choisies input:checked")).to_have_count(2)
    browser.check("etape-3")
    page.get_by_role("button", name=re.compile("Valider")).click()

    # -- step 4: contacts; a phone with dots first
    expect(page.get_by_role("heading", name=re.compile("Étape 4 sur 6"))).to_be_visible()
    page.get_by_label("Coordonnée").first.fill("01.02.03.04.05")
    page.get_by_role("button", name=re.compile("Valider")).click()
    expect(page.locator("#f-contacts-0-value-err")).to_contain_text("10 chiffres")
    browser.check("etape-4-erreur")
    page.get_by_label("Coordonnée").first.fill("0102030405")
    page.get_by_role("button", name="Ajouter un contact").click()
    second = page.locator("fieldset").filter(has_text="Contact 2")
    second.get_by_label("Moyen de contact").select_option("mssante")
    second.get_by_label("Coordonnée").fill("claire.test@masseur-kinesitherapeute.mssante.fr")
    second.get_by_label("Visibilité").select_option("professional")
    browser.check("etape-4")
    page.get_by_role("button", name=re.compile("Valider")).click()

    # -- step 5: hours (Monday afternoon, by appointment)
    expect(page.get_by_role("heading", name=re.compile("Étape 5 sur 6"))).to_be_visible()
    page.get_by_label("Début (lundi, créneau 1)").fill("14:30")
    page.get_by_label("Fin (lundi, créneau 1)").fill("19:00")
    browser.check("etape-5")
    page.get_by_role("button", name=re.compile("Valider")).click()

    # -- step 6: recap, « Enregistrer » publishes
    expect(page.get_by_role("heading", name=re.compile("Étape 6 sur 6"))).to_be_visible()
    expect(page.get_by_text("Ce qu'il manque pour publier")).to_have_count(0)
    browser.check("recapitulatif")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("status")).to_contain_text("Votre offre est publiée")
    expect(page.locator(".status.published")).to_be_visible()
    browser.check("offre-publiee")
    pdf = page.request.get(browser.base + page.get_by_role("link", name="Export PDF").get_attribute("href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"

    # the public sheet as the API serves it: published, public contact only
    offer_id = int(re.search(r"/mon-offre/(\d+)/", page.url).group(1))
    public = api.get(f"/api/idf/offers/{offer_id}").json()
    assert public["status"] == "published"
    assert [c["value"] for c in public["published"]["contacts"]["contacts"]] == ["0102030405"]

    # -- she finds herself in a search in Meulan (where she visits patients), in the list and on the map
    name = page.get_by_role("heading", level=1).inner_text()
    for _ in range(20):  # the search index follows the publication event
        browser.goto("/idf/recherche?" + urlencode({"where": "Meulan-en-Yvelines", "q": f"TEST{rpps[-4:]}"}))
        if page.get_by_role("link", name=name).count():
            break
        page.wait_for_timeout(500)
    expect(page.get_by_role("link", name=name)).to_be_visible()
    expect(page.locator("#carte")).to_have_attribute("data-markers", re.compile(r"^[1-9]"))
    browser.check("recherche-meulan")
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("link", name="Signaler une anomalie")).to_be_visible()
    browser.check("fiche-publique")

    # -- logout: front channel through Keycloak, back on the home page, logged out
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/idf/$"))
    expect(page.get_by_role("link", name="Se connecter").first).to_be_visible()
    browser.goto("/idf/mon-offre")
    expect(page).to_have_url(re.compile(r"/realms/ror-idf/"))  # a new login is asked
