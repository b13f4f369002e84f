"""FHIR R4 exposure of the offers service (ANS ROR IG): mapping, read/search, push to the national ROR."""
