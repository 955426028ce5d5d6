"""Retrieval on the demo graph: text index (incremental, per-language analyzers), dense index, graph
retrieval, fusion, cross-lingual evidence, and the CLI."""
from __future__ import annotations

import json

import pytest

from medkg.errors import MedkgError
from medkg.rag.corpus import graph_passages
from medkg.rag.dense import DenseIndex
from medkg.rag.fusion import reciprocal_rank_fusion
from medkg.language import detect_language
from medkg.rag.records import Hit, Passage
from medkg.rag.retrieve import Retriever
from medkg.rag.tantivy_index import TantivyIndex
from medkg.rag.text_index import sync

MEASLES_PREFIX = "https://w3id.org/medkg/id/wikipedia/en/Measles/"


@pytest.fixture(scope="module")
def passages(demo_store):
    return list(graph_passages(demo_store))


@pytest.fixture(scope="module")
def text_index(passages, tmp_path_factory):
    index = TantivyIndex(tmp_path_factory.mktemp("tantivy"))
    sync(index, passages)
    return index


@pytest.fixture(scope="module")
def dense_index(passages, tmp_path_factory):
    """Dense vectors for the measles and malaria articles only: the bundled model is slow on a CPU."""
    index = DenseIndex(tmp_path_factory.mktemp("dense"))
    sync(index, [p for p in passages if "/Measles/" in p.iri or "/Malaria/" in p.iri], batch=64)
    return index


def test_passages_come_from_the_graph_with_offsets(passages):
    measles = [p for p in passages if p.iri.startswith(MEASLES_PREFIX)]
    assert len(measles) > 20
    assert all(p.article == "https://en.wikipedia.org/wiki/Measles" and p.lang == "en" for p in measles)
    assert measles[0].begin is not None and measles[0].end > measles[0].begin


def test_text_index_is_incremental_and_replaces_changed_passages(passages, tmp_path):
    index = TantivyIndex(tmp_path / "t")
    first = sync(index, passages[:50])
    assert (first.added, first.unchanged) == (50, 0)
    again = sync(index, passages[:60])
    assert (again.added, again.updated, again.unchanged) == (10, 0, 50)
    changed = Passage(**{**passages[0].__dict__, "text": "Completely rewritten passage about zoonotic anthrax."})
    report = sync(index, [changed, *passages[1:60]])
    assert (report.added, report.updated) == (0, 1) and len(index) == 60
    assert index.search("anthrax", k=1)[0].passage.iri == passages[0].iri
    # Reopening the folder keeps everything (nothing lives only in memory).
    assert len(TantivyIndex(tmp_path / "t")) == 60


def test_per_language_analyzers(tmp_path):
    index = TantivyIndex(tmp_path / "t")
    docs = [Passage("urn:it", "Le malattie infettive colpiscono soprattutto i polmoni.", "it"),
            Passage("urn:es", "Las enfermedades infecciosas afectan sobre todo a los pulmones.", "es"),
            Passage("urn:en", "Infectious diseases mostly affect the lungs.", "en")]
    sync(index, docs)
    assert index.search("malattia infettiva", k=1)[0].passage.iri == "urn:it"  # Italian stemming
    assert index.search("enfermedad infecciosa pulmón", k=1)[0].passage.iri == "urn:es"
    assert index.search("infected lung", k=1)[0].passage.iri == "urn:en"  # English stemming
    assert [h.passage.iri for h in index.search("infectious", k=5, lang="en")] == ["urn:en"]
    # Query syntax characters are just text.
    assert index.search('polmoni" (AND:', k=1)[0].passage.iri == "urn:it"


def test_dense_index_is_cross_lingual_and_resumable(dense_index):
    hits = dense_index.search("¿Cómo se transmite la malaria?", k=3)
    assert all("/Malaria/" in h.passage.iri for h in hits)
    hits = dense_index.search("Come si previene il morbillo?", k=3)
    assert "/Measles/" in hits[0].passage.iri
    reopened = DenseIndex(dense_index.path)
    assert len(reopened) == len(dense_index)
    assert sync(reopened, [h.passage for h in hits]).unchanged == len(hits)


def test_reciprocal_rank_fusion_rewards_agreement():
    a, b, c = (Passage(f"urn:{x}", x, "en") for x in "abc")
    fused = reciprocal_rank_fusion([[Hit(a, 9, 1, "text"), Hit(b, 8, 2, "text")],
                                    [Hit(b, 0.9, 1, "dense"), Hit(c, 0.8, 2, "dense")]])
    assert [p.iri for p, _, _ in fused] == ["urn:b", "urn:a", "urn:c"]
    assert fused[0][2] == {"text": 2, "dense": 1}
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)


