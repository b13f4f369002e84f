"""Offers and structures as FHIR R4 resources following the ANS ROR IG
(`ansforge/IG-fhir-repertoire-offre-ressources-sante`, profiles RORHealthcareService, ROROrganization,
RORLocation, RORPractitionerRole).

Plain module: takes model instances (or anything with the same attributes) and returns JSON-ready dicts;
no session, no nameko. The same functions feed the FHIR read API and the push to the national ROR, so
both always say the same thing.

Identifiers are `<region>-<id>` (`idf-12`): unique across regions once pushed to the national ROR.
A PractitionerRole is one professional in one offer: `<region>-<offer id>-<professional id>`.

Codes: systems are the NOS ones (TRE_*) where the code is a NOS code. Codes this project invented
(`ROR-…`, see data/nomenclatures/README.md) and the few codings whose NOS code was not checked carry a
local system (LOCAL_SYSTEM + table), so that a consumer never takes a guess for an official code.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from services.common.regions import get_region
from services.offers import reference, steps

IG = "https://interop.esante.gouv.fr/ig/fhir/ror"
SD = IG + "/StructureDefinition/"
PROFILES = {
    "HealthcareService": SD + "ror-healthcareservice",
    "Organization": SD + "ror-organization",
    "Location": SD + "ror-location",
    "PractitionerRole": SD + "ror-practitionerrole",
}
LOCAL_SYSTEM = "urn:ror-suite:codesystem:"
ANNUAIRE_SD = "https://apifhir.annuaire.sante.fr/ws-sync/exposed/structuredefinition/"


def nos(table: str) -> str:
    """`TRE_R211-ActiviteOperationnelle` -> its FHIR CodeSystem URL on the NOS server."""
    return f"https://mos.esante.gouv.fr/NOS/{table}/FHIR/{table.replace('_', '-', 1)}"


REGION_SYSTEM = nos("TRE_R30-RegionOM")  # meta.tag[codeRegion], bound to JDV_J237-RegionOM-ROR
REGION_NAMES = {"11": "Île-de-France", "52": "Pays de la Loire"}
NOMENCLATURE_TABLES = {  # API name of services/offers/reference.py -> NOS table
    "operational_activities": "TRE_R211-ActiviteOperationnelle",
    "specific_acts": "TRE_R210-ActeSpecifique",
    "equipments": "TRE_R212-Equipement",
    "specific_competences": "TRE_R243-CompetenceSpecifique",
    "reception_modalities": "TRE_R338-ModaliteAccueil",
    "care_modes": "TRE_R213-ModePriseEnCharge",
}
# Champ d'activité (TRE_R227) of the structure's discipline: 01 and 05 as in the IG's examples; the others
# were not checked against the NOS and stay local.
CHAMP_ACTIVITE = {"MCO": ("01", "Médecine, Chirurgie, Obstétrique (MCO)"), "VIL": ("05", "Ville")}
DISCIPLINE_LABELS = {"MSS": "Médico-social", "PSY": "Psychiatrie", "SLD": "Soins de longue durée",
                     "SMA": "Soins médicaux et de réadaptation", "SSR": "Soins de suite et de réadaptation"}
# Canal de communication (TRE_R200): 2 and 3 are the IG's; the other channels keep a local code.
CHANNELS = {"phone": ("2", "Téléphone fixe"), "email": ("3", "Courrier électronique")}
FHIR_CONTACT_SYSTEM = {"phone": "phone", "mobile": "phone", "fax": "fax", "email": "email", "mssante": "email",
                       "url_appointment": "url", "url_teleconsultation": "url", "url_teleexpertise": "url",
                       "website": "url"}
CONFIDENTIALITY = {"public": ("1", "Accès libre"), "professional": ("2", "Accès restreint")}
# Type d'horaire (TRE_R252): 06 / 07 as in the IG's examples; home visits keep a local code.
TIME_TYPES = {"appointment": (nos("TRE_R252-TypeHoraire"), "07", "Horaire de consultation sur RDV"),
              "walk_in": (nos("TRE_R252-TypeHoraire"), "06", "Horaire de consultation sans RDV"),
              "home_visit": (LOCAL_SYSTEM + "type-horaire", "visite-domicile",
                             "Horaire de visite à domicile / autre structure")}
FHIR_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EXERCISE_MODES = {"L": "Libéral, indépendant, artisan, commerçant", "S": "Salarié", "B": "Bénévole"}
ORGANIZATION_KINDS = ("legal_entity", "site", "pole", "service", "functional_unit")
AGE_MAX_OPEN = 150  # ageRange.high is 1..1 in the IG: an open range ends at the oldest age the path allows
UCUM = "http://unitsofmeasure.org"


# ------------------------------------------------------------------ small builders

def resource_id(region: str, *parts) -> str:
    return "-".join([region, *(str(p) for p in parts)])


def instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def coding(system: str, code: str, display: str | None = None) -> dict:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(name: str, code: str) -> dict:
    """A code of one of our nomenclatures as a CodeableConcept (NOS system unless a local ROR- code)."""
    label = reference.label_of(name, code)
    table = NOMENCLATURE_TABLES.get(name)
    system = nos(table) if table and not code.startswith("ROR-") else LOCAL_SYSTEM + name.replace("_", "-")
    return {"coding": [coding(system, code, label)], "text": label}


def ext(name: str, **value) -> dict:
    """An extension of the IG (`name` = its id) or a sub-extension (`name` without a URL)."""
    url = name if name.startswith("http") or "-" not in name else SD + name
    return {"url": url, **value}


def meta(resource_type: str, region: str, last_updated: datetime | None, version: str | None = None) -> dict:
    code = get_region(region).insee_region
    out = {"profile": [PROFILES[resource_type]], "lastUpdated": instant(last_updated or datetime.now(UTC)),
           "tag": [coding(REGION_SYSTEM, code, REGION_NAMES.get(code))]}
    if version:
        out["versionId"] = version
    return out


def ror_telecom(channel: str, value: str, visibility: str = "public") -> dict:
    """A ContactPoint with the IG's channel and confidentiality extensions."""
    system = FHIR_CONTACT_SYSTEM.get(channel, "other")
    level = CONFIDENTIALITY.get(visibility, CONFIDENTIALITY["professional"])
    return {"system": system, "value": value, "extension": [
        ext("ror-telecom-communication-channel", valueCodeableConcept={"coding": [_channel(channel)]}),
        ext("ror-telecom-confidentiality-level",
            valueCodeableConcept={"coding": [coding(nos("TRE_R283-NiveauConfidentialite"), *level)]}),
    ]}


