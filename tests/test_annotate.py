"""Annotation: schema loading, concept linking over the demo graph, the annotator on the shipped notes,
the resumable batch with a bad document, and the CLI."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO, shared
from medkg.errors import MedkgError
from medkg.extract.annotator import resolve_overlaps, split_list
from medkg.extract.records import Annotation
from medkg.extract.schema import DEFAULT_SCHEMA, load_schema

NOTES = REPO / "examples" / "notes"
runner = CliRunner()


# -- schema ------------------------------------------------------------------------------------------------

def test_default_schema_asks_every_type_in_three_languages():
    schema = load_schema()
    assert schema.path == DEFAULT_SCHEMA
    names = [t.name for t in schema.types]
    assert {"problem", "sign_symptom", "medication", "dosage", "procedure", "test", "anatomy"} <= set(names)
    for lang in ("en", "it", "es"):
        asked = schema.questions(lang)
        assert {t.name for t, _ in asked} == set(names)
    assert schema.type("medication").questions_for("it")[0] == "Quale farmaco è stato prescritto?"
    assert schema.questions("de") == schema.questions("en")  # no German lines: English questions
    assert schema.type("problem").link_to == ("DOID", "HP", "ICD10", "WD", "ORDO")


def test_schema_errors_say_what_and_where(tmp_path):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("types:\n  problem:\n    questions: [unclosed\n")
    with pytest.raises(MedkgError, match=r"bad.yaml:\d+: not valid YAML"):
        load_schema(bad_yaml)
    typo = tmp_path / "typo.yaml"
    typo.write_text("types:\n  drug:\n    questions: {en: ['Which drug?']}\n    treshold: 2\n")
    with pytest.raises(MedkgError, match="type 'drug': unknown key.*treshold"):
        load_schema(typo)
    empty = tmp_path / "empty.yaml"
    empty.write_text("types:\n  drug:\n    questions: {en: []}\n")
    with pytest.raises(MedkgError, match="non-empty list"):
        load_schema(empty)
    with pytest.raises(MedkgError, match="cannot read schema"):
        load_schema(tmp_path / "missing.yaml")


# -- spans ---------------------------------------------------------------------------------------------------

def test_answers_cut_inside_a_parenthesis_end_before_it():
    from medkg.extract.annotator import balance_brackets

    text = "Familiarità per infarto miocardico (padre). Diabete) e IMA (infarto) noti."
    def cut(fragment):
        start = text.index(fragment)
        a, b = balance_brackets(text, start, start + len(fragment))
        return text[a:b]
    assert cut("infarto miocardico (padre") == "infarto miocardico"
    assert cut("Diabete)") == "Diabete"
    assert cut("IMA (infarto)") == "IMA (infarto)"
    assert cut("(padre") == ""


def test_list_answers_split_into_items_with_exact_offsets():
    text = "Nega febbre, tosse e dispnea da tre giorni."
    start = text.index("febbre")
    end = text.index("dispnea") + len("dispnea")
    items = split_list(text, start, end)
    assert [text[a:b] for a, b in items] == ["febbre", "tosse", "dispnea"]
    plain = "polmonite comunitaria"
    assert split_list(plain, 0, len(plain)) == [(0, len(plain))]  # no comma: not a list
    text = "fiebre, tos y disnea"
    assert [text[a:b] for a, b in split_list(text, 0, len(text))] == ["fiebre", "tos", "disnea"]


def test_overlaps_keep_the_best_span_per_type_and_one_type_per_span():
    def ann(start, end, kind, score):
        return Annotation("d", start, end, "x" * (end - start), kind, score, "en")

    kept = resolve_overlaps([ann(0, 10, "problem", 1.0), ann(5, 12, "problem", 2.0), ann(5, 12, "sign_symptom", 1.5),
                             ann(20, 25, "medication", 0.5), ann(20, 23, "dosage", 0.4)])
    assert sorted((a.start, a.end, a.type) for a in kept) == [(5, 12, "problem"), (20, 23, "dosage"),
                                                              (20, 25, "medication")]

    named = replace(ann(3, 9, "problem", -1.0), source="dictionary")  # a graph name, scored low by QA
    kept = resolve_overlaps([ann(0, 10, "problem", 1.0), named])
    assert [(a.start, a.end, a.source) for a in kept] == [(3, 9, "dictionary")]  # the name beats the answer
    kept = resolve_overlaps([ann(3, 9, "problem", 3.0), replace(ann(3, 9, "sign_symptom", 1.8), source="dictionary")])
    assert [(a.type, a.source) for a in kept] == [("problem", "qa")]  # one span: the type QA scores higher


# -- linking -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def concept_index(demo_store, tmp_path_factory):
    from medkg.extract.linker import concept_index as build

    return build(demo_store, tmp_path_factory.mktemp("linker-home"))


def test_linking_finds_concepts_across_languages_and_schemes(concept_index):
    from medkg.extract.linker import fold

    assert fold("Neumonía  Aguda") == "neumonia aguda"
    found = concept_index.link(["febbre", "fiebre", "fever", "dolor abdominal", "pulmonary tuberculosis"], "it",
                               k=2, schemes=["HP", "DOID"])
    best = [links[0] for links in found]
    assert [b.iri.rsplit("/", 1)[1] for b in best[:4]] == ["HP_0001945", "HP_0001945", "HP_0001945", "HP_0002027"]
    assert best[0].label == "Febbre" and best[0].score == pytest.approx(1.0)
    assert best[4].iri.endswith("DOID_2957") or best[4].iri.endswith("HP_0032262")
    assert "UMLS:C0015967" in best[0].xrefs and "HP:0001945" in best[0].xrefs
    only_icd = concept_index.link(["pulmonary tuberculosis"], "en", schemes=["ICD10"])[0]
    assert only_icd and all(link.scheme == "ICD10" for link in only_icd)
    assert concept_index.link(["zzzz qqqq"], "en", threshold=0.5) == [[]]


def test_the_index_is_cached_by_graph_content(demo_store, concept_index, tmp_path):
    from medkg.extract.linker import ConceptIndex
    from medkg.extract.linker import concept_index as build

    first = build(demo_store, tmp_path)
    assert (tmp_path / "linker" / "tfidf_vectors_sparse.npz").exists()
    again = build(demo_store, tmp_path)
    assert again.fingerprint == first.fingerprint and again.names == first.names
    reloaded = ConceptIndex.load(tmp_path / "linker")
    assert reloaded.link(["cefalea"], "es")[0][0].iri.endswith("HP_0002315")


def test_abbreviations_are_expanded_from_the_note_itself():
    from medkg.extract.linker import abbreviation_support, abbreviations

    if not abbreviation_support():
        pytest.skip("scispaCy is not installed (make setup installs it with --no-deps)")
    found = abbreviations("Paciente con insuficiencia cardíaca congestiva (ICC). La ICC empeoró en mayo.", "es")
    assert found == {"ICC": "insuficiencia cardíaca congestiva"}


# -- inputs --------------------------------------------------------------------------------------------------

def test_inputs_keep_offsets_and_report_bad_files(tmp_path):
    from medkg.extract.inputs import InputProblem, iter_documents

    (tmp_path / "a.txt").write_bytes("Febbre\r\nnega tosse.\r\n".encode("utf-8"))
    (tmp_path / "b.txt").write_bytes(b"\xff\xfe not utf-8 \xff")
    (tmp_path / "c.txt").write_text("   \n")
    (tmp_path / "d.json").write_text(json.dumps({"id": "E1", "text": "Fiebre.", "language": "es"}))
    (tmp_path / "ignored.csv").write_text("x")
    items = list(iter_documents([tmp_path]))
    docs = {i.id: i for i in items if not isinstance(i, InputProblem)}
    problems = {i.path.name: i.reason for i in items if isinstance(i, InputProblem)}
    assert docs["a"].text == "Febbre\r\nnega tosse.\r\n"  # \r\n kept: offsets match other tools
    assert docs["E1"].lang == "es"
    assert problems["b.txt"].startswith("not UTF-8 text (byte 0)") and problems["c.txt"] == "empty document"
    with pytest.raises(MedkgError, match="no such file"):
        list(iter_documents([tmp_path / "nope"]))


# -- the annotator on the shipped notes ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def annotator(default_qa, concept_index):
    from medkg.extract.annotator import Annotator

    return Annotator(default_qa, load_schema(), concept_index)


def _by_text(annotations):
    return {a.text: a for a in annotations}


def test_notes_in_three_languages_yield_linked_and_assessed_concepts(annotator):
    from medkg.extract.inputs import read_document

    found = {}
    for name in ("note_en_tb.txt", "nota_it_polmonite.txt", "nota_es_apendicitis.txt"):
        doc = read_document(NOTES / name)
        annotations = annotator.annotate(doc)
        expected_lang = {"note_en_tb.txt": "en", "nota_it_polmonite.txt": "it"}.get(name, "es")
        for a in annotations:
            assert doc.text[a.start:a.end] == a.text and a.text == a.text.strip()
            assert a.lang == expected_lang and a.source in ("qa", "dictionary", "qa+dictionary")
            assert a.score >= 0 or a.source == "dictionary"  # a QA answer beats "no answer"; a name need not
        found[name] = _by_text(annotations)
    en, it, es = found["note_en_tb.txt"], found["nota_it_polmonite.txt"], found["nota_es_apendicitis.txt"]
    tb = en["pulmonary tuberculosis"]
    assert tb.type == "problem" and tb.concept.iri.endswith("DOID_2957") and tb.assertion.status == "present"
    assert en["HIV infection"].assertion.status == "negated"          # "was ruled out"
    assert it["amoxicillina"].type == "medication"
    assert it["infarto miocardico"].assertion.status == "family"      # "Familiarità per … (padre)"
    pneumonia = it.get("polmonite comunitaria") or it["polmonite"]  # the whole diagnosis, or its head word
    assert pneumonia.type == "problem" and pneumonia.links
    assert not any(text.count("(") != text.count(")") for text in it)  # no span cut inside a parenthesis
    assert es["apendicitis aguda"].type == "problem" and es["apendicitis aguda"].links
    assert es["peritonitis"].assertion.status == "negated"            # "No se observa peritonitis"
    assert es["cáncer de colon"].assertion.status == "family"


def test_batch_is_resumable_and_a_bad_document_does_not_stop_it(annotator, tmp_path):
    from medkg.extract.pipeline import MANIFEST, annotate_paths

    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("note_en_tb.txt", "nota_it_polmonite.txt"):
        (inputs / name).write_text((NOTES / name).read_text(encoding="utf-8"), encoding="utf-8")
    (inputs / "broken.txt").write_bytes(b"\xff\xfe\x00garbage")
    out = tmp_path / "out"
    first = annotate_paths([inputs], annotator, out, ("jsonld", "brat", "html"))
    assert first.documents == 2 and first.skipped == 0
    assert [p.path.name for p in first.failed] == ["broken.txt"]
    assert first.failed[0].reason.startswith("not UTF-8 text (byte 0)")
    assert (out / "note_en_tb.jsonld").exists() and (out / "nota_it_polmonite.html").exists()
    assert (out / "brat" / "note_en_tb.ann").exists()
    assert len((out / MANIFEST).read_text().splitlines()) == 2
    collection = json.loads((out / "note_en_tb.jsonld").read_text())
    it_items = json.loads((out / "nota_it_polmonite.jsonld").read_text())["first"]["items"]
    assert collection["type"] == "AnnotationCollection"
    assert collection["total"] + len(it_items) == first.annotations
    # A second run skips what is done; a changed document is redone.
    again = annotate_paths([inputs], annotator, out, ("jsonld", "brat", "html"))
    assert again.documents == 0 and again.skipped == 2
    (inputs / "nota_it_polmonite.txt").write_text("Nega febbre. Diagnosi: polmonite.", encoding="utf-8")
    third = annotate_paths([inputs], annotator, out, ("jsonld", "brat", "html"))
    assert third.documents == 1 and third.skipped == 1
    with pytest.raises(MedkgError, match="unknown output format"):
        annotate_paths([inputs], annotator, out, ("xml",))


def test_rdf_goes_into_a_graph_per_document_and_sparql_finds_notes_by_disease_class(annotator, demo_store, tmp_path):
    from medkg.extract.inputs import read_document
    from medkg.extract.queries import INFECTIOUS_DISEASE, documents_mentioning
    from medkg.extract.rdf import document_graph, store_annotations

    docs = [read_document(NOTES / n) for n in ("note_en_tb.txt", "nota_it_polmonite.txt", "nota_es_apendicitis.txt")]
    for doc in docs:
        graph = store_annotations(demo_store, doc, annotator.annotate(doc))
        assert graph == document_graph(doc) and demo_store.has_graph(graph)
    mentions = documents_mentioning(demo_store, INFECTIOUS_DISEASE)
    by_doc = {}
    for m in mentions:
        by_doc.setdefault(m.document.rsplit("/", 1)[-1], set()).add(m.text)
    assert "pulmonary tuberculosis" in by_doc["note_en_tb"]
    assert "HIV infection" in by_doc["note_en_tb"]             # found, and marked negated in the graph
    assert next(m for m in mentions if m.text == "HIV infection").assertion == "negated"
    assert "nota_es_apendicitis" not in by_doc                # appendicitis is not infectious
    # Re-annotating replaces the document's graph instead of adding to it.
    before = demo_store.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }",
                              bindings={"g": document_graph(docs[0])}).rows[0]["n"].value
    store_annotations(demo_store, docs[0], annotator.annotate(docs[0]))
    after = demo_store.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }",
                             bindings={"g": document_graph(docs[0])}).rows[0]["n"].value
    assert before == after


def test_spacy_component_puts_annotations_on_the_doc(model_home):
    import spacy

    nlp = spacy.blank("it")
    nlp.add_pipe("medkg_annotator", config={"home": str(model_home), "link": False})
    doc = nlp("Paziente con febbre. È stata prescritta amoxicillina 1 g tre volte al giorno. Nega dolore toracico.")
    spans = {s.text: s for s in doc.spans["medkg"]}
    assert spans["amoxicillina"].label_ == "medication"
    assert spans["amoxicillina"]._.medkg.start == doc.text.index("amoxicillina")
    assert doc.ents  # the non-overlapping ones, for displaCy


# -- command line, evaluation against gold, training data from gold ------------------------------------------

def test_annotate_command_writes_outputs_and_reports_a_bad_file(model_home, tmp_path):
    from medkg.cli import app

    inputs = tmp_path / "notes"
    inputs.mkdir()
    (inputs / "nota.txt").write_text((NOTES / "nota_es_apendicitis.txt").read_text(encoding="utf-8"), encoding="utf-8")
    (inputs / "vacia.txt").write_text("")
    out = tmp_path / "out"
    result = runner.invoke(app, ["--home", str(model_home), "annotate", str(inputs), "--no-link", "--format", "jsonld",
                                 "--format", "html", "--out", str(out), "--report", "json", "--precision", "fp32"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    assert summary["documents"] == 1 and summary["failed"] == 1 and summary["annotations"] > 5
    assert summary["by_type"]["medication"] >= 1
    assert (out / "nota.jsonld").exists() and (out / "nota.html").exists()
    html = (out / "nota.html").read_text(encoding="utf-8")
    assert "apendicitis aguda" in html
    bad = runner.invoke(app, ["--home", str(model_home), "annotate", str(inputs), "--format", "xml", "--no-link",
                              "--out", str(out)])
    assert isinstance(bad.exception, MedkgError) and "unknown output format" in str(bad.exception)


def test_eval_annotate_scores_e3c_per_language(model_home):
    from medkg.cli import app

    e3c = shared("clinical_annotation/e3c/layer1_xmi/Italian")
    result = runner.invoke(app, ["--home", str(model_home), "eval", "annotate", str(e3c), "--limit", "2",
                                 "--no-link", "--format", "json", "--precision", "fp32"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert report["documents"] == 2
    rows = {(r["lang"], r["type"], r["match"]): r for r in report["spans"]}
    strict, relaxed = rows[("it", "CLINENTITY", "strict")], rows[("it", "CLINENTITY", "relaxed")]
    from medkg.extract.gold import read_e3c_folder

    gold_mentions = sum(len(g.mentions) for g in read_e3c_folder(e3c)[:2])
    assert strict["tp"] + strict["fn"] == relaxed["tp"] + relaxed["fn"] == gold_mentions > 0
    assert 0 < relaxed["f1"] <= 1 and strict["tp"] <= relaxed["tp"]


def test_gold_documents_become_squad_training_data():
    from medkg.extract.evaluation import DEFAULT_TYPE_MAP
    from medkg.extract.gold import read_e3c_folder
    from medkg.train.qa_from_gold import gold_to_squad
    from medkg.train.squad import read_squad

    gold = read_e3c_folder(shared("clinical_annotation/e3c/layer1_xmi/Spanish"))[:2]
    data = gold_to_squad(gold, load_schema(), DEFAULT_TYPE_MAP)
    paragraph = data["data"][0]["paragraphs"][0]
    mentions = sorted({(m.start, m.end) for m in gold[0].mentions if len(m.spans) == 1})
    assert len(paragraph["qas"]) == len(mentions)
    questions = {q for t in ("problem", "sign_symptom") for q in load_schema().type(t).questions_for("es")}
    for i, qa in enumerate(paragraph["qas"]):
        assert qa["question"] in questions
        first = qa["answers"][0]
        assert (first["answer_start"], first["answer_start"] + len(first["text"])) == mentions[i]
        assert len(qa["answers"]) == len(mentions)  # every other mention follows, so no window learns "no answer"
    # Our own SQuAD reader takes it as is.
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "e3c.json"
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        squad = read_squad(path)
    assert len(squad.examples) == sum(len(p["qas"]) for a in data["data"] for p in a["paragraphs"])
    assert not squad.dropped


def test_a_fresh_workspace_loads_the_shipped_catalog_once_and_links(model_home, tmp_path):
    from medkg.cli import app

    home = tmp_path / "fresh"
    home.mkdir()
    (home / "models").symlink_to(model_home / "models", target_is_directory=True)  # the backbone, converted once
    out = tmp_path / "out"
    args = ["--home", str(home), "annotate", str(NOTES / "nota_it_polmonite.txt"), "--out", str(out),
            "--report", "json", "--precision", "fp32"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "first use" in result.stderr and "ontologies" in result.stderr
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    assert summary["documents"] == 1 and summary["linked"] > 0
    again = runner.invoke(app, args + ["--no-resume"])
    assert again.exit_code == 0 and "first use" not in again.stderr  # loaded once
    annotations = json.loads((out / "nota_it_polmonite.jsonld").read_text(encoding="utf-8"))
    sources = {item.get("candidateSource") for item in annotations["first"]["items"]}
    assert "dictionary" in sources or "qa+dictionary" in sources  # the graph's names are candidates too
