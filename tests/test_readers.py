"""Every reader on small files: the RDF shape it produces, and the errors bad input gets."""
from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyoxigraph import Literal, NamedNode

from conftest import DATA, dump
from medkg.errors import MedkgError
from medkg.kg import namespaces as ns
from medkg.kg.loading import Source, load_source
from medkg.kg.queries import run_saved

DOID_399 = ns.obo_iri("DOID:399")


def objects(store, subject, predicate) -> set:
    return {q.object for q in store.ox.quads_for_pattern(subject, predicate, None, None)}


def test_obo_terms_follow_the_obo_to_owl_mapping(store):
    report = load_source(store, Source(DATA / "mini.obo"))
    assert report.status == "loaded" and report.reader == "obo"
    assert objects(store, DOID_399, ns.RDFS_LABEL) == {Literal("tuberculosis", language="en")}
    assert objects(store, DOID_399, ns.SYNONYM_PREDICATES["EXACT"]) == {Literal("TB", language="en")}
    assert objects(store, DOID_399, ns.SYNONYM_PREDICATES["RELATED"]) == {Literal("phthisis", language="en")}
    assert {o.value for o in objects(store, DOID_399, ns.HAS_DB_XREF)} == {
        "ICD10CM:A15-A19", "MESH:D014376", "UMLS:C0041296", "SNOMEDCT:56717001"}
    assert objects(store, DOID_399, ns.RDFS_SUBCLASS_OF) == {ns.obo_iri("DOID:0050117")}
    assert len(objects(store, DOID_399, ns.IAO_DEFINITION)) == 1
    obsolete = ns.obo_iri("DOID:9999")
    assert objects(store, obsolete, ns.OWL_DEPRECATED) == {Literal(True)}
    # Typedefs are relations, not concepts.
    assert not objects(store, ns.obo_iri("part_of"), ns.RDF_TYPE)


def test_malformed_obo_names_file_and_line_and_changes_nothing(store, tmp_path):
    load_source(store, Source(DATA / "mini.obo"))
    before = dump(store)
    bad = tmp_path / "mini.obo"
    text = (DATA / "mini.obo").read_text().replace('synonym: "TB" EXACT []', 'synonym: "TB" EXACTLY []')
    bad.write_text(text)
    with pytest.raises(MedkgError) as caught:
        load_source(store, Source(bad))
    line = text.splitlines().index('synonym: "TB" EXACTLY []') + 1
    assert caught.value.path == str(bad) and caught.value.line == line
    assert f"mini.obo:{line}" in str(caught.value)
    assert dump(store) == before


@pytest.mark.parametrize("suffix, text", [
    (".ttl", '@prefix ex: <http://example.org/> .\nex:a ex:label "alpha"@it .\n'),
    (".nt", '<http://example.org/a> <http://example.org/label> "alpha"@it .\n'),
    (".owl", '<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
             'xmlns:ex="http://example.org/">\n<rdf:Description rdf:about="http://example.org/a">'
             '<ex:label xml:lang="it">alpha</ex:label></rdf:Description>\n</rdf:RDF>\n'),
])
def test_rdf_syntaxes_load_into_their_own_graph(store, tmp_path, suffix, text):
    path = tmp_path / f"onto{suffix}"
    path.write_text(text)
    report = load_source(store, Source(path))
    assert report.triples == 1
    quads = list(store.ox.quads_for_pattern(NamedNode("http://example.org/a"), None, None, None))
    assert [q.object for q in quads] == [Literal("alpha", language="it")]
    assert quads[0].graph_name.value == report.graph == ns.graph_iri("ontology", "onto").value


def test_malformed_turtle_keeps_the_previous_version(store, tmp_path):
    path = tmp_path / "onto.ttl"
    path.write_text('@prefix ex: <http://example.org/> .\nex:a ex:b "v1" .\n')
    load_source(store, Source(path))
    before = dump(store)
    path.write_text('@prefix ex: <http://example.org/> .\nex:a ex:b "v2" .\nex:a ex:b "unterminated .\n')
    with pytest.raises(MedkgError) as caught:
        load_source(store, Source(path))
    assert caught.value.line == 3 and "onto.ttl:3" in str(caught.value)
    assert dump(store) == before


def test_babelon_tables_in_both_column_layouts(store):
    for name in ("mini-it.babelon.tsv", "mini-es.babelon.tsv", "mini-it.synonyms.tsv"):
        load_source(store, Source(DATA / name))
    fever = ns.obo_iri("HP:0001945")
    assert objects(store, fever, ns.RDFS_LABEL) == {Literal("Febbre", language="it"), Literal("Fiebre", language="es")}
    assert objects(store, fever, ns.HAS_EXACT_SYNONYM) == {Literal("Piressia", language="it")}
    labels = run_saved(store, "labels", concept="HP:0001945")
    status = {(row["name"].value, row["status"].value) for row in labels.rows}
    assert status == {("Febbre", "CANDIDATE"), ("Fiebre", "OFFICIAL"), ("Piressia", "OFFICIAL")}


def test_babelon_row_with_bad_predicate_names_its_line(store, tmp_path):
    path = tmp_path / "bad.babelon.tsv"
    shutil.copy(DATA / "mini-es.babelon.tsv", path)
    with open(path, "a") as handle:
        handle.write("en\tes\tHP:0000001\tAll\tskos:definition\tTodo\tOFFICIAL\n")
    with pytest.raises(MedkgError, match="unsupported predicate_id") as caught:
        load_source(store, Source(path))
    assert caught.value.line == 4
    assert store.named_graphs() == []


