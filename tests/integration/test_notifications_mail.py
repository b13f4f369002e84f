"""E-mails from events: a kiné publishes and is told so (text + HTML, region's support in the footer),
finds it in his history, never twice; reminders can be refused, security mails cannot; while SMTP is
down the mail waits and leaves once it is back."""

from __future__ import annotations

import time
import uuid

import pytest
from nameko.containers import ServiceContainer
from nameko.standalone.events import event_dispatcher
from sqlalchemy import select

from services.common.db import session_scope
from services.common.events import make_event
from services.notifications.models import Mail
from services.notifications.service import NotificationsService
from services.offers.models import Outbox as OffersOutbox
from tests.conftest import _ensure_vhost
from tests.local_servers import free_port
from tests.notify_support import SmtpSink, mails_to
from tests.offers_support import complete_draft, make_offer, subject_of

pytestmark = pytest.mark.integration

KINE_MAIL = "kine.demo@idf.ror.local"
SF_MAIL = "sf.demo@idf.ror.local"


def _mails(db_url: str, event_id: str) -> list[Mail]:
    with session_scope(db_url) as session:
        rows = list(session.scalars(select(Mail).where(Mail.event_id == event_id)))
        for row in rows:
            session.expunge(row)
        return rows


def _statuses(db_url: str, event_id: str, until: list[str], timeout: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        found = [m.status for m in _mails(db_url, event_id)]
        if found == until or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _outbox_event(db_url: str, event_type: str, offer_id: int) -> dict:
    with session_scope(db_url) as session:
        for row in session.scalars(select(OffersOutbox).where(OffersOutbox.event_type == event_type)):
            if row.payload.get("offer_id") == offer_id:
                return row.payload
    raise AssertionError(f"no {event_type} for offer {offer_id}")


def test_a_kine_publishes_and_is_told_once_in_french_with_his_history(api, tokens, db_url, suite_config, unique):
    kine = tokens("idf", "kine.demo")
    offer_id = make_offer(db_url, owner_subject=subject_of(kine), last_name=f"MAIL{unique}".upper(),
                          draft=complete_draft())
    etag = api.get(f"/api/idf/offers/{offer_id}", token=kine).headers["ETag"]
    resp = api.post(f"/api/idf/offers/{offer_id}/publish", token=kine, headers={"If-Match": etag})
    assert resp.status_code == 200, resp.text

    mails = mails_to(KINE_MAIL, f"MAIL{unique}".upper())
    assert len(mails) == 1
    msg = mails[0]
    assert "est publiée" in msg["Subject"] and msg["Subject"].startswith("[ROR Île-de-France (ROR-IF)]")
    assert "Julien Dubois" in str(msg["To"])  # name resolved through accounts / Keycloak
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert f"(n° {offer_id}) a été publiée le" in text and "Bonjour Julien Dubois," in text
    assert "01 83 76 30 31" in text and "support.portailpro@sante-idf.fr" in html  # region's support footer
    assert "<b>« Consultation kinésithérapie" in html

    # A redelivery of the same event (same id) sends nothing more.
    event = _outbox_event(db_url, "offers.published", offer_id)
    event_dispatcher(suite_config)("offers", "offers.published", event)
    time.sleep(2)
    assert len(mails_to(KINE_MAIL, f"MAIL{unique}".upper(), timeout=0.5)) == 1
    assert [m.status for m in _mails(db_url, event["event_id"])] == ["sent"]

    # Unpublished: told as well.
    etag = api.get(f"/api/idf/offers/{offer_id}", token=kine).headers["ETag"]
    assert api.post(f"/api/idf/offers/{offer_id}/unpublish", token=kine, headers={"If-Match": etag}).status_code == 200
    both = mails_to(KINE_MAIL, f"MAIL{unique}".upper(), expect=2)
    assert len(both) == 2 and "n'est plus publiée" in both[1]["Subject"]

    history = api.get("/api/idf/notifications?limit=200", token=kine)
    assert history.status_code == 200, history.text
    mine = [n for n in history.json()["notifications"] if f"MAIL{unique}".upper() in n["subject"]]
    assert {n["event_type"] for n in mine} == {"offers.published", "offers.unpublished"}
    assert all(n["status"] == "sent" and n["category"] == "info" for n in mine)
    # Someone else's history does not show them.
    other = api.get("/api/idf/notifications?limit=200", token=tokens("idf", "sf.demo")).json()["notifications"]
    assert not [n for n in other if f"MAIL{unique}".upper() in n["subject"]]
    assert api.get("/api/idf/notifications?limit=0", token=kine).status_code == 400


def test_a_role_selector_reaches_everyone_with_that_role_in_the_region(suite_config, unique):
    event = make_event("notifications.update_reminder_due", "idf", None, kind="structure",
                       name=f"CPTS {unique}", target_id=1, last_updated_at="2026-01-15T10:00:00+00:00",
                       period_months=6, recipients=[{"role": "region_admin", "structure_id": None}],
                       mail_category="reminder")
    event_dispatcher(suite_config)("notifications", "notifications.update_reminder_due", event)
    mails = mails_to("admin@idf.ror.local", f"CPTS {unique}")
    assert len(mails) == 1
    assert not mails_to("support@idf.ror.local", f"CPTS {unique}", timeout=1)


def test_reminders_can_be_refused_but_not_security_mails(api, tokens, db_url, suite_config, unique):
    sf = tokens("idf", "sf.demo")
    assert api.get("/api/idf/notifications/preferences", token=sf).json() == {
        "reminders": True, "security": True, "info": True}
    refused = api.put("/api/idf/notifications/preferences", token=sf, json={"reminders": False, "security": False})
    assert refused.status_code == 400 and "security" in refused.json()["error"]["fields"]
    assert api.put("/api/idf/notifications/preferences", token=sf, json={"reminders": "non"}).status_code == 400
    resp = api.put("/api/idf/notifications/preferences", token=sf, json={"reminders": False})
    assert resp.status_code == 200 and resp.json()["reminders"] is False
    try:
        dispatch = event_dispatcher(suite_config)
        reminder = make_event("notifications.update_reminder_due", "idf", None, kind="offer", name=f"Offre {unique}",
                              target_id=2, last_updated_at="2026-01-15T10:00:00+00:00", period_months=6,
                              recipients=[{"username": "sf.demo"}], mail_category="reminder")
        security = make_event("accounts.activated", "idf", None, username="sf.demo", email=SF_MAIL,
                              first_name="Sarah", last_name="Demo", subject=subject_of(sf),
                              verification_url=f"http://127.0.0.1:8000/verify?token={unique}",
                              recipients=[{"username": "sf.demo"}], mail_category="security")
        dispatch("notifications", "notifications.update_reminder_due", reminder)
        dispatch("accounts", "accounts.activated", security)
        assert _statuses(db_url, security["event_id"], ["sent"]) == ["sent"]
        assert _statuses(db_url, reminder["event_id"], ["opted_out"]) == ["opted_out"]
        assert not mails_to(SF_MAIL, f"Offre {unique}", timeout=0.5)
        history = api.get("/api/idf/notifications", token=sf).json()["notifications"]
        assert any(n["status"] == "opted_out" and f"Offre {unique}" in n["subject"] for n in history)
    finally:
        api.put("/api/idf/notifications/preferences", token=sf, json={"reminders": True})


def test_while_smtp_is_down_the_mail_waits_and_leaves_once_when_it_is_back(suite_config, db_url, tmp_path):
    """A notifications service of its own (own vhost, own SMTP port): SMTP down, the event arrives, the
    mail is stored and retried with backoff; SMTP back, it leaves exactly once."""
    from sqlalchemy.engine import make_url

    from services.common.db import ensure_database
    from services.common.migrations import upgrade_all

    _ensure_vhost("ror_test_notify_smtp")
    port = free_port()
    # its own database too: the suite's notifications service retries pending mails of its database
    # through the shared SMTP sink, and would take this one
    url = make_url(db_url)
    db_url = url.set(database=f"{url.database}_smtp").render_as_string(hide_password=False)
    ensure_database(db_url)
    upgrade_all(db_url)
    config = dict(suite_config, AMQP_URI=suite_config["AMQP_URI"].rsplit("/", 1)[0] + "/ror_test_notify_smtp",
                  ROR_SMTP_PORT=str(port), ROR_DATABASE_URL=db_url)
    sink = SmtpSink(port, tmp_path / "mail")
    service = ServiceContainer(NotificationsService, config)
    service.start()
    try:
        recipient = f"down-{uuid.uuid4().hex[:8]}@example.org"
        event = make_event("accounts.activated", "idf", None, username="19999999990", email=recipient,
                           first_name="Anne", last_name="Panne", verification_url="http://127.0.0.1:8000/v?token=x",
                           recipients=[{"email": recipient}], mail_category="security")
        event_dispatcher(config)("accounts", "accounts.activated", event)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not [m for m in _mails(db_url, event["event_id"]) if m.attempts]:
            time.sleep(0.2)
        [mail] = _mails(db_url, event["event_id"])
        assert mail.status == "pending" and mail.attempts >= 1 and "ConnectionRefused" in (mail.last_error or "")
        event_dispatcher(config)("accounts", "accounts.activated", event)  # redelivered meanwhile

        sink.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _mails(db_url, event["event_id"])[0].status != "sent":
            time.sleep(0.3)
        [mail] = _mails(db_url, event["event_id"])
        assert mail.status == "sent" and mail.attempts >= 2
        time.sleep(2.5)  # one more timer pass: nothing left to send
        # Sent once. The suite's notifications service shares this database, so its retry pass may be
        # the one that sent it (through the shared sink): count both sinks.
        shared = mails_to(recipient, timeout=0.5)
        assert len([m for m in sink.messages() if str(m["To"]) == recipient]) + len(shared) == 1
    finally:
        service.stop()
        sink.stop()
