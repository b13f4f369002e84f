"""API errors shown next to their fields: the contract's `fields` ({"age_max": ["…"],
"contacts": {"0": {"value": ["…"]}}}) flattened to dotted names that match the form's input ids."""

from __future__ import annotations


def flatten(fields, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(fields, dict):
        for key, value in fields.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten(value, name))
    elif isinstance(fields, (list, tuple)):
        if all(isinstance(v, str) for v in fields):
            out[prefix or "_"] = " ".join(fields)
        else:
            for i, value in enumerate(fields):
                out.update(flatten(value, f"{prefix}.{i}" if prefix else str(i)))
    elif fields is not None:
        out[prefix or "_"] = str(fields)
    return out


def field_id(name: str) -> str:
    """An HTML id for a dotted field name (« contacts.0.value » → « f-contacts-0-value »)."""
    return "f-" + "".join(c if c.isalnum() or c == "_" else "-" for c in name)