def _channel(channel: str) -> dict:
    if channel in CHANNELS:
        return coding(nos("TRE_R200-CanalCommunication"), *CHANNELS[channel])
    return coding(LOCAL_SYSTEM + "canal-communication", channel, steps.CHANNEL_LABELS.get(channel, channel))


def _time(value: str) -> str:
    # FHIR `time` stops at 23:59:59; the path allows "24:00" as the end of a day.
    return "23:59:59" if value == "24:00" else f"{value}:00"


def content_version(resource: dict) -> str:
    """A version id that changes exactly when the content changes (ETag, meta.versionId)."""
    body = {k: v for k, v in resource.items() if k != "meta"}
    body["meta"] = {k: v for k, v in (resource.get("meta") or {}).items() if k != "versionId"}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return digest[:16]


def with_version(resource: dict) -> dict:
    resource["meta"]["versionId"] = content_version(resource)
    return resource


# ------------------------------------------------------------------ HealthcareService

def _age_range(description: dict) -> dict:
    low = description.get("age_min") or 0
    high = description.get("age_max")
    high = AGE_MAX_OPEN if high is None else high

    def age(years):
        return {"value": years, "unit": "ans", "system": UCUM, "code": "a"}

    return ext("ror-healthcareservice-patient-type", extension=[{"url": "ageRange",
                                                                  "valueRange": {"low": age(low), "high": age(high)}}])


def _contact(contact: dict) -> dict:
    level = CONFIDENTIALITY.get(contact.get("visibility"), CONFIDENTIALITY["professional"])
    level_concept = {"coding": [coding(nos("TRE_R283-NiveauConfidentialite"), *level)]}
    parts = []
    if contact.get("purpose"):
        parts.append({"url": "purposeContact", "valueCodeableConcept": {"text": contact["purpose"]}})
    parts.append(ext("ror-confidentiality-level", valueCodeableConcept=level_concept))
    parts.append(ext("ror-healthcareservice-contact-telecom", extension=[
        ext("ror-telecom-communication-channel", valueCodeableConcept={"coding": [_channel(contact["channel"])]}),
        {"url": "telecomAddress", "valueString": contact["value"]},
        ext("ror-telecom-confidentiality-level", valueCodeableConcept=level_concept),
    ]))
    return ext("ror-healthcareservice-contact", extension=parts)


