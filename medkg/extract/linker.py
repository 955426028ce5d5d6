"""Concept linking: a text span → ontology concepts, through the graph's multilingual labels and synonyms.

The method is scispaCy's candidate generator: every name (label, exact synonym, alternative label) of every
concept becomes a char-3-gram TF-IDF vector; a mention is vectorised the same way and its nearest names by
cosine similarity nominate their concepts (best name per concept). Names are compared accent- and
case-folded, so "polmonite" finds "Polmonite" and "neumonía" finds "neumonia". scispaCy's own index builder
fails on scipy ≥ 1.11 and its ANN needs nmslib; at the sizes a graph holds here (≈ 60k names) an exact
sparse product is fast, so the index is a fitted vectoriser plus a sparse matrix, saved in the same spirit
as scispaCy's folder (vectoriser, sparse vectors, aliases, concept records).

Abbreviations ("ICC" defined as "insuficiencia cardíaca congestiva" earlier in the note) are expanded with
scispaCy's AbbreviationDetector on a blank spaCy pipeline of the document's language, when scispaCy is
installed (the Makefile installs it; pip users: `pip install --no-deps scispacy`).
"""
from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from medkg.errors import MedkgError
from medkg.extract.records import ConceptLink
from medkg.kg import namespaces as ns
from medkg.kg.store import MAINTENANCE_TIMEOUT, GraphStore
from medkg.language import fold  # noqa: F401  (extract.linker.fold is how extract and the explorer fold names)

INDEX_VERSION = 2  # 2: names carry their strength (label, exact, alternative, related)
_NAME_STRENGTH = {ns.RDFS_LABEL.value: 0, ns.HAS_EXACT_SYNONYM.value: 1, ns.SKOS_ALT_LABEL.value: 2,
                  ns.SYNONYM_PREDICATES["RELATED"].value: 3}


def scheme_of(iri: str) -> str:
    """The ontology a concept IRI belongs to, as schemas name it: DOID, HP, ICD10, WD, or the OBO prefix."""
    if iri.startswith(ns.OBO):
        local = iri[len(ns.OBO):]
        return local.split("_", 1)[0].upper() if "_" in local else "OBO"
    if iri.startswith(ns.WD):
        return "WD"
    if iri.startswith(ns.ICD10):
        return "ICD10"
    for prefix, base in ns.PREFIXES.items():
        if iri.startswith(base):
            return prefix.upper()
    return "OTHER"


def own_code(iri: str) -> str | None:
    """A concept's own identifier as an xref-style code: DOID_1234 → DOID:1234, ICD-10 A15.0 → ICD10:A15.0."""
    scheme = scheme_of(iri)
    if iri.startswith(ns.OBO) and "_" in iri:
        return f"{scheme}:{iri.rsplit('_', 1)[1]}"
    if scheme == "ICD10":
        return f"ICD10:{iri[len(ns.ICD10):]}"
    if scheme == "WD":
        return f"WD:{iri[len(ns.WD):]}"
    return None


