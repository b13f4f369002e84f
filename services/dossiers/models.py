"""Tables of the dossiers service (schema `dossiers`)."""

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from services.common.outbox import OutboxMixin, ProcessedEventMixin


class Base(DeclarativeBase):
    metadata = MetaData(schema="dossiers")


class Outbox(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass
