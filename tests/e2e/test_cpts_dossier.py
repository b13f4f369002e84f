"""A CPTS describes its offer through a dossier collaboratif, in the browser (guide « CPTS : dossier
collaboratif »): its Directeur logs in (password + one-time code), opens a dossier on the CPTS's EG,
fills the EG contacts (« Enr. et finaliser » first refuses the missing phone, next to its field), creates
the CPTS unit (type of UO first), describes it and saves it pending (grey), « Finaliser les fiches »
turns every icon green, « Envoyer en validation », and approves it as Directeur. The regional validator
logs in, reads the unit as sent, is refused a rejection without its reason, validates, and the unit
is in the répertoire.
Every page passes axe-core (no serious or critical violation) at 360 px wide.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.dossiers_support import habilitation, new_cpts
from tests.helpers import demo_totp

PASSWORD = "RorDemo2026"


def _login(page, username: str) -> None:
    """The realm's pages: identifier and password, then the one-time code (privileged roles)."""
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("#kc-login").click()
    page.locator("#otp").fill(demo_totp())
    page.locator("#kc-login").click()


def _walk(nodes):
    for node in nodes:
        yield node
        yield from _walk(node.get("children", []))


def test_a_cpts_directeur_sends_and_approves_a_dossier_that_the_regional_validator_publishes(
        browser, api, tokens, db_url, unique):
    cpts = new_cpts(db_url)  # EJ → EG, no unit yet: the CPTS's first description
    admin = tokens("idf", "admin")
    unit_name = f"CPTS UNITE {unique[:6].upper()}"
    with habilitation(api, tokens, "idf", "cpts.directeur", "directeur", cpts["eg"]):
        # -- the Directeur: « Menu » › « Dossier collaboratif », login on the way
        page = browser.goto("/idf/dossiers")
        _login(page, "cpts.directeur")
        expect(page.get_by_role("heading", name="Dossiers collaboratifs", level=1)).to_be_visible()
        browser.check("dossiers-collaboratifs")
        page.get_by_label(re.compile("Entité géographique")).select_option(str(cpts["eg"]))
        page.get_by_role("button", name="Enregistrer").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Peuplement de {cpts['name']}")
        dossier_id = int(re.search(r"/dossiers/(\d+)$", page.url).group(1))
        tree = page.get_by_role("navigation", name="Arborescence du dossier").locator("ul.tree")
        expect(tree.locator(".sheet-icon.pending")).to_have_count(1)  # the EG, grey
        browser.check("dossier-ouvert")

        # -- the EG sheet: « Enr. et finaliser » without the phone is refused next to the field
        tree.locator("li[data-sheet] a").first.click()
        expect(page.locator("#statut-fiche")).to_contain_text("Entité géographique")
        page.get_by_role("button", name="Enr. et finaliser").click()
        expect(page.locator("#f-phone-err")).to_be_visible()
        browser.check("fiche-eg-erreur")
        page.get_by_label(re.compile(r"^Téléphone")).fill("0139633000")
        page.get_by_label("Adresse e-mail", exact=True).fill(f"contact.{unique}@cpts-test.example.fr")
        page.get_by_role("button", name="Enr. et finaliser").click()
        expect(page.get_by_role("status")).to_contain_text("finalisée")
        expect(tree.locator(".sheet-icon.done")).to_have_count(1)  # the EG turned green
        browser.check("fiche-eg-finalisee")

        # -- « Créer des unités »: the type of UO first, then the name
        page.get_by_label("Type de fiche").select_option("uo")
        page.get_by_label(re.compile("Type d'UO")).select_option("ROR-UO-CPTS")
        page.get_by_label(re.compile("Nom de l'unité")).fill(unit_name)
        page.get_by_role("button", name="Créer l'unité").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(unit_name)
        expect(page.locator("main")).to_contain_text("Communautés professionnelles territoriales de santé (CPTS)")
        browser.check("unite-creee")

        # -- the unit's offer: ages, activities, territory (communes by name), contacts
        page.get_by_label(re.compile("Âge minimum")).fill("0")
        page.get_by_label(re.compile("Âge maximum")).fill("150")
        activities = page.locator("#f-description-operational_activities")
        activities.get_by_label("Rechercher dans la liste").fill("soins non-programmés")
        activities.locator("li:visible input[type=checkbox]").first.check()
        page.get_by_label(re.compile("Ajouter une commune")).fill("versailles")
        page.get_by_label("Versailles (78000)").check()
        expect(page.locator("#communes-choisies input:checked")).to_have_count(1)
        page.get_by_label("Coordonnée").first.fill(f"cpts.{unique}@cpts-test.example.fr")
        page.get_by_label("Moyen de contact").first.select_option("email")
        page.get_by_label(re.compile("^Objet")).first.fill("Secrétariat - Accueil")
        browser.check("fiche-uo")
        page.get_by_role("button", name="Enr. et mettre en attente").click()
        expect(page.get_by_role("status")).to_contain_text("mise en attente")
        expect(tree.locator(".sheet-icon.pending")).to_have_count(1)  # saved, still grey
        expect(tree.locator(".sheet-icon.done")).to_have_count(1)

        # -- the dossier: « Finaliser les fiches », then « Envoyer en validation »
        tree.locator("a.dossier-node").click()
        page.get_by_label(re.compile("Ajouter un contributeur")).fill("sf.demo")  # a colleague may help
        page.get_by_role("button", name="Ajouter le contributeur").click()
        expect(page.get_by_role("region", name="Contributeurs")).to_contain_text("sf.demo")
        page.get_by_role("button", name="Finaliser les fiches").click()
        expect(page.locator("#statut-dossier")).to_have_text("fiches finalisées")
        expect(tree.locator(".sheet-icon.done")).to_have_count(2)
        legend = page.locator("details.legend")
        legend.locator("summary").click()
        expect(legend).to_contain_text("icône verte : fiche finalisée")
        browser.check("fiches-finalisees")
        page.get_by_role("button", name="Envoyer en validation").click()
        expect(page.locator("#statut-dossier")).to_have_text("envoyé en validation")
        browser.check("envoye-en-validation")

        # -- the Directeur approves (first level)
        page.get_by_role("button", name="Approuver le dossier").click()
        expect(page.locator("#statut-dossier")).to_have_text("validé par le Directeur")
        browser.check("approuve-par-le-directeur")
        page.get_by_role("link", name="Historique").click()
        expect(page.locator("main")).to_contain_text("Approuvé par le Directeur")
        expect(page.locator("main")).to_contain_text("Envoyé en validation")
        browser.check("historique")
        page.get_by_role("button", name="Se déconnecter").click()
        expect(page).to_have_url(re.compile(r"/idf/$"))

        # -- the regional validator (second level): a refusal needs its reason; then validates
        browser.goto(f"/idf/dossiers/{dossier_id}")
        _login(page, "validateur")
        expect(page.get_by_role("heading", name="Validation régionale")).to_be_visible()
        browser.check("validation-regionale")
        tree.get_by_role("link", name=re.compile(unit_name)).click()  # the unit, read only, as sent
        expect(page.locator("main dl")).to_contain_text("Versailles (78000)")
        expect(page.locator("main dl")).to_contain_text("Coordination de soins non-programmés")
        expect(page.get_by_role("button", name="Enr. et finaliser")).to_have_count(0)
        browser.check("relecture-fiche-uo")
        tree.locator("a.dossier-node").click()
        page.get_by_role("button", name="Refuser le dossier").click()
        expect(page.locator("#f-reject-comment-err")).to_be_visible()
        expect(page.locator("#statut-dossier")).to_have_text("validé par le Directeur")
        browser.check("refus-sans-motif")
        page.get_by_label(re.compile("^Commentaire")).first.fill("Conforme au guide CPTS.")
        page.get_by_role("button", name="Valider et publier").click()
        expect(page.locator("#statut-dossier")).to_have_text("publié")
        browser.check("dossier-publie")
        # -- the validator finds the new unit in the répertoire's tree of the Yvelines (page)
        browser.goto("/idf/repertoire?departement=78")
        expect(page.locator("main")).to_contain_text(unit_name)
        browser.check("repertoire-78")

    # -- the unit is in the répertoire, its offer published
    dossier = api.get(f"/api/idf/dossiers/{dossier_id}", token=admin).json()
    assert dossier["status"] == "published", dossier
    unit_sheet = next(s for s in dossier["sheets"] if s["kind"] == "uo")
    unit_id = int(dossier["applied"]["structures"][str(unit_sheet["id"])])
    tree_78 = api.get("/api/idf/structures?departement=78", token=admin).json()
    node = next(n for n in _walk(tree_78["roots"]) if n["id"] == unit_id)
    assert node["name"] == unit_name and node["offer"]["status"] == "published"
    offer = api.get(f"/api/idf/offers/{node['offer']['id']}").json()
    assert [c["code"] for c in offer["published"]["modalities"]["intervention_communes"]] == ["78646"]
