"""Annotation export: W3C Web Annotation JSON-LD, BRAT standoff (write and read) and the HTML view.

Documents and annotations are built by hand (records are plain data); nothing needs the network: the JSON-LD
is parsed into RDF with the offline copy of the W3C context terms (`ANNO_CONTEXT`).
"""
from __future__ import annotations

import json
import re
import socket
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
import rdflib
from rdflib import RDF, Literal, URIRef
from rdflib.collection import Collection

import medkg
from medkg.errors import MedkgError
from medkg.extract.brat import compact_id, fragments, read_brat
from medkg.extract.export import (
    ANNO_CONTEXT,
    MEDKG_CONTEXT,
    W3C_ANNO_CONTEXT,
    annotation_iri,
    document_iri,
    jsonld_graph,
    offline_jsonld,
    to_brat,
    to_web_annotations,
    write_brat,
    write_jsonld,
)
from medkg.extract.html_view import assign_layers, render_html, write_html
from medkg.extract.records import Annotation, Assertion, ConceptLink, Document

OA = rdflib.Namespace("http://www.w3.org/ns/oa#")
AS = rdflib.Namespace("http://www.w3.org/ns/activitystreams#")
DCTERMS = rdflib.Namespace("http://purl.org/dc/terms/")
MEDKG = rdflib.Namespace("https://w3id.org/medkg/")
CREATED = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)

DOID = "http://purl.obolibrary.org/obo/DOID_"
HP = "http://purl.obolibrary.org/obo/HP_"


def span(doc: Document, needle: str, type_: str, *, occurrence: int = 0, status: str = "present",
         cues: tuple[str, ...] = (), links: tuple[ConceptLink, ...] = (), score: float = 1.25,
         length: int | None = None) -> Annotation:
    """An annotation of the `occurrence`-th `needle` in the document (or its first `length` characters)."""
    start = -1
    for _ in range(occurrence + 1):
        start = doc.text.index(needle, start + 1)
    end = start + (len(needle) if length is None else length)
    modifiers = frozenset({status}) - {"present"}
    return Annotation(doc_id=doc.id, start=start, end=end, text=doc.text[start:end], type=type_, score=score,
                      lang=doc.lang or "en", question="Which condition?",
                      assertion=Assertion(status, modifiers, cues), links=links)


# --- documents -----------------------------------------------------------------------------------------------

IT_TEXT = (
    "Anamnesi: paziente di 67 anni, ex fumatore. Padre con infarto miocardico.\r\n"
    "\r\n"
    "Esame obiettivo:\tpressione arteriosa 150/90; non edemi declivi.\r\n"
    "Riferisce dolore\r\ntoracico oppressivo e dispnea da sforzo. Possibile cardiopatia ischemica.\r\n"
    "\r\n"
    "Terapia: acido acetilsalicilico 100 mg/die e atorvastatina 20 mg.\n"
    "Nota: <script>alert('è')</script> & \"virgolette\" — città.\n"
)
EN_TEXT = "No fever.\nDenies chest pain; mother had breast cancer.\n\tTaking metformin 500 mg twice daily."
ES_TEXT = "Paciente con diabetes mellitus tipo 2 y neumonía.\r\nSin fiebre ni tos.\tDolor\nabdominal difuso."


@pytest.fixture
def it_doc() -> tuple[Document, list[Annotation]]:
    doc = Document(id="nota-001", text=IT_TEXT, lang="it")
    cad = ConceptLink(DOID + "3393", "coronary artery disease", 0.812, "DOID", ("UMLS:C1956346", "ICD10CM:I25.1"))
    anns = [
        span(doc, "fumatore", "problem", status="historical", cues=("ex",)),
        span(doc, "infarto miocardico", "problem", status="family", cues=("Padre",)),
        span(doc, "pressione arteriosa 150/90", "sign_symptom"),
        span(doc, "edemi declivi", "sign_symptom", status="negated", cues=("non",),
             links=(ConceptLink(HP + "0000969", "Edema", 0.74, "HP"),)),
        # across a line break, with a nested span inside it and the same nested span typed twice
        span(doc, "dolore\r\ntoracico oppressivo", "sign_symptom",
             links=(ConceptLink(HP + "0100749", "Chest pain", 0.7, "HP"),)),
        span(doc, "dolore\r\ntoracico", "problem"),
        span(doc, "dolore\r\ntoracico", "sign_symptom"),
        span(doc, "dispnea da sforzo", "sign_symptom",
             links=(ConceptLink("https://example.org/concepts/exertional-dyspnoea", "dispnea", 0.6),)),
        span(doc, "cardiopatia ischemica", "problem", status="possible", cues=("Possibile",), links=(cad,)),
        # crossing spans: "acido acetilsalicilico 100 mg" and "100 mg/die"
        span(doc, "acido acetilsalicilico 100 mg", "medication",
             links=(ConceptLink("http://www.wikidata.org/entity/Q18216", "aspirin", 0.9, "WD"),)),
        span(doc, "100 mg/die", "dosage", score=-0.5),
        span(doc, "atorvastatina", "medication"),
        span(doc, "città", "problem", score=0.01),
    ]
    return doc, anns


@pytest.fixture
def en_doc() -> tuple[Document, list[Annotation]]:
    doc = Document(id="en note#1", text=EN_TEXT, lang="en")
    return doc, [
        span(doc, "fever", "sign_symptom", status="negated", cues=("No",),
             links=(ConceptLink(HP + "0001945", "Fever", 1.0, "HP", ("UMLS:C0015967",)),)),
        span(doc, "chest pain", "sign_symptom", status="negated", cues=("Denies",)),
        span(doc, "breast cancer", "problem", status="family",
             links=(ConceptLink(DOID + "1612", "breast cancer", 0.95, "DOID"),)),
        span(doc, "metformin", "medication"),
        span(doc, "500 mg twice daily", "dosage"),
    ]


@pytest.fixture
def es_doc() -> tuple[Document, list[Annotation]]:
    doc = Document(id="caso_clínico_7", text=ES_TEXT, lang="es")
    return doc, [
        span(doc, "diabetes mellitus tipo 2", "problem",
             links=(ConceptLink(DOID + "9352", "type 2 diabetes mellitus", 0.88, "DOID", ("UMLS:C0011860",)),)),
        span(doc, "neumonía", "problem"),
        span(doc, "fiebre", "sign_symptom", status="negated"),
        span(doc, "tos", "sign_symptom", status="negated"),
        span(doc, "Dolor\nabdominal", "sign_symptom"),
    ]


# --- IRIs ----------------------------------------------------------------------------------------------------

def test_iris_are_deterministic_and_quoted(it_doc, en_doc):
    doc, anns = it_doc
    ann = anns[0]
    assert annotation_iri(doc, ann) == f"https://w3id.org/medkg/id/annotation/nota-001/{ann.id}"
    assert annotation_iri(doc, ann) == annotation_iri(Document(doc.id, doc.text), ann)
    assert document_iri(doc) == "https://w3id.org/medkg/id/document/nota-001"
    en, en_anns = en_doc
    assert document_iri(en) == "https://w3id.org/medkg/id/document/" + quote("en note#1", safe="")
    assert " " not in document_iri(en) and "#" not in document_iri(en)
    assert annotation_iri(en, en_anns[0]).startswith("https://w3id.org/medkg/id/annotation/en%20note%231/")
    assert len({annotation_iri(doc, a) for a in anns}) == len(anns)


# --- JSON-LD -------------------------------------------------------------------------------------------------

def _items(data: dict) -> list[dict]:
    return data["first"]["items"]


def test_web_annotations_follow_the_model(it_doc):
    doc, anns = it_doc
    data = to_web_annotations(doc, anns, created=CREATED)
    assert data["@context"][0] == W3C_ANNO_CONTEXT
    assert data["type"] == "AnnotationCollection" and data["total"] == len(anns)
    assert data["first"]["type"] == "AnnotationPage" and data["first"]["partOf"] == data["id"]
    items = _items(data)
    assert [i["target"]["selector"][1]["start"] for i in items] == sorted(a.start for a in anns)
    by_id = {annotation_iri(doc, a): a for a in anns}
    assert set(by_id) == {i["id"] for i in items}
    for item in items:
        ann = by_id[item["id"]]
        assert item["type"] == "Annotation"
        assert item["created"] == "2025-03-04T05:06:07Z"
        assert item["generator"]["name"] == "medkg"
        assert item["generator"]["softwareVersion"] == medkg.__version__
        assert item["generator"]["type"] == "Software"
        target = item["target"]
        assert target["source"]["id"] == document_iri(doc) and target["source"]["language"] == "it"
        quote_sel, position = target["selector"]
        assert position == {"type": "TextPositionSelector", "start": ann.start, "end": ann.end}
        assert quote_sel["type"] == "TextQuoteSelector" and quote_sel["exact"] == ann.text
        assert len(quote_sel["prefix"]) <= 32 and len(quote_sel["suffix"]) <= 32
        assert doc.text[:ann.start].endswith(quote_sel["prefix"])
        assert doc.text[ann.end:].startswith(quote_sel["suffix"])
        assert quote_sel["prefix"] == doc.text[max(0, ann.start - 32):ann.start]
        tags = [b for b in item["body"] if b["type"] == "TextualBody"]
        assert tags == [{"type": "TextualBody", "purpose": "tagging", "value": ann.type, "format": "text/plain"}]
        assert item["assertion"] == ann.assertion.status
        assert item["qaScore"] == ann.score
        identities = [b for b in item["body"] if b["type"] == "SpecificResource"]
        if ann.concept:
            assert item["motivation"] == "identifying"
            (identity,) = identities
            assert identity["purpose"] == "identifying" and identity["source"] == ann.concept.iri
            assert identity["label"] == ann.concept.label and identity["linkScore"] == ann.concept.score
        else:
            assert item["motivation"] == "tagging" and identities == []
    # the quote context is cut at 32 characters
    long_one = next(i for i in items if i["target"]["selector"][1]["start"] > 40)
    assert len(long_one["target"]["selector"][0]["prefix"]) == 32
    first = items[0]["target"]["selector"][0]
    assert "prefix" in first and first["prefix"] == doc.text[:items[0]["target"]["selector"][1]["start"]][-32:]


