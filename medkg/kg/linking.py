"""Derived links between sources, rebuilt after every load.

1. Concepts from different sources that share a cross-reference are matched: a shared UMLS CUI or MeSH id
   gives skos:exactMatch, a shared ICD-10 / ICD-10-CM code skos:closeMatch (a code covers several concepts).
   Each match carries its evidence on an owl:Axiom (medkg:sharedXref "UMLS:C0041296").
2. Passages mention the concepts whose labels or synonyms, in the passage's language, occur in their text
   (exact, case-insensitive, whole words, longest match first; acronyms of up to 4 letters must match case).

Both go to their own named graph, replaced as a unit, so relinking is idempotent.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations

import ahocorasick
from pyoxigraph import Literal, NamedNode, Quad

from medkg.kg import namespaces as ns
from medkg.kg.store import MAINTENANCE_TIMEOUT, GraphStore

EXACT_XREF_PREFIXES = ("UMLS", "MESH")
CLOSE_XREF_PREFIXES = ("ICD10", "ICD10CM")
MAX_GROUP = 12  # an xref shared by more concepts than this is a category, not an identity
MIN_TERM_LENGTH = 3
CASE_SENSITIVE_UP_TO = 4


@dataclass(frozen=True)
class LinkReport:
    matches: int
    mentions: int


def relink(store: GraphStore) -> LinkReport:
    matches = link_shared_xrefs(store)
    mentions = link_mentions(store)
    return LinkReport(matches, mentions)


# -- shared cross-references --------------------------------------------------------------------------------

def _xref_key(xref: str) -> tuple[str, str] | None:
    prefix, _, code = xref.partition(":")
    if prefix in EXACT_XREF_PREFIXES:
        return "exact", f"{prefix}:{code}"
    if prefix in CLOSE_XREF_PREFIXES:
        return "close", f"ICD10:{code.upper()}"  # WHO ICD-10 and ICD-10-CM share their category codes
    return None


def link_shared_xrefs(store: GraphStore) -> int:
    result = store.query(
        "SELECT DISTINCT ?c ?x ?g WHERE { GRAPH ?g { ?c oboInOwl:hasDbXref ?x } "
        "FILTER(?g NOT IN (?links, ?mentions)) "
        "MINUS { ?c owl:deprecated true } }",
        bindings={"links": ns.LINKS_GRAPH, "mentions": ns.MENTIONS_GRAPH}, timeout=MAINTENANCE_TIMEOUT)
    groups: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for row in result.rows:
        key = _xref_key(row["x"].value)
        if key:
            groups[key].add((row["c"].value, row["g"].value))
    evidence: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for (strength, xref), members in groups.items():
        if len(members) > MAX_GROUP:
            continue
        for (a, ga), (b, gb) in combinations(sorted(members), 2):
            if ga != gb and a != b:
                evidence[(a, b)][strength].add(xref)

    def quads(graph: NamedNode) -> Iterator[Quad]:
        for (a, b), by_strength in sorted(evidence.items()):
            strength = "exact" if "exact" in by_strength else "close"
            predicate = ns.SKOS_EXACT_MATCH if strength == "exact" else ns.SKOS_CLOSE_MATCH
            source, target = NamedNode(a), NamedNode(b)
            yield Quad(source, predicate, target, graph)
            axiom = ns.minted("mapping", ns.digest(a, predicate.value, b))
            yield Quad(axiom, ns.RDF_TYPE, ns.OWL_AXIOM, graph)
            yield Quad(axiom, ns.OWL_ANNOTATED_SOURCE, source, graph)
            yield Quad(axiom, ns.OWL_ANNOTATED_PROPERTY, predicate, graph)
            yield Quad(axiom, ns.OWL_ANNOTATED_TARGET, target, graph)
            for xref in sorted(set().union(*by_strength.values())):
                yield Quad(axiom, ns.MEDKG_SHARED_XREF, Literal(xref), graph)

    store.replace_graph(ns.LINKS_GRAPH, lambda g: store.add_quads(quads(g)))
    return len(evidence)


# -- passage mentions ---------------------------------------------------------------------------------------

_WORD = re.compile(r"\w", re.UNICODE)


# A name that is one concept's label and another's alias (Wikidata lists "malaria" as an alias of blackwater
# fever) names the first: per name, only the concepts of its strongest kind of naming are kept.
_NAME_STRENGTH = {ns.RDFS_LABEL.value: 0, ns.HAS_EXACT_SYNONYM.value: 1, ns.SKOS_ALT_LABEL.value: 2}


def term_automata(store: GraphStore) -> dict[str, ahocorasick.Automaton]:
    """One automaton per language over lower-cased names; values list (original term, concept IRIs)."""
    result = store.query(
        "SELECT DISTINCT ?c ?name ?via WHERE { "
        "  VALUES ?via { rdfs:label skos:altLabel oboInOwl:hasExactSynonym } "
        "  ?c ?via ?name . "
        "  FILTER(LANG(?name) != '' && STRLEN(?name) >= ?min) "
        # MINUS, not FILTER NOT EXISTS: the same here, and far cheaper in Oxigraph.
        "  MINUS { ?c owl:deprecated true } "
        "  MINUS { ?c a schema:Article } "
        # Ontology roots ("All", "disease") name everything and so nothing.
        "  MINUS { ?c a owl:Class MINUS { ?c rdfs:subClassOf ?up } } "
        "}", bindings={"min": Literal(MIN_TERM_LENGTH)}, timeout=MAINTENANCE_TIMEOUT)
    # language -> lower-cased name -> original spelling -> strength -> concepts
    names: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(set))))
    for row in result.rows:
        name = row["name"]
        lang = (name.language or "").split("-")[0].lower()
        names[lang][name.value.lower()][name.value][_NAME_STRENGTH[row["via"].value]].add(row["c"].value)
    automata = {}
    for lang, by_key in names.items():
        automaton = ahocorasick.Automaton()
        for key, originals in by_key.items():
            strongest = min(strength for by_strength in originals.values() for strength in by_strength)
            kept = {o: frozenset(by_strength[strongest]) for o, by_strength in originals.items()
                    if strongest in by_strength}
            if strongest == _NAME_STRENGTH[ns.SKOS_ALT_LABEL.value] and len(frozenset().union(*kept.values())) > 1:
                continue  # an alias shared by several concepts ("Infections") identifies none of them
            automaton.add_word(key, (len(key), kept))
        automaton.make_automaton()
        automata[lang] = automaton
    return automata


def find_mentions(text: str, automaton: ahocorasick.Automaton) -> list[tuple[int, int, frozenset[str]]]:
    """(start, end, concepts) of whole-word, longest, non-overlapping name occurrences in `text`."""
    lowered = text.lower()
    if len(lowered) != len(text):  # rare case-folding length changes: fall back to a same-length map
        lowered = "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)
    candidates = []
    for end_index, (length, originals) in automaton.iter(lowered):
        start, end = end_index - length + 1, end_index + 1
        if start > 0 and _WORD.match(text[start - 1]) or end < len(text) and _WORD.match(text[end]):
            continue
        surface = text[start:end]
        concepts: set[str] = set()
        for original, iris in originals.items():
            if len(original) <= CASE_SENSITIVE_UP_TO and original != surface:
                continue
            concepts |= iris
        if concepts:
            candidates.append((start, end, frozenset(concepts)))
    candidates.sort(key=lambda m: (m[0], -(m[1] - m[0])))
    chosen, last_end = [], -1
    for start, end, concepts in candidates:
        if start >= last_end:
            chosen.append((start, end, concepts))
            last_end = end
    return chosen


def link_mentions(store: GraphStore) -> int:
    automata = term_automata(store)
    passages = store.query("SELECT ?p ?text WHERE { ?p a medkg:Passage ; schema:text ?text }",
                           timeout=MAINTENANCE_TIMEOUT)
    pairs: set[tuple[str, str]] = set()
    for row in passages.rows:
        text = row["text"]
        automaton = automata.get((text.language or "").split("-")[0].lower())
        if automaton is None:
            continue
        for _, _, concepts in find_mentions(text.value, automaton):
            pairs.update((row["p"].value, c) for c in concepts)

    def quads(graph: NamedNode) -> Iterator[Quad]:
        for passage, concept in sorted(pairs):
            yield Quad(NamedNode(passage), ns.SCHEMA_MENTIONS, NamedNode(concept), graph)

    store.replace_graph(ns.MENTIONS_GRAPH, lambda g: store.add_quads(quads(g)))
    return len(pairs)
