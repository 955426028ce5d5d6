"""Ontology label translations: Babelon TSV and ROBOT-template synonym tables (as HPO publishes them).

Columns are found by header name, because the Italian and Spanish HPO files order them differently. Each
translation becomes a language-tagged rdfs:label / synonym / definition on the translated term, and its status
(OFFICIAL vs machine CANDIDATE) and translator are kept on an owl:Axiom that annotates that very triple.
"""
from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from pyoxigraph import Literal, NamedNode, Quad

from medkg.errors import MedkgError
from medkg.kg import namespaces as ns
from medkg.kg.axioms import annotated_triple

_PREDICATES = {
    "rdfs:label": ns.RDFS_LABEL,
    "IAO:0000115": ns.IAO_DEFINITION,
    "oboInOwl:hasExactSynonym": ns.SYNONYM_PREDICATES["EXACT"],
    "oboInOwl:hasRelatedSynonym": ns.SYNONYM_PREDICATES["RELATED"],
    "oboInOwl:hasBroadSynonym": ns.SYNONYM_PREDICATES["BROAD"],
    "oboInOwl:hasNarrowSynonym": ns.SYNONYM_PREDICATES["NARROW"],
}
BABELON_REQUIRED = ("subject_id", "predicate_id", "translation_language", "translation_value")


def _expand(curie: str) -> NamedNode:
    if curie.startswith("orcid:"):
        return NamedNode("https://orcid.org/" + curie.split(":", 1)[1])
    return ns.obo_iri(curie)


def _axiom(graph: NamedNode, subject: NamedNode, predicate: NamedNode, target: Literal,
           status: str | None, translator: str | None) -> Iterator[Quad]:
    axiom = ns.minted("axiom", ns.digest(subject.value, predicate.value, str(target)))
    yield from annotated_triple(axiom, subject, predicate, target, graph)
    if status:
        yield Quad(axiom, ns.MEDKG_TRANSLATION_STATUS, Literal(status), graph)
    if translator:
        contributor = _expand(translator) if translator.startswith("orcid:") else Literal(translator)
        yield Quad(axiom, ns.DCTERMS_CONTRIBUTOR, contributor, graph)


def _rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    handle = open(path, encoding="utf-8", newline="")
    reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, None)
    if header is None:
        handle.close()
        raise MedkgError("empty translation table", path=path, line=1)

    def body() -> Iterator[tuple[int, list[str]]]:
        with handle:
            for row in reader:
                if any(cell.strip() for cell in row):
                    yield reader.line_num, row

    return [h.strip() for h in header], body()


def is_babelon(header: list[str]) -> bool:
    return all(column in header for column in BABELON_REQUIRED)


def read_babelon(path: Path, graph: NamedNode) -> Iterator[Quad]:
    header, rows = _rows(path)
    missing = [c for c in BABELON_REQUIRED if c not in header]
    if missing:
        raise MedkgError(f"not a Babelon table: missing column(s) {', '.join(missing)}", path=path, line=1)
    col = {name: header.index(name) for name in header}
    for line, row in rows:
        def cell(name: str) -> str:
            i = col.get(name)
            return row[i].strip() if i is not None and i < len(row) else ""

        subject_id, predicate_id = cell("subject_id"), cell("predicate_id")
        language, value = cell("translation_language"), cell("translation_value")
        if not subject_id or ":" not in subject_id:
            raise MedkgError(f"missing or malformed subject_id {subject_id!r}", path=path, line=line)
        if predicate_id not in _PREDICATES:
            raise MedkgError(f"unsupported predicate_id {predicate_id!r} (known: {', '.join(_PREDICATES)})",
                             path=path, line=line)
        if not language or not value:
            continue  # an untranslated row: nothing to add
        subject, predicate = ns.obo_iri(subject_id), _PREDICATES[predicate_id]
        target = Literal(value, language=language)
        yield Quad(subject, predicate, target, graph)
        yield from _axiom(graph, subject, predicate, target, cell("translation_status") or None,
                          cell("translator") or None)


def read_robot_synonyms(path: Path, graph: NamedNode) -> Iterator[Quad]:
    """A ROBOT template: row 1 names columns, row 2 says what they mean (``AL oboInOwl:hasExactSynonym@it``)."""
    header, rows = _rows(path)
    first = next(rows, None)
    if first is None:
        return
    template_line, template = first
    if not template or template[0].strip() != "ID":
        raise MedkgError("not a ROBOT template: second row must start with 'ID'", path=path, line=template_line)
    literal_columns: list[tuple[int, NamedNode, str | None]] = []
    translator_column = None
    for index, spec in enumerate(template):
        spec = spec.strip()
        if spec.startswith("AL ") or spec.startswith("A "):
            target = spec.split(" ", 1)[1]
            predicate_id, _, language = target.partition("@")
            if predicate_id not in _PREDICATES:
                raise MedkgError(f"unsupported template property {predicate_id!r}", path=path, line=template_line)
            literal_columns.append((index, _PREDICATES[predicate_id], language or None))
        elif spec == "AI dc:contributor":
            translator_column = index
    for line, row in rows:
        subject_id = row[0].strip()
        if ":" not in subject_id:
            raise MedkgError(f"malformed term id {subject_id!r}", path=path, line=line)
        subject = ns.obo_iri(subject_id)
        translator = row[translator_column].strip() if translator_column is not None and translator_column < len(row) else None
        for index, predicate, language in literal_columns:
            value = row[index].strip() if index < len(row) else ""
            if value:
                target = Literal(value, language=language) if language else Literal(value)
                yield Quad(subject, predicate, target, graph)
                yield from _axiom(graph, subject, predicate, target, "OFFICIAL", translator or None)


def is_translation_table(header: list[str]) -> bool:
    """A Babelon table or a ROBOT synonym template."""
    return is_babelon(header) or ("subject_id" in header and "translation_value" in header)


def read_translation_table(path: Path, graph: NamedNode) -> Iterator[Quad]:
    """Pick Babelon or ROBOT-template layout from the header."""
    with open(path, encoding="utf-8", newline="") as handle:
        header = [h.strip() for h in handle.readline().rstrip("\r\n").split("\t")]
    if is_babelon(header):
        return read_babelon(path, graph)
    if is_translation_table(header):
        return read_robot_synonyms(path, graph)
    raise MedkgError("unrecognised TSV: expected a Babelon table (subject_id, predicate_id, translation_language,"
                     " translation_value) or a ROBOT synonym template", path=path, line=1)
