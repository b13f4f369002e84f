"""E-mail rules without a broker: templates per event type, backoff, recipient selectors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from marshmallow import ValidationError

from services.accounts.recipients import load_selectors
from services.common.events import EVENT_TYPES
from services.notifications import mail_queue, rendering


def test_a_new_event_type_needs_only_its_three_templates(tmp_path):
    (tmp_path / "dossiers.sent.subject.j2").write_text("[{{ region.label }}] Dossier {{ event.dossier_id }} envoyé\n")
    (tmp_path / "dossiers.sent.txt.j2").write_text("Bonjour {{ recipient.name }}, dossier {{ event.dossier_id }}.\n")
    (tmp_path / "dossiers.sent.html.j2").write_text("<p>Dossier <b>{{ event.title }}</b></p>")
    assert rendering.has_templates("dossiers.sent", str(tmp_path))
    assert not rendering.has_templates("dossiers.approved", str(tmp_path))
    event = {"event_type": "dossiers.sent", "region": "pdl", "dossier_id": 7, "title": "<script>"}
    out = rendering.render(event, {"email": "a@b.fr", "name": "Anne"}, "http://x", str(tmp_path))
    assert out.subject == "[ROR Pays de la Loire] Dossier 7 envoyé"
    assert out.text == "Bonjour Anne, dossier 7.\n"
    assert out.html == "<p>Dossier <b>&lt;script&gt;</b></p>"  # HTML escaped, text not


def test_every_shipped_template_set_is_complete_and_names_a_known_event():
    names = {p.name.split(".subject.j2")[0] for p in rendering.TEMPLATE_DIR.glob("*.subject.j2")}
    assert {"accounts.activated", "offers.published", "offers.unpublished",
            "notifications.update_reminder_due"} <= names
    for name in names:
        assert name in EVENT_TYPES and rendering.has_templates(name)


def test_a_template_naming_a_missing_field_fails_loudly():
    with pytest.raises(Exception, match="offer_name"):
        rendering.render({"event_type": "offers.published", "region": "idf", "offer_id": 1},
                         {"email": "a@b.fr"}, "http://x")


def test_french_dates_are_in_paris_time():
    assert rendering.frdate("2026-11-30T23:30:00+00:00") == "01/12/2026"
    assert rendering.frdate("2026-06-01") == "01/06/2026"


def test_backoff_grows_then_stays_at_one_hour():
    delays = [mail_queue.backoff(n) for n in range(1, 10)]
    assert delays[0] == timedelta(seconds=5) and delays == sorted(delays)
    assert delays[-1] == timedelta(hours=1)
    assert mail_queue.category_of({"mail_category": "security"}) == "security"
    assert mail_queue.category_of({"mail_category": "spam"}) == "info"


@pytest.mark.parametrize("selector", [
    {"subject": "abc"}, {"username": "kine.demo"}, {"email": "a@b.fr"},
    {"role": "directeur", "structure_id": 12}, {"role": "region_admin", "structure_id": None},
])
def test_valid_selectors(selector):
    assert load_selectors([selector]) == [selector]


@pytest.mark.parametrize("selectors", [
    [{}], [{"subject": "a", "username": "b"}], [{"email": "not-an-address"}],
    [{"username": "x", "structure_id": 3}], [{"role": "directeur", "structure_id": "12"}], {"email": "a@b.fr"},
])
def test_invalid_selectors(selectors):
    with pytest.raises(ValidationError):
        load_selectors(selectors)
