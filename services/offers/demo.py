"""Demo data of the offers service: `ror demo load` calls `load(region)` (idempotent).

1. The national part comes from small files in the official formats, imported with the real
   importers (services/offers/data/demo/): `finess-<region>.csv` (EJ and EG of a few establishments,
   Windows-1252 like the real extract) and `rpps-<region>.txt` (liberal kinés, sages-femmes and a
   general practitioner → professionals, practices and draft offers; salaried hospital doctors).
2. What the national files do not carry is added here, keyed by `source_key` "demo:<region>:…" so
   that a reload finds and refreshes the same rows:
   - the tree of one hospital EG: pôle → service → UF → UOs, with a consultation UO whose
     practitioners (from the RPPS file: salaried lines of that FINESS site) are attached with their
     specialty and conventionnement sector, and a full hospitalisation UO with its capacities;
   - one CPTS (EJ → EG → UO of type CPTS);
   - a draft offer for each of those UOs;
   - offers of two professionals without a demo account (a kiné, a sage-femme making home visits)
     filled in the six steps and published, through the same domain functions as the form, once: a
     visitor's search finds something on the first `make up` (the guides' searches, issue 9).

The demo accounts `kine.demo` and `sf.demo` (deploy/regions/<region>.toml, realms generated from it) are the first
two professionals of each RPPS file; the others have no account yet (activation codes are issued by
the accounts demo through `offers.national_professionals`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.regions import REGIONS
from services.offers.models import Capacity, Offer, PractitionerAttachment, Professional, Structure

DEMO_DIR = Path(__file__).resolve().parent / "data" / "demo"


@dataclass(frozen=True)
class Unit:
    key: str
    name: str
    unit_type: str  # types d'UO code
    care_mode: str  # TRE_R213 code
    activities: tuple[str, ...]  # TRE_R211 codes pre-filled in the description step
    capacities: dict[str, int] = field(default_factory=dict)
    # practitioners attached (RPPS → conventionnement sector), read from the RPPS file
    practitioners: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hospital:
    finess_et: str
    finess_ej: str
    ej_name: str  # the ET extract names no EJ: the demo gives the real-looking name
    pole: str
    service: str
    functional_unit: str
    units: tuple[Unit, ...]


@dataclass(frozen=True)
class Cpts:
    ej_name: str
    site_name: str
    unit_name: str
    address_line: str
    postal_code: str
    commune_insee: str
    city: str
    phone: str
    email: str
    latitude: float
    longitude: float
    activities: tuple[str, ...]


@dataclass(frozen=True)
class Showcase:
    """A professional's offer published by the demo: the RPPS, the commune of the practice (a
    professional may have several) and the five steps as the form sends them."""

    rpps: str
    commune_insee: str
    steps: dict


@dataclass(frozen=True)
class RegionDemo:
    hospital: Hospital
    cpts: Cpts
    showcases: tuple[Showcase, ...] = ()


def _kine_steps(phone: str, communes: list[str]) -> dict:
    """The IDF guide's kinésithérapeute (part III): vestibular and pelvic re-education, home visits."""
    return {
        "national": {"acknowledged": True},
        "description": {
            "age_min": 3, "age_max": 109, "operational_activities": ["428", "339", "425", "421"],
            "specific_acts_in_office": ["ROR-A101", "ROR-A105", "ROR-A102"], "specific_acts_outside_office": [],
            "equipments": ["ROR-E001"], "specific_competences": [], "place_accessibility": "conforme",
            "comment": "Rééducation vestibulaire et périnéale, sur rendez-vous."},
        "modalities": {"reception_modalities": ["05"], "intervention_communes": communes},
        "contacts": {"contacts": [
            {"channel": "phone", "purpose": "Prise de rendez-vous", "value": phone, "visibility": "public"},
            {"channel": "phone", "purpose": "Usage professionnel", "value": "0708091011",
             "visibility": "professional"}]},
        "hours": {"weekly": [
            {"day": day, "start": "08:30", "end": "12:30", "kind": "appointment"}
            for day in ("monday", "tuesday", "wednesday", "thursday", "friday")] + [
            {"day": day, "start": "14:00", "end": "19:00", "kind": "home_visit"} for day in ("tuesday", "thursday")]},
    }


def _midwife_steps(phone: str, communes: list[str]) -> dict:
    """A sage-femme libérale: pregnancy and post-natal follow-up, at home in the communes around."""
    return {
        "national": {"acknowledged": True},
        "description": {
            "age_min": 12, "age_max": 60, "operational_activities": list(GYNECOLOGY),
            "specific_acts_in_office": [], "specific_acts_outside_office": [], "equipments": [],
            "specific_competences": [], "place_accessibility": "conforme",
            "comment": "Suivi prénatal et post-natal, préparation à la naissance, à domicile."},
        "modalities": {"reception_modalities": ["05"], "intervention_communes": communes},
        "contacts": {"contacts": [
            {"channel": "phone", "purpose": "Prise de rendez-vous", "value": phone, "visibility": "public"}]},
        "hours": {"weekly": [
            {"day": day, "start": "09:00", "end": "18:00", "kind": "appointment"}
            for day in ("monday", "wednesday", "friday")] + [
            {"day": day, "start": "09:00", "end": "17:00", "kind": "home_visit"} for day in ("tuesday", "thursday")]},
    }


GYNECOLOGY = ("527", "530", "529")  # suivi gynécologique, prénatal, post-natal
CPTS_ACTIVITIES = ("335", "475")  # coordination de parcours complexes, de soins non-programmés

DEMO: dict[str, RegionDemo] = {
    "idf": RegionDemo(
        hospital=Hospital(
            finess_et="780000287", finess_ej="780110078", ej_name="CENTRE HOSPITALIER FRANCOIS QUESNAY",
            pole="Pôle Femme-Enfant", service="Gynécologie-obstétrique",
            functional_unit="UF Gynécologie-obstétrique",
            units=(
                Unit("consultation", "Consultation de gynécologie-obstétrique", "ROR-UO-CS", "32", GYNECOLOGY,
                     practitioners={"10100000057": "conventionné en Secteur 2",
                                    "10100000065": "conventionné en Secteur 1"}),
                Unit("maternite", "Hospitalisation complète maternité", "ROR-UO-HC", "28", ("100",),
                     capacities={"installed_places": 32, "full_hospitalisation_beds": 30}),
            ),
        ),
        cpts=Cpts(ej_name="CPTS DU MANTOIS", site_name="CPTS du Mantois", unit_name="CPTS du Mantois",
                  address_line="4 R DES GRAVIERS", postal_code="78200", commune_insee="78361",
                  city="Mantes-la-Jolie", phone="0130630630", email="contact@cpts-mantois.example.fr",
                  latitude=48.9905, longitude=1.7168, activities=CPTS_ACTIVITIES),
        showcases=(
            # FONTAINE Hugo, kiné at the Cabinet Dubois of Mantes-la-Jolie (also at Limay: that draft stays)
            Showcase("10100000040", "78361", _kine_steps("0130941201", ["78361", "78354", "78335"])),
            # BENALI Sarah, sage-femme at Limay, home visits as far as Meulan-en-Yvelines
            Showcase("10100000024", "78335", _midwife_steps("0134772090", ["78335", "78361", "78401", "78402"])),
        ),
    ),
    "pdl": RegionDemo(
        hospital=Hospital(
            finess_et="440000313", finess_ej="440000289",
            ej_name="CENTRE HOSPITALIER UNIVERSITAIRE DE NANTES",
            pole="Pôle Femme-Enfant", service="Gynécologie-obstétrique",
            functional_unit="UF Gynécologie-obstétrique",
            units=(
                Unit("consultation", "Consultation de gynécologie-obstétrique", "ROR-UO-CS", "32", GYNECOLOGY,
                     practitioners={"10200000049": "conventionné en Secteur 2",
                                    "10200000056": "conventionné en Secteur 1"}),
                Unit("maternite", "Hospitalisation complète maternité", "ROR-UO-HC", "28", ("100",),
                     capacities={"installed_places": 48, "full_hospitalisation_beds": 45}),
            ),
        ),
        cpts=Cpts(ej_name="CPTS NANTES NORD", site_name="CPTS Nantes Nord", unit_name="CPTS Nantes Nord",
                  address_line="25 R DE LA CHAMPENOISE", postal_code="44300", commune_insee="44109",
                  city="Nantes", phone="0240505050", email="contact@cpts-nantes-nord.example.fr",
                  latitude=47.2475, longitude=-1.5519, activities=CPTS_ACTIVITIES),
        showcases=(
            Showcase("10200000015", "44184", _kine_steps("0240220000", ["44184", "44132", "44210"])),
            Showcase("10200000023", "49099", _midwife_steps("0241620000", ["49099", "49192"])),
        ),
    ),
}


def demo_files(region: str) -> tuple[Path, Path]:
    return DEMO_DIR / f"finess-{region}.csv", DEMO_DIR / f"rpps-{region}.txt"


def load(region: str, url: str | None = None) -> str:
    """Import the demo national files, then add the hospital tree and the CPTS; returns a summary."""
    from services.common.db import session_scope
    from services.offers.importers.finess import import_finess
    from services.offers.importers.rpps import import_rpps
    from services.offers.search import index

    demo = DEMO[region]
    finess_file, rpps_file = demo_files(region)
    finess = import_finess(finess_file, region, url, progress=False)
    rpps = import_rpps(rpps_file, region, url, progress=False)
    with session_scope(url) as session:
        counts = Counts()
        hospital_units = _hospital(session, region, demo.hospital, rpps_file, counts)
        cpts_unit = _cpts(session, region, demo.cpts, counts)
        published = [_showcase(session, region, showcase) for showcase in demo.showcases]
        warnings = _check_accounts(session, region)
        indexed = index.rebuild(session, region)
    return (f"FINESS {finess.short()}; RPPS {rpps.short()}; hospital {demo.hospital.finess_et} "
            f"units {hospital_units}, CPTS unit {cpts_unit}; published offers {published}; {counts}; "
            f"search index {indexed}" + "".join(f"; WARNING {w}" for w in warnings))


# -- helpers -------------------------------------------------------------------------------------


class Counts:
    def __init__(self):
        self.created = 0
        self.updated = 0

    def __str__(self) -> str:
        return f"demo rows created {self.created}, updated {self.updated}"


def _set(obj, values: dict, counts: Counts, created: bool) -> None:
    """Assign only what differs, so that a reload touches nothing (no updated_at change)."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    if created:
        counts.created += 1
    elif changed:
        counts.updated += 1


def _structure(session: Session, region: str, kind: str, key: str, counts: Counts, **values) -> Structure:
    source_key = f"demo:{region}:{key}"
    row = session.scalar(select(Structure).where(Structure.region == region, Structure.kind == kind,
                                                 Structure.source_key == source_key))
    created = row is None
    if created:
        row = Structure(region=region, kind=kind, source="ror", source_key=source_key)
        session.add(row)
    _set(row, values, counts, created)
    session.flush()
    return row


def _offer(session: Session, region: str, unit: Structure, national: dict, counts: Counts, unit_type: str, care_mode: str, activities: tuple[str, ...]) -> Offer:
    offer = session.scalar(select(Offer).where(Offer.unit_id == unit.id))
    created = offer is None
    if created:
        # the draft is the structure's from now on: only set at creation
        offer = Offer(region=region, unit_id=unit.id, status="draft", version=1,
                      draft={"steps": {"description": {"operational_activities": list(activities)}},
                             "validated": []})
        session.add(offer)
    values = {"unit_type": unit_type, "care_mode": care_mode, "name": unit.name,
              "commune_insee": unit.commune_insee, "departement": unit.departement, "national": national}
    before = counts.updated
    _set(offer, values, counts, created)
    if not created and counts.updated != before:
        offer.version += 1
    session.flush()
    return offer


def _place(site: Structure) -> dict:
    return {"address_line": site.address_line, "postal_code": site.postal_code,
            "commune_insee": site.commune_insee, "departement": site.departement, "city": site.city,
            "latitude": site.latitude, "longitude": site.longitude}


def _finess_national(site: Structure, legal_entity: Structure | None) -> dict:
    """The read-only snapshot of a hospital UO: what FINESS says of its EG."""
    return {
        "source": "FINESS",
        "structure": {"name": site.long_name or site.name, "finess": site.finess,
                      "finess_ej": legal_entity.finess if legal_entity else None,
                      "legal_entity": legal_entity.name if legal_entity else None, "siret": site.siret,
                      "category": site.category_label},
        "address": {"line": site.address_line, "complement": site.address_complement,
                    "postal_code": site.postal_code, "commune_insee": site.commune_insee, "city": site.city},
        "phone": site.phone,
    }


def _hospital(session: Session, region: str, spec: Hospital, rpps_file: Path, counts: Counts) -> list[int]:
    site = session.scalar(select(Structure).where(Structure.region == region, Structure.kind == "site",
                                                  Structure.finess == spec.finess_et))
    if site is None:
        raise RuntimeError(f"demo: the FINESS import did not create the EG {spec.finess_et}")
    legal_entity = session.get(Structure, site.parent_id) if site.parent_id else None
    if legal_entity is not None:
        _set(legal_entity, {"name": spec.ej_name, "long_name": spec.ej_name}, counts, created=False)
    # the importer leaves the discipline to the ROR: a hospital tree is MCO
    _set(site, {"discipline": "MCO"}, counts, created=False)
    place = _place(site)
    pole = _structure(session, region, "pole", "hospital:pole", counts, parent_id=site.id, name=spec.pole,
                      discipline="MCO", **place)
    service = _structure(session, region, "service", "hospital:service", counts, parent_id=pole.id,
                         name=spec.service, discipline="MCO", **place)
    uf = _structure(session, region, "functional_unit", "hospital:uf", counts, parent_id=service.id,
                    name=spec.functional_unit, discipline="MCO", **place)
    national = _finess_national(site, legal_entity)
    practitioners = _salaried_practitioners(rpps_file, spec.finess_et)
    unit_ids = []
    for unit_spec in spec.units:
        unit = _structure(session, region, "unit", f"hospital:{unit_spec.key}", counts, parent_id=uf.id,
                          name=unit_spec.name, discipline="MCO", type_label=_unit_type_label(unit_spec.unit_type),
                          phone=site.phone, **place)
        _offer(session, region, unit, national, counts, unit_spec.unit_type, unit_spec.care_mode,
               unit_spec.activities)
        for capacity_type, count in unit_spec.capacities.items():
            _capacity(session, region, unit, capacity_type, count, counts)
        for rpps, sector in unit_spec.practitioners.items():
            person = practitioners.get(rpps)
            if person is None:
                raise RuntimeError(f"demo: practitioner {rpps} is not a salaried line of {spec.finess_et} "
                                   f"in {rpps_file.name}")
            _attach(session, region, unit, person, sector, counts)
        unit_ids.append(unit.id)
    return unit_ids


def _unit_type_label(code: str) -> str:
    from services.offers import reference

    return reference.label_of("unit_types", code)


def _capacity(session: Session, region: str, unit: Structure, capacity_type: str, count: int,
              counts: Counts) -> None:
    row = session.scalar(select(Capacity).where(Capacity.unit_id == unit.id,
                                                Capacity.capacity_type == capacity_type))
    created = row is None
    if created:
        row = Capacity(region=region, unit_id=unit.id, capacity_type=capacity_type)
        session.add(row)
    _set(row, {"count": count}, counts, created)


def _attach(session: Session, region: str, unit: Structure, person: dict, sector: str, counts: Counts) -> None:
    professional = session.scalar(select(Professional).where(Professional.region == region,
                                                             Professional.rpps == person["rpps"]))
    created = professional is None
    if created:
        professional = Professional(region=region, rpps=person["rpps"])
        session.add(professional)
    _set(professional, {k: v for k, v in person.items() if k != "rpps"}, counts, created)
    session.flush()
    attachment = session.scalar(select(PractitionerAttachment).where(
        PractitionerAttachment.unit_id == unit.id, PractitionerAttachment.professional_id == professional.id))
    created = attachment is None
    if created:
        attachment = PractitionerAttachment(region=region, unit_id=unit.id, professional_id=professional.id,
                                            source="ror")
        session.add(attachment)
    _set(attachment, {"profession_code": person["profession_code"], "profession_label": person["profession_label"],
                      "specialty_code": person["specialty_code"],
                      "specialty_label": _specialty_label(person["specialty_label"]),
                      "convention_sector": sector}, counts, created)


def _specialty_label(label: str | None) -> str | None:
    # the ROR shows ordinal specialties as "Gynécologie médicale (SM)"
    return f"{label} (SM)" if label and not label.endswith("(SM)") else label


def _salaried_practitioners(rpps_file: Path, finess_et: str) -> dict[str, dict]:
    """Salaried professionals of the RPPS file working at FINESS site `finess_et` (the importer keeps
    liberal activities only: hospital practitioners are attached by the ROR, here the demo)."""
    from services.offers.importers.report import ImportReport, iter_decoded_lines
    from services.offers.importers.rpps import Layout

    report = ImportReport("rpps", "demo", str(rpps_file))
    lines = iter_decoded_lines(rpps_file, report)
    layout = Layout.from_header(next(lines)[1])
    ix = layout.index
    found: dict[str, dict] = {}
    for _, text, _ in lines:
        if not text:
            continue
        f = layout.split_line(text)
        if f[ix["mode_code"]] != "S" or f[ix["finess_site"]] != finess_et:
            continue
        found[f[ix["pp_id"]]] = {
            "rpps": f[ix["pp_id"]], "id_type": f[ix["id_type"]], "civility_code": f[ix["civility_code"]] or None,
            "civility": f[ix["civility"]] or None, "last_name": f[ix["last_name"]],
            "first_name": f[ix["first_name"]] or None, "profession_code": f[ix["profession_code"]],
            "profession_label": f[ix["profession_label"]] or None, "category_code": f[ix["category_code"]] or None,
            "specialty_code": f[ix["specialty_code"]] or None, "specialty_label": f[ix["specialty_label"]] or None,
            "practice_mode_code": "S", "practice_mode_label": f[ix["mode_label"]] or None,
        }
    return found


def _cpts(session: Session, region: str, spec: Cpts, counts: Counts) -> int:
    from services.offers.reference import departement_of

    departement = departement_of(spec.commune_insee)
    place = {"address_line": spec.address_line, "postal_code": spec.postal_code,
             "commune_insee": spec.commune_insee, "departement": departement, "city": spec.city}
    legal_entity = _structure(session, region, "legal_entity", "cpts:ej", counts, name=spec.ej_name,
                              type_label="Association loi 1901", legal_status_label="Association loi 1901",
                              discipline="VIL", **place)
    site = _structure(session, region, "site", "cpts:eg", counts, parent_id=legal_entity.id, name=spec.site_name,
                      type_label="CPTS", discipline="VIL", phone=spec.phone, email=spec.email,
                      latitude=spec.latitude, longitude=spec.longitude, **place)
    unit = _structure(session, region, "unit", "cpts:uo", counts, parent_id=site.id, name=spec.unit_name,
                      type_label=_unit_type_label("ROR-UO-CPTS"), discipline="VIL", phone=spec.phone,
                      email=spec.email, latitude=spec.latitude, longitude=spec.longitude, **place)
    national = {"source": "ROR", "structure": {"name": spec.ej_name, "legal_entity": spec.ej_name},
                "address": {"line": spec.address_line, "postal_code": spec.postal_code,
                            "commune_insee": spec.commune_insee, "city": spec.city},
                "phone": spec.phone, "email": spec.email}
    _offer(session, region, unit, national, counts, "ROR-UO-CPTS", "58", spec.activities)
    return unit.id


def _showcase(session: Session, region: str, spec: Showcase) -> int:
    """Fills and publishes the professional's draft as its owner would, step by step; once: an offer
    published before (then perhaps changed or unpublished in the demo) is left as it is."""
    from services.common.actor import Actor
    from services.offers import lifecycle

    offer = session.scalar(select(Offer).where(Offer.region == region, Offer.owner_rpps == spec.rpps,
                                               Offer.commune_insee == spec.commune_insee))
    if offer is None:
        raise ValueError(f"demo: no offer of RPPS {spec.rpps} in {spec.commune_insee} (rpps-{region}.txt)")
    if offer.published_at is not None:
        return offer.id
    owner = Actor(subject=f"demo:{spec.rpps}", username="demo", region=region,
                  roles=frozenset({"professional"}), rpps=spec.rpps)
    for step, body in spec.steps.items():
        lifecycle.save_step(session, offer, step, body, owner, offer.etag)
    lifecycle.publish(session, offer, owner, offer.etag)
    return offer.id


def _check_accounts(session: Session, region: str) -> list[str]:
    """The demo RPPS file must carry the RPPS of the region's demo users (their one source is the region
    file, deploy/regions/<region>.toml, from which the realms are generated): say so when one is missing."""
    wanted = {p["rpps"]: p["username"] for p in REGIONS[region].demo_professionals}
    found = set(session.scalars(select(Professional.rpps).where(Professional.region == region,
                                                                 Professional.rpps.in_(wanted))))
    return [f"{wanted[rpps]} (RPPS {rpps}, deploy/regions/{region}.toml) is not in {demo_files(region)[1].name}"
            for rpps in sorted(set(wanted) - found)]
