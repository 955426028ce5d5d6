"""Wikidata medical items -> RDF: labels, aliases and descriptions per language, xrefs, Wikipedia sitelinks.

One converter serves both inputs: the JSONL records shipped with medkg / in shared data, and, for users who
are online, rows fetched from the Wikidata Query Service through SPARQLWrapper (`fetch_records`).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from pyoxigraph import Literal, NamedNode, Quad

from medkg.errors import MedkgError
from medkg.kg import namespaces as ns
from medkg.kg.readers.jsonl import iter_jsonl

WDQS_ENDPOINT = "https://query.wikidata.org/sparql"
# Wikidata property -> the record's xref key -> medkg's xref prefix.
XREF_PROPERTIES = {"P486": "MeSH", "P2892": "UMLS", "P494": "ICD10", "P493": "ICD9", "P5806": "SNOMED"}
XREF_PREFIX = {"MeSH": "MESH", "UMLS": "UMLS", "ICD10": "ICD10", "ICD9": "ICD9", "SNOMED": "SNOMEDCT"}
_QID = re.compile(r"^Q[1-9]\d*$")
_DISAMBIGUATOR = re.compile(r"\s*\([^)]*\)\s*$")


def item_iri(qid: str) -> NamedNode:
    return NamedNode(ns.WD + qid)


def wikipedia_article_iri(lang: str, title: str) -> NamedNode:
    """The article's canonical URL, built from language and title so every reader names it the same way."""
    from urllib.parse import quote

    return NamedNode(f"https://{lang}.wikipedia.org/wiki/" + quote(title.strip().replace(" ", "_"),
                                                                   safe="_()'!,-.:*;@$+&="))


def title_as_term(title: str) -> str:
    """A Wikipedia title as a name: "Mercury (element)" -> "Mercury"."""
    return _DISAMBIGUATOR.sub("", title).strip()


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v not in (None, "")]
    return [str(value)] if value != "" else []


def record_quads(record: dict, graph: NamedNode, *, path: Path | None = None, line: int | None = None
                 ) -> Iterator[Quad]:
    qid = record.get("qid")
    if not isinstance(qid, str) or not _QID.match(qid):
        raise MedkgError(f"record has no valid 'qid' (got {qid!r})", path=path, line=line)
    item = item_iri(qid)
    yield Quad(item, ns.RDF_TYPE, ns.term(ns.SKOS, "Concept"), graph)
    labels: dict[str, set[str]] = {}
    for lang, label in (record.get("lang_labels") or {}).items():
        if label:
            labels.setdefault(lang, set()).add(label)
            yield Quad(item, ns.RDFS_LABEL, Literal(label, language=lang), graph)
    for lang, aliases in (record.get("aliases") or {}).items():
        for alias in _as_list(aliases):
            labels.setdefault(lang, set()).add(alias)
            yield Quad(item, ns.SKOS_ALT_LABEL, Literal(alias, language=lang), graph)
    for lang, text in (record.get("descriptions") or {}).items():
        if text:
            yield Quad(item, ns.SCHEMA_DESCRIPTION, Literal(text, language=lang), graph)
    for key, values in (record.get("xrefs") or {}).items():
        prefix = XREF_PREFIX.get(key)
        if prefix is None:
            continue  # e.g. chemical formulae: not a cross-reference
        for value in _as_list(values):
            yield Quad(item, ns.HAS_DB_XREF, Literal(f"{prefix}:{value.strip()}"), graph)
    for kind in _as_list(record.get("types")):
        yield Quad(item, ns.term(ns.SCHEMA, "additionalType"), Literal(kind), graph)
    for lang, title in (record.get("wikipedia") or {}).items():
        if not title:
            continue
        article = wikipedia_article_iri(lang, title)
        yield Quad(article, ns.SCHEMA_ABOUT, item, graph)
        yield Quad(article, ns.SCHEMA_IN_LANGUAGE, Literal(lang), graph)
        yield Quad(article, ns.SCHEMA_NAME, Literal(title, language=lang), graph)
        # Sitelink titles are often the only Italian name an item has: keep them as alternative labels.
        name = title_as_term(title)
        if name and name not in labels.get(lang, set()):
            labels.setdefault(lang, set()).add(name)
            yield Quad(item, ns.SKOS_ALT_LABEL, Literal(name, language=lang), graph)


