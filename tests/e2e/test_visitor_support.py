"""An anonymous visitor and the support desk, in the browser (guide « kiné : activation, recherche,
anomalie »): the visitor opens the public sheet of a published offer and signals an anomaly, then opens
a support ticket without an account; the support agent logs in (password + one-time code), finds the
ticket in the queue with its due times, adds an internal note, answers the requester and solves it.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.helpers import demo_totp, sql
from tests.offers_support import complete_draft, make_offer, subject_of


def test_visitor_signals_an_anomaly_and_opens_a_ticket_that_an_agent_answers(browser, api, tokens, db_url,
                                                                              unique):
    sql(db_url, "DELETE FROM anomalies.rate_counters")  # the anonymous limits count per IP: all tests are 127.0.0.1
    kine = tokens("idf", "sf.demo")  # any professional can own the sheet (kine.demo is shared by many tests)
    offer_id = make_offer(db_url, owner_subject=subject_of(kine), draft=complete_draft(), commune="78401",
                          postal_code="78250", city="Meulan-en-Yvelines", last_name=f"E2E{unique[:4].upper()}")
    etag = api.get(f"/api/idf/offers/{offer_id}", token=kine).headers["ETag"]
    resp = api.post(f"/api/idf/offers/{offer_id}/publish", token=kine, headers={"If-Match": etag})
    assert resp.status_code == 200, resp.text

    # -- the public sheet, « Signaler une anomalie » (an empty description first)
    page = browser.goto(f"/idf/offres/{offer_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("E2E")
    browser.check("fiche-publique")
    page.get_by_role("link", name="Signaler une anomalie").click()
    page.get_by_label("Information concernée").fill("Téléphone")
    page.get_by_label("Valeur affichée").fill("0102030405")
    page.get_by_label("Valeur correcte").fill("0102030406")
    page.get_by_label("Votre adresse e-mail").fill(f"visiteur.{unique}@example.org")
    page.get_by_role("button", name="Signaler l'anomalie").click()
    expect(page.locator("#f-message-err")).to_be_visible()
    browser.check("anomalie-erreur")
    page.get_by_label(re.compile("^Description")).fill("Le numéro de téléphone affiché ne répond pas, le bon "
                                                       "numéro est celui du cabinet.")
    page.get_by_role("button", name="Signaler l'anomalie").click()
    expect(page.get_by_role("heading", name="Anomalie signalée")).to_be_visible()
    browser.check("anomalie-signalee")
    anomaly_id = int(re.search(r"signalement n° (\d+)", page.locator("main").inner_text()).group(1))
    admin = tokens("idf", "admin")
    anomaly = api.get(f"/api/idf/anomalies/{anomaly_id}", token=admin).json()
    assert anomaly["target"]["id"] == offer_id if isinstance(anomaly.get("target"), dict) else True

    # -- a support ticket without an account
    browser.goto("/idf/support")
    browser.check("support-formulaire")
    subject = f"Impossible d'activer mon compte {unique}"
    page.get_by_label("Catégorie").select_option(index=1)
    page.get_by_label("Objet").fill(subject)
    page.get_by_label("Votre demande").fill("Le code reçu par courrier est refusé.")
    page.get_by_label("Votre adresse e-mail").fill(f"demandeur.{unique}@example.org")
    page.get_by_role("button", name="Envoyer ma demande").click()
    expect(page.get_by_role("heading", name="Demande envoyée")).to_be_visible()
    browser.check("support-demande-envoyee")
    ticket_id = int(re.search(r"demande n° (\d+)", page.locator("main").inner_text()).group(1))

    # -- the agent: password then one-time code on the realm's pages
    browser.goto("/idf/support/tickets")
    page.locator("#username").fill("support")
    page.locator("#password").fill("RorDemo2026")
    page.locator("#kc-login").click()
    page.locator("#otp").fill(demo_totp())
    browser.check("code-a-usage-unique")
    page.locator("#kc-login").click()
    expect(page.get_by_role("heading", name="File des tickets")).to_be_visible()
    browser.check("file-des-tickets")
    row = page.locator("tr").filter(has_text=subject)
    expect(row).to_contain_text("Première réponse")
    row.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Ticket n° {ticket_id}")
    page.get_by_role("button", name="Prendre en charge").click()
    expect(page.get_by_role("status")).to_contain_text("Prendre en charge")
    page.get_by_label("Votre message").fill("Vérifier le code dans la console d'administration.")
    page.get_by_label(re.compile("Note interne")).check()
    page.get_by_role("button", name="Envoyer").click()
    expect(page.locator(".message.internal").last).to_contain_text("console d'administration")
    page.get_by_label("Votre message").fill("Bonjour, un nouveau code vous a été envoyé par courrier.")
    page.get_by_role("button", name="Envoyer").click()
    expect(page.get_by_role("status")).to_contain_text("Réponse envoyée")
    browser.check("ticket-reponses")
    page.get_by_role("button", name="Marquer comme résolu").click()
    expect(page.locator("main")).to_contain_text("Résolu")
    browser.check("ticket-resolu")

    # the requester sees the public reply, not the internal note
    ticket = api.get(f"/api/idf/tickets/{ticket_id}", token=admin).json()
    assert ticket["status"] == "solved"
    bodies = [(m["internal"], m["body"]) for m in ticket["messages"] if m["body"]]
    assert (True, "Vérifier le code dans la console d'administration.") in bodies
    assert (False, "Bonjour, un nouveau code vous a été envoyé par courrier.") in bodies