def _weekly(slot: dict) -> dict:
    kind_system, kind_code, kind_label = TIME_TYPES[slot["kind"]]
    out = {"availableStartTime": _time(slot["start"]), "availableEndTime": _time(slot["end"]), "extension": [
        ext("ror-available-time-type-of-time",
            valueCodeableConcept={"coding": [coding(kind_system, kind_code, kind_label)]}),
    ]}
    if slot.get("day"):
        out["daysOfWeek"] = [FHIR_DAYS[slot["day"] - 1]]
        out["extension"].append(ext("ror-available-time-number-days-of-week", valueInteger=slot["day"]))
    else:
        out["daysOfWeek"] = list(FHIR_DAYS)
    return out


def _available_time(hours: dict) -> list[dict]:
    times = [_weekly(slot) for slot in hours.get("weekly") or []]
    for period in hours.get("exceptional_hours") or []:
        for slot in period.get("slots") or []:
            item = _weekly(slot)
            # The IG fixes this extension's URL to its ror30 form (see RORAvailableTimeEffectiveOpeningClosingDate).
            item["extension"].append({
                "url": "http://interop.esante.gouv.fr/fhir/ig/ror30/StructureDefinition/"
                       "ror-available-time-effective-opening-closing-date",
                "valuePeriod": {"start": period["start_date"], "end": period["end_date"]}})
            times.append(item)
    return times


def _not_available(hours: dict) -> list[dict]:
    out = []
    for period in hours.get("temporary_closure") or []:
        out.append({"id": "closingReopeningDate",
                    "description": period.get("comment") or "Période de fermeture et de réouverture prévisionnelle",
                    "during": {"start": period["start_date"], "end": period["end_date"]}})
    return out


def _characteristics(offer, description: dict, modalities: dict) -> list[dict]:
    chars = []
    if offer.care_mode:
        chars.append(concept("care_modes", offer.care_mode))
    for code in modalities.get("reception_modalities") or []:
        chars.append(concept("reception_modalities", code))
    for key, act_type in (("specific_acts_in_office", "specificAct"), ("specific_acts_outside_office",
                                                                       "outsideOfficeAct")):
        for code in description.get(key) or []:
            item = concept("specific_acts", code)
            item["extension"] = [ext("ror-act-type", valueCode=act_type)]
            chars.append(item)
    for code in description.get("specific_competences") or []:
        chars.append(concept("specific_competences", code))
    return chars


def service_type(discipline: str | None) -> dict:
    if discipline in CHAMP_ACTIVITE:
        code, label = CHAMP_ACTIVITE[discipline]
        return {"coding": [coding(nos("TRE_R227-ChampActivite"), code, label)], "text": label}
    label = DISCIPLINE_LABELS.get(discipline or "", discipline or "Non précisé")
    return {"coding": [coding(LOCAL_SYSTEM + "champ-activite", discipline or "NP", label)], "text": label}


def healthcare_service(offer, unit, provider, site, public: bool) -> dict:
    """The published offer as a RORHealthcareService. `public`: only the contacts meant for patients
    (an anonymous reader, the national push); otherwise the professionals' contacts too.

    `unit` is the UO, `provider` the organisation that provides it (its parent: UF, service… or EG),
    `site` the EG whose place is the offer's Location (None when the tree has none)."""
    region = offer.region
    published = offer.published or {}
    description = published.get("description") or {}
    modalities = published.get("modalities") or {}
    contacts = (published.get("contacts") or {}).get("contacts") or []
    if public:
        contacts = steps.public_contacts(contacts)
    hours = published.get("hours") or {}
    extensions = [
        ext("ror-meta-creation-date", valueDateTime=instant(offer.created_at)),
        ext("ror-healthcareservice-sensitive-unit", valueBoolean=False),
        _age_range(description),
        *(_contact(c) for c in contacts if c.get("channel") != "mssante"),
    ]
    resource = {
        "resourceType": "HealthcareService",
        "id": resource_id(region, offer.id),
        "meta": meta("HealthcareService", region, _offer_updated(offer)),
        "extension": extensions,
        "identifier": [{"system": f"urn:ror-suite:{region}:offre", "value": resource_id(region, offer.id)}],
        "active": offer.status == "published",
        "name": offer.name,
        "type": [service_type(unit.discipline if unit is not None else None)],
        "specialty": [concept("operational_activities", code)
                      for code in description.get("operational_activities") or []],
        "characteristic": _characteristics(offer, description, modalities),
    }
    if provider is not None:
        resource["providedBy"] = {"reference": f"Organization/{resource_id(region, provider.id)}",
                                  "display": provider.name}
    if site is not None:
        resource["location"] = [{"reference": f"Location/{resource_id(region, site.id)}", "display": site.name}]
    if description.get("comment"):
        resource["comment"] = description["comment"]
    # telecom holds the offer's MSSanté boxes (boiteLettreMSS in the IG).
    mss = [ror_telecom("mssante", c["value"], c.get("visibility")) for c in contacts if c.get("channel") == "mssante"]
    if mss:
        resource["telecom"] = mss
    times = _available_time(hours)
    if times:
        resource["availableTime"] = times
    closed = _not_available(hours)
    if closed:
        resource["notAvailable"] = closed
    communes = modalities.get("intervention_communes") or []
    if communes:  # zoneIntervention: communes where the patients taken in charge live
        resource["extension"].append(ext("ror-territorial-division", extension=[
            {"url": "communeCog", "valueCodeableConcept": {"coding": [coding(nos("TRE_R13-CommuneOM"), code, _commune_name(code))]}}
            for code in communes]))
    return with_version(resource)


def _offer_updated(offer) -> datetime | None:
    """What consumers see change: the publication, or the withdrawal of an unpublished offer."""
    if offer.status == "unpublished" and offer.unpublished_at:
        return offer.unpublished_at
    return offer.published_at


def _commune_name(code: str) -> str | None:
    commune = reference.get_commune(code)
    return commune.name if commune else None


# ------------------------------------------------------------------ Organization and Location

def _address(structure) -> dict | None:
    address = {}
    lines = [line for line in (structure.address_line, structure.address_complement) if line]
    if lines:
        address["line"] = lines
    if structure.city:
        address["city"] = structure.city
    if structure.postal_code:
        address["postalCode"] = structure.postal_code
    if not address:
        return None
    address["country"] = "FR"
    if structure.commune_insee:
        address["extension"] = [{"url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code",
                                 "valueCoding": coding(nos("TRE_R13-CommuneOM"), structure.commune_insee)}]
    return address


def _structure_telecom(structure) -> list[dict]:
    """Contacts of a structure are public data of the national repositories (FINESS)."""
    out = []
    for channel, value in (("phone", structure.phone), ("fax", structure.fax), ("email", structure.email),
                           ("mssante", structure.mssante), ("website", structure.website)):
        if value:
            out.append(ror_telecom(channel, value, "public"))
    return out


def organization(structure) -> dict:
    """An EJ, EG or internal organisation (pôle, service, UF) as a ROROrganization."""
    region = structure.region
    identifiers = []
    g07 = nos("TRE_G07-TypeIdentifiantStructure")
    if structure.finess:
        identifiers.append({"use": "official", "type": {"coding": [coding(g07, "1", "FINESS")]},
                            "system": "http://finess.esante.gouv.fr", "value": structure.finess})
    if structure.siret:
        identifiers.append({"use": "official", "type": {"coding": [coding(g07, "3", "SIRET")]},
                            "system": "http://sirene.fr", "value": structure.siret})
    if structure.siren:
        identifiers.append({"use": "official", "type": {"coding": [coding(g07, "2", "SIREN")]},
                            "system": "http://sirene.fr", "value": structure.siren})
    identifiers.append({"system": f"urn:ror-suite:{region}:structure", "value": resource_id(region, structure.id)})
    types = []
    if structure.category_code:
        types.append({"coding": [coding(nos("TRE_R66-CategorieEtablissement"), structure.category_code,
                                        structure.category_label)]})
    if structure.legal_status_code:
        types.append({"coding": [coding(nos("TRE_R72-FinessStatutJuridique"), structure.legal_status_code,
                                        structure.legal_status_label)]})
    kind_labels = {"legal_entity": "Entité juridique", "site": "Entité géographique", "pole": "Pôle",
                   "service": "Service", "functional_unit": "Unité fonctionnelle"}
    types.append({"coding": [coding(LOCAL_SYSTEM + "niveau-structure", structure.kind,
                                    kind_labels.get(structure.kind, structure.kind))]})
    resource = {
        "resourceType": "Organization",
        "id": resource_id(region, structure.id),
        "meta": meta("Organization", region, structure.updated_at),
        "extension": [ext("ror-meta-creation-date", valueDateTime=instant(structure.created_at))],
        "identifier": identifiers,
        "active": bool(structure.active),
        "type": types,
        "name": structure.long_name or structure.name,
    }
    if structure.long_name and structure.long_name != structure.name:
        resource["alias"] = [structure.name]
    telecom = _structure_telecom(structure)
    if telecom:
        resource["telecom"] = telecom
    address = _address(structure)
    if address:
        resource["address"] = [address]
    if structure.parent_id:
        resource["partOf"] = {"reference": f"Organization/{resource_id(region, structure.parent_id)}"}
    return with_version(resource)


