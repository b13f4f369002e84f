"""Importers of the national repositories (RPPS open extract, FINESS etalab extract).

Layout:
- `validation`: identifiers (RPPS Luhn, FINESS), phones, departements — pure functions;
- `report`: the import report (read / kept / skipped / rejected / created / updated / unchanged)
  and the progress display;
- `rpps`, `finess`: line parsers (pure) and the streaming import loops;
- `store`: the database layer (batched upserts on the offers models).

The parsers never import nameko nor the database: they are unit-tested on plain strings.
Real files are millions of lines: everything streams line by line and writes in batches.
"""
