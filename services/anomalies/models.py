"""Tables of the anomalies service (schema `anomalies`)."""

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from services.common.outbox import OutboxMixin, ProcessedEventMixin


class Base(DeclarativeBase):
    metadata = MetaData(schema="anomalies")


class Outbox(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass
