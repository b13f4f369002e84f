"""Tables of the dossiers service (schema `dossiers`).

A dossier collaboratif is a change set on one EG: its sheets are a copy of the EG's tree (EG → pôle /
service / UF → UO) taken from the published répertoire when it is opened, edited here, and applied to
the répertoire by the offers service when the regional team validates it. Structures are referred to
by id only (the offers service owns them).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.common.outbox import OutboxMixin, ProcessedEventMixin, utcnow

Json = JSON().with_variant(JSONB(), "postgresql")

DOSSIER_STATUSES = ("draft", "finalised", "sent", "approved", "validated", "published", "cancelled")
OPEN_STATUSES = ("draft", "finalised", "sent", "approved", "validated")
SHEET_KINDS = ("eg", "pole", "service", "uf", "uo")
SHEET_STATUSES = ("pending", "finalised")
SHEET_ACTIONS = ("keep", "create", "update", "remove")


class Base(DeclarativeBase):
    metadata = MetaData(schema="dossiers")


class Outbox(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class Dossier(Base):
    __tablename__ = "dossiers"
    __table_args__ = (
        CheckConstraint(f"status IN {DOSSIER_STATUSES}", name="ck_dossiers_status"),
        Index("ix_dossiers_region_status", "region", "status"),
        # At most one open dossier per EG, enforced by the database too (two openings at once).
        Index("uq_dossiers_open_per_structure", "region", "structure_id", unique=True,
              postgresql_where=text("status IN ('draft', 'finalised', 'sent', 'approved', 'validated')"),
              sqlite_where=text("status IN ('draft', 'finalised', 'sent', 'approved', 'validated')")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    structure_id: Mapped[int] = mapped_column(Integer)  # the EG (offers.structures.id)
    structure_name: Mapped[str] = mapped_column(String(255))
    # The EG and its ancestors (EJ) when opened: habilitations are checked against these ids.
    lineage: Mapped[list] = mapped_column(Json, default=list)
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(12), default="draft", server_default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    opened_by_subject: Mapped[str] = mapped_column(String(64))
    opened_by_username: Mapped[str] = mapped_column(String(255))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    publication_error: Mapped[dict | None] = mapped_column(Json)
    applied: Mapped[dict | None] = mapped_column(Json)  # what the répertoire did (structures created…)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    sheets: Mapped[list[Sheet]] = relationship(back_populates="dossier", order_by="Sheet.id")
    collaborators: Mapped[list[Collaborator]] = relationship(order_by="Collaborator.id")


class Sheet(Base):
    """One fiche: grey (`pending`) or green (`finalised`)."""

    __tablename__ = "sheets"
    __table_args__ = (
        CheckConstraint(f"kind IN {SHEET_KINDS}", name="ck_sheets_kind"),
        CheckConstraint(f"status IN {SHEET_STATUSES}", name="ck_sheets_status"),
        CheckConstraint(f"action IN {SHEET_ACTIONS}", name="ck_sheets_action"),
        Index("ix_sheets_dossier", "dossier_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.dossiers.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.sheets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    structure_id: Mapped[int | None] = mapped_column(Integer)  # None for a unit this dossier creates
    unit_type: Mapped[str | None] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")
    action: Mapped[str] = mapped_column(String(8), default="keep", server_default="keep")
    data: Mapped[dict] = mapped_column(Json, default=dict)
    original: Mapped[dict | None] = mapped_column(Json)  # as copied from the répertoire
    errors: Mapped[dict] = mapped_column(Json, default=dict)
    updated_by: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())

    dossier: Mapped[Dossier] = relationship(back_populates="sheets")


class Collaborator(Base):
    __tablename__ = "collaborators"
    __table_args__ = (UniqueConstraint("dossier_id", "username", name="uq_collaborators_dossier_username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.dossiers.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(255))
    added_by: Mapped[str] = mapped_column(String(255))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_dossier", "dossier_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.dossiers.id", ondelete="CASCADE"))
    sheet_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.sheets.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())


class HistoryEntry(Base):
    """Audit trail: every transition and every sheet save (who, with which role, when, before / after)."""

    __tablename__ = "history"
    __table_args__ = (Index("ix_history_dossier", "dossier_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.dossiers.id", ondelete="CASCADE"))
    sheet_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(255))
    role: Mapped[str | None] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str | None] = mapped_column(String(12))
    comment: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict | None] = mapped_column(Json)
    after: Mapped[dict | None] = mapped_column(Json)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())
