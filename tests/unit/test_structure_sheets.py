"""The sheet rules of a dossier (services/offers/structure_edits.check_sheet): administrative data of
every level, and for a UO the six-step path's rules (ages, NOS codes, communes, contacts, hours)."""

from __future__ import annotations

import pytest

from services.common.errors import InvalidInput
from services.offers import structure_edits as edits
from tests.dossiers_support import CPTS_UNIT_TYPE, cpts_unit_data


def test_an_eg_needs_a_name_and_a_phone_at_least():
    result = edits.check_sheet("eg", {"name": "CPTS X"})
    assert result["errors"] == {"phone": "Champ obligatoire."}
    with pytest.raises(InvalidInput) as caught:
        edits.check_sheet("eg", {"name": "CPTS X"}, finalise=True)
    assert "phone" in caught.value.fields
    ok = edits.check_sheet("eg", {"name": " CPTS X ", "phone": "0130630630"}, finalise=True)
    assert ok["errors"] == {} and ok["data"]["name"] == "CPTS X"


@pytest.mark.parametrize("field, value", [
    ("phone", "01 30 63 06 30"), ("email", "not-an-email"), ("mssante", "dir@gmail.com"),
    ("website", "ftp://x"), ("postal_code", "7800"), ("commune_insee", "99999"),
])
def test_contact_and_address_fields_follow_the_contacts_step_rules(field, value):
    result = edits.check_sheet("pole", {"name": "Pôle", field: value})
    assert field in result["errors"]
    assert result["data"][field] == value  # kept as typed, grey, for the user to correct


def test_unknown_fields_are_refused_even_pending():
    with pytest.raises(InvalidInput) as caught:
        edits.check_sheet("eg", {"name": "X", "fone": "0130630630"})
    assert "fone" in caught.value.fields
    with pytest.raises(InvalidInput):
        edits.check_sheet("uf", {"name": "UF", "description": {}})  # only a UO describes an offer


def test_a_cpts_unit_needs_description_contacts_and_its_territory():
    errors = edits.check_sheet("uo", {"name": "CPTS"}, unit_type=CPTS_UNIT_TYPE)["errors"]
    assert set(errors) == {"description", "contacts", "modalities.intervention_communes"}
    data = cpts_unit_data("CPTS")
    assert edits.check_sheet("uo", data, unit_type=CPTS_UNIT_TYPE, finalise=True)["errors"] == {}


def test_unit_parts_use_the_six_step_rules():
    data = cpts_unit_data("CPTS")
    data["description"] = {"age_min": 20, "age_max": 10, "operational_activities": ["NOPE"]}
    data["contacts"] = {"contacts": [{"channel": "phone", "value": "0102", "visibility": "public"}]}
    errors = edits.check_sheet("uo", data, unit_type=CPTS_UNIT_TYPE)["errors"]
    assert {"description.age_max", "description.operational_activities"} <= set(errors)
    assert any(k.startswith("contacts.contacts") for k in errors)


def test_practitioners_and_capacities_of_a_unit():
    data = {"name": "Consultation", "description": {"age_min": 0, "operational_activities": ["527"]},
            "contacts": {"contacts": [{"channel": "phone", "value": "0240083333", "visibility": "public"}]},
            "practitioners": [{"last_name": "Tartampion", "profession": "Médecin"}, {"rpps": "123"}],
            "capacities": {"full_hospitalisation_beds": 30, "nope": 1, "available_beds": -1}}
    errors = edits.check_sheet("uo", data, unit_type="ROR-UO-CS")["errors"]
    assert "practitioners.1.rpps" in errors
    assert {"capacities.nope", "capacities.available_beds"} <= set(errors)


def test_the_type_of_uo_comes_first_and_must_exist():
    with pytest.raises(InvalidInput):
        edits.check_unit_type(None)
    with pytest.raises(InvalidInput):
        edits.check_unit_type("ROR-UO-NOPE")
    with pytest.raises(InvalidInput):  # closed code: cannot be newly chosen
        edits.check_unit_type("ROR-UO-MKDE")
    assert edits.check_unit_type(CPTS_UNIT_TYPE) == CPTS_UNIT_TYPE
