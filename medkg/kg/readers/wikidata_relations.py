"""Wikidata relation tables, as the Wikidata Query Service exports them (CSV or TSV with ``…Label`` columns).

Subjects are Wikidata items (``…_uri`` columns with entity URLs); objects are given by their English label
only (the ``SERVICE wikibase:label`` columns). Each object label is resolved to the one concept of the graph
that has it as a name, preferring Wikidata items; a label that names no concept, or several, is reported
and left out, never guessed. Rows are the cartesian product of the query's OPTIONAL columns, so every
(subject, column, label) is taken once.

Known layouts (column -> relation, and whether the subject is the relation's subject):
- diseases: ``disease_uri, disease_uriLabel, HealthSpecialtyLabel, TreatmentDrugsLabel, CauseLabel,
  SymptonsLabel`` (P1995, P2176, P828, P780);
- medicines: ``medicine_uri, medicine_uriLabel, ConditionsTreatedLabel`` (P2175).
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from pyoxigraph import NamedNode, Quad

from medkg.errors import MedkgError
from medkg.kg import namespaces as ns
from medkg.kg.readers.context import ReadContext
from medkg.kg.readers.edges import SKOS_CONCEPT, edge_quads, node_quads
from medkg.kg.readers.tables import iter_rows, read_header

# subject column -> {object label column: (relation key, the subject is the object of the relation)}
LAYOUTS: dict[str, dict[str, tuple[str, bool]]] = {
    "disease_uri": {"HealthSpecialtyLabel": ("relevant_specialty", False),   # P1995 health specialty
                    "TreatmentDrugsLabel": ("treats", True),                  # P2176 drug used for treatment
                    "CauseLabel": ("has_cause", False),                       # P828 has cause
                    "SymptonsLabel": ("has_symptom", False)},                 # P780 symptoms
    "medicine_uri": {"ConditionsTreatedLabel": ("treats", False)},           # P2175 medical condition treated
}
_ENTITY = re.compile(r"^https?://www\.wikidata\.org/entity/(Q[1-9]\d*)$")


def layout(header: list[str]) -> str | None:
    """The subject column of a known layout this header has, or None."""
    for subject, columns in LAYOUTS.items():
        if subject in header and f"{subject}Label" in header and set(columns) & set(header):
            return subject
    return None


def wikidata_relation_subjects(path: Path) -> Iterator[tuple[str, str]]:
    """(item IRI, English label) of the table's subjects: the concepts it defines by QID."""
    subject_column = layout(read_header(path))
    if subject_column is None:
        return
    for _, row in iter_rows(path, (subject_column, f"{subject_column}Label")):
        match = _ENTITY.match(row[subject_column])
        if match and row[f"{subject_column}Label"]:
            yield ns.WD + match.group(1), row[f"{subject_column}Label"]


def read_wikidata_relations(path: Path, graph: NamedNode, context: ReadContext) -> Iterator[Quad]:
    header = read_header(path)
    subject_column = layout(header)
    if subject_column is None:
        raise MedkgError("not a known Wikidata relation table", path=path, line=1)
    columns = {c: spec for c, spec in LAYOUTS[subject_column].items() if c in header}
    seen: set[tuple[str, str, str]] = set()
    labelled: set[str] = set()
    for line, row in iter_rows(path, (subject_column, f"{subject_column}Label")):
        match = _ENTITY.match(row[subject_column])
        if not match:
            raise MedkgError(f"not a Wikidata entity URL: {row[subject_column]!r}", path=path, line=line)
        item = NamedNode(ns.WD + match.group(1))
        if item.value not in labelled:
            labelled.add(item.value)
            yield from node_quads(item, graph, label=row[f"{subject_column}Label"] or None, kinds=(SKOS_CONCEPT,))
        for column, (key, subject_is_object) in columns.items():
            label = row[column]
            if not label or (item.value, column, label) in seen:
                continue
            seen.add((item.value, column, label))
            # A specialty is named by its own label: an exact synonym ("infectious disease" of DO's disease by
            # infectious agent) names a disease class, not the specialty.
            target = context.resolve(column.removesuffix("Label"), label, ns.WD, synonyms=key != "relevant_specialty")
            if target is not None and target != item.value:
                yield from edge_quads(item, key, NamedNode(target), graph, inverse=subject_is_object)
