"""Forms of the issue-15 and répertoire pages turned into API bodies (plain functions, no suite)."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from gateway.web.my_account_pages import contact_changes, when
from gateway.web.registration_pages import registration_payload
from gateway.web.repertoire_pages import admin_changes, find_node, required_admin
from gateway.web.resource_person_pages import person_payload


def test_the_registration_form_becomes_the_api_body_with_empty_optional_fields_absent():
    form = MultiDict({"civility": "MME", "last_name": " Dupont ", "first_name": "Claire", "email": "c@example.org",
                      "email_confirmation": "c@example.org", "profession": "", "national_id": "",
                      "mobile_phone": "06 12 34 56 78", "username": "claire", "password": " Secret2026 ",
                      "password_confirmation": " Secret2026 ", "sms_code": " 123456 ", "cgu_accepted": "yes",
                      "cgu_version": "2026-01", "altcha": "abc"})
    body = registration_payload(form)
    assert body["last_name"] == "Dupont" and body["profession"] is None and body["national_id"] is None
    assert body["password"] == " Secret2026 "  # a password is never trimmed
    assert body["sms_code"] == "123456" and body["cgu_accepted"] is True
    assert registration_payload(MultiDict({}))["cgu_accepted"] is False


def test_mon_compte_sends_only_what_changed():
    account = {"email": "a@example.org", "pending_email": "b@example.org", "mobile_phone": "0612345678",
               "landline_phone": None}
    assert contact_changes(MultiDict({"email": "A@example.org", "mobile_phone": "0612345678",
                                      "landline_phone": ""}), account) == {}
    assert contact_changes(MultiDict({"email": "b@example.org", "mobile_phone": "", "landline_phone": "0130000000"}),
                           account) == {"mobile_phone": None, "landline_phone": "0130000000"}
    assert contact_changes(MultiDict({"email": "c@example.org"}), account)["email"] == "c@example.org"


def test_keycloak_times_are_shown_in_paris_time():
    assert when(1796083200000) == "01/12/2026 à 01:00"  # midnight UTC
    assert when(None) == when("x") == when(True) == when(10**30) == "—"


def test_the_administrative_form_sends_the_changed_fields_and_empties_as_null():
    structure = {"name": "CHU", "phone": "0240000000", "fax": "0240000001", "website": None}
    form = MultiDict({"name": "CHU", "phone": "0240000002", "fax": "", "website": ""})
    assert admin_changes(form, structure) == {"phone": "0240000002", "fax": None}
    assert required_admin("site") == ("name", "phone") and required_admin("unit") == ("name",)


def test_a_structure_is_found_in_the_tree_with_its_ancestors():
    uo = {"id": 5, "children": []}
    tree = [{"id": 1, "children": [{"id": 2, "children": [uo]}]}, {"id": 9, "children": []}]
    node, trail = find_node(tree, 5)
    assert node is uo and [n["id"] for n in trail] == [1, 2]
    assert find_node(tree, 7) == (None, ())


def test_a_resource_person_form_leaves_out_its_empty_optional_fields():
    body = person_payload(MultiDict({"kind": "trainee", "last_name": " Martin ", "first_name": "Léa",
                                     "starts_on": "2026-12-01", "ends_on": "", "rpps": "", "phone": "",
                                     "email": "", "role": "", "contact_visibility": "public"}))
    assert body == {"kind": "trainee", "last_name": "Martin", "first_name": "Léa", "role": None,
                    "starts_on": "2026-12-01", "ends_on": None, "rpps": None, "phone": None, "email": None,
                    "contact_visibility": "public"}
