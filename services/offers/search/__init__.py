"""Search and the répertoire of the offers service (plain modules, no nameko).

- `index`: the search index table, maintained in the transaction that publishes, unpublishes or changes
  a structure (`refresh_offer`, `refresh_structure`, `rebuild`);
- `query`: "Où ? / Que recherchez-vous ?" searches, suggestions, facets, map and export rows;
- `text`: French text matching (unaccent, stems, prefixes, typo correction by trigrams);
- `opening`: open or closed now, in Europe/Paris;
- `repertoire`: legal entities by name or FINESS number, favourites per user.
"""
