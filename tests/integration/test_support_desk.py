"""Anomalies and the support desk, end to end through the gateway, RabbitMQ, PostgreSQL and Keycloak:
a kiné signals an anomaly on a hospital UO (→ the ROR cell) and on her own RPPS data (→ her Ordre), the
quality team works the anomalies, the rules engine raises its own once, and a support ticket from an
anonymous requester is answered by an agent against its SLA."""

from __future__ import annotations

import csv
import io
import time
import uuid
from datetime import datetime

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from services.common.db import session_scope
from services.offers.models import Offer
from tests.helpers import sql
from tests.offers_support import make_offer, structure, subject_of

pytestmark = pytest.mark.integration
IDF = "/api/idf"


@pytest.fixture(autouse=True)
def _no_rate_limit_left_over(db_url):
    """Anonymous writes are rate-limited per IP: every request of the tests comes from 127.0.0.1."""
    sql(db_url, "DELETE FROM anomalies.rate_counters")


@pytest.fixture
def hospital(db_url):
    ej = structure(db_url, "legal_entity", "CH TEST QUESNAY", finess=str(uuid.uuid4().int)[:9])
    eg = structure(db_url, "site", "CH TEST QUESNAY SITE", parent_id=ej)
    uo = structure(db_url, "unit", "Consultation de gynécologie TEST", parent_id=eg)
    return {"ej": ej, "eg": eg, "uo": uo}


def outbox_events(db_url, event_type: str, key: str, value: int) -> list[dict]:
    rows = sql(db_url, "SELECT payload FROM anomalies.outbox WHERE event_type = :t ORDER BY created_at",
               t=event_type).all()
    return [r.payload for r in rows if r.payload.get(key) == value]


# ------------------------------------------------------------------ anomalies

def test_kine_signals_a_hospital_uo_the_ror_cell_handles_it(api, tokens, db_url, hospital):
    kine = tokens("idf", "kine.demo")
    resp = api.post(f"{IDF}/anomalies", token=kine, json={
        "target": {"kind": "structure", "id": hospital["uo"]}, "field": "HealthcareService.telecom",
        "wrong_value": "0130000000", "proposed_value": "0130636000", "theme": "accuracy",
        "message": "Le numéro du secrétariat de consultation ne répond plus depuis un mois."})
    assert resp.status_code == 201, resp.text
    anomaly = resp.json()
    assert anomaly["status"] == "open" and anomaly["routed_to"]["kind"] == "ror_cell"
    assert anomaly["routed_to"]["name"] == "Cellule ROR Île-de-France (GIP SESAN)"
    assert anomaly["theme_code"] == {"code": "06", "display": "Exactitude"}  # TRE_R350
    assert anomaly["reporting_system"] == "IHM" and anomaly["target"]["structure_path"][-1] == hospital["ej"]
    declared = outbox_events(db_url, "anomalies.declared", "anomaly_id", anomaly["id"])
    assert len(declared) == 1 and declared[0]["recipients"] == [{"subject": subject_of(kine)}]

    team = tokens("idf", "validateur")
    listed = api.get(f"{IDF}/anomalies?structure_id={hospital['ej']}&status=open&theme=accuracy&departement=78",
                     token=team).json()
    assert [a["id"] for a in listed["items"]] == [anomaly["id"]]
    # the team accepts (If-Match): the owner must fix; the reporter is told once
    stale = api.post(f"{IDF}/anomalies/{anomaly['id']}/transitions", token=team, json={"action": "accept"},
                     headers={"If-Match": '"a0-0"'})
    assert stale.status_code == 412
    accepted = api.post(f"{IDF}/anomalies/{anomaly['id']}/transitions", token=team,
                        json={"action": "accept", "comment": "Vérifié auprès de l'établissement"},
                        headers={"If-Match": anomaly["etag"]})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted" and accepted.json()["business_status"]["code"] == "05"
    again = api.post(f"{IDF}/anomalies/{anomaly['id']}/transitions", token=team, json={"action": "accept"},
                     headers={"If-Match": accepted.json()["etag"]})
    assert again.status_code == 409
    changed = outbox_events(db_url, "anomalies.status_changed", "anomaly_id", anomaly["id"])
    assert len(changed) == 1 and {"subject": subject_of(kine)} in changed[0]["recipients"]
    assert {"role": "directeur", "structure_id": hospital["ej"]} in changed[0]["recipients"]  # the owner must fix
    # the reporter follows it; another professional does not see it
    assert api.get(f"{IDF}/anomalies/{anomaly['id']}", token=kine).json()["status"] == "accepted"
    assert api.get(f"{IDF}/anomalies/{anomaly['id']}", token=tokens("idf", "sf.demo")).status_code == 403
    assert api.get(f"{IDF}/anomalies/{anomaly['id']}", token=tokens("pdl", "validateur")).status_code == 403


def test_reject_needs_a_reason_and_export_lists_the_regions_anomalies(api, tokens, hospital):
    created = api.post(f"{IDF}/anomalies", token=tokens("idf", "sf.demo"), json={
        "target": {"kind": "structure", "id": hospital["eg"]}, "theme": "completeness",
        "message": "Il manque l'adresse du parking visiteurs sur la fiche."}).json()
    team = tokens("idf", "validateur")
    no_reason = api.post(f"{IDF}/anomalies/{created['id']}/transitions", token=team, json={"action": "reject"},
                         headers={"If-Match": created["etag"]})
    assert no_reason.status_code == 400 and "comment" in no_reason.json()["error"]["fields"]
    rejected = api.post(f"{IDF}/anomalies/{created['id']}/transitions", token=team,
                        json={"action": "reject", "comment": "Information hors du périmètre du ROR"},
                        headers={"If-Match": created["etag"]})
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["resolution_comment"] == "Information hors du périmètre du ROR"

    exported = api.get(f"{IDF}/anomalies/export.csv?structure_id={hospital['ej']}", token=team)
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["N°", "Statut", "Thématique"] and [r[0] for r in rows[1:]] == [str(created["id"])]
    xlsx = api.get(f"{IDF}/anomalies/export.xlsx?status=rejected", token=team)
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert str(created["id"]) in {str(row[0]) for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert api.get(f"{IDF}/anomalies/export.csv", token=tokens("idf", "kine.demo")).status_code == 403


def test_sage_femme_wrong_rpps_address_goes_to_the_ordre_des_sages_femmes(api, tokens, db_url):
    sf = tokens("idf", "sf.demo")
    offer_id = make_offer(db_url, owner_subject=subject_of(sf), unit_type="ROR-UO-SF", last_name="LEFEVRE")
    with session_scope(db_url) as session:
        offer = session.get(Offer, offer_id)
        offer.national = {**offer.national, "profession": {"code": "50", "label": "Sage-Femme"}}
    resp = api.post(f"{IDF}/anomalies", token=sf, json={
        "target": {"kind": "national", "id": offer_id}, "field": "address.line",
        "proposed_value": "14 RUE NATIONALE", "message": "J'ai déménagé mon cabinet en septembre."})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["status"] == "forwarded" and body["business_status"]["display"] == "Envoyé au destinataire"
    assert body["routed_to"] == {"kind": "authority", "name": "Ordre des sages-femmes"}
    assert body["wrong_value"] == "9 R DE METZ"  # taken from the read-only national data
    # the reporter follows it in her list
    mine = api.get(f"{IDF}/anomalies?mine=true&status=forwarded", token=sf).json()
    assert body["id"] in [a["id"] for a in mine["items"]]
    # a field that is not national data is refused, naming the field
    wrong_field = api.post(f"{IDF}/anomalies", token=sf, json={
        "target": {"kind": "national", "id": offer_id}, "field": "hours.weekly", "message": "Mes horaires sont faux."})
    assert wrong_field.status_code == 400 and "field" in wrong_field.json()["error"]["fields"]
    # someone else's national data: refused
    other = api.post(f"{IDF}/anomalies", token=tokens("idf", "kine.demo"), json={
        "target": {"kind": "national", "id": offer_id}, "field": "address.line", "message": "Pas mes données"})
    assert other.status_code == 403


def test_owner_sees_anomalies_on_her_sheet_and_answers(api, tokens, db_url):
    kine = tokens("idf", "kine.demo")
    offer_id = make_offer(db_url, owner_subject=subject_of(kine))
    sql(db_url, "UPDATE offers.offers SET status='published', published=:p, published_at=now() WHERE id=:i",
        p='{"contacts": {"contacts": []}}', i=offer_id)
    anon = api.post(f"{IDF}/anomalies", json={
        "target": {"kind": "offer", "id": offer_id}, "contact_email": "patient@example.org",
        "message": "Le cabinet n'accepte plus de nouveaux patients le mardi."})
    assert anon.status_code == 201, anon.text
    listed = api.get(f"{IDF}/anomalies", token=kine).json()
    assert anon.json()["id"] in [a["id"] for a in listed["items"]]
    answered = api.post(f"{IDF}/anomalies/{anon.json()['id']}/answers", token=kine,
                        json={"body": "Merci, la fiche sera corrigée cette semaine."})
    assert answered.status_code == 200 and answered.json()["history"][-1]["role"] == "owner"
    # an anonymous report needs a contact e-mail; messages are 10 to 5,000 characters
    assert api.post(f"{IDF}/anomalies", json={"target": {"kind": "offer", "id": offer_id},
                                              "message": "Sans adresse e-mail"}).status_code == 400
    short = api.post(f"{IDF}/anomalies", json={"target": {"kind": "offer", "id": offer_id}, "message": "court",
                                               "contact_email": "a@example.org"})
    assert short.status_code == 400 and "message" in short.json()["error"]["fields"]


def test_anonymous_reports_are_rate_limited_per_email(api, db_url):
    target = structure(db_url, "site", "EG LIMITE")
    body = {"target": {"kind": "structure", "id": target}, "contact_email": "flood@example.org",
            "message": "Signalement répété pour tester la limite."}
    codes = [api.post(f"{IDF}/anomalies", json=body).status_code for _ in range(6)]
    assert codes == [201] * 5 + [429]
    limited = api.post(f"{IDF}/anomalies", json=body)
    assert int(limited.headers["Retry-After"]) > 0 and limited.json()["error"]["code"] == "too_many_requests"
    count = sql(db_url, "SELECT count(*) FROM anomalies.anomalies WHERE reporter_email = 'flood@example.org' "
                        "AND target_id = :t", t=target).scalar()
    assert count == 5  # a refused request changes nothing


def test_rules_engine_run_twice_raises_each_anomaly_once(api, db_url, suite_config, monkeypatch):
    from services.common.cli import main

    offer_id = make_offer(db_url)
    sql(db_url, "UPDATE offers.offers SET status='published', published=:p, "
                "published_at=now() - interval '400 days' WHERE id=:i",
        p='{"description": {"operational_activities": ["002", "428"]}, "contacts": {"contacts": ['
          '{"channel": "phone", "value": "0102030405", "visibility": "professional"}]}}', i=offer_id)
    monkeypatch.setenv("ROR_AMQP_URI", suite_config["AMQP_URI"])
    first = CliRunner().invoke(main, ["anomalies", "scan", "--region", "idf"])
    assert first.exit_code == 0, first.output
    assert first.output.splitlines()[0].endswith(" nouvelles") and int(first.output.split()[0]) >= 3
    second = CliRunner().invoke(main, ["anomalies", "scan", "--region", "idf"])
    assert second.output.splitlines()[0] == "0 nouvelles"
    raised = sql(db_url, "SELECT rule_id, status, routed_kind, reporting_system, wrong_value FROM anomalies.anomalies "
                         "WHERE target_kind='offer' AND target_id=:i ORDER BY rule_id", i=offer_id).all()
    assert [r.rule_id for r in raised] == ["R01-NOS-OBSOLETE", "R02-CONTACT-PATIENT", "R03-MISE-A-JOUR"]
    assert {(r.status, r.routed_kind, r.reporting_system) for r in raised} == {("open", "ror_cell", "ROR-REGLES")}
    assert raised[0].wrong_value == "002"


# ------------------------------------------------------------------ support desk

def _ticket(api, region="idf", token=None, **body):
    payload = {"category": "account_creation", "subject": "Création de compte",
               "body": "Bonjour, je n'arrive pas à créer mon compte ROR.", **body}
    resp = api.post(f"/api/{region}/tickets", token=token, json=payload)
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_anonymous_ticket_answered_by_an_agent(api, tokens, db_url):
    email = f"demandeur-{uuid.uuid4().hex[:8]}@example.org"
    ticket = _ticket(api, contact_email=email)
    assert ticket["status"] == "new" and ticket["first_response_due"] and ticket["solution_due"]
    assert ticket["first_response_due"][-6:] in ("+01:00", "+02:00")  # ISO 8601 with the Paris offset
    token = ticket["access_token"]
    created = outbox_events(db_url, "anomalies.ticket_created", "ticket_id", ticket["id"])
    assert created[0]["recipients"] == [{"email": email}] and created[0]["access_url"].endswith(f"token={token}")

    # only through the e-mailed link
    assert api.get(f"{IDF}/tickets/{ticket['id']}").status_code == 403
    assert api.get(f"{IDF}/tickets/{ticket['id']}?token=not-the-token").status_code == 403
    assert api.get(f"{IDF}/tickets/{ticket['id']}?token={token}").status_code == 200

    agent = tokens("idf", "support")
    etag = api.get(f"{IDF}/tickets/{ticket['id']}", token=agent).json()["etag"]
    assigned = api.post(f"{IDF}/tickets/{ticket['id']}/transitions", token=agent, json={"action": "assign"},
                        headers={"If-Match": etag})
    assert assigned.json()["status"] == "open" and assigned.json()["assignee"] == "support"
    api.post(f"{IDF}/tickets/{ticket['id']}/messages", token=agent,
             json={"body": "Note interne : code d'activation expiré", "internal": True})
    reply = api.post(f"{IDF}/tickets/{ticket['id']}/messages", token=agent,
                     json={"body": "Bonjour, un nouveau code vous a été envoyé."})
    assert reply.status_code == 201 and reply.json()["first_response_due"] is None
    pend = api.post(f"{IDF}/tickets/{ticket['id']}/transitions", token=agent, json={"action": "pend_requester"},
                    headers={"If-Match": reply.json()["etag"]})
    assert pend.json()["status"] == "pending_requester" and pend.json()["sla_paused"] is True
    assert pend.json()["solution_due"] is None

    # the requester sees the public reply, never the internal note, and answers through the link
    seen = api.get(f"{IDF}/tickets/{ticket['id']}?token={token}").json()
    bodies = [m["body"] for m in seen["messages"]]
    assert "Bonjour, un nouveau code vous a été envoyé." in bodies
    assert not any("Note interne" in (b or "") for b in bodies) and "assignee" not in seen
    answered = api.post(f"{IDF}/tickets/{ticket['id']}/messages?token={token}",
                        json={"body": "Merci, cela fonctionne."})
    assert answered.json()["status"] == "open" and answered.json()["solution_due"] is not None
    assert api.post(f"{IDF}/tickets/{ticket['id']}/messages?token={token}",
                    json={"body": "note", "internal": True}).status_code == 403
    solved = api.post(f"{IDF}/tickets/{ticket['id']}/transitions", token=agent, json={"action": "solve"},
                      headers={"If-Match": answered.json()["etag"]})
    assert solved.json()["status"] == "solved"
    # every state change reached the requester once; the public reply too
    changes = outbox_events(db_url, "anomalies.ticket_status_changed", "ticket_id", ticket["id"])
    assert [(c["previous_status"], c["status"]) for c in changes] == [
        ("new", "open"), ("open", "pending_requester"), ("pending_requester", "open"), ("open", "solved")]
    assert all(c["recipients"] == [{"email": email}] for c in changes)
    assert len(outbox_events(db_url, "anomalies.ticket_replied", "ticket_id", ticket["id"])) == 1
    # and the relay published them (the anomalies exchange exists even before anyone consumes it)
    deadline = time.monotonic() + 15
    while sql(db_url, "SELECT count(*) FROM anomalies.outbox WHERE published_at IS NULL AND "
                      "payload->>'ticket_id' = :i", i=str(ticket["id"])).scalar() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert sql(db_url, "SELECT count(*) FROM anomalies.outbox WHERE published_at IS NULL AND "
                       "payload->>'ticket_id' = :i", i=str(ticket["id"])).scalar() == 0


def test_regions_queues_are_separate(api, tokens):
    idf_ticket = _ticket(api, token=tokens("idf", "kine.demo"), category="password", subject="Mot de passe oublié")
    pdl_agent = tokens("pdl", "support")
    assert api.get(f"{IDF}/tickets/{idf_ticket['id']}", token=pdl_agent).status_code == 403
    pdl_ids = [t["id"] for t in api.get("/api/pdl/tickets?limit=200", token=pdl_agent).json()["items"]]
    assert idf_ticket["id"] not in pdl_ids
    assert api.get(f"/api/pdl/tickets/{idf_ticket['id']}", token=pdl_agent).status_code == 404
    # a requester lists only their own tickets, and may not write internal notes
    mine = api.get(f"{IDF}/tickets", token=tokens("idf", "kine.demo")).json()["items"]
    assert idf_ticket["id"] in [t["id"] for t in mine]
    assert all(t["id"] != idf_ticket["id"] for t in api.get(f"{IDF}/tickets", token=tokens("idf", "sf.demo"))
               .json()["items"])
    assert api.get(f"{IDF}/tickets/{idf_ticket['id']}", token=tokens("idf", "sf.demo")).status_code == 403


def test_business_question_goes_to_the_experts_and_back(api, tokens, db_url):
    ticket = _ticket(api, token=tokens("idf", "kine.demo"), category="business_question",
                     subject="Acte spécifique", body="Quel acte choisir pour la rééducation vestibulaire ?")
    agent = tokens("idf", "support")
    forwarded = api.post(f"{IDF}/tickets/{ticket['id']}/transitions", token=agent,
                         json={"action": "pend_expert", "expert_group": "urps"}, headers={"If-Match": ticket["etag"]})
    assert forwarded.json()["status"] == "pending_expert"
    requested = outbox_events(db_url, "anomalies.ticket_expert_requested", "ticket_id", ticket["id"])
    assert requested[0]["recipients"] == [{"email": "cdm.experor-78@aiuf.fr"}]
    expert_token = requested[0]["answer_url"].rsplit("expert_token=", 1)[1]
    answer = api.post(f"{IDF}/tickets/{ticket['id']}/messages?expert_token={expert_token}",
                      json={"body": "Choisir « Rééducation vestibulaire » (acte en cabinet)."})
    assert answer.status_code == 201 and answer.json()["status"] == "open"
    # the expert's answer is for the agents; the link works once
    requester_view = api.get(f"{IDF}/tickets/{ticket['id']}", token=tokens("idf", "kine.demo")).json()
    assert not any("vestibulaire » (acte" in (m["body"] or "") for m in requester_view["messages"])
    assert api.get(f"{IDF}/tickets/{ticket['id']}?expert_token={expert_token}").status_code == 403


def test_overdue_list_warnings_and_escalations_once(api, tokens, db_url, suite_config):
    from nameko.standalone.rpc import ClusterRpcProxy

    ticket = _ticket(api, contact_email="retard@example.org", category="password", subject="Mot de passe")
    # created last Friday 19:30 Paris: the 2-hour first response was due Monday 09:30
    sql(db_url, "UPDATE anomalies.tickets SET created_at = '2026-11-27 19:30:00+01', "
                "awaiting_agent_since = '2026-11-27 19:30:00+01' WHERE id = :i", i=ticket["id"])
    agent = tokens("idf", "support")
    note = api.post(f"{IDF}/tickets/{ticket['id']}/messages", token=agent, json={"body": "à voir", "internal": True})
    assert note.json()["first_response_due"] == "2026-11-30T09:30:00+01:00"
    overdue = api.get(f"{IDF}/tickets?overdue=true&limit=200", token=agent).json()["items"]
    mine = [t for t in overdue if t["id"] == ticket["id"]]
    assert mine and "first_response" in mine[0]["overdue"]
    with ClusterRpcProxy(suite_config, timeout=30) as cluster:
        cluster.anomalies.sla_sweep("idf")
        cluster.anomalies.sla_sweep("idf")
    breached = outbox_events(db_url, "anomalies.ticket_sla_breached", "ticket_id", ticket["id"])
    assert [b["target"] for b in breached] == ["first_response", "solution"]  # once each
    assert breached[0]["recipients"] == [{"role": "region_admin", "structure_id": None}]


def test_bad_ticket_input_is_refused_cleanly(api, tokens):
    assert api.post(f"{IDF}/tickets", json={"category": "password", "subject": "x" * 3, "body": "b"}
                    ).status_code == 400  # no contact e-mail without login
    bad = api.post(f"{IDF}/tickets", json={"category": "astrologie", "subject": "Sujet", "body": "b",
                                           "contact_email": "a@example.org"})
    assert bad.status_code == 400 and "category" in bad.json()["error"]["fields"]
    nul = api.post(f"{IDF}/tickets", json={"category": "password", "subject": "Sujet\u0000", "body": "\ud800",
                                           "contact_email": "a@example.org"})
    assert nul.status_code == 400 and {"subject", "body"} <= set(nul.json()["error"]["fields"])
    deep = api.request("POST", f"{IDF}/tickets", data="[" * 100000 + "]" * 100000,
                       headers={"Content-Type": "application/json"})
    assert deep.status_code == 400 and deep.json()["error"]["fields"]["body"].startswith("malformed JSON")
    huge = api.post(f"{IDF}/tickets", token=tokens("idf", "kine.demo"),
                    json={"category": "password", "subject": "Sujet", "body": "b", "internal": 10**400})
    assert huge.status_code == 400 and "internal" in huge.json()["error"]["fields"]


def test_support_info_gives_hours_and_categories(api):
    pdl = api.get("/api/pdl/support").json()
    assert pdl["phone"] == "02 44 76 13 90" and "de 09:00 à 17:00" in pdl["hours"]
    assert {"code": "business_question", "label": "Question métier"} in pdl["categories"]


def test_the_anonymous_requester_gets_the_link_by_e_mail(api, tokens):
    """Needs the notifications service's template rendering (events with `recipients` → e-mails)."""
    pytest.importorskip("services.notifications.rendering")
    from tests.helpers import wait_for_mail

    email = f"lien-{uuid.uuid4().hex[:8]}@example.org"
    ticket = _ticket(api, contact_email=email, category="password", subject="Mot de passe perdu")
    mails = wait_for_mail(email, timeout=30)
    assert len(mails) == 1 and f"Demande n° {ticket['id']}" in mails[0]["Subject"]
    text_part = mails[0].get_body(preferencelist=("plain",)).get_content()
    assert f"token={ticket['access_token']}" in text_part and "01 83 76 30 31" in text_part
    agent = tokens("idf", "support")
    api.post(f"{IDF}/tickets/{ticket['id']}/messages", token=agent, json={"body": "Voici la marche à suivre."})
    deadline = time.monotonic() + 30  # the first mail is there already: wait for the reply's own
    while not any("Réponse du support" in m["Subject"] for m in wait_for_mail(email, timeout=1)):
        assert time.monotonic() < deadline, [m["Subject"] for m in wait_for_mail(email, timeout=1)]
        time.sleep(0.3)


def test_warning_before_the_deadline_is_sent_once(db_session):
    """The SLA sweep at a chosen instant (the domain function, real database): a deadline within the
    region's due-soon window warns the assignee once; once breached, the leads get one escalation."""
    from services.anomalies import tickets
    from services.anomalies.business_hours import PARIS
    from services.anomalies.models import Outbox as AnomaliesOutbox
    from services.common.actor import Actor

    monday_9 = datetime(2026, 11, 30, 9, 0, tzinfo=PARIS)
    requester = Actor(subject=str(uuid.uuid4()), username="demandeur", region="pdl", roles=frozenset({"professional"}))
    ticket, _ = tickets.create(db_session, "pdl", {"category": "password", "subject": "Mot de passe",
                                                   "body": "Je ne peux plus me connecter."},
                               requester, "http://ror.test", now=monday_9)
    agent = tickets.Caller(tickets.AGENT, "support", None)
    tickets.transition(db_session, ticket, agent, "assign", {"assignee": "support"}, "http://ror.test", now=monday_9)
    assert ticket.first_response_due_at == datetime(2026, 11, 30, 10, 0, tzinfo=PARIS)  # PDL password: 1 h

    def notices(event_type):
        return [o.payload for o in db_session.query(AnomaliesOutbox).filter_by(event_type=event_type)
                if o.payload["ticket_id"] == ticket.id]

    for minute in (9 * 60 + 15, 9 * 60 + 30):  # twice within the hour before 10:00
        tickets.sla_sweep(db_session, "pdl", now=monday_9.replace(hour=minute // 60, minute=minute % 60))
    warnings = notices("anomalies.ticket_sla_warning")
    assert [w["target"] for w in warnings] == ["first_response"]
    assert warnings[0]["recipients"] == [{"username": "support"}] and warnings[0]["due_at"] == "2026-11-30T10:00:00+01:00"
    for hour in (11, 12):
        tickets.sla_sweep(db_session, "pdl", now=monday_9.replace(hour=hour))
    assert [e["target"] for e in notices("anomalies.ticket_sla_breached")] == ["first_response"]
