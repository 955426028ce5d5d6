"""Annotations stored in the graph read back as they were written: text, spans, assertion, link, provenance."""
from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime

import pyoxigraph as ox
import pytest

from medkg.extract.export import document_iri, to_web_annotations
from medkg.extract.queries import annotated_documents, documents_mentioning, read_document
from medkg.extract.rdf import annotation_triples, document_graph, store_annotations
from medkg.extract.records import Annotation, Assertion, ConceptLink, Document
from medkg.kg import namespaces as ns

PNEUMONIA = ns.OBO + "DOID_552"
LUNG_DISEASE = ns.OBO + "DOID_850"

EN_TEXT = ('Patient denies fever or chills.\r\nDx: community acquired pneumonia; takes aspirin.\r\n'
           'Note: <script>alert("x")</script> & \'quoted\' text.')
IT_TEXT = "Paziente con febbre e tosse; niente dispnea. Diagnosi: polmonite lobare — più tardi: ∅ 😷."


def _span(doc: Document, phrase: str, type_: str, **fields) -> Annotation:
    start = doc.text.index(phrase)
    return Annotation(doc_id=doc.id, start=start, end=start + len(phrase), text=phrase, type=type_,
                      lang=doc.lang or "", **{"score": 1.0, **fields})


def english() -> tuple[Document, list[Annotation]]:
    doc = Document(id="notes/en 1", text=EN_TEXT, lang="en")
    pneumonia = ConceptLink(PNEUMONIA, "pneumonia", 0.8731, scheme="DOID",
                            xrefs=("ICD10CM:J18.9", "MESH:D011014", "UMLS:C0032285"))
    return doc, [
        # negated, with two cues (RDF keeps them as a set: they read back sorted)
        _span(doc, "fever", "problem", score=2.25, question="Which problems?",
              assertion=Assertion("negated", frozenset({"negated"}), ("denies", "no"))),
        _span(doc, "chills", "problem", score=0.5),  # unlinked, present, no question
        # nested: the linked outer span and an inner one of another type
        _span(doc, "community acquired pneumonia", "problem", score=3.0, links=(pneumonia,),
              assertion=Assertion("possible", frozenset({"possible", "historical"}), ("dx",))),
        _span(doc, "pneumonia", "finding", score=0.125),
        _span(doc, "aspirin", "medication", score=1.75, question="Which medications?"),
        _span(doc, '<script>alert("x")</script>', "other", score=0.01),
    ]


def italian() -> tuple[Document, list[Annotation]]:
    doc = Document(id="nota_it", text=IT_TEXT, lang="it")
    return doc, [
        _span(doc, "febbre", "problem", score=1.5,
              links=(ConceptLink(ns.OBO + "HP_0001945", "Febbre", 0.9, scheme="HP", xrefs=("UMLS:C0015967",)),)),
        _span(doc, "dispnea", "problem", score=0.75, assertion=Assertion("negated", frozenset({"negated"}),
                                                                      ("niente",))),
        _span(doc, "polmonite lobare", "problem", score=2.0),
        _span(doc, "polmonite", "problem", score=0.25),   # same start, shorter: sorts after the longer one
        _span(doc, "∅ 😷", "other", score=0.3),            # an astral-plane character: code point offsets
    ]


def _as_read(annotations: list[Annotation]) -> list[Annotation]:
    """What the graph can give back: cues are a set in RDF (medkg:assertionCue, @set), so their order is lost
    and `read_document` sorts them; annotations come in export order."""
    normalised = [replace(a, assertion=replace(a.assertion, cues=tuple(sorted(a.assertion.cues))))
                  for a in annotations]
    return sorted(normalised, key=lambda a: (a.start, -a.end, a.type, a.id))


def _graph_size(store, doc: Document) -> int:
    return int(store.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }",
                           bindings={"g": document_graph(doc)}).rows[0]["n"].value)


def test_a_stored_document_reads_back_equal(store):
    doc, annotations = english()
    store_annotations(store, doc, annotations, {"model": "qa-small", "schema": "clinical-en"})

    stored = read_document(store, document_iri(doc))
    assert stored is not None
    assert stored.has_text and stored.document == doc          # id, text with \r\n and <script>, language
    assert stored.document.text == EN_TEXT
    assert stored.iri == document_iri(doc) and stored.graph == document_graph(doc).value
    assert stored.annotations == _as_read(annotations)
    assert [a.id for a in stored.annotations] == [a.id for a in _as_read(annotations)]
    negated = next(a for a in stored.annotations if a.text == "fever")
    assert negated.assertion.cues == ("denies", "no") and negated.assertion.status == "negated"
    assert stored.generator["name"] == "medkg" and stored.generator["model"] == "qa-small"
    assert stored.generator["schema"] == "clinical-en" and "version" in stored.generator
    assert stored.generator["id"].startswith(ns.MEDKG + "id/software/medkg")
    assert stored.created is not None and datetime.fromisoformat(stored.created).tzinfo is not None


