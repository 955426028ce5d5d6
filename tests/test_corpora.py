"""Entity corpora as gold and as QA training data: mention TSVs and BRAT folders (small fixtures, then the real
BSC corpora in ../shared), the fixed dev split, the E3C overlap, squad-from-gold, and CPGQA's SQuAD layout."""
from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import shared
from medkg.errors import MedkgError
from medkg.extract.gold import read_gold
from medkg.extract.gold_corpora import (is_dev_document, overlapping, read_entity_corpus, read_mention_tsv,
                                        split_by_document)

DATA = Path(__file__).parent / "data" / "corpora"
SPANISH = "clinical_annotation/spanish_ner"
runner = CliRunner()


def test_mention_tsvs_over_a_text_folder_merge_into_one_gold_set():
    documents = {g.document.id: g for g in read_gold(DATA / "tsv_corpus")}
    assert set(documents) == {"caso-1", "caso-2"}
    first = documents["caso-1"]
    assert [(m.text, m.type) for m in first.mentions] == [("diabetes mellitus tipo 2", "ENFERMEDAD"),
                                                          ("hipertensión arterial", "ENFERMEDAD")]
    assert first.mentions[0].codes == ("SCTID:44054006",)  # the second TSV's code joins the same mention
    for gold in documents.values():
        assert gold.document.lang == "es"
        for m in gold.mentions:
            assert gold.document.text[m.start:m.end] == m.text


