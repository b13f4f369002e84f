"""Update reminders and the completeness dashboard: a kiné who has not touched his published offer for
seven months gets one reminder (not one per pass), a directeur is reminded of his structure, and the
regional team sees, by département, how much of the répertoire is published and up to date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import select

from services.common.db import session_scope
from services.common.regions import months_before
from services.notifications import reminders
from services.notifications.models import Outbox, ReminderSent
from tests.helpers import sql
from tests.notify_support import mails_to
from tests.offers_support import complete_draft, make_offer, structure, subject_of

pytestmark = pytest.mark.integration


def _publish(api, token: str, offer_id: int) -> None:
    etag = api.get(f"/api/idf/offers/{offer_id}", token=token).headers["ETag"]
    resp = api.post(f"/api/idf/offers/{offer_id}/publish", token=token, headers={"If-Match": etag})
    assert resp.status_code == 200, resp.text


def test_a_stale_offer_gets_one_reminder_per_period(api, tokens, db_url, suite_config, unique):
    kine = tokens("idf", "kine.demo")
    name = f"RAPPEL{unique}".upper()
    offer_id = make_offer(db_url, owner_subject=subject_of(kine), last_name=name, draft=complete_draft())
    _publish(api, kine, offer_id)
    sql(db_url, "UPDATE offers.offers SET published_at = now() - interval '7 months' WHERE id = :id", id=offer_id)

    with ClusterRpcProxy(suite_config, timeout=60) as cluster:
        first = cluster.notifications.run_update_reminders("idf")
        again = cluster.notifications.run_update_reminders("idf")
    assert first["reminders"] >= 1 and again["reminders"] == 0
    mails = [m for m in mails_to("kine.demo@idf.ror.local", name, expect=2) if "Pensez" in m["Subject"]]
    assert len(mails) == 1  # (the other one says it was published)
    assert "Pensez à mettre à jour l'offre" in mails[0]["Subject"]
    text = mails[0].get_body(("plain",)).get_content()
    assert "au minimum tous les 6 mois" in text and "préférences de notification" in text

    # Published again: up to date, no reminder in the next pass.
    sql(db_url, "UPDATE offers.offers SET published_at = now() WHERE id = :id", id=offer_id)
    with ClusterRpcProxy(suite_config, timeout=60) as cluster:
        assert cluster.notifications.run_update_reminders("idf")["reminders"] == 0


def test_one_reminder_per_period_not_per_pass(db_session, unique):
    """Six more months without an update: a second reminder (the domain function, on PostgreSQL)."""
    now = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    item = {"kind": "offer", "id": 10_000_000 + int(unique[:6], 16) % 1_000_000, "name": "Consultation X",
            "last_updated_at": months_before(now, 7).isoformat(), "recipients": [{"subject": "nobody"}]}
    assert len(reminders.remind(db_session, "pdl", [item], now)) == 1
    assert reminders.remind(db_session, "pdl", [item], now + timedelta(days=30)) == []
    later = reminders.remind(db_session, "pdl", [item], now + timedelta(days=200))
    assert len(later) == 1 and later[0]["periods"] == 2 and later[0]["mail_category"] == "reminder"
    stored = db_session.scalars(select(ReminderSent).where(ReminderSent.target_id == item["id"])).all()
    assert len(stored) == 2
    assert db_session.get(Outbox, later[0]["event_id"]) is not None  # emitted through the outbox


def test_periods_elapsed_counts_calendar_months():
    last = datetime(2026, 1, 31, tzinfo=UTC)
    assert reminders.periods_elapsed(last, datetime(2026, 7, 30, tzinfo=UTC), 6) == 0
    assert reminders.periods_elapsed(last, datetime(2026, 7, 31, tzinfo=UTC), 6) == 1
    assert reminders.periods_elapsed(last, datetime(2027, 8, 1, tzinfo=UTC), 6) == 3


def test_a_directeur_is_reminded_of_his_structure(api, tokens, db_url, suite_config, unique):
    admin = tokens("idf", "admin")
    name = f"CPTS RAPPEL {unique}".upper()
    structure_id = structure(db_url, "legal_entity", name)
    nobody_id = structure(db_url, "legal_entity", f"SANS EDITEUR {unique}".upper())
    granted = api.post("/api/idf/habilitations", token=admin,
                       json={"username": "cpts.directeur", "role": "directeur", "structure_id": structure_id})
    assert granted.status_code == 201, granted.text
    try:
        sql(db_url, "UPDATE offers.structures SET updated_at = now() - interval '8 months' WHERE id IN (:a, :b)",
            a=structure_id, b=nobody_id)
        with ClusterRpcProxy(suite_config, timeout=60) as cluster:
            cluster.notifications.run_update_reminders("idf")
        mails = mails_to("cpts.directeur@idf.ror.local", name)
        assert len(mails) == 1 and "Pensez à mettre à jour la structure" in mails[0]["Subject"]
        with session_scope(db_url) as session:  # nobody may edit the other one: nothing to send
            assert session.scalars(select(ReminderSent).where(ReminderSent.kind == "structure",
                                                              ReminderSent.target_id == nobody_id)).all() == []
    finally:
        api.delete(f"/api/idf/habilitations/{granted.json()['id']}", token=admin)


def test_the_regional_team_sees_completeness_by_departement(api, tokens, db_url, unique):
    team = tokens("idf", "validateur")
    kine = tokens("idf", "kine.demo")

    def board():
        resp = api.get("/api/idf/dashboard/completeness", token=team)
        assert resp.status_code == 200, resp.text
        return resp.json()

    before = board()
    assert {"75", "77", "78", "91", "92", "93", "94", "95"} <= {d["departement"] for d in before["departements"]}
    assert before["period_months"] == 6 and before["anomalies"] == "ok"
    fresh = make_offer(db_url, owner_subject=subject_of(kine), draft=complete_draft())  # Mantes-la-Jolie, 78
    stale = make_offer(db_url, owner_subject=subject_of(kine), draft=complete_draft())
    make_offer(db_url, owner_subject=subject_of(kine))  # a draft
    _publish(api, kine, fresh)
    _publish(api, kine, stale)
    sql(db_url, "UPDATE offers.offers SET published_at = now() - interval '7 months' WHERE id = :id", id=stale)
    for _ in range(2):  # two anomalies on one offer: one offer with anomalies
        declared = api.post("/api/idf/anomalies", token=tokens("idf", "sf.demo"),
                            json={"target": {"kind": "offer", "id": stale}, "field": "telecom",
                                  "message": "Le numéro de téléphone ne répond plus depuis un mois."})
        assert declared.status_code == 201, declared.text
    after = board()
    row = {d["departement"]: d for d in after["departements"]}["78"]
    old = {d["departement"]: d for d in before["departements"]}["78"]
    assert (row["offers"] - old["offers"], row["published"] - old["published"],
            row["up_to_date"] - old["up_to_date"]) == (3, 2, 1)
    assert after["anomalies"] == "ok" and row["with_anomalies"] - (old["with_anomalies"] or 0) == 1
    assert row["anomalies_share"] == round(row["with_anomalies"] / row["offers"], 4)
    assert row["published_share"] == round(row["published"] / row["offers"], 4)
    assert after["total"]["offers"] == sum(d["offers"] for d in after["departements"])
    assert api.get("/api/idf/dashboard/completeness", token=kine).status_code == 403
