"""Tables of the accounts service (schema `accounts`)."""

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from services.common.outbox import OutboxMixin, ProcessedEventMixin


class Base(DeclarativeBase):
    metadata = MetaData(schema="accounts")


class Outbox(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass
