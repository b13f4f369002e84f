"""The répertoire pages over HTTP (guide « PDL : mise à jour établissement »): the manager of the demo CHU
(a structure account habilitated on its EG) finds her EJ by name, puts it in her favourites, opens the tree
of Loire-Atlantique, updates the EG's administrative data (an invalid phone shown next to its field, a form
left open in another tab refused with a clear message), adds an activity and a person to the consultation
and declares the available beds of the maternity."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import text

from services.accounts.directory import directory_for
from services.common.db import session_scope
from tests.accounts_support import PASSWORD
from tests.dossiers_support import habilitation
from tests.e2e.conftest import login_redirects  # noqa: F401  (the test gateway's origin in the realms' client)
from tests.web_support import WebClient

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("login_redirects")]
REGION = "pdl"
PDL_HOSPITAL_EG = "440000313"  # services/offers/demo.py


@pytest.fixture(scope="module")
def hospital(api, tokens, db_url):
    from services.offers.demo import load as load_offers_demo

    load_offers_demo(REGION, db_url)
    with session_scope(db_url) as session:
        eg = session.execute(text("SELECT id FROM offers.structures WHERE region='pdl' AND kind='site' "
                                  "AND finess=:f"), {"f": PDL_HOSPITAL_EG}).scalar()
        units = dict(session.execute(text(
            "SELECT source_key, id FROM offers.structures WHERE region='pdl' AND source_key IN "
            "('demo:pdl:hospital:consultation', 'demo:pdl:hospital:maternite')")).all())
    return {"eg": eg, "consultation": units["demo:pdl:hospital:consultation"],
            "maternity": units["demo:pdl:hospital:maternite"]}


@pytest.fixture(scope="module")
def manager(api, tokens, hospital):
    """An establishment account of the CHU (structure_editor on its EG), logged in on the portal."""
    directory = directory_for(REGION)
    username = f"etab-{uuid.uuid4().hex[:8]}"
    user_id = directory.create_registered_user(username, f"{username}@example.org", "Anne", "Gestionnaire",
                                               PASSWORD, None, ())
    directory.mark_email_verified(user_id)
    try:
        with habilitation(api, tokens, REGION, username, "structure_editor", hospital["eg"]):
            web = WebClient()
            web.login(REGION, username, PASSWORD, next_path=f"/{REGION}/repertoire")
            yield web
    finally:
        directory.delete_user(user_id, quiet=True)


def test_the_manager_finds_her_ej_puts_it_in_favourites_and_opens_the_tree(manager, hospital):
    web = manager
    web.go(f"/{REGION}/repertoire")
    assert "Mes favoris" in web.main()
    web.go(f"/{REGION}/repertoire?q=hospitalier universitaire nantes")
    assert "CENTRE HOSPITALIER UNIVERSITAIRE DE NANTES" in web.main()
    assert f'href="/{REGION}/structures/{hospital["eg"]}"' in web.page.text  # its EG, one click away
    ej_form = web.page.text.split("CENTRE HOSPITALIER UNIVERSITAIRE DE NANTES")[1]
    ej_id = int(re.search(r'/repertoire/favoris/(\d+)"', ej_form).group(1))
    web.post(f"/{REGION}/repertoire/favoris/{ej_id}", {"action": "add", "next": f"/{REGION}/repertoire"})
    assert "ajouté à vos favoris" in web.notices()
    favourites = web.page.text.split('id="favoris"')[1].split("</section>")[0]
    assert "CENTRE HOSPITALIER UNIVERSITAIRE DE NANTES" in favourites
    web.post(f"/{REGION}/repertoire/favoris/{ej_id}", {"action": "remove", "next": f"/{REGION}/repertoire"})
    assert "Aucun favori" in web.main()

    web.go(f"/{REGION}/repertoire?departement=44&discipline=MCO")
    assert web.page.status_code == 200
    assert "Consultation de gynécologie-obstétrique" in web.main() and "Pôle Femme-Enfant" in web.main()
    web.go(f"/{REGION}/repertoire?departement=75")
    assert web.page.status_code == 400 and web.field_error("departement")
    web.go(f"/{REGION}/repertoire?q=")
    assert web.page.status_code == 200


def test_the_manager_updates_the_eg_administrative_data(manager, hospital):
    web = manager
    page = web.go(f"/{REGION}/structures/{hospital['eg']}?modifier=1")
    assert page.status_code == 200 and 'name="director_name"' in page.text
    path = f"/{REGION}/structures/{hospital['eg']}/administratif"
    etag = web.value("etag", path)
    phone = f"02400{uuid.uuid4().int % 10**5:05d}"  # differs from what an earlier run left
    resp = web.post(path, {"etag": etag, "name": web.value("name"), "phone": "02.40.08.33.33"})
    assert resp.status_code == 400 and web.field_error("phone")
    assert web.value("phone") == "02.40.08.33.33"  # what she typed stays in the form
    resp = web.post(path, {"etag": etag, "name": web.value("name"), "phone": phone,
                           "director_name": "Mme Anne DUPONT"})
    assert resp.status_code == 200 and "Informations administratives enregistrées" in web.notices()
    assert "Mme Anne DUPONT" in web.main()
    # the same form, left open in another tab since: refused, reloaded with the current data
    resp = web.post(path, {"etag": etag, "name": "Autre nom", "phone": "0240083334"})
    assert "modifiée entre-temps" in web.notices() and web.value("phone") == phone
    assert web.value("etag", path) != etag


def test_the_manager_adds_an_activity_and_a_person_to_the_consultation(manager, hospital):
    web = manager
    web.go(f"/{REGION}/structures/{hospital['consultation']}")
    assert "Professionnel(s) rattaché(s) à la consultation" in web.main()
    path = f"/{REGION}/structures/{hospital['consultation']}"
    nameless = web.post(f"{path}/personnes", {"etag": web.value("etag", f"{path}/personnes"), "specialty": "x"})
    assert nameless.status_code == 400 and web.field_error("last_name") and web.field_error("profession")
    web.post(f"{path}/personnes", {"etag": web.value("etag", f"{path}/personnes"),
                                   "civility": "Madame le Docteur", "last_name": "Tartampion",
                                   "first_name": "Anne-Sophie", "profession": "Médecin",
                                   "specialty": "Gynécologie médicale (SM)",
                                   "convention_sector": "conventionné en Secteur 2"})
    assert "rattachée à la consultation" in web.notices() and "TARTAMPION" in web.main()

    form = web.page.text.split('id="activites"')[1]
    code = re.search(r'<option value="([^"]+)">', form).group(1)
    web.post(f"{path}/activites", {"etag": web.value("etag", f"{path}/activites"), "activity": code})
    assert "Activité opérationnelle ajoutée" in web.notices()
    web.post(f"{path}/activites", {"etag": web.value("etag", f"{path}/activites"), "remove": code})
    assert "Activité opérationnelle retirée" in web.notices()
    empty = web.post(f"{path}/activites", {"etag": web.value("etag", f"{path}/activites"), "activity": ""})
    assert empty.status_code == 400 and web.field_error("activity")


def test_the_manager_declares_the_beds_of_the_maternity(manager, hospital):
    web = manager
    path = f"/{REGION}/structures/{hospital['maternity']}"
    web.go(path)
    assert "Capacités en hospitalisation complète" in web.main()
    resp = web.post(f"{path}/capacites", {"etag": web.value("etag", f"{path}/capacites"), "installed_beds": "45",
                                          "available_beds": "999"})
    assert resp.status_code == 400 and "lits installés" in web.field_error("available_beds")
    assert web.value("available_beds") == "999"
    web.post(f"{path}/capacites", {"etag": web.value("etag", f"{path}/capacites"), "installed_beds": "45",
                                   "available_beds": "6"})
    assert "Capacités enregistrées" in web.notices()
    assert web.value("available_beds") == "6" and "Historique des mises à jour" in web.main()


def test_unknown_structures_and_hostile_queries_give_french_pages(manager):
    web = manager
    for path, status in ((f"/{REGION}/structures/99999999999999999999", 404), (f"/{REGION}/structures/0", 404),
                         (f"/{REGION}/repertoire?q=" + "x" * 5000, 200),  # cut to 200 characters
                         (f"/{REGION}/repertoire?departement=999&discipline=ZZZ", 400)):
        resp = web.go(path)
        assert resp.status_code == status and '<html lang="fr">' in resp.text, (path, resp.status_code)
    assert web.go(f"/{REGION}/repertoire?q=%00").status_code == 400  # NUL: refused at the gateway's edge
    resp = web.post(f"/{REGION}/structures/99999999999999999999/capacites", {"etag": "x", "available_beds": "1"})
    assert resp.status_code == 404


def test_odd_digits_in_a_number_field_are_named_by_the_api(manager, hospital):
    web = manager
    path = f"/{REGION}/structures/{hospital['maternity']}"
    web.go(path)
    resp = web.post(f"{path}/capacites", {"etag": web.value("etag", f"{path}/capacites"), "installed_beds": "45",
                                          "available_beds": "²"})
    assert resp.status_code == 400 and web.field_error("available_beds")
