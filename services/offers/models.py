"""Tables of the offers service (schema `offers`)."""

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from services.common.outbox import OutboxMixin, ProcessedEventMixin


class Base(DeclarativeBase):
    metadata = MetaData(schema="offers")


class Outbox(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass
