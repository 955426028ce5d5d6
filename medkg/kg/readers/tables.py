"""Delimited tables (TSV, CSV, Hetionet's SIF; gzip-compressed or not): header sniffing and checked rows.

Tabular sources are told apart by their header, not their extension: a folder of TSVs holds translation
tables, Disease Ontology reports and Hetionet files side by side. Rows come as dicts keyed by the header,
with the file's line number, and a row with the wrong number of cells is an error naming file and line.
"""
from __future__ import annotations

import csv
import gzip
import io
import sys
from collections.abc import Iterator
from pathlib import Path

from medkg.errors import MedkgError

TABLE_SUFFIXES = (".tsv", ".csv", ".sif", ".tsv.gz", ".csv.gz", ".sif.gz")
# DO reports hold whole OWL axioms in one cell.
csv.field_size_limit(sys.maxsize)


def table_suffix(path: Path) -> str | None:
    name = path.name.lower()
    return next((s for s in TABLE_SUFFIXES if name.endswith(s)), None)


def delimiter(path: Path) -> str:
    return "," if (table_suffix(path) or "").startswith(".csv") else "\t"


def open_text(path: Path) -> io.TextIOBase:
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_header(path: Path) -> list[str]:
    """The first row's cells, unquoted and stripped ("" for an empty file)."""
    try:
        with open_text(path) as handle:
            row = next(csv.reader(handle, delimiter=delimiter(path)), None)
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile) as err:
        raise MedkgError(f"cannot read table: {err}", path=path) from None
    return [cell.strip().strip('"') for cell in row] if row else []


def iter_rows(path: Path, required: tuple[str, ...] = ()) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {column: cell}) for each non-blank data row; cells stripped."""
    header = read_header(path)
    missing = [c for c in required if c not in header]
    if missing:
        raise MedkgError(f"missing column(s) {', '.join(missing)} (header: {', '.join(header)})", path=path, line=1)
    with open_text(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter(path))
        next(reader, None)
        try:
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise MedkgError(f"{len(row)} cells where the header has {len(header)}", path=path,
                                     line=reader.line_num)
                yield reader.line_num, {name: cell.strip() for name, cell in zip(header, row)}
        except csv.Error as err:
            raise MedkgError(f"malformed table row: {err}", path=path, line=reader.line_num) from None
