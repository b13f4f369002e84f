"""French wording of the pages (the guides' words): steps, contact channels, days, slot kinds."""

STEPS = (
    ("national", "Informations nationales"),
    ("description", "Description de l'offre"),
    ("modalities", "Modalités d'accueil et territoire d'intervention"),
    ("contacts", "Contacts"),
    ("hours", "Horaires"),
    ("recapitulatif", "Récapitulatif et publication"),
)
STEP_NAMES = tuple(code for code, _ in STEPS)
STEP_LABELS = dict(STEPS)

CHANNELS = (
    ("phone", "Téléphone"), ("mobile", "Téléphone mobile"), ("fax", "Fax"), ("email", "Adresse e-mail"),
    ("mssante", "Boîte de Messagerie Sécurisée de Santé"), ("url_appointment", "URL/lien vers site de prise de RDV"),
    ("url_teleconsultation", "URL/lien de téléconsultation"), ("url_teleexpertise", "URL/lien de téléexpertise"),
    ("website", "Site internet"),
)
VISIBILITIES = (("public", "À destination des patients (public)"),
                ("professional", "À destination des professionnels"))
DAYS = ("Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi", "Samedi", "Dimanche")
SLOT_KINDS = (("appointment", "Sur rendez-vous"), ("walk_in", "Sans rendez-vous"),
              ("home_visit", "Visite à domicile / autre structure"))
SLOTS_PER_DAY = 3
STATUS = {"draft": "Brouillon", "published": "Publiée", "unpublished": "Dépubliée"}

# Pick-lists of step 2: form field -> NOS nomenclature.
DESCRIPTION_LISTS = (
    ("operational_activities", "operational_activities", "Activités opérationnelles"),
    ("specific_acts_in_office", "specific_acts", "Actes spécifiques au cabinet"),
    ("specific_acts_outside_office", "specific_acts", "Actes spécifiques hors cabinet"),
    ("equipments", "equipments", "Équipements spécifiques"),
    ("specific_competences", "specific_competences", "Compétences spécifiques"),
)
