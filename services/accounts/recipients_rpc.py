"""Accounts RPC for the notifications service: event recipients -> addresses (mixin of AccountsService)."""

from __future__ import annotations

from marshmallow import ValidationError

from services.accounts import recipients
from services.common.entrypoints import rpc
from services.common.errors import from_marshmallow
from services.common.regions import get_region


class RecipientsRpc:
    @rpc
    def resolve_recipients(self, region: str, selectors: list) -> list[dict]:
        """[{email, name, subject}] of the people the selectors name in `region` (see recipients)."""
        get_region(region)
        try:
            loaded = recipients.load_selectors(selectors)
        except ValidationError as err:
            raise from_marshmallow(err, "Destinataires invalides") from err
        return recipients.resolve(self.db, region, loaded, self.directory(region))

    @rpc
    def structures_with_editors(self, region: str, structure_ids: list) -> list[int]:
        """Those of `structure_ids` someone may edit (a directeur or structure_editor habilitation):
        the others have nobody to remind."""
        get_region(region)
        ids = [int(i) for i in (structure_ids or [])][:recipients.MAX_IDS]
        return recipients.structures_with_editors(self.db, region, ids)