def read_wikidata_jsonl(path: Path, graph: NamedNode) -> Iterator[Quad]:
    for line, record in iter_jsonl(path):
        yield from record_quads(record, graph, path=path, line=line)


def is_wikidata_record(record: dict) -> bool:
    return "qid" in record and ("lang_labels" in record or "xrefs" in record)


# -- online: the Wikidata Query Service ---------------------------------------------------------------------

def records_query(qids: Iterable[str], languages: Iterable[str] = ("en", "it", "es")) -> str:
    """One SPARQL query that returns every field of the JSONL record for the given items, one value a row."""
    qids = list(qids)
    bad = [q for q in qids if not _QID.match(q)]
    if bad:
        raise MedkgError(f"not Wikidata item ids: {', '.join(bad[:5])}")
    langs = ", ".join(f'"{lang}"' for lang in languages)
    sites = ", ".join(f"<https://{lang}.wikipedia.org/>" for lang in languages)
    xref_union = "\n".join(
        f'  UNION {{ ?item <http://www.wikidata.org/prop/direct/{p}> ?value . BIND("{k}" AS ?kind) }}'
        for p, k in XREF_PROPERTIES.items())
    values = " ".join(f"<{ns.WD}{q}>" for q in qids)
    return f"""SELECT ?item ?kind ?value WHERE {{
  VALUES ?item {{ {values} }}
  {{ ?item <http://www.w3.org/2000/01/rdf-schema#label> ?value . BIND("label" AS ?kind) }}
  UNION {{ ?item <http://www.w3.org/2004/02/skos/core#altLabel> ?value . BIND("alias" AS ?kind) }}
  UNION {{ ?item <http://schema.org/description> ?value . BIND("description" AS ?kind) }}
{xref_union}
  UNION {{ ?article <http://schema.org/about> ?item ; <http://schema.org/isPartOf> ?site ;
                    <http://schema.org/name> ?value . FILTER(?site IN ({sites})) BIND("wikipedia" AS ?kind) }}
  FILTER(LANG(?value) = "" || LANG(?value) IN ({langs}))
}}"""


def records_from_rows(rows: Iterable[dict]) -> list[dict]:
    """Group (item, kind, value) rows, with pyoxigraph terms as values, into JSONL-shaped records."""
    records: dict[str, dict] = {}
    for row in rows:
        qid = row["item"].value.rsplit("/", 1)[-1]
        record = records.setdefault(qid, {"qid": qid, "lang_labels": {}, "aliases": {}, "descriptions": {},
                                          "xrefs": {}, "wikipedia": {}, "types": [], "sources": ["wikidata"]})
        kind, value = row["kind"].value, row["value"]
        lang = getattr(value, "language", None) or ""
        if kind == "label":
            record["lang_labels"].setdefault(lang, value.value)
        elif kind == "alias":
            record["aliases"].setdefault(lang, []).append(value.value)
        elif kind == "description":
            record["descriptions"].setdefault(lang, value.value)
        elif kind == "wikipedia":
            record["wikipedia"][lang] = value.value
        else:
            record["xrefs"].setdefault(kind, []).append(value.value)
    return [records[q] for q in sorted(records)]


def fetch_records(qids: Iterable[str], *, endpoint: str = WDQS_ENDPOINT, batch: int = 200,
                  languages: Iterable[str] = ("en", "it", "es")) -> list[dict]:
    """Fetch items from a Wikidata SPARQL endpoint (network: opt-in, for users who are online)."""
    from medkg.kg.store import SparqlEndpointStore

    store = SparqlEndpointStore(endpoint, query_timeout=120)
    qids = list(dict.fromkeys(qids))
    records: list[dict] = []
    for start in range(0, len(qids), batch):
        result = store.query(records_query(qids[start:start + batch], languages))
        records.extend(records_from_rows(result.rows))
    return records
