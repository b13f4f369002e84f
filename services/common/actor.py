"""Who is acting: the identity the gateway verified plus the habilitations the accounts service holds.

Passed to every RPC that needs authorisation as a plain dict (`to_dict` / `from_dict`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from services.common.roles import REGION_ADMIN, TEAM_ROLES


@dataclass(frozen=True)
class Actor:
    subject: str
    username: str
    region: str
    roles: frozenset[str] = frozenset()
    rpps: str | None = None
    # (role, structure id) pairs granted by a region admin, e.g. ("directeur", 12)
    habilitations: frozenset[tuple[str, int]] = field(default_factory=frozenset)

    @property
    def is_team(self) -> bool:
        return bool(self.roles & TEAM_ROLES)

    @property
    def is_admin(self) -> bool:
        return REGION_ADMIN in self.roles

    def has_role_on(self, roles: Iterable[str], structure_ids: Iterable[int | None]) -> bool:
        """True when one of `roles` is granted on one of `structure_ids` (a structure and its ancestors)."""
        wanted = set(roles)
        ids = {i for i in structure_ids if i is not None}
        return any(role in wanted and sid in ids for role, sid in self.habilitations)

    def to_dict(self) -> dict:
        return {
            "subject": self.subject, "username": self.username, "region": self.region,
            "roles": sorted(self.roles), "rpps": self.rpps,
            "habilitations": [{"role": r, "structure_id": s} for r, s in sorted(self.habilitations)],
        }

    @classmethod
    def in_region(cls, data: dict | None, region: str) -> Actor:
        """The caller of an RPC that needs one, refused (403) when missing or of another region: a token of
        one realm never reads or writes another region's data."""
        from services.common.errors import Forbidden

        if not data:
            raise Forbidden("Authentification requise pour cette action", {"actor": "missing"})
        actor = cls.from_dict(data)
        if actor.region != region:
            raise Forbidden("Ce compte n'appartient pas à cette région", {"region": f"actor of {actor.region}"})
        return actor

    @classmethod
    def from_dict(cls, data: dict) -> Actor:
        return cls(
            subject=data["subject"], username=data["username"], region=data["region"],
            roles=frozenset(data.get("roles", ())), rpps=data.get("rpps"),
            habilitations=frozenset((h["role"], int(h["structure_id"])) for h in data.get("habilitations", ())),
        )