def location(site) -> dict:
    """The place of an EG (or of a unit that has no EG above it) as a RORLocation."""
    region = site.region
    resource = {
        "resourceType": "Location",
        "id": resource_id(region, site.id),
        "meta": meta("Location", region, site.updated_at),
        "extension": [ext("ror-meta-creation-date", valueDateTime=instant(site.created_at))],
        "status": "active" if site.active else "inactive",
        "name": site.long_name or site.name,
    }
    if site.commune_insee:
        resource["extension"].insert(0, ext("ror-commune-cog", valueCodeableConcept={"coding": [
            coding(nos("TRE_R13-CommuneOM"), site.commune_insee, _commune_name(site.commune_insee))]}))
    telecom = _structure_telecom(site)
    if telecom:
        resource["telecom"] = telecom
    address = _address(site)
    if address:
        resource["address"] = address
    if site.latitude is not None and site.longitude is not None:
        resource["position"] = {"latitude": round(site.latitude, 7), "longitude": round(site.longitude, 7)}
    if site.kind in ORGANIZATION_KINDS:
        resource["managingOrganization"] = {"reference": f"Organization/{resource_id(region, site.id)}"}
    return with_version(resource)


# ------------------------------------------------------------------ PractitionerRole

def practitioner_role(offer, professional, attachment, provider, site) -> dict:
    """A professional in an offer: attached to the unit (`attachment`) or its owner (liberal offer)."""
    region = offer.region
    profession_code = (attachment.profession_code if attachment else None) or professional.profession_code
    profession_label = (attachment.profession_label if attachment else None) or professional.profession_label
    specialty_code = (attachment.specialty_code if attachment else None) or professional.specialty_code
    specialty_label = (attachment.specialty_label if attachment else None) or professional.specialty_label
    sector = (attachment.convention_sector if attachment else None) or professional.convention_sector
    # modeExerciceOffre is 1..1: an owner of a liberal offer practises as liberal, an attached one as salaried
    mode = professional.practice_mode_code or ("L" if attachment is None else "S")
    name = " ".join(p for p in (professional.first_name, professional.last_name) if p)
    extensions = [ext("ror-meta-creation-date", valueDateTime=instant(
        (attachment.created_at if attachment else None) or offer.created_at))]
    extensions.append(ext("ror-practitionerrole-unit-exercise-mode", valueCodeableConcept={"coding": [
        coding(nos("TRE_R23-ModeExercice"), mode, EXERCISE_MODES.get(mode, professional.practice_mode_label))]}))
    if sector:
        digits = "".join(c for c in sector if c.isdigit())
        value = {"text": sector}
        if digits:
            value["coding"] = [coding(nos("TRE_R282-CNAMAmeliSecteurConventionnement"), digits, sector)]
        extensions.append({"url": ANNUAIRE_SD + "practitionerRole-contracted", "valueCodeableConcept": value})
    if professional.accepts_vitale is not None:
        extensions.append({"url": ANNUAIRE_SD + "practitionerRole-vitaleAccepted",
                           "valueBoolean": bool(professional.accepts_vitale)})
    resource = {
        "resourceType": "PractitionerRole",
        "id": resource_id(region, offer.id, professional.id),
        "meta": meta("PractitionerRole", region, _offer_updated(offer)),
        "extension": extensions,
        "identifier": [{"system": f"urn:ror-suite:{region}:situation-operationnelle",
                        "value": resource_id(region, offer.id, professional.id)}],
        "active": offer.status == "published",
        # idNatPS = "8" + RPPS (type d'identifiant 8), OID of the national identifiers of health professionals
        "practitioner": {"identifier": {"system": "urn:oid:1.2.250.1.71.4.2.1",
                                        "value": f"{professional.id_type or '8'}{professional.rpps}"},
                         "display": name or professional.rpps},
        "healthcareService": [{"reference": f"HealthcareService/{resource_id(region, offer.id)}",
                               "display": offer.name}],
        "code": [{"coding": [coding(nos("TRE_G15-ProfessionSante"), profession_code, profession_label)]}
                 if profession_code else {"text": profession_label or "Professionnel de santé"}],
    }
    if provider is not None:
        resource["organization"] = {"reference": f"Organization/{resource_id(region, provider.id)}"}
    if site is not None:
        resource["location"] = [{"reference": f"Location/{resource_id(region, site.id)}"}]
    if specialty_code:
        resource["specialty"] = [
            {"coding": [coding(nos("TRE_R04-TypeSavoirFaire"), "S", "Spécialité ordinale")]},
            {"coding": [coding(nos("TRE_R38-SpecialiteOrdinale"), specialty_code, specialty_label)]},
        ]
    return with_version(resource)


