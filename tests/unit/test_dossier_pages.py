"""The dossier collaboratif pages' plain parts: the tree of sheets, a sheet's form turned into the API's
data (the parts not on the form kept), and the API's errors brought back to the form's inputs."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from gateway.web.dossier_pages import _sheet_errors, can_edit, sheet_payload, tree


def _sheet(id_, parent, kind="uo", **extra):
    return {"id": id_, "parent_id": parent, "kind": kind, "name": f"fiche {id_}", "status": "pending",
            "action": "keep", "data": {}, "errors": {}, **extra}


def test_the_sheets_become_a_tree_in_the_dossiers_order():
    dossier = {"sheets": [_sheet(1, None, "eg"), _sheet(2, 1, "pole"), _sheet(4, 2), _sheet(3, 1)]}
    [eg] = tree(dossier)
    assert [c["id"] for c in eg["children"]] == [2, 3]
    assert [c["id"] for c in eg["children"][0]["children"]] == [4]


def test_only_members_edit_and_only_before_envoyer_en_validation():
    assert can_edit({"status": "draft", "your_roles": ["directeur"]})
    assert can_edit({"status": "finalised", "your_roles": ["contributor"]})
    assert not can_edit({"status": "sent", "your_roles": ["directeur"]})
    assert not can_edit({"status": "draft", "your_roles": ["regional_validator"]})


def test_an_eg_sheet_sends_its_administrative_data_empty_fields_as_none():
    data, rename = sheet_payload(_sheet(1, None, "eg"), MultiDict({"name": " CPTS ", "phone": "0139633000"}))
    assert data["name"] == "CPTS" and data["phone"] == "0139633000" and data["email"] is None
    assert "description" not in data and rename({"phone": ["10 chiffres"]}) == {"phone": "10 chiffres"}


def test_a_unit_form_keeps_what_it_does_not_show_and_skips_empty_contact_rows():
    stored = {"description": {"age_min": 3, "place_accessibility": "conforme", "comment": "gardé"},
              "modalities": {"reception_modalities": ["x"]}, "hours": {"weekly": []}}
    form = MultiDict([("name", "Unité"), ("description.age_min", ""), ("description.age_max", "150"),
                      ("description.operational_activities", "475"), ("description.operational_activities", "471"),
                      ("intervention_communes", "78646"), ("rows", "3"),
                      ("contacts.0.value", ""), ("contacts.0.channel", "phone"), ("contacts.0.visibility", "public"),
                      ("contacts.1.value", "01.02"), ("contacts.1.channel", "phone"),
                      ("contacts.1.visibility", "public"),
                      ("contacts.2.value", "a@b.fr"), ("contacts.2.channel", "email"),
                      ("contacts.2.visibility", "professional")])
    data, rename = sheet_payload(_sheet(2, 1, data=stored), form)
    assert data["description"] == {"place_accessibility": "conforme", "comment": "gardé", "age_max": 150,
                                   "operational_activities": ["475", "471"]}  # age_min left out: « obligatoire »
    assert data["modalities"] == {"reception_modalities": [], "intervention_communes": ["78646"]}
    assert [c["value"] for c in data["contacts"]["contacts"]] == ["01.02", "a@b.fr"]
    assert "hours" not in data  # kept by the service's merge
    # the API names contact 0 of what it got: the form's row 1
    errors = rename({"contacts.contacts.0.value": "10 chiffres", "description.age_min": "Champ obligatoire."})
    assert errors == {"contacts.1.value": "10 chiffres", "description.age_min": "Champ obligatoire."}


def test_stored_errors_of_a_pending_unit_point_at_the_stored_rows():
    assert _sheet_errors({"contacts.contacts.1.value": "x", "modalities.intervention_communes": "y"}) == {
        "contacts.1.value": "x", "modalities.intervention_communes": "y"}


@pytest.mark.parametrize("event_type", ["dossiers.sent", "dossiers.approved", "dossiers.rejected",
                                        "dossiers.published"])
def test_the_mails_of_a_dossier_link_to_its_page(event_type):
    from services.notifications import rendering

    event = {"event_type": event_type, "region": "idf", "dossier_id": 42, "dossier_name": "Peuplement de CPTS X",
             "structure_name": "CPTS X", "actor_username": "cpts.directeur", "comment": None,
             "reason": "Territoire incomplet", "status": "sent", "occurred_at": "2026-12-01T09:30:00+00:00"}
    out = rendering.render(event, {"email": "d@example.org", "name": "Nadia"}, "https://ror.example/")
    assert "https://ror.example/idf/dossiers/42" in out.text
    assert 'href="https://ror.example/idf/dossiers/42"' in out.html


def test_digits_that_int_refuses_go_to_the_api_as_typed_instead_of_failing_the_page():
    from gateway.web.offer_pages import form_rows

    data, _ = sheet_payload(_sheet(2, 1), MultiDict({"description.age_min": "²", "description.age_max": "٣",
                                                     "rows": "²"}))
    assert (data["description"]["age_min"], data["description"]["age_max"]) == ("²", "٣")
    assert data["contacts"] == {"contacts": []}
    assert form_rows(MultiDict({"rows": "7"})) == 7 and form_rows(MultiDict({"rows": "999999"})) == 0