def test_graph_evidence_bridges_languages(demo_store, text_index):
    retriever = Retriever(demo_store, text_index)
    evidence = retriever.retrieve("Cosa causa la tubercolosi?", mode="graph", k=3)
    assert evidence.lang == "it"
    assert any(m.concept.endswith("Q12204") for m in evidence.concepts)
    assert all("/Tuberculosis/" in p.passage.iri for p in evidence.passages)
    assert [p.id for p in evidence.passages] == ["P1", "P2", "P3"]
    facts = {f.fact.text for f in evidence.facts}
    # Facts read in Italian: the concept's Italian name, relation labels in Italian.
    assert "Tubercolosi — è causata da — Mycobacterium tuberculosis" in facts
    # Text mode: the Italian question is widened with the concept's English names, so BM25 reaches English.
    text = retriever.retrieve("Cosa causa la tubercolosi?", mode="text", k=3)
    assert all("/Tuberculosis/" in p.passage.iri for p in text.passages)


def test_hybrid_fuses_all_retrievers(demo_store, text_index, dense_index):
    evidence = Retriever(demo_store, text_index, dense_index).retrieve("¿Cómo se transmite la malaria?", k=3)
    assert evidence.lang == "es" and evidence.mode == "hybrid"
    top = evidence.passages[0]
    assert "/Malaria/" in top.passage.iri and set(top.retrievers) == {"text", "dense", "graph"}
    assert evidence.facts and all(f.id.startswith("T") for f in evidence.facts)


def test_language_detection_and_bad_requests(demo_store, text_index):
    assert detect_language("How is measles prevented?") == "en"
    assert detect_language("¿Cómo se transmite la malaria?") == "es"
    assert detect_language("Come si previene il morbillo?") == "it"
    assert detect_language("whatever", "es") == "es"
    with pytest.raises(MedkgError, match="unsupported language"):
        detect_language("x", "xx")
    retriever = Retriever(demo_store, text_index)
    with pytest.raises(MedkgError, match="unknown retrieval mode"):
        retriever.retrieve("measles", mode="magic")
    with pytest.raises(MedkgError, match="no dense index"):
        retriever.retrieve("measles", mode="dense")


def test_search_cli_json(demo_store, tmp_path, passages):
    """`medkg search` over a workspace whose store and text index are built by the CLI itself."""
    import shutil

    from typer.testing import CliRunner

    from medkg.cli import app

    home = tmp_path / "ws"
    shutil.copytree(demo_store.path, home / "store")
    runner = CliRunner()
    built = runner.invoke(app, ["--home", str(home), "-q", "index", "build", "--no-dense"], catch_exceptions=False)
    assert built.exit_code == 0, built.output
    result = runner.invoke(app, ["--home", str(home), "search", "Come si previene il morbillo?", "--mode", "graph",
                                 "-k", "2", "--format", "json"], catch_exceptions=False)
    evidence = json.loads(result.stdout)
    assert evidence["lang"] == "it" and len(evidence["passages"]) == 2
    assert evidence["passages"][0]["passage"]["iri"].startswith(MEASLES_PREFIX)
    assert evidence["facts"][0]["id"] == "T1"


class _LengthEncoder:
    """A deterministic stand-in for the embedding model (an external component), to test index storage."""

    name = "length-encoder"

    def encode_passages(self, texts):
        import numpy as np

        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    def encode_queries(self, texts):
        import numpy as np

        return np.array([[1.0, 0.0]] * len(texts), dtype=np.float32)


def test_dense_segments_tombstones_and_model_check(tmp_path):
    index = DenseIndex(tmp_path / "d", _LengthEncoder())
    passages = [Passage(f"urn:{i}", "x" * i, "en") for i in range(1, 6)]
    assert sync(index, passages, batch=2).added == 5
    changed = [Passage("urn:3", "y" * 30, "en"), *passages[:2], *passages[3:]]
    assert sync(index, changed, batch=2).updated == 1
    reopened = DenseIndex(tmp_path / "d", _LengthEncoder())
    assert sorted(p.iri for p in reopened._passages) == [f"urn:{i}" for i in range(1, 6)]
    assert [h.passage.iri for h in reopened.search("q", k=2)] == ["urn:3", "urn:5"]
    # A half-written segment (no vectors yet) is not part of the index.
    (tmp_path / "d" / "segment-999999.jsonl").write_text('{"iri": "urn:ghost", "text": "", "lang": "en"}\n')
    assert len(DenseIndex(tmp_path / "d", _LengthEncoder())) == 5
    with pytest.raises(MedkgError, match="built with length-encoder"):
        DenseIndex(tmp_path / "d")