def test_wikidata_items_labels_xrefs_and_sitelinks(store):
    load_source(store, Source(DATA / "mini_wikidata.jsonl"))
    item = NamedNode(ns.WD + "Q12204")
    assert Literal("tisis", language="es") in objects(store, item, ns.SKOS_ALT_LABEL)
    # The Italian sitelink title is the item's Italian name; "(malattia)" disambiguators are dropped.
    assert Literal("Tubercolosi", language="it") in objects(store, item, ns.SKOS_ALT_LABEL)
    assert Literal("Morbillo", language="it") in objects(store, NamedNode(ns.WD + "Q79793"), ns.SKOS_ALT_LABEL)
    assert {o.value for o in objects(store, item, ns.HAS_DB_XREF)} == {"ICD10:A15-A19", "MESH:D014376",
                                                                     "UMLS:C0041296"}
    it_article = NamedNode("https://it.wikipedia.org/wiki/Tubercolosi")
    assert objects(store, it_article, ns.SCHEMA_ABOUT) == {item}


def test_bad_jsonl_line_is_reported(store, tmp_path):
    path = tmp_path / "items.jsonl"
    path.write_text((DATA / "mini_wikidata.jsonl").read_text() + '{"qid": "Q1", "lang_labels": {"en": "x"\n')
    with pytest.raises(MedkgError, match="invalid JSON") as caught:
        load_source(store, Source(path))
    assert caught.value.line == 3
    assert store.named_graphs() == []
    path.write_text('{"qid": "not-a-qid", "lang_labels": {"en": "x"}}\n')
    with pytest.raises(MedkgError, match="qid"):
        load_source(store, Source(path))


def test_wikipedia_passages_have_exact_offsets(store):
    load_source(store, Source(DATA / "mini_wikipedia.jsonl"))
    article_text = __import__("json").loads((DATA / "mini_wikipedia.jsonl").read_text())["text"]
    rows = store.query("SELECT ?p ?text ?b ?e ?section WHERE { ?p a medkg:Passage ; schema:text ?text ; "
                       "nif:beginIndex ?b ; nif:endIndex ?e ; schema:isPartOf ?section . ?section a medkg:Section }"
                       ).rows
    assert len(rows) == 3  # lead, "Signs and symptoms", "History"
    for row in rows:
        begin, end = int(row["b"].value), int(row["e"].value)
        assert article_text[begin:end] == row["text"].value
        assert row["text"].language == "en"
        assert "==" not in row["text"].value
    article = NamedNode("https://en.wikipedia.org/wiki/Tuberculosis")
    assert objects(store, article, ns.SCHEMA_ABOUT) == {NamedNode(ns.WD + "Q12204")}
    assert objects(store, article, ns.SCHEMA_ALTERNATE_NAME) == {Literal("Phthisis", language="en")}


def test_wikipedia_parquet_in_the_hugging_face_layout(store, tmp_path):
    path = tmp_path / "train-00000-of-00001.parquet"
    table = pa.table({"id": ["1", "2"],
                      "url": ["https://it.wikipedia.org/wiki/Tubercolosi", "https://es.wikipedia.org/wiki/Sarampi%C3%B3n"],
                      "title": ["Tubercolosi", "Sarampión"],
                      "text": ["La tubercolosi è una malattia infettiva.\n\nColpisce soprattutto i polmoni.",
                               "El sarampión es una enfermedad infecciosa."]})
    pq.write_table(table, path)
    report = load_source(store, Source(path))
    assert report.reader == "wikipedia-parquet"
    langs = store.query("SELECT ?lang (COUNT(?p) AS ?n) WHERE { ?p a medkg:Passage ; schema:text ?t "
                        "BIND(LANG(?t) AS ?lang) } GROUP BY ?lang ORDER BY ?lang").rows
    assert [(r["lang"].value, int(r["n"].value)) for r in langs] == [("es", 1), ("it", 1)]
    assert objects(store, NamedNode("https://es.wikipedia.org/wiki/Sarampi%C3%B3n"), ns.SCHEMA_NAME) == {
        Literal("Sarampión", language="es")}


def test_unknown_extension_and_quad_formats_are_refused(store, tmp_path):
    for name, message in [("notes.docx", "no reader"), ("dump.nq", "quad formats")]:
        path = tmp_path / name
        path.write_text("x")
        with pytest.raises(MedkgError, match=message):
            load_source(store, Source(path))


def test_who_icd10_xml_hierarchy_and_code_xrefs(store, tmp_path):
    report = load_source(store, Source(DATA / "mini_icd10.xml"))
    assert report.reader == "icd10-who-xml"
    b54 = NamedNode(ns.ICD10 + "B54")
    assert objects(store, b54, ns.RDFS_LABEL) == {Literal("Unspecified malaria", language="en")}
    assert objects(store, b54, ns.HAS_DB_XREF) == {Literal("ICD10:B54")}
    ancestors = run_saved(store, "ancestors", concept="icd10:B54").rows
    assert [r["ancestor"].value.rsplit("/", 1)[-1] for r in ancestors] == ["B50-B64", "chapter-I"]
    broken = tmp_path / "icd.xml"
    broken.write_text((DATA / "mini_icd10.xml").read_text().replace("</description>\n\t\t\t</item>", "</item>", 1))
    with pytest.raises(MedkgError, match="invalid ICD-10 XML") as caught:
        load_source(store, Source(broken))
    assert caught.value.line is not None