@dataclass
class ConceptIndex:
    concepts: list[str]                 # concept IRIs
    labels: list[str]                   # a display label per concept (English label, else any)
    xrefs: list[tuple[str, ...]]        # per concept: its own code and its oboInOwl:hasDbXref values
    names: list[str]                    # every name, as written
    name_lang: list[str]
    name_concept: np.ndarray            # name → concept index
    name_strength: list[int]            # 0 label, 1 exact synonym, 2 alternative label, 3 related synonym
    vectorizer: object                  # a fitted sklearn TfidfVectorizer
    matrix: object                      # scipy CSR: names × char-3-grams, rows L2-normalised
    fingerprint: str = ""
    kinds: list[tuple[str, ...]] = field(default_factory=list)  # per concept: schema:additionalType values

    # -- building ----------------------------------------------------------------------------------------
    @classmethod
    def build(cls, store: GraphStore, fingerprint: str = "") -> "ConceptIndex":
        from sklearn.feature_extraction.text import TfidfVectorizer

        names = store.query(
            "SELECT DISTINCT ?c ?name ?via WHERE { "
            "  VALUES ?via { rdfs:label skos:altLabel oboInOwl:hasExactSynonym oboInOwl:hasRelatedSynonym } "
            "  ?c ?via ?name . FILTER(isLiteral(?name) && STRLEN(?name) >= 2) "
            "  MINUS { ?c owl:deprecated true } MINUS { ?c a schema:Article } MINUS { ?c a medkg:Passage } "
            "}", timeout=MAINTENANCE_TIMEOUT)
        xrefs = store.query("SELECT ?c ?x WHERE { ?c oboInOwl:hasDbXref ?x }", timeout=MAINTENANCE_TIMEOUT)
        # Wikidata items say what they are ("disease", "drug", "symptom"): schemas pick dictionary names by it.
        kinds_of = store.query("SELECT ?c ?kind WHERE { ?c schema:additionalType ?kind FILTER(isLiteral(?kind)) }",
                               timeout=MAINTENANCE_TIMEOUT)
        # ... and ontology classes by their top branch (a child of a root): HPO's "phenotypic abnormality" is
        # what a sign is, its "clinical modifier" branch ("Right", "Severe") is not.
        branches = store.query(
            "SELECT ?c (SAMPLE(?name) AS ?kind) WHERE { ?branch rdfs:subClassOf ?root . "
            "FILTER(isIRI(?root) && isIRI(?branch)) MINUS { ?root rdfs:subClassOf ?up } "
            "?branch rdfs:label ?name FILTER(LANGMATCHES(LANG(?name), 'en') || LANG(?name) = '') "
            "?c rdfs:subClassOf* ?branch } GROUP BY ?c ?branch", timeout=MAINTENANCE_TIMEOUT)
        concept_index: dict[str, int] = {}
        labels: list[str] = []
        label_rank: list[int] = []
        name_rows: dict[tuple[int, str, str], int] = {}
        for row in names.rows:
            iri, literal = row["c"].value, row["name"]
            strength = _NAME_STRENGTH.get(row["via"].value, 9)
            lang = (literal.language or "").split("-")[0].lower()
            i = concept_index.setdefault(iri, len(concept_index))
            if i == len(labels):
                labels.append(literal.value)
                label_rank.append(99)
            # Display label: an English rdfs:label first, then any rdfs:label, then any name.
            rank = strength * 2 + (0 if lang == "en" else 1)
            if rank < label_rank[i]:
                labels[i], label_rank[i] = literal.value, rank
            key = (i, literal.value, lang)
            name_rows[key] = min(strength, name_rows.get(key, 9))
        if not concept_index:
            raise MedkgError("the graph has no concept labels to link to: load ontologies first (medkg kg load)")
        codes: dict[int, set[str]] = defaultdict(set)
        for row in xrefs.rows:
            i = concept_index.get(row["c"].value)
            if i is not None:
                code = ns.normalize_xref(row["x"].value)
                if code:
                    codes[i].add(code)
        concepts = list(concept_index)
        for iri, i in concept_index.items():
            code = own_code(iri)
            if code:
                codes[i].add(code)
        keys = sorted(name_rows)
        folded = [fold(name) for _, name, _ in keys]
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), dtype=np.float32, sublinear_tf=True)
        matrix = vectorizer.fit_transform(folded).tocsr()
        kinds: dict[int, set[str]] = defaultdict(set)
        for row in kinds_of.rows + branches.rows:
            i = concept_index.get(row["c"].value)
            if i is not None:
                kinds[i].add(row["kind"].value.lower())
        return cls(concepts, labels, [tuple(sorted(codes[i])) for i in range(len(concepts))],
                   [name for _, name, _ in keys], [lang for _, _, lang in keys],
                   np.array([i for i, _, _ in keys], dtype=np.int64), [name_rows[key] for key in keys],
                   vectorizer, matrix, fingerprint, [tuple(sorted(kinds[i])) for i in range(len(concepts))])

    # -- persistence (a folder, like scispaCy's linker: vectoriser, sparse vectors, aliases, concepts) -----
    def save(self, folder: Path) -> Path:
        import joblib
        from scipy import sparse

        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.vectorizer, folder / "tfidf_vectorizer.joblib")
        sparse.save_npz(folder / "tfidf_vectors_sparse.npz", self.matrix)
        (folder / "concept_aliases.json").write_text(json.dumps(
            {"names": self.names, "lang": self.name_lang, "concept": self.name_concept.tolist(),
             "strength": self.name_strength},
            ensure_ascii=False), encoding="utf-8")
        (folder / "concepts.json").write_text(json.dumps(
            {"version": INDEX_VERSION, "fingerprint": self.fingerprint, "concepts": self.concepts,
             "labels": self.labels, "xrefs": [list(x) for x in self.xrefs], "kinds": [list(k) for k in self.kinds]},
            ensure_ascii=False), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: Path) -> "ConceptIndex":
        import joblib
        from scipy import sparse

        try:
            meta = json.loads((folder / "concepts.json").read_text(encoding="utf-8"))
            aliases = json.loads((folder / "concept_aliases.json").read_text(encoding="utf-8"))
            if meta.get("version") != INDEX_VERSION:
                raise MedkgError(f"linker index version {meta.get('version')} (expected {INDEX_VERSION})", path=folder)
            return cls(meta["concepts"], meta["labels"], [tuple(x) for x in meta["xrefs"]], aliases["names"],
                       aliases["lang"], np.array(aliases["concept"], dtype=np.int64), aliases["strength"],
                       joblib.load(folder / "tfidf_vectorizer.joblib"),
                       sparse.load_npz(folder / "tfidf_vectors_sparse.npz").tocsr(), meta.get("fingerprint", ""),
                       [tuple(k) for k in meta["kinds"]])
        except (OSError, ValueError, KeyError) as exc:
            raise MedkgError(f"unreadable linker index: {exc}", path=folder) from None

    # -- linking -------------------------------------------------------------------------------------------
    def link(self, mentions: Sequence[str], lang: str | None = None, k: int = 3,
             schemes: Sequence[str] | None = None, threshold: float = 0.0) -> list[list[ConceptLink]]:
        """Up to k concepts per mention, best first; a name in `lang` wins over the same score in another
        language, and among concepts with equal scores the one whose scheme comes first in `schemes`."""
        if not mentions:
            return []
        allowed = self._scheme_mask(tuple(s.upper() for s in schemes)) if schemes else None
        scheme_rank = {scheme.upper(): i for i, scheme in enumerate(schemes or ())}
        queries = self.vectorizer.transform([fold(m) for m in mentions])
        similarities = (queries @ self.matrix.T).tocsr()
        results = []
        for row in range(similarities.shape[0]):
            begin, end = similarities.indptr[row], similarities.indptr[row + 1]
            name_ids, scores = similarities.indices[begin:end], similarities.data[begin:end]
            best: dict[int, tuple[float, int]] = {}
            for name_id, score in zip(name_ids.tolist(), scores.tolist()):
                if score < threshold:
                    continue
                concept = int(self.name_concept[name_id])
                if allowed is not None and not allowed[concept]:
                    continue
                # Same score: prefer a name in the mention's language.
                rank = (score, 1 if self.name_lang[name_id] == lang else 0)
                if concept not in best or rank > (best[concept][0], 1 if self.name_lang[best[concept][1]] == lang else 0):
                    best[concept] = (score, name_id)
            # Equal scores: the scheme named first wins (a schema lists its preferred ontology first), then IRI.
            top = sorted(best.items(), key=lambda item: (-item[1][0], scheme_rank.get(scheme_of(self.concepts[item[0]]), 99),
                                                         self.concepts[item[0]]))[:k]
            results.append([ConceptLink(self.concepts[c], self.names[n], round(min(s, 1.0), 4),
                                        scheme_of(self.concepts[c]), self.xrefs[c]) for c, (s, n) in top])
        return results

    @lru_cache(maxsize=32)
    def _scheme_mask(self, schemes: tuple[str, ...]) -> np.ndarray:
        return np.array([scheme_of(iri) in schemes for iri in self.concepts], dtype=bool)

    __hash__ = object.__hash__  # lru_cache on a method needs a hashable self; identity is right here