# ------------------------------------------------------------------ Bundle and CapabilityStatement

def searchset(entries: list[dict], total: int, self_url: str, next_url: str | None, base_url: str,
              distances: dict[str, float] | None = None) -> dict:
    """`distances`: km from the `near` point by resource id (extension location-distance of entry.search)."""
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    distances = distances or {}

    def search(resource: dict) -> dict:
        out = {"mode": "match"}
        if resource["id"] in distances:
            out["extension"] = [{"url": "http://hl7.org/fhir/StructureDefinition/location-distance",
                                 "valueDistance": {"value": round(distances[resource["id"]], 3), "unit": "km",
                                                   "system": UCUM, "code": "km"}}]
        return out

    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "meta": {"lastUpdated": instant(datetime.now(UTC))},
        "total": total,
        "link": links,
        "entry": [{"fullUrl": f"{base_url}/{e['resourceType']}/{e['id']}", "resource": e,
                   "search": search(e)} for e in entries],
    }


SEARCH_PARAMS = {
    "HealthcareService": (
        ("service-type", "token", "Champ d'activité (HealthcareService.type), `[system|]code`"),
        ("characteristic", "token", "Mode de prise en charge, modalité d'accueil, acte spécifique, compétence"),
        ("specialty", "token", "Activité opérationnelle (TRE_R211)"),
        ("location.address-city", "string", "Commune du lieu de l'offre (début du nom, accents ignorés)"),
        ("location.address-postalcode", "string", "Code postal du lieu de l'offre (début)"),
        ("location.commune-cog", "token", "Code INSEE (COG) de la commune du lieu de l'offre"),
        ("_lastUpdated", "date", "Date de publication : gt, ge, lt, le, eq"),
        ("_count", "number", "Entrées par page (200 au plus)"),
    ),
    "Organization": (
        ("identifier", "token", "Numéro FINESS (ou SIRET, `system|value`)"),
        ("_lastUpdated", "date", "Date de mise à jour"),
        ("_count", "number", "Entrées par page (200 au plus)"),
    ),
    "Location": (
        ("near", "special", "lat|lon|distance[|km]"),
        ("address-city", "string", "Commune (début du nom, accents ignorés)"),
        ("address-postalcode", "string", "Code postal (début)"),
        ("commune-cog", "token", "Code INSEE (COG) de la commune"),
        ("_lastUpdated", "date", "Date de mise à jour"),
        ("_count", "number", "Entrées par page (200 au plus)"),
    ),
    "PractitionerRole": (
        ("service", "reference", "HealthcareService/<id>"),
        ("_lastUpdated", "date", "Date de publication de l'offre"),
        ("_count", "number", "Entrées par page (200 au plus)"),
    ),
}


def capability_statement(region: str, base_url: str, software_version: str = "1") -> dict:
    label = get_region(region).label
    resources = []
    for rtype, params in SEARCH_PARAMS.items():
        resources.append({
            "type": rtype,
            "supportedProfile": [PROFILES[rtype]],
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "versioning": "versioned",
            "readHistory": False,
            "searchParam": [{"name": n, "type": t, "documentation": d} for n, t, d in params],
        })
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": datetime.now(UTC).date().isoformat(),
        "publisher": label,
        "kind": "instance",
        "software": {"name": "ROR suite", "version": software_version},
        "implementation": {"description": f"{label} — exposition FHIR de l'offre publiée", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{"mode": "server", "resource": resources,
                  "documentation": "Lecture anonyme : contacts à destination des patients uniquement ; un jeton "
                                   "d'un professionnel de la région donne aussi les contacts professionnels."}],
    }
