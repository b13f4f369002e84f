"""Tables of the anomalies service (schema `anomalies`): anomalies (after the national ROR's `RORTask`),
support tickets with their messages and SLA notices, and the anonymous-write rate-limit ledger."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.common.outbox import OutboxMixin, ProcessedEventMixin, utcnow
from services.common.ratelimit import RateCounterMixin


class Base(DeclarativeBase):
    metadata = MetaData(schema="anomalies")


class Outbox(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class RateCounter(RateCounterMixin, Base):
    pass


class Anomaly(Base):
    """One reported anomaly (RORTask): `theme` = Task.code (TRE_R350), `status` gives businessStatus
    (TRE_R352), `element_path` / `wrong_value` / `proposed_value` / `reporting_system` / `rule_id` = the
    task's inputs, the owner of the sheet = Task.owner."""

    __tablename__ = "anomalies"
    __table_args__ = (
        # the rules engine raises one anomaly per rule, sheet and period
        UniqueConstraint("region", "rule_id", "target_kind", "target_id", "period", name="uq_anomalies_rule_period"),
        Index("ix_anomalies_region_status", "region", "status"),
        Index("ix_anomalies_region_departement", "region", "departement"),
        Index("ix_anomalies_reporter", "reporter_subject"),
        Index("ix_anomalies_structure_path", "structure_path", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    target_kind: Mapped[str] = mapped_column(String(12))  # offer | structure | national
    target_id: Mapped[int | None] = mapped_column(Integer)
    target_label: Mapped[str] = mapped_column(String(255))
    target_level: Mapped[str | None] = mapped_column(String(20))  # legal_entity, site, unit… / offer
    structure_path: Mapped[list[int]] = mapped_column(ARRAY(Integer), default=list)  # the sheet and its ancestors
    departement: Mapped[str | None] = mapped_column(String(3))
    owner_subject: Mapped[str | None] = mapped_column(String(64))
    owner_rpps: Mapped[str | None] = mapped_column(String(11))
    owner_label: Mapped[str | None] = mapped_column(String(255))

    theme: Mapped[str] = mapped_column(String(2))  # TRE_R350 code
    status: Mapped[str] = mapped_column(String(12))
    element_path: Mapped[str | None] = mapped_column(String(255))
    wrong_value: Mapped[str | None] = mapped_column(Text)
    proposed_value: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    reporting_system: Mapped[str] = mapped_column(String(40))  # "IHM" (a person), "ROR-REGLES" (the engine)
    rule_id: Mapped[str | None] = mapped_column(String(40))
    period: Mapped[str | None] = mapped_column(String(20))

    routed_kind: Mapped[str] = mapped_column(String(12))  # ror_cell | authority
    routed_key: Mapped[str | None] = mapped_column(String(40))
    routed_name: Mapped[str] = mapped_column(String(255))

    reporter_subject: Mapped[str | None] = mapped_column(String(64))
    reporter_username: Mapped[str | None] = mapped_column(String(255))
    reporter_rpps: Mapped[str | None] = mapped_column(String(11))
    reporter_email: Mapped[str | None] = mapped_column(String(255))  # anonymous reporters

    resolution_comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=func.now())
    forwarded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    notes: Mapped[list[AnomalyNote]] = relationship(order_by="AnomalyNote.id", back_populates="anomaly")


class AnomalyNote(Base):
    """History and answers on an anomaly (a transition with its comment, or an owner's answer)."""

    __tablename__ = "anomaly_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    anomaly_id: Mapped[int] = mapped_column(ForeignKey("anomalies.anomalies.id", ondelete="CASCADE"), index=True)
    author: Mapped[str | None] = mapped_column(String(255))
    author_role: Mapped[str] = mapped_column(String(12))  # reporter | owner | team | system
    action: Mapped[str | None] = mapped_column(String(20))
    body: Mapped[str | None] = mapped_column(Text)
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str | None] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())

    anomaly: Mapped[Anomaly] = relationship(back_populates="notes")


class Ticket(Base):
    """A support request in its region's queue, with its SLA clock (due times kept up to date so that
    the overdue and due-soon lists are plain queries)."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_region_status", "region", "status"),
        Index("ix_tickets_requester", "requester_subject"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(24))
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    requester_subject: Mapped[str | None] = mapped_column(String(64))
    requester_username: Mapped[str | None] = mapped_column(String(255))
    contact_email: Mapped[str | None] = mapped_column(String(255))
    access_token_hash: Mapped[str | None] = mapped_column(String(64))  # anonymous requester's link
    assignee: Mapped[str | None] = mapped_column(String(255))
    expert_group: Mapped[str | None] = mapped_column(String(40))
    expert_token_hash: Mapped[str | None] = mapped_column(String(64))

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=func.now())
    first_responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    awaiting_agent_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    solved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Clock paused while waiting for the requester: business minutes spent paused so far, and since when.
    paused_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    paused_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    first_response_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    update_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    solution_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    messages: Mapped[list[TicketMessage]] = relationship(order_by="TicketMessage.id", back_populates="ticket")


class TicketMessage(Base):
    """A public reply (seen by the requester), an internal note (agents only) or a state change."""

    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("anomalies.tickets.id", ondelete="CASCADE"), index=True)
    author: Mapped[str | None] = mapped_column(String(255))
    author_role: Mapped[str] = mapped_column(String(12))  # requester | agent | expert | system
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str | None] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())

    ticket: Mapped[Ticket] = relationship(back_populates="messages")


class SlaNotice(Base):
    """A warning or escalation sent for one deadline of one ticket: sent once per due time."""

    __tablename__ = "sla_notices"
    __table_args__ = (UniqueConstraint("ticket_id", "kind", "target", "due_at", name="uq_sla_notices_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("anomalies.tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))  # warning | escalation
    target: Mapped[str] = mapped_column(String(16))  # first_response | update | solution
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())

