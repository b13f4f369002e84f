"""The owner's checklist (missing_for_publication) is computed once per draft content and day: an owner
reading an unchanged draft does not re-validate the six steps (issue 7)."""

from services.offers import drafts, steps
from services.offers.models import Offer


def test_an_unchanged_draft_is_validated_once(monkeypatch):
    calls = []
    real = steps.validate_step

    def counting(step, data, **kwargs):
        calls.append(step)
        return real(step, data, **kwargs)

    monkeypatch.setattr(steps, "validate_step", counting)
    monkeypatch.setattr(drafts, "_CHECKLISTS", {})  # not what earlier tests computed
    draft = {"steps": {"national": {"acknowledged": True}}, "validated": ["national"]}
    offer = Offer(id=1, version=3, draft=draft)
    first = drafts.missing_for_publication(offer)
    assert "steps.description" in first and "steps.national" not in first
    validated = len(calls)
    assert validated >= 1
    first["steps.description"] = "changed by a caller"
    assert drafts.missing_for_publication(Offer(id=2, version=9, draft=draft)) != first
    assert len(calls) == validated  # same content: nothing validated again

    offer.draft = {"steps": {}, "validated": []}  # another content: checked
    assert "steps.national" in drafts.missing_for_publication(offer)
