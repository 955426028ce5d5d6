"""Derived links between sources, rebuilt after a load that affects them.

1. Concepts from different sources that share a cross-reference are matched: a shared UMLS CUI, MeSH or
   DrugBank id gives skos:exactMatch, a shared ICD-10 / ICD-10-CM code skos:closeMatch (a code covers several
   concepts). Nodes of relation sources that no shared id joins are matched by their exact English label when
   it names exactly one concept of an ontology or Wikidata source: drugs (Hetionet's "Metformin", Wikidata's
   "metformin") with skos:exactMatch, other nodes (DO's SYMP "fever", HPO's "Fever") with skos:closeMatch.
   Each match carries its evidence on an owl:Axiom (medkg:sharedXref "UMLS:C0041296", medkg:sharedLabel
   "metformin").
2. Passages mention the concepts whose labels or synonyms, in the passage's language, occur in their text
   (exact, case-insensitive, whole words, longest match first; acronyms of up to 4 letters must match case).

Both go to their own named graph, rewritten by their difference (`GraphStore.sync_graph`), so relinking is
idempotent. After a load, only what the
loaded sources can change is rebuilt (`relink` with their reports): matches when they add or remove xrefs
or English names, mentions when they add or remove passages, or names in a language that passages are in.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations

import ahocorasick
from pyoxigraph import Literal, NamedNode, Quad

from medkg.kg import namespaces as ns
from medkg.kg.axioms import annotated_triple
from medkg.kg.store import MAINTENANCE_TIMEOUT, GraphStore

# ORPHA: an Orphanet disorder and the DO class that cites its code (DO writes "ORDO:NNN") are the same disease.
EXACT_XREF_PREFIXES = ("UMLS", "MESH", "DRUGBANK", "ORPHA")
CLOSE_XREF_PREFIXES = ("ICD10", "ICD10CM")
MAX_GROUP = 12  # an xref shared by more concepts than this is a category, not an identity
MIN_TERM_LENGTH = 3
CASE_SENSITIVE_UP_TO = 4


@dataclass(frozen=True)
class LinkReport:
    matches: int | None  # None: not rebuilt (nothing loaded could change them)
    mentions: int | None


def relink(store: GraphStore, changed: Sequence | None = None) -> LinkReport:
    """Rebuild the derived links; with the reports of a load (`LoadReport.changed`), only those it affects."""
    if changed is None:
        return LinkReport(link_shared_xrefs(store), link_mentions(store))
    content = [r.changed for r in changed if r.changed is not None]
    matches = mentions = None
    if any(c.xrefs or "en" in c.name_languages for c in content) and _matches_may_change(store, changed):
        matches = link_shared_xrefs(store)
    languages = passage_languages(store)
    if any(c.passages or c.name_languages & languages for c in content):
        mentions = link_mentions(store)
    return LinkReport(matches, mentions)


def _matches_may_change(store: GraphStore, changed: Sequence) -> bool:
    """A source that existed before may have removed matches; a new one adds some only if it shares an xref
    with another source, or adds English names while relation sources (matched by label) are loaded."""
    relation_nodes = None
    derived = {ns.LINKS_GRAPH.value, ns.MENTIONS_GRAPH.value, ns.META_GRAPH.value}
    graphs = [g for g in store.named_graphs() if g not in derived]
    for report in changed:
        if report.status == "replaced":
            return True
        if "en" in report.changed.name_languages:
            relation_nodes = any(g.startswith(ns.RELATION_GRAPHS) for g in graphs) if relation_nodes is None \
                else relation_nodes
            if relation_nodes:
                return True
        others = [g for g in graphs if g != report.graph]
        if report.changed.xrefs and _any_xrefs(store, others) and store.query(
                "ASK { GRAPH ?g { ?c oboInOwl:hasDbXref ?x } GRAPH ?other { ?d oboInOwl:hasDbXref ?x } "
                "FILTER(?other NOT IN (?g, ?links, ?mentions)) }",
                bindings={"g": NamedNode(report.graph), "links": ns.LINKS_GRAPH, "mentions": ns.MENTIONS_GRAPH},
                timeout=MAINTENANCE_TIMEOUT).boolean:
            return True
    return False


def _any_xrefs(store: GraphStore, graphs: list[str]) -> bool:
    """Whether any of these graphs holds a cross-reference: a lookup each, before the costlier join that
    asks whether they share one (a second on a million-triple source, for nothing when it is alone)."""
    return any(store.query("ASK { GRAPH ?g { ?c oboInOwl:hasDbXref ?x } }", bindings={"g": NamedNode(g)}).boolean
               for g in graphs)


def passage_languages(store: GraphStore) -> set[str]:
    """The languages passages are in (only names in these can be mentioned)."""
    rows = store.query("SELECT DISTINCT (LANG(?t) AS ?lang) WHERE { ?p a medkg:Passage ; schema:text ?t }",
                       timeout=MAINTENANCE_TIMEOUT).values("lang")
    return {lang.split("-")[0].lower() for lang in rows if lang}


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
    labelled: dict[tuple[str, str, NamedNode], set[str]] = defaultdict(set)
    for a, b, label, predicate in _label_matches(store):
        if (a, b) not in evidence:
            labelled[(a, b, predicate)].add(label)

    def quads(graph: NamedNode) -> Iterator[Quad]:
        for (a, b), by_strength in sorted(evidence.items()):
            predicate = ns.SKOS_EXACT_MATCH if "exact" in by_strength else ns.SKOS_CLOSE_MATCH
            yield from _match_quads(a, b, predicate, ns.MEDKG_SHARED_XREF, set().union(*by_strength.values()), graph)
        for (a, b, predicate), labels in sorted(labelled.items(), key=lambda item: item[0][:2]):
            yield from _match_quads(a, b, predicate, ns.MEDKG_SHARED_LABEL, labels, graph)

    stamp_derived_graph(store, ns.LINKS_GRAPH, store.sync_graph(ns.LINKS_GRAPH, quads(ns.LINKS_GRAPH)))
    return len(evidence) + len(labelled)


def _match_quads(a: str, b: str, predicate: NamedNode, evidence: NamedNode, values: set[str], graph: NamedNode
                 ) -> Iterator[Quad]:
    """The match triple and the axiom that records what it rests on (shared xrefs or a shared label)."""
    source, target = NamedNode(a), NamedNode(b)
    yield Quad(source, predicate, target, graph)
    axiom = ns.minted("mapping", ns.digest(a, predicate.value, b))
    yield from annotated_triple(axiom, source, predicate, target, graph)
    for value in sorted(values):
        yield Quad(axiom, evidence, Literal(value), graph)


def _label_matches(store: GraphStore) -> Iterator[tuple[str, str, str, NamedNode]]:
    """(node, concept, label, predicate): a node of a relation source whose English label, case aside, is the
    English label of exactly one concept of a concept source. Drugs get skos:exactMatch (a drug name names
    one substance); other nodes (a SYMP symptom and an HPO phenotype both called "fever") skos:closeMatch."""
    rows = store.query(
        "SELECT DISTINCT ?c ?name ?g ?drug WHERE { GRAPH ?g { ?c rdfs:label ?name } "
        "FILTER(LANGMATCHES(LANG(?name), 'en') && isIRI(?c)) MINUS { ?c a schema:Article } "
        "BIND(EXISTS { ?c a schema:Drug } AS ?drug) }", timeout=MAINTENANCE_TIMEOUT).rows
    nodes: dict[str, set[str]] = defaultdict(set)
    concepts: dict[str, set[str]] = defaultdict(set)
    drugs: set[str] = set()
    for row in rows:
        graph, key, iri = row["g"].value, row["name"].value.lower(), row["c"].value
        if graph.startswith(ns.RELATION_GRAPHS):
            nodes[key].add(iri)
            if row["drug"].value == "true":
                drugs.add(iri)
        elif graph.startswith(ns.CONCEPT_GRAPHS):
            concepts[key].add(iri)
    for key, named in nodes.items():
        targets = concepts.get(key, set())
        for node in named - targets:
            if len(targets) == 1:
                target = next(iter(targets))
                predicate = ns.SKOS_EXACT_MATCH if node in drugs else ns.SKOS_CLOSE_MATCH
                a, b = sorted((node, target))
                yield a, b, key, predicate


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
        # The length as a constant, not a binding: Virtuoso takes three times as long with a VALUES-bound ?min.
        f"  FILTER(LANG(?name) != '' && STRLEN(?name) >= {int(MIN_TERM_LENGTH)}) "
        # MINUS, not FILTER NOT EXISTS: the same here, and far cheaper in Oxigraph.
        "  MINUS { ?c owl:deprecated true } "
        "  MINUS { ?c a schema:Article } "
        "  MINUS { ?c a owl:ObjectProperty } "  # relations have names in three languages, but are no concepts
        # Ontology roots ("All", "disease") name everything and so nothing; a class with no parent and no
        # children (a relation target such as a SYMP term) is not a root.
        "  MINUS { ?c a owl:Class . ?child rdfs:subClassOf ?c MINUS { ?c rdfs:subClassOf ?up } } "
        "}", timeout=MAINTENANCE_TIMEOUT)
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

    stamp_derived_graph(store, ns.MENTIONS_GRAPH, store.sync_graph(ns.MENTIONS_GRAPH, quads(ns.MENTIONS_GRAPH)))
    return len(pairs)


def stamp_derived_graph(store: GraphStore, graph: NamedNode, digest: str | None) -> None:
    """Record in the meta graph the digest of a derived graph's new content (when it changed), so what is
    computed from the graph and cached (`graph_fingerprint`) knows to be computed again."""
    if digest is None:
        return
    generation = Literal(digest)
    store.update(f"DELETE WHERE {{ GRAPH {ns.META_GRAPH} {{ {graph} {MEDKG_GENERATION} ?g }} }} ;\n"
                 f"INSERT DATA {{ GRAPH {ns.META_GRAPH} {{ {graph} {MEDKG_GENERATION} {generation} }} }}")


MEDKG_GENERATION = ns.term(ns.MEDKG, "generation")


def graph_fingerprint(store: GraphStore) -> str:
    """A digest of what the graph holds: every source's content fingerprint and every derived graph's
    generation. Equal fingerprints mean equal graphs, for caches of what is computed from them."""
    rows = store.query("SELECT ?g ?h WHERE { GRAPH ?meta { ?g ?p ?h } } ",
                       bindings={"meta": ns.META_GRAPH, "p": ns.MEDKG_SHA256}).rows
    rows += store.query("SELECT ?g ?h WHERE { GRAPH ?meta { ?g ?p ?h } } ",
                        bindings={"meta": ns.META_GRAPH, "p": MEDKG_GENERATION}).rows
    return ns.digest(*sorted(f"{r['g'].value} {r['h'].value}" for r in rows), length=24)
