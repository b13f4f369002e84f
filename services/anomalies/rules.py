"""Rules engine: anomalies the ROR raises by itself (plain module, no nameko).

The offers service reports the facts (offers.quality_facts); each rule below turns one kind of fact
into an anomaly routed to the region's ROR cell, at most once per rule, sheet and period (the unique
key (region, rule_id, target_kind, target_id, period) makes a second run, or two concurrent runs,
raise nothing new).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.anomalies.models import Anomaly, AnomalyNote, Outbox
from services.anomalies.reports import SYSTEM_RULES, THEMES, _event_fields, owner_recipients, route
from services.common import outbox
from services.common.events import make_event
from services.common.outbox import utcnow
from services.common.regions import get_region


@dataclass(frozen=True)
class Rule:
    id: str
    fact: str  # key of offers.quality_facts
    theme: str
    element_path: str
    message: str  # French, formatted with the fact's fields


RULES: tuple[Rule, ...] = (
    Rule("R01-NOS-OBSOLETE", "deprecated_codes", "accuracy", "HealthcareService.characteristic",
         "L'offre publiée utilise des codes de nomenclature obsolètes : {codes}. Choisissez des codes en vigueur."),
    Rule("R02-CONTACT-PATIENT", "no_patient_contact", "completeness", "HealthcareService.telecom",
         "Aucun contact à destination des patients (visibilité publique) n'est renseigné."),
    Rule("R03-MISE-A-JOUR", "stale", "timeliness", "meta.lastUpdated",
         "La fiche n'a pas été mise à jour depuis le {updated_on} (période de mise à jour de la région : "
         "{months} mois)."),
    Rule("R04-HORAIRES-CONSULTATION", "units_without_hours", "completeness", "HealthcareService.availableTime",
         "L'unité a {practitioners} professionnel(s) rattaché(s) mais aucun horaire de consultation."),
)


def period_of(now: datetime, months: int) -> str:
    """The region's update period containing `now`: with 6 months, '2026-P2' = July–December 2026."""
    months = max(1, min(12, months))
    return f"{now.year}-P{(now.month - 1) // months + 1}"


def _message(rule: Rule, fact: dict, months: int) -> str:
    codes = ", ".join(f"{c['code']} ({c['label']})" for c in fact.get("codes", []))
    updated = (fact.get("updated_at") or "")[:10]
    updated_on = "/".join(reversed(updated.split("-"))) if updated else "?"
    return rule.message.format(codes=codes, updated_on=updated_on, months=months,
                               practitioners=fact.get("practitioners", 0))


def scan(session: Session, region: str, facts: dict, now: datetime | None = None) -> list[Anomaly]:
    """Raise the anomalies the facts call for; returns the new ones (the caller commits)."""
    reg = get_region(region)
    now = now or utcnow()
    period = period_of(now, reg.update_reminder_months)
    cell = route(region, "offer")
    existing = set(session.execute(select(Anomaly.rule_id, Anomaly.target_kind, Anomaly.target_id).where(
        Anomaly.region == region, Anomaly.period == period, Anomaly.rule_id.is_not(None))).all())
    raised: list[Anomaly] = []
    for rule in RULES:
        for fact in facts.get(rule.fact, []):
            target = fact["target"]
            key = (rule.id, target["kind"], target["id"])
            if key in existing:
                continue
            anomaly = Anomaly(
                region=region, target_kind=target["kind"], target_id=target["id"], target_label=target["label"],
                target_level=target.get("level"), structure_path=target.get("structure_path") or [],
                departement=target.get("departement"), owner_subject=target.get("owner_subject"),
                owner_rpps=target.get("owner_rpps"), owner_label=target.get("owner_label"),
                theme=THEMES[rule.theme][0], status="open", element_path=rule.element_path,
                wrong_value=", ".join(c["code"] for c in fact.get("codes", [])) or None,
                message=_message(rule, fact, reg.update_reminder_months), reporting_system=SYSTEM_RULES,
                rule_id=rule.id, period=period, routed_kind=cell.kind, routed_key=None, routed_name=cell.name,
                created_at=now, updated_at=now,
            )
            try:
                with session.begin_nested():  # a concurrent scan may have raised it a moment ago
                    session.add(anomaly)
                    session.flush()
            except IntegrityError:
                existing.add(key)
                continue
            existing.add(key)
            session.add(AnomalyNote(anomaly_id=anomaly.id, author=SYSTEM_RULES, author_role="system",
                                    action="declare", to_status="open", body=rule.id))
            outbox.record(session, Outbox, make_event(
                "anomalies.declared", region, None, **_event_fields(anomaly), reporting_system=SYSTEM_RULES,
                rule_id=rule.id, recipients=owner_recipients(anomaly)))
            raised.append(anomaly)
    session.flush()
    return raised