def test_non_ascii_text_and_offsets_read_back(store):
    doc, annotations = italian()
    store_annotations(store, doc, annotations)
    stored = read_document(store, document_iri(doc))
    assert stored.document == doc and stored.annotations == _as_read(annotations)
    assert all(stored.document.text[a.start:a.end] == a.text for a in stored.annotations)
    assert [a.text for a in stored.annotations[2:4]] == ["polmonite lobare", "polmonite"]


def test_restoring_replaces_the_graph(store):
    doc, annotations = english()
    store_annotations(store, doc, annotations)
    size = _graph_size(store, doc)
    store_annotations(store, doc, annotations)
    assert _graph_size(store, doc) == size
    store_annotations(store, doc, annotations[:2])
    stored = read_document(store, document_iri(doc))
    assert stored.annotations == _as_read(annotations[:2])
    assert [s.annotations for s in annotated_documents(store)] == [2]


def test_annotated_documents_lists_each_with_count_and_language(store):
    (en, en_annotations), (it, it_annotations) = english(), italian()
    store_annotations(store, it, it_annotations)
    store_annotations(store, en, en_annotations)
    listed = annotated_documents(store)
    assert [(s.id, s.iri, s.lang, s.annotations, s.graph) for s in listed] == [
        (it.id, document_iri(it), "it", len(it_annotations), document_graph(it).value),
        (en.id, document_iri(en), "en", len(en_annotations), document_graph(en).value),
    ]  # by id: "nota_it" < "notes/en 1"
    assert [s.id for s in annotated_documents(store, limit=1)] == [it.id]


def test_a_document_without_annotations_still_lists_and_reads(store):
    doc = Document(id="empty", text="Nothing to see.\r\n", lang="en")
    store_annotations(store, doc, [])
    assert [(s.id, s.annotations, s.lang) for s in annotated_documents(store)] == [("empty", 0, "en")]
    stored = read_document(store, document_iri(doc))
    assert stored.document == doc and stored.annotations == [] and stored.generator["name"] == "medkg"


def test_unknown_iris_read_as_none(store):
    doc, annotations = english()
    store_annotations(store, doc, annotations)
    assert read_document(store, ns.MEDKG + "id/document/nope") is None
    assert read_document(store, PNEUMONIA) is None               # a linked concept is not a document
    with pytest.raises(ValueError):
        read_document(store, "not an iri")


def test_a_graph_without_the_text_reads_with_has_text_false(store):
    doc, annotations = english()
    store_annotations(store, doc, annotations)
    # what a graph written before the text was stored looks like: no nif:isString, no dcterms:identifier
    store.update(f"DELETE WHERE {{ GRAPH <{document_graph(doc).value}> {{ ?d nif:isString ?t }} }} ;"
                 f"DELETE WHERE {{ GRAPH <{document_graph(doc).value}> {{ ?d dcterms:identifier ?i }} }}")
    stored = read_document(store, document_iri(doc))
    assert not stored.has_text and stored.document.text == ""
    assert stored.document.id == doc.id and stored.document.lang == "en"   # the id from the IRI
    assert stored.annotations == _as_read(annotations)
    assert [(s.id, s.annotations) for s in annotated_documents(store)] == [(doc.id, len(annotations))]


def test_the_json_ld_export_stays_pure_web_annotation():
    doc, annotations = english()
    predicates = {t.predicate.value for t in annotation_triples(doc, annotations)}
    assert ns.NIF + "isString" not in predicates and ns.DCTERMS + "identifier" not in predicates
    assert EN_TEXT not in str(to_web_annotations(doc, annotations))


def test_non_finite_scores_read_back_as_nan(store):
    doc = Document(id="nan", text="fever", lang="en")
    ann = Annotation("nan", 0, 5, "fever", "problem", math.inf, "en",
                     links=(ConceptLink(PNEUMONIA, "fever", math.nan),))
    store_annotations(store, doc, [ann])
    [back] = read_document(store, document_iri(doc)).annotations
    assert math.isnan(back.score) and math.isnan(back.concept.score) and back.id == ann.id


def test_documents_mentioning_still_finds_linked_spans(store):
    doc, annotations = english()
    store_annotations(store, doc, annotations)
    store.add_quads([ox.Quad(ox.NamedNode(PNEUMONIA), ox.NamedNode(ns.RDFS + "subClassOf"),
                             ox.NamedNode(LUNG_DISEASE), ox.NamedNode(ns.GRAPH_BASE + "ontology/test"))])
    mentions = documents_mentioning(store, LUNG_DISEASE)
    assert [(m.document, m.text, m.concept, m.assertion, m.graph) for m in mentions] == [
        (document_iri(doc), "community acquired pneumonia", PNEUMONIA, "possible", document_graph(doc).value)]
