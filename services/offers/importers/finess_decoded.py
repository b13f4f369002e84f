"""The decoded FINESS etalab CSV: one line per establishment with a header line
(`nofinesset;nofinessej;rs;rslongue;…;coordx;coordy;…;datemaj`), the structure and its coordinates on
the same line, cp1252 or UTF-8, coordinates in Lambert-93 or WGS84.

This is the widely shared re-export of the official extract (`etalab-cs1100507-stock-*.csv`, which has
no header and puts `structureet` and `geolocalisation` on separate lines). `finess.import_finess` tells
the two apart from the first line (`is_header`) and parses each line of this one with `DecodedLayout`,
into the same Establishment / Geolocation records as the official layout (WGS84 coordinates expressed
in Lambert-93), so everything after parsing (batches, upserts, report) is shared.

Columns are found by name (any order, any case, extra columns ignored); aliases cover the usual
spellings (`coordxet` / `coordx`, `sourcecoordet`…). The projection is the last item of
`sourcecoordet` when present ("…,LAMBERT_93", "…,WGS84"); otherwise it is told from the values
(longitude / latitude lie within ±180 / ±90; Lambert-93 metres do not).
"""

from __future__ import annotations

import csv
from functools import cache

from services.offers.importers.finess import (
    LAMBERT_93,
    STRUCTUREET_FIELDS,
    Establishment,
    Geolocation,
    parse_structureet,
)
from services.offers.importers.report import ImportFileError, RejectedLine

WGS84 = "WGS84"


@cache
def _wgs84_to_lambert93():
    from pyproj import Transformer

    return Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)

ALIASES = {
    "coordx": ("coordx", "coordxet", "x", "coord_x"),
    "coordy": ("coordy", "coordyet", "y", "coord_y"),
    "sourcecoordet": ("sourcecoordet", "sourcecoord", "source_coord"),
}
REQUIRED = ("nofinesset", "nofinessej", "rs", "departement")


def _name(value: str) -> str:
    return value.strip().strip('"').strip().lower()


def is_header(text: str) -> bool:
    """True when the first line of a FINESS file is the decoded CSV's header."""
    names = {_name(v) for v in text.split(";")}
    return "nofinesset" in names and "nofinessej" in names


class DecodedLayout:
    """Positions of the columns of one decoded file, read from its header line."""

    def __init__(self, header: str):
        names = [_name(v) for v in next(csv.reader([header], delimiter=";"))]
        self.index: dict[str, int] = {}
        for i, name in enumerate(names):
            self.index.setdefault(name, i)  # `datemaj` may appear twice: the first is the structure's
        for canonical, spellings in ALIASES.items():
            for spelling in spellings:
                if spelling in self.index:
                    self.index.setdefault(canonical, self.index[spelling])
                    break
        missing = [name for name in REQUIRED if name not in self.index]
        if missing:
            raise ImportFileError(f"colonnes FINESS absentes de l'en-tête : {', '.join(missing)}")
        self.width = len(names)

    def fields(self, text: str) -> list[str]:
        return next(csv.reader([text], delimiter=";"))

    def get(self, fields: list[str], name: str) -> str:
        i = self.index.get(name)
        return fields[i].strip() if i is not None and i < len(fields) else ""

    def parse(self, line_no: int, text: str) -> tuple[Establishment, Geolocation | None]:
        fields = self.fields(text)
        if len(fields) < len(REQUIRED) or len(fields) > self.width + 2:
            raise RejectedLine(f"{len(fields)} colonnes au lieu de {self.width}")
        positional = ["structureet"] + [self.get(fields, name) for name in STRUCTUREET_FIELDS[1:]]
        commune = positional[STRUCTUREET_FIELDS.index("commune")]
        if len(commune) == 5:  # some re-exports give the full INSEE code: FINESS wants its last 3 digits
            positional[STRUCTUREET_FIELDS.index("commune")] = commune[2:]
        establishment = parse_structureet(line_no, positional)
        return establishment, self.geolocation(line_no, fields, establishment.finess_et)

    def geolocation(self, line_no: int, fields: list[str], finess_et: str) -> Geolocation | None:
        raw_x, raw_y = self.get(fields, "coordx"), self.get(fields, "coordy")
        if not raw_x and not raw_y:
            return None
        try:
            x = float(raw_x.replace(",", "."))
            y = float(raw_y.replace(",", "."))
        except ValueError:
            raise RejectedLine(f"coordonnées illisibles « {raw_x} ; {raw_y} »") from None
        source = self.get(fields, "sourcecoordet")
        projection = source.rsplit(",", 1)[-1].strip().upper() if source else ""
        if projection in ("WGS84", "WGS_84", "EPSG:4326", "4326"):
            projection = WGS84
        elif projection not in (LAMBERT_93,):
            projection = WGS84 if abs(x) <= 180 and abs(y) <= 90 else LAMBERT_93
        if projection == WGS84 and not (abs(x) <= 180 and abs(y) <= 90):
            raise RejectedLine(f"coordonnées WGS84 hors limites « {x} ; {y} »")
        if projection == WGS84:
            # The rest of the import takes Lambert-93, like the official extract's lines: the exact
            # inverse projection, so the stored WGS84 values are the file's (to 1 cm).
            x, y = _wgs84_to_lambert93().transform(x, y)
        return Geolocation(line_no, finess_et, x, y, LAMBERT_93)