def test_a_bad_row_names_its_file_and_line(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(DATA / "tsv_corpus", corpus)
    tsv = corpus / "tsv" / "mentions.tsv"
    lines = tsv.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("hipertensión arterial", "hipertensión venosa")
    tsv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(MedkgError) as error:
        read_mention_tsv(tsv)
    assert error.value.line == 3 and "mentions.tsv" in str(error.value) and "hipertensión arterial" in str(error.value)
    lines[2] = lines[2].replace("caso-1", "caso-9")
    tsv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(MedkgError, match="caso-9.txt, which is not in"):
        read_mention_tsv(tsv)


def test_brat_folders_keep_good_mentions_and_report_mismatches():
    with pytest.raises(MedkgError, match="does not match the .txt"):
        read_entity_corpus(DATA / "brat")  # strict unless the caller collects mismatches
    mismatches: list[MedkgError] = []
    (gold,) = read_entity_corpus(DATA / "brat", mismatches=mismatches)
    assert [m.text for m in gold.mentions] == ["amoxicilina", "paracetamol", "Proteína C reactiva"]
    assert len(mismatches) == 1 and mismatches[0].line == 4 and "nota-1.ann" in str(mismatches[0])


def test_the_dev_split_is_fixed_by_document_id():
    ids = [f"S{n:04d}-1" for n in range(2000)]
    dev = [i for i in ids if is_dev_document(i)]
    assert 0.12 < len(dev) / len(ids) < 0.18
    assert dev == [i for i in ids if is_dev_document(i)]              # the same on every call
    assert is_dev_document("es-S0001-1") == is_dev_document("S0001-1")  # DisTEMIST's two spellings of one file


@pytest.mark.skipif(not shared(SPANISH).exists(), reason="needs ../shared/data/clinical_annotation/spanish_ner")
def test_the_five_spanish_corpora_read_with_their_types_and_e3c_overlap():
    e3c = [g.document for g in read_gold(shared("clinical_annotation/e3c/layer1_xmi/Spanish"))]
    expected = {"distemist": ("ENFERMEDAD", 544), "symptemist": ("SINTOMA", 539), "medprocner": ("PROCEDIMIENTO", 544),
                "pharmaconer": ("NORMALIZABLES", 545), "cantemist": ("MORFOLOGIA_NEOPLASIA", 992)}
    for name, (main_type, documents) in expected.items():
        mismatches: list[MedkgError] = []
        gold = read_entity_corpus(shared(f"{SPANISH}/{name}"), mismatches=mismatches)
        assert len(gold) == documents
        assert Counter(m.type for g in gold for m in g.mentions).most_common(1)[0][0] == main_type
        train, dev = split_by_document(gold)
        assert len(dev) > 0.1 * len(gold) and not {g.document.id for g in train} & {g.document.id for g in dev}
        if name == "distemist":
            shared_cases = overlapping(gold, e3c)
            assert 10 <= len(shared_cases) <= 40  # SPACCC cases that E3C Spanish also holds
        assert len(mismatches) == (5 if name == "pharmaconer" else 0)


@pytest.mark.skipif(not shared(SPANISH).exists(), reason="needs ../shared/data/clinical_annotation/spanish_ner")
def test_squad_from_gold_leaves_out_e3c_cases_and_asks_in_three_languages(tmp_path):
    from medkg.cli import app
    from medkg.extract.schema import load_schema
    from medkg.train.squad import read_squad

    out = tmp_path / "distemist.json"
    result = runner.invoke(app, ["train", "squad-from-gold", str(shared(f"{SPANISH}/distemist")), "--split", "train",
                                 "--exclude-overlap", str(shared("clinical_annotation/e3c/layer1_xmi")),
                                 "--languages", "en,it,es", "--passage-chars", "700", "--unanswerable", "0.3",
                                 "--licence", "CC BY 4.0", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "left out for sharing text" in result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    titles = {a["title"] for a in data["data"]}
    e3c = [g.document for g in read_gold(shared("clinical_annotation/e3c/layer1_xmi/Spanish"))]
    gold = [g for g in read_entity_corpus(shared(f"{SPANISH}/distemist")) if g.document.id in titles]
    assert not overlapping(gold, e3c) and not any(is_dev_document(t) for t in titles)
    questions = Counter(q["question"] for a in data["data"] for p in a["paragraphs"] for q in p["qas"])
    problem = load_schema().type("problem")
    for lang in ("en", "it", "es"):
        assert any(q in questions for q in problem.questions[lang])
    squad = read_squad(out)
    assert squad.licence == "CC BY 4.0"  # what model cards list per training file
    assert squad.language == "es"        # the contexts' language: scoring normalises Spanish articles
    assert not squad.dropped and any(not e.answers for e in squad.examples)  # unanswerable ones are kept
    assert max(len(e.context) for e in squad.examples) < 2000               # passages, not whole cases


@pytest.mark.skipif(not shared("extractive_qa/cpgqa").exists(), reason="needs ../shared/data/extractive_qa/cpgqa")
def test_cpgqa_reads_although_its_paragraphs_are_objects():
    from medkg.train.squad import read_squad

    squad = read_squad(shared("extractive_qa/cpgqa/dataset/cpgQA-v1.0.json"))
    assert len(squad.examples) == 1097 and not squad.dropped
    assert all(e.context[a.start:a.end] == a.text for e in squad.examples for a in e.answers)


def test_promote_replaces_an_adapter_only_with_a_better_one(model_home, tmp_path):
    from medkg.models.qa import SHIPPED_ADAPTER
    from medkg.train.promote import promote

    current = tmp_path / "current"
    shutil.copytree(SHIPPED_ADAPTER, current)
    candidate = tmp_path / "candidate"
    shutil.copytree(SHIPPED_ADAPTER, candidate)
    (candidate / "README.md").write_text("# a candidate that is no better\n", encoding="utf-8")
    dev = Path(__file__).parent / "data" / "xquad_sample.es.json"
    decision = promote(candidate, current, [dev], home=model_home)
    assert decision.candidate_f1 == decision.current_f1 > 0 and not decision.promoted
    assert (current / "README.md").read_text(encoding="utf-8") == (SHIPPED_ADAPTER / "README.md").read_text(encoding="utf-8")
    with pytest.raises(MedkgError, match="not a LoRA adapter folder"):
        promote(tmp_path, current, [dev], home=model_home)


def test_a_promoted_adapter_records_what_it_replaced(model_home, tmp_path):
    from safetensors.torch import load_file, save_file

    from medkg.models.qa import SHIPPED_ADAPTER, read_training_record
    from medkg.train.promote import promote

    worse = tmp_path / "worse"
    shutil.copytree(SHIPPED_ADAPTER, worse)
    weights = load_file(worse / "adapter_model.safetensors")
    save_file({name: tensor.flip(0).contiguous() for name, tensor in weights.items()},  # scrambled weights
              worse / "adapter_model.safetensors")
    dev = Path(__file__).parent / "data" / "xquad_sample.es.json"
    decision = promote(SHIPPED_ADAPTER, worse, [dev], home=model_home, command="medkg train promote shipped")
    assert decision.promoted and decision.candidate_f1 > decision.current_f1
    record = read_training_record(worse)
    assert record["promotion"]["dev"] == [{"file": "xquad_sample.es.json", "lang": "es", "questions": 30,
                                           "previous_f1": round(decision.current_f1, 1),
                                           "f1": round(decision.candidate_f1, 1)}]
    card = (worse / "README.md").read_text(encoding="utf-8")
    assert "## Promotion" in card and "`medkg train promote shipped`" in card
    assert load_file(worse / "adapter_model.safetensors").keys() == weights.keys()
