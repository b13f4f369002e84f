"""The manager of a hospital of the Pays de la Loire, in her browser (guide « PDL : mise à jour
établissement »): she finds her EJ in the répertoire by its name, puts it in her favourites, opens her EG,
goes down to the full hospitalisation UO and updates its capacity (a first number above the installed beds
shown next to its field), then adds a person to the consultation (« Ajouter une personne »). Every page
passes axe-core (no serious or critical violation) at 360 px wide.
"""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect
from sqlalchemy import text

from services.accounts.directory import directory_for
from services.common.db import session_scope
from tests.accounts_support import PASSWORD
from tests.dossiers_support import habilitation

EJ = "CENTRE HOSPITALIER UNIVERSITAIRE DE NANTES"


def test_a_pdl_manager_finds_her_ej_updates_a_capacity_and_adds_a_person(browser, api, tokens, db_url):
    from services.offers.demo import load as load_offers_demo

    load_offers_demo("pdl", db_url)
    with session_scope(db_url) as session:
        eg = session.execute(text("SELECT id FROM offers.structures WHERE region='pdl' AND kind='site' "
                                  "AND finess='440000313'")).scalar()
    directory = directory_for("pdl")
    username = f"etab-{uuid.uuid4().hex[:8]}"
    user_id = directory.create_registered_user(username, f"{username}@example.org", "Anne", "Gestionnaire",
                                               PASSWORD, None, ())
    directory.mark_email_verified(user_id)
    try:
        with habilitation(api, tokens, "pdl", username, "structure_editor", eg):
            page = browser.goto("/pdl/")
            page.get_by_role("link", name="Se connecter").first.click()
            page.locator("#username").fill(username)
            page.locator("#password").fill(PASSWORD)
            page.locator("#kc-login").click()
            page.get_by_role("link", name="Répertoire").first.click()
            expect(page.get_by_role("heading", name="Répertoire", level=1)).to_be_visible()
            browser.check("repertoire")

            # « Rechercher par Entité Juridique (EJ) », then « Ajouter aux favoris »
            page.get_by_label("Nom de l'entité juridique ou numéro FINESS").fill("hospitalier universitaire nantes")
            page.get_by_role("button", name="Rechercher").click()
            expect(page.get_by_role("heading", name=re.compile(EJ))).to_be_visible()
            browser.check("recherche-ej")
            page.get_by_role("button", name=f"Ajouter « {EJ} » aux favoris").click()
            expect(page.get_by_role("status").first).to_contain_text("ajouté à vos favoris")
            expect(page.locator("section").filter(has=page.get_by_role("heading", name="Mes favoris")))\
                .to_contain_text(EJ)
            browser.check("favori-ajoute")

            # her EG, then the tree down to the maternity (full hospitalisation)
            page.get_by_label("Nom de l'entité juridique ou numéro FINESS").fill(EJ)
            page.get_by_role("button", name="Rechercher").click()
            page.locator(".entity").filter(has_text=EJ).get_by_role("link").first.click()
            expect(page.get_by_role("heading", level=1)).to_contain_text("CHU")
            browser.check("entite-geographique")
            page.get_by_role("link", name="Hospitalisation complète maternité").click()
            expect(page.get_by_role("heading", name="Capacités en hospitalisation complète")).to_be_visible()
            browser.check("uo-hospitalisation-complete")

            page.get_by_label("Lits disponibles à l'heure de la mise à jour").fill("999")
            page.get_by_role("button", name="Enregistrer les capacités").click()
            expect(page.locator("#f-available_beds-err")).to_contain_text("lits installés")
            browser.check("capacites-erreur")
            page.get_by_label("Lits disponibles à l'heure de la mise à jour").fill("7")
            page.get_by_role("button", name="Enregistrer les capacités").click()
            expect(page.get_by_role("status").first).to_contain_text("Capacités enregistrées")
            expect(page.get_by_label("Lits disponibles à l'heure de la mise à jour")).to_have_value("7")
            browser.check("capacites-enregistrees")

            # the consultation: « Ajouter une personne »
            page.get_by_role("navigation", name="Fil d'Ariane").get_by_role("link", name=re.compile("UF")).click()
            page.get_by_role("link", name="Consultation de gynécologie-obstétrique").click()
            expect(page.get_by_role("heading", name="Professionnel(s) rattaché(s) à la consultation")).to_be_visible()
            page.get_by_text("Ajouter une personne", exact=True).click()
            page.get_by_label(re.compile("^Civilité")).fill("Madame le Docteur")
            page.get_by_label("Nom", exact=True).fill("Tartampion")
            page.get_by_label("Prénom").fill("Anne-Sophie")
            page.get_by_role("textbox", name=re.compile("^Profession")).fill("Médecin")
            page.get_by_label(re.compile("^Spécialité")).fill("Gynécologie médicale (SM)")
            page.get_by_label(re.compile("^Conventionnement")).fill("conventionné en Secteur 2")
            browser.check("ajouter-une-personne")
            page.get_by_role("button", name="Ajouter la personne").click()
            expect(page.get_by_role("status").first).to_contain_text("rattachée à la consultation")
            expect(page.locator("main")).to_contain_text("Madame le Docteur Anne-Sophie TARTAMPION")
            browser.check("personne-ajoutee")
    finally:
        directory.delete_user(user_id, quiet=True)
