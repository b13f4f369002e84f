"""The rules of the six-step path (fiche nationale 6 étapes, guide IDF kiné / sage-femme), one bad input
per rule, each refused with the field it concerns named."""

import copy
from datetime import date

import pytest

from services.common.errors import Conflict, InvalidInput
from services.offers.steps import PHONE_MESSAGE, PUBLIC_CONTACT_REQUIRED, validate_step
from tests.offers_support import KINE_STEPS

TODAY = date(2026, 1, 15)


def refused(step, data, previous=None, error=InvalidInput):
    with pytest.raises(error) as info:
        validate_step(step, data, previous=previous, today=TODAY)
    return info.value.fields


@pytest.mark.parametrize("step", list(KINE_STEPS))
def test_the_guide_kine_sheet_is_valid_step_by_step(step):
    cleaned = validate_step(step, copy.deepcopy(KINE_STEPS[step]), today=TODAY)
    assert cleaned  # JSON-ready content


# ------------------------------------------------------------------ 1. national data
def test_national_step_only_acknowledges():
    assert validate_step("national", {}) == {"acknowledged": True}


@pytest.mark.parametrize("field", ["last_name", "rpps", "address", "convention_sector"])
def test_writing_national_data_is_refused_naming_the_field(field):
    fields = refused("national", {"acknowledged": True, field: "X"})
    assert list(fields) == [field]
    assert "anomalie" in fields[field][0]


# ------------------------------------------------------------------ 2. description
def description(**changes):
    data = copy.deepcopy(KINE_STEPS["description"])
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def test_age_min_is_required():
    assert refused("description", description(age_min=...)) == {"age_min": ["Champ obligatoire."]}


@pytest.mark.parametrize("field,value", [("age_min", -1), ("age_min", 151), ("age_max", 200)])
def test_ages_are_between_0_and_150(field, value):
    assert list(refused("description", description(**{field: value}))) == [field]


def test_age_min_must_not_exceed_age_max():
    fields = refused("description", description(age_min=60, age_max=18))
    assert fields == {"age_max": ["L'âge maximum doit être supérieur ou égal à l'âge minimum."]}


def test_age_as_text_is_refused():
    assert list(refused("description", description(age_min="18"))) == ["age_min"]


def test_at_least_one_operational_activity():
    fields = refused("description", description(operational_activities=[]))
    assert fields == {"operational_activities": ["Au moins une activité opérationnelle est obligatoire."]}


def test_unknown_code_is_refused():
    fields = refused("description", description(equipments=["XYZ"]))
    assert fields == {"equipments": ["Code inconnu : XYZ"]}


def test_deprecated_code_cannot_be_newly_chosen():
    # 054 Gynécologie-obstétrique: TRE_R211 code closed on 26/01/2018.
    fields = refused("description", description(operational_activities=["339", "054"]))
    assert "obsolète" in fields["operational_activities"][0]


def test_deprecated_code_already_on_the_offer_may_stay():
    previous = {"specific_acts_in_office": ["ROR-A190"]}
    cleaned = validate_step("description", description(specific_acts_in_office=["ROR-A190", "ROR-A101"]),
                            previous=previous, today=TODAY)
    assert cleaned["specific_acts_in_office"] == ["ROR-A190", "ROR-A101"]


def test_codes_of_the_wrong_nomenclature_are_refused():
    # 05 is a reception modality (TRE_R338), not a specific competence of TRE_R243.
    assert list(refused("description", description(specific_competences=["99"]))) == ["specific_competences"]


def test_place_accessibility_values():
    assert list(refused("description", description(place_accessibility="parfait"))) == ["place_accessibility"]


def test_comment_length():
    assert list(refused("description", description(comment="x" * 2001))) == ["comment"]


def test_unknown_field_is_refused_not_dropped():
    assert refused("description", description(age_minimum=3)) == {"age_minimum": ["Champ inconnu."]}


def test_duplicate_codes_are_kept_once():
    cleaned = validate_step("description", description(operational_activities=["339", "339", "428"]),
                            today=TODAY)
    assert cleaned["operational_activities"] == ["339", "428"]


# ------------------------------------------------------------------ 3. modalities
def test_home_visit_requires_intervention_communes():
    fields = refused("modalities", {"reception_modalities": ["05"], "intervention_communes": []})
    assert fields == {"intervention_communes": ["Les communes d'intervention sont obligatoires pour une visite à domicile."]}


def test_intervention_communes_must_exist():
    fields = refused("modalities", {"reception_modalities": ["05"], "intervention_communes": ["78361", "78999"]})
    assert fields == {"intervention_communes": ["Commune inconnue : 78999"]}


def test_teleconsultation_alone_needs_no_commune():
    assert validate_step("modalities", {"reception_modalities": ["04"]}, today=TODAY) == {
        "reception_modalities": ["04"], "intervention_communes": []}


# ------------------------------------------------------------------ 4. contacts
def contacts(*items):
    return {"contacts": list(items)}


PUBLIC_PHONE = {"channel": "phone", "value": "0102030405", "visibility": "public"}


@pytest.mark.parametrize("value", ["01.02.03.04.05", "01 02 03 04 05", "010203040", "+33102030405"])
def test_phones_are_ten_digits_without_dots_or_spaces(value):
    fields = refused("contacts", contacts({**PUBLIC_PHONE, "value": value}))
    assert fields == {"contacts": {0: {"value": [PHONE_MESSAGE]}}}
    assert "ne pas mettre de points, ni d'espaces" in PHONE_MESSAGE


def test_email_is_checked():
    fields = refused("contacts", contacts(PUBLIC_PHONE, {"channel": "email", "value": "contact@",
                                                         "visibility": "public"}))
    assert list(fields["contacts"][1]) == ["value"]


def test_mssante_address_must_be_on_an_mssante_domain():
    fields = refused("contacts", contacts(PUBLIC_PHONE, {"channel": "mssante", "value": "paul@gmail.com",
                                                         "visibility": "professional"}))
    assert "mssante.fr" in fields["contacts"][1]["value"][0]


def test_url_is_checked():
    fields = refused("contacts", contacts(PUBLIC_PHONE, {"channel": "url_teleconsultation", "value": "tc.sf",
                                                         "visibility": "public"}))
    assert list(fields["contacts"][1]) == ["value"]


def test_unknown_channel_and_visibility():
    fields = refused("contacts", contacts(PUBLIC_PHONE, {"channel": "pigeon", "value": "x", "visibility": "all"}))
    assert set(fields["contacts"][1]) == {"channel", "visibility"}


def test_at_most_twenty_contacts_per_visibility():
    fields = refused("contacts", contacts(*[PUBLIC_PHONE] * 21))
    assert fields == {"contacts": ["20 contacts au plus à destination des patients (21 reçus)."]}
    professional = {**PUBLIC_PHONE, "visibility": "professional"}
    assert validate_step("contacts", contacts(*[PUBLIC_PHONE] * 20, *[professional] * 20), today=TODAY)


def test_at_least_one_contact_for_patients():
    fields = refused("contacts", contacts({**PUBLIC_PHONE, "visibility": "professional"}))
    assert fields == {"contacts": [PUBLIC_CONTACT_REQUIRED + "."]}


# ------------------------------------------------------------------ 5. hours
def slot(day="monday", start="09:00", end="12:00", kind="appointment"):
    return {"day": day, "start": start, "end": end, "kind": kind}


def test_days_as_names_or_iso_numbers():
    cleaned = validate_step("hours", {"weekly": [slot("monday"), slot(7, kind="walk_in")]}, today=TODAY)
    assert [s["day"] for s in cleaned["weekly"]] == [1, 7]


@pytest.mark.parametrize("bad,field", [({"day": "funday"}, "day"), ({"start": "9h"}, "start"),
                                       ({"end": "25:00"}, "end"), ({"kind": "night"}, "kind")])
def test_slot_fields_are_checked(bad, field):
    fields = refused("hours", {"weekly": [{**slot(), **bad}]})
    assert list(fields["weekly"][0]) == [field]


def test_start_before_end():
    assert refused("hours", {"weekly": [slot(start="14:00", end="12:00")]}) == {
        "weekly": {0: {"end": ["L'heure de fin doit être après l'heure de début."]}}}


def test_overlapping_slots_of_the_same_kind_are_refused():
    fields = refused("hours", {"weekly": [slot(), slot(start="11:00", end="13:00")]})
    assert "se chevauchent le lundi" in fields["weekly"][0]


def test_home_visits_may_overlap_office_hours():
    data = {"weekly": [slot(), slot(start="11:00", end="13:00", kind="home_visit")]}
    assert len(validate_step("hours", data, today=TODAY)["weekly"]) == 2


def test_one_exceptional_period_or_closure_at_a_time():
    closure = {"start_date": "2026-02-01", "end_date": "2026-02-15"}
    exceptional = {"start_date": "2026-03-01", "end_date": "2026-03-07", "slots": [slot(day=None)]}
    fields = refused("hours", {"weekly": [], "temporary_closure": closure, "exceptional_hours": exceptional},
                     error=Conflict)
    assert set(fields) == {"temporary_closure", "exceptional_hours"}
    fields = refused("hours", {"weekly": [], "temporary_closure": [closure, closure]}, error=Conflict)
    assert list(fields) == ["temporary_closure"]


def test_a_finished_period_does_not_count_and_is_dropped():
    past = {"start_date": "2025-12-01", "end_date": "2025-12-24"}
    current = {"start_date": "2026-01-10", "end_date": "2026-01-20"}
    cleaned = validate_step("hours", {"temporary_closure": [past, current]}, today=TODAY)
    assert cleaned["temporary_closure"] == [{**current, "comment": None}]


def test_period_dates_in_order():
    fields = refused("hours", {"temporary_closure": {"start_date": "2026-02-10", "end_date": "2026-02-01"}})
    assert fields == {"temporary_closure": {0: {"end_date": ["La date de fin doit être le jour de début ou après."]}}}


def test_unknown_step():
    with pytest.raises(InvalidInput) as info:
        validate_step("recap", {})
    assert "step" in info.value.fields
