"""What an import did (the final report) and how far it is (the progress display).

Memory stays flat: rejections are counted, the first few kept for display and every one
written to the report file as soon as it is found.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TextIO

OUTCOMES = ("created", "updated", "unchanged")
OUTCOME_LABELS = {"created": "créés", "updated": "mis à jour", "unchanged": "inchangés"}


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str
    content: str  # the start of the offending line, to find it quickly

    def __str__(self) -> str:
        return f"ligne {self.line} : {self.reason}"


class ImportFileError(Exception):
    """The file itself is unusable (not the expected extract): the only fatal error."""


# What the database says of bad data (value too long, constraint…): the lines concerned are
# rejected one by one, the import goes on. Connection and programming errors still stop it.
try:
    from psycopg2 import DataError, IntegrityError

    DatabaseRefusal: tuple[type[Exception], ...] = (DataError, IntegrityError)
except ImportError:  # pragma: no cover - psycopg2 is a dependency of the project
    DatabaseRefusal = ()


class RejectedLine(Exception):
    """Raised by a parser: the line is malformed (reported, never fatal)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class ImportReport:
    source: str  # "rpps" / "finess"
    region: str
    path: str
    keep_first: int = 20
    report_file: TextIO | None = None
    read: int = 0
    kept: int = 0  # lines the parser kept (`refused` of them then refused by the database)
    refused: int = 0
    rejected: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> lines
    outcomes: Counter = field(default_factory=Counter)  # created / updated / unchanged (lines)
    entities: dict[str, Counter] = field(default_factory=dict)  # entity -> outcome -> rows
    first_rejections: list[Rejection] = field(default_factory=list)
    notes: Counter = field(default_factory=Counter)  # e.g. lines decoded as Windows-1252
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    # -- recording -------------------------------------------------------------------------
    def reject(self, line: int, reason: str, content: str = "", kept: bool = False) -> None:
        """`kept`: the line had been kept, then the database refused it (counted once, as rejected)."""
        with self._lock:  # the writer thread rejects the lines the database refuses
            self._reject(line, reason, content)
            if kept:
                self.refused += 1

    def _reject(self, line: int, reason: str, content: str) -> None:
        self.rejected += 1
        rejection = Rejection(line, reason, content[:160])
        if len(self.first_rejections) < self.keep_first:
            self.first_rejections.append(rejection)
        if self.report_file is not None:
            self.report_file.write(f"{line}\t{reason}\t{rejection.content}\n")

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    def outcome(self, outcome: str, n: int = 1) -> None:
        self.outcomes[outcome] += n

    def entity(self, name: str, outcome: str, n: int = 1) -> None:
        if n:
            self.entities.setdefault(name, Counter())[outcome] += n

    def finish(self) -> None:
        self.finished = time.monotonic()
        if self.report_file is not None:
            for line in self.summary_lines():
                self.report_file.write(f"# {line}\n")
            self.report_file.flush()

    # -- reading ---------------------------------------------------------------------------
    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def summary_lines(self) -> list[str]:
        rate = self.read / self.elapsed if self.elapsed > 0 else 0.0
        lines = [
            f"Import {self.source} [{self.region}] {self.path}",
            f"  lues : {self.read}   retenues : {self.kept - self.refused}   ignorées : {self.skipped_total}   "
            f"rejetées : {self.rejected}",
        ]
        for reason, n in sorted(self.skipped.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"    ignorées ({reason}) : {n}")
        lines.append(
            "  créées : {created}   mises à jour : {updated}   inchangées : {unchanged}".format(
                **{k: self.outcomes.get(k, 0) for k in OUTCOMES})
        )
        for name, counts in sorted(self.entities.items()):
            detail = "   ".join(f"{OUTCOME_LABELS[k]} {counts.get(k, 0)}" for k in OUTCOMES)
            lines.append(f"    {name} : {detail}")
        for note, n in sorted(self.notes.items()):
            lines.append(f"  note : {note} : {n}")
        lines.append(f"  durée : {self.elapsed:.1f} s ({rate:,.0f} lignes/s)".replace(",", " "))
        return lines

    def as_dict(self) -> dict:
        return {
            "source": self.source, "region": self.region, "path": self.path,
            "read": self.read, "kept": self.kept - self.refused, "skipped": dict(self.skipped),
            "skipped_total": self.skipped_total, "rejected": self.rejected,
            "rejections": [
                {"line": r.line, "reason": r.reason} for r in self.first_rejections
            ],
            "created": self.outcomes.get("created", 0), "updated": self.outcomes.get("updated", 0),
            "unchanged": self.outcomes.get("unchanged", 0),
            "entities": {k: dict(v) for k, v in self.entities.items()},
            "seconds": round(self.elapsed, 3),
        }

    def short(self) -> str:
        d = self.as_dict()
        return (f"{d['read']} lues, {d['kept']} retenues, {d['skipped_total']} ignorées, "
                f"{d['rejected']} rejetées, {d['created']} créées, {d['updated']} mises à jour, "
                f"{d['unchanged']} inchangées")


class Progress:
    """tqdm bar on a terminal; otherwise a progress line every `interval` seconds.

    Fed every few thousand lines (not every line: the loop is the hot path).
    """

    def __init__(self, label: str, total_bytes: int, stream: IO[str] | None = None,
                 interval: float = 10.0, enabled: bool = True):
        self.label = label
        self.total = total_bytes
        self.stream = stream or sys.stderr
        self.interval = interval
        self.enabled = enabled
        self.done = 0
        self.started = self.last = time.monotonic()
        self.bar = None
        if enabled and _isatty(self.stream):
            from tqdm import tqdm

            self.bar = tqdm(total=total_bytes, unit="B", unit_scale=True, desc=label,
                            file=self.stream, mininterval=0.5, dynamic_ncols=True)

    def update(self, done_bytes: int, lines: int) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(done_bytes - self.done)
            self.done = done_bytes
            return
        self.done = done_bytes
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self._print_line(lines, now)

    def close(self, lines: int) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(self.total - self.done if self.total >= self.done else 0)
            self.bar.close()
        else:
            self._print_line(lines, time.monotonic(), final=True)

    def _print_line(self, lines: int, now: float, final: bool = False) -> None:
        pct = 100.0 * self.done / self.total if self.total else 100.0
        elapsed = now - self.started
        rate = lines / elapsed if elapsed > 0 else 0.0
        state = "terminé" if final else "en cours"
        print(f"{self.label}: {lines} lignes ({pct:.0f} %), {rate:.0f} lignes/s, {elapsed:.0f} s, {state}",
              file=self.stream, flush=True)


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def open_report_file(path: str | Path | None) -> TextIO | None:
    if path is None:
        return None
    handle = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by the importer
    handle.write("ligne\tmotif\tcontenu\n")
    return handle


def iter_decoded_lines(path: str | Path, report: ImportReport,
                       encodings: tuple[str, ...] = ("utf-8", "cp1252")) -> Iterator[tuple[int, str, int]]:
    """(line number from 1, text without end of line, bytes consumed) for each line of `path`.

    Decoded line by line: UTF-8 first, then Windows-1252 (the historical encoding of the
    national extracts), so a file mixing both — or a single bad byte — never stops an import.
    """
    fallback = encodings[1:]
    with open(path, "rb", buffering=1 << 20) as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode(encodings[0])
            except UnicodeDecodeError:
                text = _decode_fallback(raw, fallback)
                report.notes[f"lignes décodées en {fallback[0] if fallback else 'latin-1'}"] += 1
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield number, text.rstrip("\r\n"), len(raw)


def _decode_fallback(raw: bytes, encodings: tuple[str, ...]) -> str:
    for encoding in encodings:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode(encodings[-1] if encodings else "latin-1", errors="replace")


@contextmanager
def closing_import(report: ImportReport, meter: Progress, store) -> Iterator[None]:
    """Whatever happens to the import: release the database, close the report and the progress line."""
    try:
        yield
    finally:
        store.close()
        report.finish()
        meter.close(report.read)
        if report.report_file is not None:
            report.report_file.close()
