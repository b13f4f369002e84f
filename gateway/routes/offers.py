"""Routes of the offers service: reference data, structures, offers and their six steps."""

from __future__ import annotations


class OffersRoutes:
    pass
