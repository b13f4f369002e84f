"""Reference data and the répertoire through the gateway, and the RPCs other services use
(accounts: national professionals, ownership of generated offers, structure existence)."""

import uuid

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from services.common.db import session_scope
from services.common.errors import Conflict
from services.offers.models import Capacity, PractitionerAttachment, Professional
from tests.offers_support import fresh_rpps, make_offer, structure

pytestmark = pytest.mark.integration


# ------------------------------------------------------------------ nomenclatures and communes
def test_nomenclature_search_ignores_accents_and_case(api):
    resp = api.get("/api/idf/nomenclatures/operational_activities?q=KINESITHERAPIE%20specialisee%20GERIATRIE")
    assert resp.status_code == 200, resp.text
    assert resp.json() == [{"code": "428", "label": "Kinésithérapie Spécialisée Gériatrie", "status": "active"}]


@pytest.mark.parametrize("name", ["operational_activities", "specific_acts", "equipments", "specific_competences",
                                  "reception_modalities", "care_modes", "unit_types"])
def test_every_nomenclature_is_listed_with_statuses(api, name):
    items = api.get(f"/api/idf/nomenclatures/{name}").json()
    assert items and set(items[0]) == {"code", "label", "status"}
    assert {i["status"] for i in items} <= {"active", "deprecated", "future"}


def test_deprecated_codes_are_readable(api):
    items = api.get("/api/idf/nomenclatures/operational_activities?q=gynecologie-obstetrique").json()
    assert {"code": "054", "label": "Gynécologie-obstétrique", "status": "deprecated"} in items


def test_unknown_nomenclature_is_404(api):
    resp = api.get("/api/idf/nomenclatures/colours")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("q", ["mantes", "MANTES", "Mantes-la", "78200"])
def test_communes_by_name_or_postal_code(api, q):
    resp = api.get(f"/api/idf/communes?q={q}")
    assert resp.status_code == 200, resp.text
    assert "Mantes-la-Jolie" in [c["name"] for c in resp.json()]


def test_postal_code_lists_every_commune_it_serves(api):
    names = {c["name"] for c in api.get("/api/idf/communes?q=78200&limit=50").json()}
    assert {"Mantes-la-Jolie", "Buchelay", "Magnanville"} <= names


def test_communes_need_a_query(api):
    resp = api.get("/api/idf/communes")
    assert resp.status_code == 400 and "q" in resp.json()["error"]["fields"]
    assert api.get("/api/idf/communes?q=paris&limit=500").status_code == 400


# ------------------------------------------------------------------ structures
def test_structure_tree_by_departement_and_discipline(api, tokens, db_url):
    finess = str(uuid.uuid4().int)[:9]
    ej = structure(db_url, "legal_entity", "CH TEST EJ", departement="78", finess=finess)
    eg = structure(db_url, "site", "CH TEST MANTES", parent_id=ej, departement="78", discipline="MCO")
    pole = structure(db_url, "pole", "Pôle femme-enfant", parent_id=eg)
    unit = structure(db_url, "unit", "Consultation gynécologie", parent_id=pole)
    other = structure(db_url, "site", "CH TEST NANTERRE", parent_id=ej, departement="92", discipline="MCO")

    resp = api.get("/api/idf/structures?departement=78&discipline=MCO", token=tokens("idf", "kine.demo"))
    assert resp.status_code == 200, resp.text
    tree = resp.json()
    root = next(r for r in tree["roots"] if r["id"] == ej)
    assert root["kind"] == "legal_entity" and root["finess"] == finess
    site_ids = [c["id"] for c in root["children"]]
    assert eg in site_ids and other not in site_ids  # the EJ shows its sites of the département only
    site = next(c for c in root["children"] if c["id"] == eg)
    assert site["children"][0]["id"] == pole
    assert site["children"][0]["children"][0]["id"] == unit


def test_units_show_their_practitioners_and_capacities(api, tokens, db_url):
    """PDL guide: « Mettre à jour les praticiens (dans les UO Consultation) », « Renseigner les capacitaires »."""
    eg = structure(db_url, "site", "CHU TEST NANTES", region="pdl", departement="44", discipline="MCO")
    consultation = structure(db_url, "unit", "Consultation gynécologie", region="pdl", parent_id=eg,
                             departement="44")
    ward = structure(db_url, "unit", "Hospitalisation complète gynécologie", region="pdl", parent_id=eg,
                     departement="44")
    rpps = fresh_rpps()
    with session_scope(db_url) as session:
        doctor = Professional(region="pdl", rpps=rpps, civility="Mme", last_name="TARTAMPION",
                              first_name="Anne-Sophie", profession_code="10", profession_label="Médecin")
        session.add(doctor)
        session.flush()
        session.add(PractitionerAttachment(region="pdl", unit_id=consultation, professional_id=doctor.id,
                                           specialty_label="Gynécologie médicale (SM)",
                                           convention_sector="Secteur 2"))
        session.add(Capacity(region="pdl", unit_id=ward, capacity_type="full_hospitalisation_beds", count=24))

    tree = api.get("/api/pdl/structures?departement=44&discipline=MCO", token=tokens("pdl", "kine.demo")).json()
    site = next(r for r in tree["roots"] if r["id"] == eg)
    units = {u["id"]: u for u in site["children"]}
    assert units[consultation]["practitioners"] == [{
        "rpps": rpps, "civility": "Mme", "last_name": "TARTAMPION", "first_name": "Anne-Sophie",
        "profession": "Médecin", "specialty": "Gynécologie médicale (SM)", "convention_sector": "Secteur 2"}]
    assert units[ward]["capacities"] == [{"type": "full_hospitalisation_beds",
                                          "label": "Lits d'hospitalisation complète", "count": 24}]


def test_liberal_practice_in_the_tree_with_its_offer(api, tokens, db_url):
    offer_id = make_offer(db_url, commune="95127", postal_code="95000", city="Cergy")
    tree = api.get("/api/idf/structures?departement=95&discipline=VIL", token=tokens("idf", "kine.demo")).json()
    units = [u for root in tree["roots"] for u in root["children"] if u["kind"] == "unit"]
    assert offer_id in [u["offer"]["id"] for u in units if u["offer"]]


def test_structures_need_a_professional_and_a_known_discipline(api, tokens):
    assert api.get("/api/idf/structures?departement=78").status_code == 401
    resp = api.get("/api/idf/structures?discipline=XYZ", token=tokens("idf", "kine.demo"))
    assert resp.status_code == 400 and "discipline" in resp.json()["error"]["fields"]


# ------------------------------------------------------------------ RPCs for the accounts service
@pytest.fixture
def offers_rpc(suite, amqp_uri):
    with ClusterRpcProxy({"AMQP_URI": amqp_uri, "serializer": "json"}, timeout=15) as cluster:
        yield cluster.offers


def test_national_professionals_and_attach_owner(offers_rpc, db_url):
    rpps = fresh_rpps()
    first, second = make_offer(db_url, rpps=rpps), make_offer(db_url, rpps=rpps, commune="78118")

    people = offers_rpc.national_professionals("idf", rpps=rpps)
    assert len(people) == 1
    assert people[0]["offer_ids"] == [first, second]
    assert {"rpps", "civility", "last_name", "first_name", "profession_code", "profession_label",
            "email"} <= set(people[0])
    assert offers_rpc.national_professionals("pdl", rpps=rpps) == []
    assert offers_rpc.national_professionals("idf", rpps=rpps, after_rpps=rpps) == []  # paged by RPPS

    for _ in range(2):
        make_offer(db_url, rpps=fresh_rpps())
    everyone = [p["rpps"] for p in offers_rpc.national_professionals("idf", limit=5000)]
    page = [p["rpps"] for p in offers_rpc.national_professionals("idf", limit=2)]
    following = [p["rpps"] for p in offers_rpc.national_professionals("idf", after_rpps=page[-1], limit=2)]
    assert page + following == everyone[:4]

    subject = str(uuid.uuid4())
    assert offers_rpc.attach_owner("idf", rpps, subject, rpps) == [first, second]
    assert offers_rpc.attach_owner("idf", rpps, subject, rpps) == [first, second]  # idempotent
    with pytest.raises(Conflict):
        offers_rpc.attach_owner("idf", rpps, str(uuid.uuid4()), "someone-else")


def test_structure_exists(offers_rpc, db_url):
    site = structure(db_url, "site", "EG TEST")
    assert offers_rpc.structure_exists("idf", site) is True
    assert offers_rpc.structure_exists("pdl", site) is False
    assert offers_rpc.structure_exists("idf", 0) is False
