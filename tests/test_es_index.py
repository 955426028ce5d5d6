"""The Elasticsearch back-end. Tests marked `es` need a server: MEDKG_ES_URL=http://localhost:9200 pytest -m es.

The unreachable-server test needs none and always runs.
"""
from __future__ import annotations

import os
import time
import uuid
from dataclasses import replace

import pytest

from medkg.errors import MedkgError
from medkg.rag.corpus import passage_digest
from medkg.rag.es_index import ElasticsearchIndex
from medkg.rag.records import Passage
from medkg.rag.text_index import SyncReport, sync

ES_URL = os.environ.get("MEDKG_ES_URL")
requires_es = pytest.mark.skipif(not ES_URL, reason="needs an Elasticsearch server at MEDKG_ES_URL")

EN = Passage(iri="https://en.wikipedia.org/wiki/Tuberculosis#p0", lang="en", title="Tuberculosis",
             article="https://en.wikipedia.org/wiki/Tuberculosis", begin=0, end=182,
             text="Tuberculosis is an infectious disease usually caused by Mycobacterium tuberculosis bacteria. "
                  "Tuberculosis generally affects the lungs, but it can also affect other parts of the body.")
IT = Passage(iri="https://it.wikipedia.org/wiki/Morbillo#p0", lang="it", title="Morbillo",
             article="https://it.wikipedia.org/wiki/Morbillo", begin=0, end=140,
             text="Il morbillo è una malattia infettiva causata da un virus del genere Morbillivirus, "
                  "altamente contagiosa e diffusa soprattutto tra i bambini.")
ES = Passage(iri="https://es.wikipedia.org/wiki/Tuberculosis#p0", lang="es", title="Tuberculosis",
             article="https://es.wikipedia.org/wiki/Tuberculosis",
             text="La tuberculosis es una enfermedad causada por bacterias del género Mycobacterium, "
                  "que afecta principalmente a los pulmones.")
PASSAGES = [EN, IT, ES]


@pytest.fixture
def index():
    """A fresh index with a unique name, deleted afterwards."""
    idx = ElasticsearchIndex(ES_URL, f"medkg-test-{uuid.uuid4().hex[:12]}")
    try:
        yield idx
    finally:
        idx.client.indices.delete(index=idx.index_name, ignore_unavailable=True)


@pytest.fixture
def synced(index):
    assert sync(index, PASSAGES) == SyncReport(added=3, updated=0, unchanged=0)
    return index


def test_unreachable_server_is_a_clear_error():
    started = time.monotonic()
    with pytest.raises(MedkgError, match=r"cannot reach Elasticsearch at http://127\.0\.0\.1:9"):
        ElasticsearchIndex("http://127.0.0.1:9", request_timeout=2)
    assert time.monotonic() - started < 10


@pytest.mark.es
@requires_es
def test_sync_is_incremental(synced):
    assert len(synced) == 3
    assert synced.digests() == {p.iri: passage_digest(p) for p in PASSAGES}
    assert sync(synced, PASSAGES) == SyncReport(added=0, updated=0, unchanged=3)
    reopened = ElasticsearchIndex(ES_URL, synced.index_name)  # an existing index is reused as it is
    assert len(reopened) == 3


@pytest.mark.es
@requires_es
def test_changed_passage_is_replaced(synced):
    changed = replace(EN, text=EN.text + " Treatment requires several antibiotics over months.")
    assert sync(synced, [changed, IT, ES]) == SyncReport(added=0, updated=1, unchanged=2)
    assert len(synced) == 3
    hits = synced.search("antibiotics treatment")
    assert [h.passage for h in hits] == [changed]


@pytest.mark.es
@requires_es
def test_search_round_trips_passages_and_ranks_by_language(synced):
    hits = synced.search("bacteria affecting the lungs")
    assert hits[0].passage == EN  # every stored field comes back as written
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(h.retriever == "text" and h.score > 0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.es
@requires_es
def test_lang_filter_restricts(synced):
    hits = synced.search("bacteria affecting the lungs", lang="es")
    assert [h.passage.iri for h in hits] == [ES.iri]
    assert synced.search("bacteria affecting the lungs", lang="de") == []


@pytest.mark.es
@requires_es
def test_italian_stemming(synced):
    hits = synced.search("malattie infettive")
    assert hits and hits[0].passage.iri == IT.iri


@pytest.mark.es
@requires_es
def test_query_syntax_is_plain_text(synced):
    hits = synced.search('lungs: (tuberculosis "bacteria')
    assert hits[0].passage.iri in {EN.iri, ES.iri}
