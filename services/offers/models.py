"""Tables of the offers service (schema `offers`).

The répertoire is one tree per region held in `structures` (EJ → EG → pôle / service / UF → UO, told
apart by `kind`). Each UO that is described through the six-step path has one `offers` row carrying
the read-only national snapshot, the draft being edited and the published version.

Natural keys let the national importers upsert idempotently:
- structures: (region, kind, finess) for FINESS rows, (region, kind, source_key) for anything else
  (e.g. a liberal practice site keyed by the importer from RPPS data, a UO keyed by RPPS + unit type);
- professionals: (region, rpps);
- offers: unit_id (one offer per UO);
- practitioner attachments: (unit_id, professional_id); capacities: (unit_id, capacity_type).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.common.outbox import OutboxMixin, ProcessedEventMixin, utcnow
from services.offers.contracts import DISCIPLINES, OFFER_STATUSES, STRUCTURE_KINDS  # noqa: F401  (one source)

# JSONB on PostgreSQL (indexable, compact); plain JSON elsewhere (unit tests on SQLite).
Json = JSON().with_variant(JSONB(), "postgresql")


SOURCES = ("finess", "rpps", "ror")


class Base(DeclarativeBase):
    metadata = MetaData(schema="offers")


class Outbox(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class Structure(Base):
    """One node of the répertoire tree; `kind` says which level (see STRUCTURE_KINDS)."""

    __tablename__ = "structures"
    __table_args__ = (
        UniqueConstraint("region", "kind", "finess", name="uq_structures_region_kind_finess"),
        UniqueConstraint("region", "kind", "source_key", name="uq_structures_region_kind_source_key"),
        CheckConstraint(f"kind IN {STRUCTURE_KINDS}", name="ck_structures_kind"),
        CheckConstraint(f"source IN {SOURCES}", name="ck_structures_source"),
        Index("ix_structures_region_departement_discipline", "region", "departement", "discipline"),
        Index("ix_structures_region_commune", "region", "commune_insee"),
        Index("ix_structures_parent", "parent_id"),
        Index("ix_structures_region_kind", "region", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("offers.structures.id", ondelete="RESTRICT"))
    source: Mapped[str] = mapped_column(String(10), default="ror", server_default="ror")
    # Importer-chosen natural key when there is no FINESS number (e.g. "rpps:10001234567:site:1").
    source_key: Mapped[str | None] = mapped_column(String(128))

    finess: Mapped[str | None] = mapped_column(String(9))
    siret: Mapped[str | None] = mapped_column(String(14))
    siren: Mapped[str | None] = mapped_column(String(9))
    rpps: Mapped[str | None] = mapped_column(String(11), index=True)  # liberal practice: its practitioner

    name: Mapped[str] = mapped_column(String(255))
    long_name: Mapped[str | None] = mapped_column(String(255))
    discipline: Mapped[str | None] = mapped_column(String(3))
    category_code: Mapped[str | None] = mapped_column(String(10))  # FINESS catégorie d'établissement
    category_label: Mapped[str | None] = mapped_column(String(255))
    legal_status_code: Mapped[str | None] = mapped_column(String(10))  # FINESS statut juridique
    legal_status_label: Mapped[str | None] = mapped_column(String(255))
    type_label: Mapped[str | None] = mapped_column(String(255))  # e.g. "Cabinet individuel"

    address_line: Mapped[str | None] = mapped_column(String(255))
    address_complement: Mapped[str | None] = mapped_column(String(255))
    postal_code: Mapped[str | None] = mapped_column(String(5))
    commune_insee: Mapped[str | None] = mapped_column(String(5))
    departement: Mapped[str | None] = mapped_column(String(3))  # from the commune code (2A, 971…)
    city: Mapped[str | None] = mapped_column(String(255))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)

    phone: Mapped[str | None] = mapped_column(String(20))
    fax: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(255))
    mssante: Mapped[str | None] = mapped_column(String(255))
    website: Mapped[str | None] = mapped_column(String(500))
    director_name: Mapped[str | None] = mapped_column(String(255))  # "nom du directeur d'établissement"

    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    opened_on: Mapped[str | None] = mapped_column(String(10))  # ISO date from FINESS (dateouv)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=func.now()
    )

    # Bumped by every in-place edit (PDL guide §3): the ETag `"s<id>-<version>"` guards concurrent edits.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    parent: Mapped[Structure | None] = relationship(remote_side="Structure.id", back_populates="children")
    children: Mapped[list[Structure]] = relationship(back_populates="parent")


class Professional(Base):
    """A health professional as the national repository (RPPS) describes them; read-only in the ROR."""

    __tablename__ = "professionals"
    __table_args__ = (
        UniqueConstraint("region", "rpps", name="uq_professionals_region_rpps"),
        Index("ix_professionals_region_profession", "region", "profession_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    # None for a person added by name in a consultation unit ("Ajouter une personne" without RPPS).
    rpps: Mapped[str | None] = mapped_column(String(11))
    id_type: Mapped[str] = mapped_column(String(1), default="8", server_default="8")  # 8 = RPPS, 0 = ADELI
    civility_code: Mapped[str | None] = mapped_column(String(10))  # "M", "MME", "DR"…
    civility: Mapped[str | None] = mapped_column(String(40))
    last_name: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str | None] = mapped_column(String(255))
    profession_code: Mapped[str | None] = mapped_column(String(10))  # e.g. 70 masseur-kinésithérapeute
    profession_label: Mapped[str | None] = mapped_column(String(255))
    category_code: Mapped[str | None] = mapped_column(String(10))  # catégorie professionnelle (C civil…)
    specialty_code: Mapped[str | None] = mapped_column(String(20))  # savoir-faire
    specialty_label: Mapped[str | None] = mapped_column(String(255))
    practice_mode_code: Mapped[str | None] = mapped_column(String(10))  # mode d'exercice: L, S, B
    practice_mode_label: Mapped[str | None] = mapped_column(String(100))
    convention_sector: Mapped[str | None] = mapped_column(String(40))  # "Secteur 1"…
    accepts_vitale: Mapped[bool | None] = mapped_column(Boolean)
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class PractitionerAttachment(Base):
    """A professional attached to a consultation unit ("Professionnel(s) rattaché(s) à la consultation")."""

    __tablename__ = "practitioner_attachments"
    __table_args__ = (
        UniqueConstraint("unit_id", "professional_id", name="uq_attachments_unit_professional"),
        Index("ix_attachments_professional", "professional_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    unit_id: Mapped[int] = mapped_column(ForeignKey("offers.structures.id", ondelete="CASCADE"))
    professional_id: Mapped[int] = mapped_column(ForeignKey("offers.professionals.id", ondelete="CASCADE"))
    profession_code: Mapped[str | None] = mapped_column(String(10))
    profession_label: Mapped[str | None] = mapped_column(String(255))
    specialty_code: Mapped[str | None] = mapped_column(String(20))
    specialty_label: Mapped[str | None] = mapped_column(String(255))  # "Gynécologie médicale (SM)"
    convention_sector: Mapped[str | None] = mapped_column(String(40))  # "Secteur 2"
    source: Mapped[str] = mapped_column(String(10), default="ror", server_default="ror")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=func.now()
    )

    professional: Mapped[Professional] = relationship()


class Capacity(Base):
    """A capacity of an establishment unit (places installées, lits d'hospitalisation complète…)."""

    __tablename__ = "capacities"
    __table_args__ = (UniqueConstraint("unit_id", "capacity_type", name="uq_capacities_unit_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    unit_id: Mapped[int] = mapped_column(ForeignKey("offers.structures.id", ondelete="CASCADE"))
    # installed_places, full_hospitalisation_beds, day_hospitalisation_places, … (CAPACITY_TYPES)
    capacity_type: Mapped[str] = mapped_column(String(40))
    count: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class CapacityObservation(Base):
    """History of the capacities declared for a unit (installed and available beds in full
    hospitalisation, with the time of the update): the current figure is in `capacities`."""

    __tablename__ = "capacity_observations"
    __table_args__ = (Index("ix_capacity_observations_unit_time", "unit_id", "observed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    unit_id: Mapped[int] = mapped_column(ForeignKey("offers.structures.id", ondelete="CASCADE"))
    capacity_type: Mapped[str] = mapped_column(String(40))
    count: Mapped[int] = mapped_column(Integer)
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    recorded_by: Mapped[str | None] = mapped_column(String(255))


CAPACITY_TYPES = {
    "installed_places": "Places installées",
    "full_hospitalisation_beds": "Lits d'hospitalisation complète",
    "available_beds": "Lits disponibles (hospitalisation complète)",
    "day_hospitalisation_places": "Places d'hospitalisation de jour",
    "temporary_beds": "Lits supplémentaires (tension)",
}


class Offer(Base):
    """The description of one UO: national snapshot, draft of the six steps, published version.

    `draft` = {"steps": {step: data}, "validated": [step, …]}; `published` = the content made public
    (same shape as `draft["steps"]` plus the national snapshot), or None. `version` is bumped on every
    write and gives the ETag `"<id>-<version>"`.
    """

    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint(f"status IN {OFFER_STATUSES}", name="ck_offers_status"),
        Index("ix_offers_region_owner_rpps", "region", "owner_rpps"),
        Index("ix_offers_owner_subject", "owner_subject"),
        Index("ix_offers_region_departement", "region", "departement"),
        Index("ix_offers_region_commune", "region", "commune_insee"),
        Index("ix_offers_region_status", "region", "status"),
        Index("ix_offers_region_unit_type", "region", "unit_type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    unit_id: Mapped[int] = mapped_column(ForeignKey("offers.structures.id", ondelete="CASCADE"), unique=True)
    unit_type: Mapped[str] = mapped_column(String(20))  # code of the types d'UO nomenclature
    care_mode: Mapped[str | None] = mapped_column(String(20))  # TRE_R213 code, e.g. Consultation (CS)
    name: Mapped[str] = mapped_column(String(255))  # "Consultation kinésithérapie NOM Prénom"
    owner_rpps: Mapped[str | None] = mapped_column(String(11))  # whose national data generated it
    owner_subject: Mapped[str | None] = mapped_column(String(64))  # Keycloak subject, once the account exists
    owner_username: Mapped[str | None] = mapped_column(String(255))
    # Where the offer is, copied from its site so that searches need no join up the tree.
    commune_insee: Mapped[str | None] = mapped_column(String(5))
    departement: Mapped[str | None] = mapped_column(String(3))
    national: Mapped[dict] = mapped_column(Json, default=dict, server_default=text("'{}'"))
    draft: Mapped[dict] = mapped_column(Json, default=dict, server_default=text("'{}'"))
    published: Mapped[dict | None] = mapped_column(Json)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    unpublished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(12), default="draft", server_default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=func.now()
    )

    unit: Mapped[Structure] = relationship()

    @property
    def etag(self) -> str:
        return f'"{self.id}-{self.version}"'


class NationalPush(Base):
    """One FHIR resource to PUT to the national ROR (an outbox for the national push).

    Written in the transaction of the publication that changed the resource; a relay PUTs pending rows in
    order, retrying with backoff, and marks them pushed. `request_id` travels as `X-Request-Id` so that the
    receiver recognises a row sent again after a crash (PUT by id is idempotent anyway).
    """

    __tablename__ = "national_pushes"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'pushed', 'failed', 'superseded')", name="ck_national_pushes_status"),
        Index("ix_national_pushes_due", "status", "next_attempt_at"),
        Index("ix_national_pushes_resource", "resource_type", "resource_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(36), unique=True)
    region: Mapped[str] = mapped_column(String(8))
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict] = mapped_column(Json)
    cause: Mapped[str | None] = mapped_column(String(64))  # e.g. "offer:12:published", "structure:7"
    status: Mapped[str] = mapped_column(String(12), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                      server_default=func.now())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())
    pushed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[int | None] = mapped_column(Integer)  # HTTP status of the last attempt
    last_error: Mapped[str | None] = mapped_column(String(1000))


class Favourite(Base):
    """A structure a user marked « Ajouter aux favoris » in the répertoire (table made by the search
    migration, which also makes the index tables written in SQL by services.offers.search.index)."""

    __tablename__ = "favourites"

    region: Mapped[str] = mapped_column(String(8), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)  # Keycloak subject
    structure_id: Mapped[int] = mapped_column(ForeignKey("offers.structures.id", ondelete="CASCADE"),
                                              primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())


class ResourcePerson(Base):
    """« Personnes ressources » of an offer: a trainee, colleague or replacement the owner adds for a
    period; removed by a timer once the period is over."""

    __tablename__ = "resource_persons"
    __table_args__ = (
        CheckConstraint("kind IN ('trainee', 'colleague', 'replacement')", name="ck_resource_persons_kind"),
        CheckConstraint("contact_visibility IN ('public', 'professional')", name="ck_resource_persons_visibility"),
        Index("ix_resource_persons_offer", "offer_id"),
        Index("ix_resource_persons_ends_on", "ends_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.offers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    last_name: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str | None] = mapped_column(String(255))  # e.g. "Stagiaire en 3e année", "Remplaçante"
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    rpps: Mapped[str | None] = mapped_column(String(11))  # checked against the national data when given
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(255))
    contact_visibility: Mapped[str] = mapped_column(String(12), default="professional")
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())