def test_web_annotations_are_deterministic_given_the_time(it_doc):
    doc, anns = it_doc
    assert to_web_annotations(doc, anns, created=CREATED) == to_web_annotations(doc, anns[::-1], created=CREATED)
    custom = to_web_annotations(doc, anns, {"name": "medkg-pipeline", "homepage": "https://example.org/"},
                                created=CREATED)
    assert custom["generator"]["name"] == "medkg-pipeline"
    assert custom["generator"]["softwareVersion"] == medkg.__version__


def _keys_and_vocab_values(node, keys: set[str], vocab: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "@context":
                continue
            keys.add(key)
            if key in ("type", "motivation", "purpose"):
                vocab.add(value)
            _keys_and_vocab_values(value, keys, vocab)
    elif isinstance(node, list):
        for value in node:
            _keys_and_vocab_values(value, keys, vocab)


def test_every_term_used_is_defined_offline(it_doc):
    """JSON-LD silently drops undefined terms: each key and each vocabulary value must have a definition."""
    doc, anns = it_doc
    keys: set[str] = set()
    vocab: set[str] = set()
    generator = {"name": "medkg", "version": "9.9", "model": "qa_default", "schema": "clinical"}
    _keys_and_vocab_values(to_web_annotations(doc, anns, generator, created=CREATED), keys, vocab)
    prefixes = {k for k, v in {**ANNO_CONTEXT, **MEDKG_CONTEXT}.items() if isinstance(v, str) and v[-1] in "/#"}
    undefined = {k for k in keys if k not in ANNO_CONTEXT and k not in MEDKG_CONTEXT
                 and not (":" in k and k.split(":")[0] in prefixes)}
    assert not keys & prefixes  # a prefix used as a key would become a property named by the bare namespace
    assert not undefined
    assert not {v for v in vocab if v not in ANNO_CONTEXT}
    assert {"assertion", "qaScore", "linkScore", "xrefs", "scheme"} <= keys
    assert {"identifying", "tagging", "TextPositionSelector", "TextQuoteSelector"} <= vocab


def test_offline_context_has_the_w3c_definitions():
    """The terms as the W3C anno.jsonld defines them (Web Annotation Vocabulary / Data Model)."""
    ctx = ANNO_CONTEXT
    assert ctx["oa"] == "http://www.w3.org/ns/oa#" and ctx["as"] == "http://www.w3.org/ns/activitystreams#"
    assert ctx["dcterms"] == "http://purl.org/dc/terms/" and ctx["dc"] == "http://purl.org/dc/elements/1.1/"
    assert ctx["start"] == {"@id": "oa:start", "@type": "xsd:nonNegativeInteger"}
    assert ctx["end"] == {"@id": "oa:end", "@type": "xsd:nonNegativeInteger"}
    assert ctx["source"] == {"@type": "@id", "@id": "oa:hasSource"}
    assert ctx["selector"] == {"@type": "@id", "@id": "oa:hasSelector"}
    assert ctx["motivation"] == {"@type": "@vocab", "@id": "oa:motivatedBy"}
    assert ctx["purpose"] == {"@type": "@vocab", "@id": "oa:hasPurpose"}
    assert ctx["generator"] == {"@type": "@id", "@id": "as:generator"}
    assert ctx["created"] == {"@id": "dcterms:created", "@type": "xsd:dateTime"}
    assert ctx["items"]["@container"] == "@list" and ctx["items"]["@id"] == "as:items"
    assert ctx["Software"] == "as:Application" and ctx["AnnotationCollection"] == "as:OrderedCollection"
    assert ctx["value"] == "rdf:value" and ctx["label"] == "rdfs:label" and ctx["name"] == "foaf:name"


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def _position_of(graph: rdflib.Graph, annotation: URIRef) -> tuple[Literal, Literal, URIRef]:
    rows = list(graph.query("""
        PREFIX oa: <http://www.w3.org/ns/oa#>
        SELECT ?start ?end ?source WHERE {
          ?a a oa:Annotation ; oa:hasTarget ?t .
          ?t oa:hasSource ?source ; oa:hasSelector ?s .
          ?s a oa:TextPositionSelector ; oa:start ?start ; oa:end ?end .
        }""", initBindings={"a": annotation}))
    assert len(rows) == 1, rows
    return rows[0]


def test_jsonld_parses_to_rdf_offline(it_doc, no_network):
    doc, anns = it_doc
    data = to_web_annotations(doc, anns, created=CREATED)
    graph = jsonld_graph(data)
    assert data["@context"][0] == W3C_ANNO_CONTEXT  # the export itself still names the W3C context
    doc_iri = URIRef(document_iri(doc))
    assert set(graph.subjects(RDF.type, OA.Annotation)) == {URIRef(annotation_iri(doc, a)) for a in anns}
    for ann in anns:
        node = URIRef(annotation_iri(doc, ann))
        start, end, source = _position_of(graph, node)
        assert source == doc_iri
        assert start.datatype == rdflib.XSD.nonNegativeInteger and end.datatype == rdflib.XSD.nonNegativeInteger
        assert (start.toPython(), end.toPython()) == (ann.start, ann.end)
        exacts = {graph.value(s, OA.exact) for s in graph.objects(graph.value(node, OA.hasTarget), OA.hasSelector)}
        assert Literal(ann.text) in exacts, exacts
        assert graph.value(node, MEDKG.assertion) == Literal(ann.assertion.status)
        score = graph.value(node, MEDKG.qaScore)
        assert score.datatype == rdflib.XSD.double and score.toPython() == pytest.approx(ann.score)
        assert graph.value(node, DCTERMS.created).datatype == rdflib.XSD.dateTime
        generator = graph.value(node, AS.generator)
        assert (generator, RDF.type, AS.Application) in graph
        tags = {graph.value(b, RDF.value) for b in graph.objects(node, OA.hasBody)
                if (b, OA.hasPurpose, OA.tagging) in graph}
        assert tags == {Literal(ann.type)}
        concepts = {graph.value(b, OA.hasSource) for b in graph.objects(node, OA.hasBody)
                    if (b, OA.hasPurpose, OA.identifying) in graph}
        if ann.concept:
            assert graph.value(node, OA.motivatedBy) == OA.identifying
            assert concepts == {URIRef(ann.concept.iri)}
        else:
            assert graph.value(node, OA.motivatedBy) == OA.tagging and concepts == set()
    # the linked concept's cross-references are oboInOwl:hasDbXref literals of the identifying body
    has_db_xref = URIRef("http://www.geneontology.org/formats/oboInOwl#hasDbXref")
    assert {str(o) for o in graph.objects(None, has_db_xref)} == {"UMLS:C1956346", "ICD10CM:I25.1"}
    negated = set(graph.subjects(MEDKG.assertion, Literal("negated")))
    assert negated == {URIRef(annotation_iri(doc, a)) for a in anns if a.assertion.status == "negated"}
    # the collection keeps the order of its items as an rdf:List
    collection = URIRef(data["id"])
    assert (collection, RDF.type, AS.OrderedCollection) in graph
    page = graph.value(collection, AS.first)
    items = list(Collection(graph, graph.value(page, AS.items)))
    assert items == [URIRef(i["id"]) for i in _items(data)]
    assert graph.value(collection, AS.totalItems).toPython() == len(anns)


def test_generator_keys_all_reach_the_rdf(es_doc, no_network):
    doc, anns = es_doc
    generator = {"name": "medkg", "version": "9.9", "model": "qa_default", "schema": "clinical"}
    data = to_web_annotations(doc, anns, generator, created=CREATED)
    node = data["first"]["items"][0]["generator"]
    assert node["softwareVersion"] == "9.9" and "version" not in node
    assert node["medkg:model"] == "qa_default" and node["medkg:schema"] == "clinical"
    graph = jsonld_graph(data)
    software = URIRef(node["id"])
    assert (software, RDF.type, AS.Application) in graph
    assert graph.value(software, URIRef("http://schema.org/softwareVersion")) == Literal("9.9")
    assert graph.value(software, MEDKG.model) == Literal("qa_default")
    assert graph.value(software, MEDKG.schema) == Literal("clinical")
    assert graph.value(software, URIRef("http://xmlns.com/foaf/0.1/name")) == Literal("medkg")
    # another configuration is another agent; the plain default keeps its plain IRI
    other = to_web_annotations(doc, anns, {**generator, "model": "other"}, created=CREATED)["generator"]["id"]
    plain = to_web_annotations(doc, anns, created=CREATED)["generator"]["id"]
    assert len({node["id"], other, plain}) == 3
    assert plain == f"https://w3id.org/medkg/id/software/medkg/{medkg.__version__}"


def test_offline_jsonld_only_swaps_the_w3c_context(it_doc):
    doc, anns = it_doc
    data = to_web_annotations(doc, anns, created=CREATED)
    local = offline_jsonld(data)
    assert local["@context"][0] == ANNO_CONTEXT and local["@context"][1] == MEDKG_CONTEXT
    assert data["@context"][0] == W3C_ANNO_CONTEXT  # the input is not modified
    assert {k: v for k, v in local.items() if k != "@context"} == {k: v for k, v in data.items() if k != "@context"}


def test_write_jsonld_and_parse_the_file(tmp_path, es_doc, no_network):
    doc, anns = es_doc
    path = write_jsonld(doc, anns, tmp_path / "out" / "caso.jsonld", created=CREATED)
    text = path.read_text(encoding="utf-8")
    assert "neumonía" in text  # UTF-8, not \u escapes
    assert json.loads(text) == to_web_annotations(doc, anns, created=CREATED)
    graph = jsonld_graph(path)
    for ann in anns:
        start, end, source = _position_of(graph, URIRef(annotation_iri(doc, ann)))
        assert (int(start), int(end), source) == (ann.start, ann.end, URIRef(document_iri(doc)))


def test_document_without_annotations_is_an_empty_collection(no_network):
    doc = Document("vuoto", "Nessun reperto patologico.", "it")
    data = to_web_annotations(doc, [], created=CREATED)
    assert data["total"] == 0 and "first" not in data
    graph = jsonld_graph(data)
    assert not set(graph.subjects(RDF.type, OA.Annotation))
    assert graph.value(URIRef(data["id"]), AS.totalItems).toPython() == 0


def test_annotation_that_disagrees_with_its_document_is_refused(it_doc):
    doc, _ = it_doc
    wrong = Annotation(doc.id, 0, 8, "Anamnesy", "problem", 1.0, "it")
    with pytest.raises(MedkgError, match="differs from the document"):
        to_web_annotations(doc, [wrong])
    with pytest.raises(MedkgError, match="differs from the document"):
        to_brat(doc, [wrong])
    elsewhere = Annotation("other", 0, 8, "Anamnesi", "problem", 1.0, "it")
    with pytest.raises(MedkgError, match="belongs to document"):
        to_brat(doc, [elsewhere])
    past_the_end = Annotation(doc.id, len(doc.text) - 2, len(doc.text) + 3, doc.text[-2:], "problem", 1.0, "it")
    with pytest.raises(MedkgError, match="outside the text"):
        render_html([(doc, [past_the_end])])


# --- BRAT ----------------------------------------------------------------------------------------------------

def test_compact_ids():
    assert compact_id(DOID + "1234") == "DOID:1234"
    assert compact_id(HP + "0001945") == "HP:0001945"
    assert compact_id("http://purl.obolibrary.org/obo/NCIT_C3262") == "NCIT:C3262"
    assert compact_id("http://www.wikidata.org/entity/Q12199") == "WD:Q12199"
    assert compact_id("http://id.who.int/icd/release/10/2019/I25.1") == "ICD10:I25.1"
    assert compact_id("http://purl.obolibrary.org/obo/doid.owl") == "http://purl.obolibrary.org/obo/doid.owl"
    assert compact_id("https://example.org/c/42") == "https://example.org/c/42"


def test_fragments_split_at_line_breaks():
    text = "ab\r\ncd\n\nef"
    assert fragments(text, 0, len(text)) == [(0, 2), (4, 6), (8, 10)]
    assert fragments(text, 1, 5) == [(1, 2), (4, 5)]
    assert fragments(text, 2, 4) == []


def test_to_brat_lines(en_doc):
    doc, anns = en_doc
    expected = (
        "T1\tsign_symptom 3 8\tfever\n"
        "A1\tAssertion T1 negated\n"
        "N1\tReference T1 HP:0001945\tFever\n"
        "N2\tReference T1 UMLS:C0015967\tFever\n"
        "#1\tAnnotatorNotes T1\tsource=qa score=1.2500 link_score=1.0000\n"
        "T2\tsign_symptom 17 27\tchest pain\n"
        "A2\tAssertion T2 negated\n"
        "#2\tAnnotatorNotes T2\tsource=qa score=1.2500\n"
        "T3\tproblem 40 53\tbreast cancer\n"
        "A3\tAssertion T3 family\n"
        "N3\tReference T3 DOID:1612\tbreast cancer\n"
        "#3\tAnnotatorNotes T3\tsource=qa score=1.2500 link_score=0.9500\n"
        "T4\tmedication 63 72\tmetformin\n"
        "#4\tAnnotatorNotes T4\tsource=qa score=1.2500\n"
        "T5\tdosage 73 91\t500 mg twice daily\n"
        "#5\tAnnotatorNotes T5\tsource=qa score=1.2500\n"
    )
    assert to_brat(doc, anns) == expected
    assert to_brat(doc, anns[::-1]) == expected


def test_span_across_a_newline_becomes_fragments(it_doc):
    doc, anns = it_doc
    across = next(a for a in anns if a.text.startswith("dolore") and a.text.endswith("oppressivo"))
    ann = to_brat(doc, [across])
    start = doc.text.index("dolore")
    first_line = ann.splitlines()[0]
    assert first_line == (f"T1\tsign_symptom {start} {start + 6};{start + 8} {start + 27}"
                          "\tdolore toracico oppressivo")


def _expected_codes(ann: Annotation) -> tuple[str, ...]:
    if not ann.concept:
        return ()
    return tuple(dict.fromkeys([compact_id(ann.concept.iri), *ann.concept.xrefs]))


@pytest.mark.parametrize("fixture", ["it_doc", "en_doc", "es_doc"])
def test_brat_round_trip(fixture, request, tmp_path):
    doc, anns = request.getfixturevalue(fixture)
    txt_path, ann_path = write_brat(doc, anns, tmp_path)
    assert txt_path.parent == tmp_path and ann_path == txt_path.with_suffix(".ann")
    assert txt_path.read_bytes() == doc.text.encode("utf-8")  # exact text: \r\n and tabs kept
    read_doc, mentions = read_brat(txt_path)
    assert read_doc.text == doc.text and read_doc.id == txt_path.stem == doc.id
    expected = sorted((tuple(fragments(doc.text, a.start, a.end)), a.type, re.sub(r"[\r\n]+", " ", a.text),
                       _expected_codes(a), a.assertion.status) for a in anns)
    got = sorted((m.spans, m.type, m.text, m.codes, m.attributes.get("Assertion", "present")) for m in mentions)
    assert got == expected
    for ann in anns:
        mention = next(m for m in mentions if (m.start, m.end, m.type) == (ann.start, ann.end, ann.type))
        assert mention.doc_id == doc.id
        assert "".join(doc.text[s:e] for s, e in mention.spans) == ann.text.replace("\r", "").replace("\n", "")
        assert f"score={ann.score:.4f}" in mention.attributes["AnnotatorNotes"]


def test_read_brat_keeps_crlf_offsets_and_reads_everything(tmp_path):
    text = "Paziente con febbre.\r\nNega dolore\r\ntoracico; diabete di tipo 2.\r\n"
    (tmp_path / "e3c_01.txt").write_bytes(text.encode("utf-8"))
    fever, pain_a = text.index("febbre"), text.index("dolore")
    pain_b, diabetes = text.index("toracico"), text.index("diabete")
    ann = (
        f"T1\tCLINENTITY {fever} {fever + 6}\tfebbre\r\n"
        f"T2\tCLINENTITY {pain_a} {pain_a + 6};{pain_b} {pain_b + 8}\tdolore toracico\r\n"
        f"T3\tDIAGNOSTICO {diabetes} {diabetes + 17}\tdiabete di tipo 2\r\n"
        "\r\n"
        "N1\tReference T1 UMLS_CUI:C0015967\tFever\r\n"
        "N2\tReference T2 UMLS:C0008031\tChest pain\r\n"
        "N3\tReference T3 SNOMEDCT_US_2025_09_01:44054006\tType 2 diabetes\r\n"
        "N4\tReference T3 http://purl.obolibrary.org/obo/DOID_9352\ttype 2 diabetes mellitus\r\n"
        "A1\tPolarity T2 NEG\r\n"
        "A2\tNegated T2\r\n"
        "M1\tUncertain T3\r\n"
        "R1\tRel Arg1:T1 Arg2:T2\r\n"
        "E1\tFinding:T1\r\n"
        "*\tEquiv T1 T2\r\n"
        "#1\tAnnotatorNotes T1\tcontrollare\r\n"
        "#2\tfree comment\r\n"
    )
    (tmp_path / "e3c_01.ann").write_bytes(ann.encode("utf-8"))
    doc, mentions = read_brat(tmp_path / "e3c_01.txt", lang="it")
    assert doc.text == text and doc.lang == "it" and doc.id == "e3c_01"
    assert doc.path == tmp_path / "e3c_01.txt"
    by_text = {m.text: m for m in mentions}
    assert [m.text for m in mentions] == ["febbre", "dolore toracico", "diabete di tipo 2"]
    assert by_text["febbre"].spans == ((fever, fever + 6),) and text[fever:fever + 6] == "febbre"
    assert by_text["febbre"].codes == ("UMLS:C0015967",)
    assert by_text["febbre"].attributes == {"AnnotatorNotes": "controllare"}
    chest = by_text["dolore toracico"]
    assert chest.spans == ((pain_a, pain_a + 6), (pain_b, pain_b + 8))
    assert (chest.start, chest.end) == (pain_a, pain_b + 8)
    assert chest.codes == ("UMLS:C0008031",)
    assert chest.attributes == {"Polarity": "NEG", "Negated": "true"}
    diabetes_mention = by_text["diabete di tipo 2"]
    assert diabetes_mention.type == "DIAGNOSTICO"
    assert diabetes_mention.codes == ("SNOMEDCT:44054006", "http://purl.obolibrary.org/obo/DOID_9352")
    assert diabetes_mention.attributes == {"Uncertain": "true"}


def test_read_brat_without_ann_file(tmp_path):
    (tmp_path / "solo.txt").write_text("Sin hallazgos.", encoding="utf-8")
    doc, mentions = read_brat(tmp_path / "solo.txt")
    assert doc.text == "Sin hallazgos." and mentions == []


def test_read_brat_refuses_non_utf8(tmp_path):
    (tmp_path / "latin.txt").write_bytes("febbre alta, città".encode("latin-1"))
    with pytest.raises(MedkgError, match="not UTF-8") as info:
        read_brat(tmp_path / "latin.txt")
    assert info.value.path == str(tmp_path / "latin.txt")


BRAT_TEXT = "Fiebre alta.\nNo refiere tos."


@pytest.mark.parametrize(("line", "message"), [
    ("T2 problem 0 6\tFiebre", "malformed line"),                       # spaces instead of a tab
    ("T2\tproblem 0 6", "malformed text-bound"),                        # no text
    ("T2\tproblem 0\tFiebre", "malformed offsets"),                     # no end
    ("T2\tproblem zero 6\tFiebre", "malformed offsets"),
    ("T2\tproblem 0 6;7\tFiebre alta", "malformed offsets"),
    ("T2\tproblem 6 0\t", "ends before it starts"),
    ("T2\tproblem 20 40\trefiere tos.", "runs past the end"),
    ("T2\tproblem 0 6\tFiebro", "does not match the .txt"),
    ("T2\tproblem 0 6;7 11\tFiebre  alta", "does not match the .txt"),
    ("T1\tproblem 0 6\tFiebre", "duplicate id T1"),
    ("A1\tNegated", "malformed attribute"),
    ("A1\tNegated T1 yes no", "malformed attribute"),
    ("N1\tReference T1\tFever", "malformed normalisation"),
    ("N1\tReference T1 C0015967\tFever", "malformed normalisation"),
    ("N1\tReference T9 UMLS:C0015967\tFever", "T9 is not defined"),
    ("X1\tsomething", "unknown annotation kind"),
])
def test_malformed_ann_lines_name_file_and_line(tmp_path, line, message):
    (tmp_path / "doc.txt").write_text(BRAT_TEXT, encoding="utf-8")
    content = "T1\tsign_symptom 0 6\tFiebre\n\n" + line + "\nT3\tsign_symptom 24 27\ttos\n"
    (tmp_path / "doc.ann").write_text(content, encoding="utf-8")
    with pytest.raises(MedkgError, match=re.escape(message)) as info:
        read_brat(tmp_path / "doc.txt")
    assert info.value.line == 3
    assert info.value.path == str(tmp_path / "doc.ann")
    assert "doc.ann:3: " in str(info.value)


def test_valid_lines_of_the_malformed_test_pass(tmp_path):
    """The frame of the test above is itself valid, so each failure comes from the line under test."""
    (tmp_path / "doc.txt").write_text(BRAT_TEXT, encoding="utf-8")
    (tmp_path / "doc.ann").write_text("T1\tsign_symptom 0 6\tFiebre\n\nT3\tsign_symptom 24 27\ttos\n"
                                      "T2\tproblem 0 6;7 11\tFiebre alta\n", encoding="utf-8")
    _, mentions = read_brat(tmp_path / "doc.txt")
    assert [m.text for m in mentions] == ["Fiebre", "tos", "Fiebre alta"]


def test_write_brat_file_names(tmp_path):
    doc = Document("reparto/cardio:12", "Dolore toracico.", "it")
    ann = span(doc, "Dolore toracico", "sign_symptom")
    txt_path, ann_path = write_brat(doc, [ann], tmp_path)
    assert txt_path.parent == tmp_path and txt_path.name == "reparto%2Fcardio%3A12.txt"
    assert ann_path.read_text(encoding="utf-8").startswith("T1\tsign_symptom 0 15\tDolore toracico\n")


# --- HTML ----------------------------------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Page(HTMLParser):
    """Collects the text of each ``div.doc-text``, checks tags nest, and records spans and scripts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.texts: list[str] = []
        self.spans: list[dict[str, str]] = []
        self.scripts = 0
        self.external: list[str] = []
        self._depth = 0
        self._current: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if attributes.get("src") or (tag == "link" and attributes.get("href")):
            self.external.append(tag)
        if tag in VOID:
            return
        self.stack.append(tag)
        if self._depth:
            self._depth += 1
            if tag != "span":
                self.errors.append(f"<{tag}> inside the document text")
            self.spans.append({k: v or "" for k, v in attributes.items()})
        elif tag == "div" and "doc-text" in (attributes.get("class") or "").split():
            self._depth = 1
            self._current = []

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if self._depth:
            self._depth -= 1
            if not self._depth:
                self.texts.append("".join(self._current))

    def handle_data(self, data):
        if self._depth:
            self._current.append(data)


def _parse_page(page: str) -> _Page:
    parser = _Page()
    # What a browser does first (HTML "preprocessing the input stream"): CR LF and lone CR become LF. The
    # stdlib parser skips that step, so it is done here: a CR of the text must survive it as "&#13;".
    parser.feed(page.replace("\r\n", "\n").replace("\r", "\n"))
    parser.close()
    assert not parser.errors, parser.errors
    assert parser.stack == [], parser.stack
    return parser


def test_html_text_is_the_document_text_exactly(it_doc, en_doc, es_doc):
    pairs = [it_doc, en_doc, es_doc]
    page = render_html(pairs, title="Note <cliniche> & co")
    parsed = _parse_page(page)
    assert parsed.texts == [doc.text for doc, _ in pairs]
    assert "<title>Note &lt;cliniche&gt; &amp; co</title>" in page
    assert parsed.external == []                       # self-contained: no src=, no stylesheet links
    assert parsed.scripts == 1                         # ours only
    assert "<style>" in page


def test_html_escapes_markup_in_the_document(it_doc):
    doc, anns = it_doc
    page = render_html([(doc, anns)])
    assert "<script>alert(" not in page
    assert "&lt;script&gt;alert('è')&lt;/script&gt;" in page
    assert '&amp; "virgolette"' in page
    parsed = _parse_page(page)
    assert parsed.scripts == 1
    assert "<script>alert('è')</script>" in parsed.texts[0]


def test_html_spans_titles_and_styles(it_doc):
    doc, anns = it_doc
    parsed = _parse_page(render_html([(doc, anns)]))
    by_key: dict[str, list[dict[str, str]]] = {}
    for attributes in parsed.spans:
        by_key.setdefault(attributes["data-ann"], []).append(attributes)
    assert len(by_key) == len(anns)  # every annotation is shown (no empty spans here)
    # nested spans stay whole; only the one crossing pair needs a split (one extra piece)
    assert sum(len(pieces) for pieces in by_key.values()) == len(anns) + 1
    for ann in anns:
        pieces = by_key[f"1-{ann.id}"]
        title = pieces[0]["title"]
        assert title.startswith(f"{ann.type} · {ann.assertion.status}")
        assert f"QA score {ann.score:.3f}" in title
        if ann.concept:
            assert ann.concept.label in title and compact_id(ann.concept.iri) in title
            assert f"link score {ann.concept.score:.3f}" in title
            if compact_id(ann.concept.iri) != ann.concept.iri:
                assert f"<{ann.concept.iri}>" in title
        classes = pieces[0]["class"].split()
        assert f"a-{ann.assertion.status}" in classes
    negated = next(a for a in anns if a.assertion.status == "negated")
    assert "a-negated" in by_key[f"1-{negated.id}"][0]["class"]
    # crossing spans: the one left open is split around the boundary, nothing else is
    medication = next(a for a in anns if a.text.startswith("acido"))
    dosage = next(a for a in anns if a.type == "dosage")
    assert len(by_key[f"1-{medication.id}"]) + len(by_key[f"1-{dosage.id}"]) == 3
    assert "cont" in (by_key[f"1-{medication.id}"] + by_key[f"1-{dosage.id}"])[-1]["class"]
    # nested spans go on a second (and third) layer, shown as underlines
    layers = {a.text + a.type: int(re.search(r"\bL(\d+)\b", by_key[f"1-{a.id}"][0]["class"]).group(1))
              for a in anns}
    assert layers["dolore\r\ntoracico oppressivosign_symptom"] == 0
    assert sorted([layers["dolore\r\ntoracicoproblem"], layers["dolore\r\ntoracicosign_symptom"]]) == [1, 2]
    assert layers["100 mg/diedosage"] == 1 and layers["acido acetilsalicilico 100 mgmedication"] == 0


def test_html_legend_colours_and_styles(it_doc, en_doc):
    page = render_html([it_doc, en_doc])
    types = sorted({a.type for _, anns in (it_doc, en_doc) for a in anns})
    colours = {}
    for i, name in enumerate(types):
        assert f'<span class="ann L0 t{i} sample">{name}</span>' in page
        colours[name] = re.search(rf"\.t{i} {{ --c: ([^;]+); }}", page).group(1)
    assert len(set(colours.values())) == len(types)
    assert re.search(r"\.ann\.a-negated \{[^}]*line-through", page)
    assert re.search(r"\.ann\.L0\.a-negated \{[^}]*dashed", page)
    assert re.search(r"\.ann\.L1 \{[^}]*border-bottom", page)


def test_html_links_only_web_iris(tmp_path):
    doc = Document("x", "Febbre e tosse.", "it")
    anns = [span(doc, "Febbre", "sign_symptom", links=(ConceptLink("javascript:alert(1)", "evil", 0.9),)),
            span(doc, "tosse", "sign_symptom", links=(ConceptLink(HP + "0012735", "Cough", 0.9, "HP"),))]
    path = write_html([(doc, anns)], tmp_path / "view.html", title="t")
    page = path.read_text(encoding="utf-8")
    assert 'href="javascript:' not in page
    assert f'<a href="{HP}0012735">HP:0012735</a>' in page
    assert _parse_page(page).texts == [doc.text]


def test_html_of_a_document_without_annotations_and_empty_spans():
    doc = Document("y", "Nulla da segnalare.\r\n", "it")
    empty = Annotation("y", 5, 5, "", "problem", 0.1, "it")
    parsed = _parse_page(render_html([(doc, []), (doc, [empty])]))
    assert parsed.texts == [doc.text, doc.text]
    assert parsed.spans == []


def test_assign_layers():
    doc = Document("z", "abcdefghij")
    def at(s: int, e: int) -> Annotation:
        return Annotation("z", s, e, doc.text[s:e], "t", 1.0, "en")
    anns = [at(0, 5), at(1, 3), at(4, 8), at(5, 9), at(8, 10), at(2, 3)]
    assert assign_layers(anns) == {0: 0, 1: 1, 2: 1, 3: 0, 4: 1, 5: 2}
