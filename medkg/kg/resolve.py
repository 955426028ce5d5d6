"""English names -> the one concept of the graph they name, for sources that refer to concepts by label.

Candidates are the concepts with the name as English label (case aside), or, if none has, as a curated exact
synonym (oboInOwl:hasExactSynonym; not Wikidata aliases, which list "Fever" for trench fever). Within a tier, a
preferred IRI namespace (Wikidata items for a Wikidata dump, the target ontology of a DO relation) narrows
the candidates when any of them is in it. Several candidates that share a UMLS or MeSH id are one
concept under several sources' IRIs ("Fever" in HPO and in MeSH): the name resolves to the preferred one of
them, else to an ontology or Wikidata concept. So does a name that one ontology or Wikidata concept has and
only nodes of relation sources share (DO's SYMP "fever", HPO's "Fever"), as linking matches those by label. Anything else (no concept, or several different ones)
resolves to nothing: the reader reports it; medkg does not guess.

    resolver = LabelResolver(store)
    resolver.resolve("metformin", prefer=ns.WD)   # 'http://www.wikidata.org/entity/Q19484' (if loaded)
"""
from __future__ import annotations

from collections import defaultdict

from medkg.kg import namespaces as ns
from medkg.kg.store import MAINTENANCE_TIMEOUT, GraphStore

_NAMES = """SELECT DISTINCT ?c ?name ?via ?g WHERE {
  VALUES ?via { rdfs:label oboInOwl:hasExactSynonym }
  GRAPH ?g { ?c ?via ?name }
  FILTER(isIRI(?c) && (LANGMATCHES(LANG(?name), "en") || LANG(?name) = ""))
  MINUS { ?c a schema:Article }
  MINUS { ?c a owl:ObjectProperty }
  MINUS { ?c owl:deprecated true }
}"""
_IDENTITIES = """SELECT DISTINCT ?c ?x WHERE { ?c oboInOwl:hasDbXref ?x
  FILTER(STRSTARTS(?x, "UMLS:") || STRSTARTS(?x, "MESH:")) }"""

Prefer = str | tuple[str, ...] | None


class LabelResolver:
    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self._index: tuple[dict[str, set[str]], dict[str, set[str]]] | None = None
        self._identities: dict[str, set[str]] = {}
        self._from_concept_source: set[str] = set()
        self._pending: list[tuple[str, str]] = []

    def add_pending(self, iri: str, name: str) -> None:
        """A concept a source of this load will define, resolvable before that source is read."""
        self._pending.append((iri, name))
        if self._index is not None:
            self._index[0][name.strip().lower()].add(iri)

    def invalidate(self) -> None:
        """Forget the names read so far (after a load added names)."""
        self._index = None

    def _tiers(self) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
        if self._index is None:
            labels: dict[str, set[str]] = defaultdict(set)
            synonyms: dict[str, set[str]] = defaultdict(set)
            self._from_concept_source = set()
            for row in self.store.query(_NAMES, timeout=MAINTENANCE_TIMEOUT).rows:
                iri = row["c"].value
                tier = labels if row["via"].value == ns.RDFS_LABEL.value else synonyms
                tier[row["name"].value.strip().lower()].add(iri)
                if row["g"].value.startswith(ns.CONCEPT_GRAPHS):
                    self._from_concept_source.add(iri)
            for iri, name in self._pending:
                labels[name.strip().lower()].add(iri)
            identities: dict[str, set[str]] = defaultdict(set)
            for row in self.store.query(_IDENTITIES, timeout=MAINTENANCE_TIMEOUT).rows:
                identities[row["c"].value].add(row["x"].value)
            self._identities = identities
            self._index = (labels, synonyms)
        return self._index

    def resolve(self, name: str, prefer: Prefer = None, *, synonyms: bool = True) -> str | None:
        """``synonyms=False``: labels only, for references whose target kind no synonym may stand for (a
        medical specialty called "infectious disease" is not the disease class with that exact synonym)."""
        key = name.strip().lower()
        tiers = self._tiers() if synonyms else self._tiers()[:1]
        for tier in tiers:  # a label outranks a synonym whatever its namespace
            candidates = tier.get(key)
            if not candidates:
                continue
            preferred = {c for c in candidates if prefer and c.startswith(prefer)}
            return self._one(preferred or candidates, prefer)
        return None

    def _one(self, candidates: set[str], prefer: Prefer) -> str | None:
        if len(candidates) == 1:
            return next(iter(candidates))
        from_concept_sources = candidates & self._from_concept_source
        if len(from_concept_sources) == 1:
            # the others are nodes of relation sources named the same, which linking matches to it by label
            return next(iter(from_concept_sources))
        if not self._same_concept(candidates):
            return None
        def rank(iri: str) -> tuple:
            return (not (prefer and iri.startswith(prefer)), iri not in self._from_concept_source, iri)
        return min(candidates, key=rank)

    def _same_concept(self, candidates: set[str]) -> bool:
        """Whether shared UMLS / MeSH ids connect all the candidates into one group."""
        members = list(candidates)
        group, frontier = {members[0]}, [members[0]]
        while frontier:
            current = self._identities.get(frontier.pop(), set())
            for other in members:
                if other not in group and current & self._identities.get(other, set()):
                    group.add(other)
                    frontier.append(other)
        return len(group) == len(members)