def store_fingerprint(store: GraphStore) -> str:
    """Changes whenever a source's content changes: each loaded source graph and its file's sha256."""
    result = store.query("SELECT ?g ?sha WHERE { GRAPH ?meta { ?g ?p ?sha } } ORDER BY ?g ?sha",
                         bindings={"meta": ns.META_GRAPH, "p": ns.MEDKG_SHA256}, timeout=MAINTENANCE_TIMEOUT)
    parts = [f"{row['g'].value}@{row['sha'].value}" for row in result.rows] or sorted(store.named_graphs())
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:16]


def concept_index(store: GraphStore, home: Path | None, rebuild: bool = False) -> ConceptIndex:
    """The index for this graph, from `<home>/linker` when it was built from the same graph contents."""
    fingerprint = store_fingerprint(store)
    folder = Path(home) / "linker" if home else None
    if folder and not rebuild and (folder / "concepts.json").exists():
        try:
            index = ConceptIndex.load(folder)
            if index.fingerprint == fingerprint:
                return index
        except MedkgError:
            pass  # an old or broken cache is rebuilt below
    index = ConceptIndex.build(store, fingerprint)
    if folder:
        index.save(folder)
    return index


# -- abbreviations ------------------------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _abbreviation_pipeline(lang: str):
    try:
        import spacy
        from scispacy.abbreviation import AbbreviationDetector  # noqa: F401  (registers the factory)
    except ImportError:
        return None
    try:
        nlp = spacy.blank(lang)
    except ImportError:  # a language spaCy has no tokenizer for
        nlp = spacy.blank("xx")
    nlp.add_pipe("abbreviation_detector")
    return nlp


def abbreviations(text: str, lang: str) -> dict[str, str]:
    """Short form → long form defined in this text ("ICC" → "insuficiencia cardíaca congestiva")."""
    nlp = _abbreviation_pipeline(lang)
    if nlp is None:
        return {}
    with warnings.catch_warnings():
        # scispaCy's global matcher has no patterns on a blank pipeline, and says so on every call.
        warnings.filterwarnings("ignore", message=r"\[W036\]")
        doc = nlp(text)
    return {abbr.text: abbr._.long_form.text for abbr in doc._.abbreviations}


def abbreviation_support() -> bool:
    return _abbreviation_pipeline("en") is not None
