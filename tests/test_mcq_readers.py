"""Multiple-choice readers on the real MedQA / MedMCQA / HEAD-QA files, and their errors on small bad files."""
from __future__ import annotations

import json
import re
import sys
import types
from collections import Counter

import pytest
from conftest import shared

from medkg.errors import MedkgError
from medkg.rag.mcq import MCQItem, load_mcq, read_mcq, sample_items

MEDQA4 = "mcqa/medqa_usmle/test_4options_phrases_no_exclude.jsonl"
MEDQA5 = "mcqa/medqa_usmle/test_5options.jsonl"
MEDMCQA = "mcqa/medmcqa/dev.jsonl"

# file, rows, options per item, lang, dataset, first question prefix, first answer, first answer text
FILES = [
    (MEDQA4, 1273, 4, "en", "medqa-us-4", "A junior orthopaedic surgery resident", "B",
     "Tell the attending that he cannot fail to disclose this mistake"),
    (MEDQA5, 1273, 5, "en", "medqa-us-5", "A junior orthopaedic surgery resident", "C",
     "Tell the attending that he cannot fail to disclose this mistake"),
    (MEDMCQA, 4183, 4, "en", "medmcqa-dev", "Which of the following is not true for myelinated nerve fibers", "A",
     "Impulse through myelinated fibers is slower than non-myelinated fibers"),
    ("mcqa/head_qa/es/dev_HEAD.json", 1366, 4, "es", "headqa-es-dev",
     "El potencial de equilibrio para un ión permeante", "D", "La ecuación de Nernst."),
    ("mcqa/head_qa/en/dev_HEAD_EN.json", 1366, 4, "en", "headqa-en-dev",
     "The equilibrium potential for a permeant ion", "D", "The Nernst equation."),
    ("mcqa/head_qa/es/train_HEAD.json", 2657, 5, "es", "headqa-es-train",
     "Los potenciales postsinápticos excitadores", "C", "Se pueden sumar."),
    ("mcqa/head_qa/en/train_HEAD_EN.json", 2657, 5, "en", "headqa-en-train",
     "The excitatory postsynaptic potentials", "C", "They can be added."),
]


@pytest.fixture(scope="module")
def loaded():
    cache: dict[str, list[MCQItem]] = {}

    def get(relative: str) -> list[MCQItem]:
        path = shared(relative)
        if relative not in cache:
            cache[relative] = read_mcq(path)
        return cache[relative]
    return get


@pytest.mark.parametrize("relative,rows,n_options,lang,dataset,prefix,answer,answer_text", FILES,
                         ids=[f[4] for f in FILES])
def test_real_files_read_whole_and_consistent(loaded, relative, rows, n_options, lang, dataset, prefix, answer,
                                              answer_text):
    items = loaded(relative)
    assert len(items) == rows
    assert len({i.id for i in items}) == rows  # ids are unique within a file
    for item in items:
        labels = [label for label, _ in item.options]
        assert labels == list("ABCDE"[:n_options])
        assert item.answer in labels
        assert all(text.strip() for _, text in item.options)
        assert item.question.strip()
        assert item.lang == lang and item.dataset == dataset
    first = items[0]
    assert first.question.startswith(prefix)
    assert first.answer == answer and first.answer_text == answer_text


def test_medqa_keeps_step_as_subject_and_phrases_as_metadata(loaded):
    items = loaded(MEDQA4)
    assert Counter(i.subject for i in items) == {"step1": 679, "step2&3": 594}
    assert items[0].id == "medqa-us-4:1" and items[-1].id == "medqa-us-4:1273"
    assert "junior orthopaedic surgery resident" in items[0].metadata["metamap_phrases"]
    assert Counter(i.answer for i in items) == {"A": 353, "C": 346, "B": 309, "D": 265}
    five = loaded(MEDQA5)
    assert Counter(i.answer for i in five)["E"] == 202
    # the 4-option file is the 5-option one with one distractor removed: same questions, same right answer text
    assert [i.question for i in items] == [i.question for i in five]
    assert [i.answer_text for i in items] == [i.answer_text for i in five]


def test_medmcqa_subjects_explanations_and_metadata(loaded):
    items = loaded(MEDMCQA)
    assert all(i.subject for i in items)
    subjects = Counter(i.subject for i in items)
    assert len(subjects) == 21 and {"Physiology", "Medicine", "Anatomy"} <= set(subjects)
    assert sum(1 for i in items if i.explanation) == 2206
    assert Counter(i.metadata["choice_type"] for i in items) == {"single": 2816, "multi": 1367}
    assert sum(1 for i in items if "topic_name" in i.metadata) == 423
    assert items[0].id == "45258d3d-b974-44dd-a161-c3fccbdadd88"


def test_medmcqa_cop_is_one_based(loaded):
    """Explanations that start "Ans. is 'c'" name the right option: they must agree with the answer we read."""
    pattern = re.compile(r"\s*Ans(?:wer)?[\s.\-:]*(?:is)?\s*['\"(]?\s*([a-dA-D])['\")\s.]")
    checked = 0
    for item in loaded(MEDMCQA):
        match = pattern.match(item.explanation or "")
        if match:
            checked += 1
            assert match.group(1).upper() == item.answer, (item.id, item.explanation[:60])
    assert checked > 1000
    assert Counter(i.answer for i in loaded(MEDMCQA)) == {"A": 1348, "B": 1085, "C": 925, "D": 825}


def test_headqa_subjects_images_and_language_alignment(loaded):
    es = loaded("mcqa/head_qa/es/dev_HEAD.json")
    en = {i.id: i for i in loaded("mcqa/head_qa/en/dev_HEAD_EN.json")}
    assert set(Counter(i.subject for i in es)) == {"medicine", "nursery", "chemistry", "biology", "psychology",
                                                   "pharmacology"}
    assert es[0].id == "Cuaderno_2015_1_B:1" and es[0].metadata["year"] == "2015"
    assert {i.id for i in es} == set(en)
    assert all(en[i.id].answer == i.answer for i in es)
    images = [i for i in es if "image" in i.metadata]
    assert len(images) == 30 and all(i.subject == "medicine" for i in images)
    assert images[0].metadata["image"].endswith(".png")
    assert all(i.metadata.get("image", "x") for i in es)  # no empty image strings kept
    train = loaded("mcqa/head_qa/es/train_HEAD.json")
    with_image = [i.metadata["image"] for i in train if "image" in i.metadata]
    assert len(with_image) == 68 and len(set(with_image)) == 34  # questions share images in pairs


def test_overrides_and_limit(loaded):
    path = shared(MEDMCQA)
    items = read_mcq(path, dataset="mine", lang="xx", limit=5)
    assert len(items) == 5 and {i.dataset for i in items} == {"mine"} and {i.lang for i in items} == {"xx"}
    assert [i.id for i in items] == [i.id for i in loaded(MEDMCQA)[:5]]
    assert len(read_mcq(shared("mcqa/head_qa/es/dev_HEAD.json"), limit=7)) == 7
    assert len(load_mcq(str(shared(MEDQA4)), limit=3)) == 3


def test_sample_items_reproducible(loaded):
    items = loaded(MEDMCQA)
    a = sample_items(items, 50)
    assert len(a) == 50 and a == sample_items(items, 50)
    assert a != sample_items(items, 50, seed=14)
    positions = [items.index(i) for i in a]
    assert positions == sorted(positions)  # original order kept
    assert sample_items(items[:10], 50) == items[:10]
    with pytest.raises(MedkgError):
        sample_items(items, -1)


# ---------------------------------------------------------------- errors on small files

def medqa_row(**change) -> str:
    row = {"question": "Q?", "answer": "b", "options": {"A": "a", "B": "b", "C": "c", "D": "d"},
           "meta_info": "step1", "answer_idx": "B"}
    row.update(change)
    return json.dumps(row)


def medmcqa_row(**change) -> str:
    row = {"id": "x1", "question": "Q?", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 4,
           "exp": None, "subject_name": "Anatomy", "topic_name": None, "choice_type": "single"}
    row.update(change)
    return json.dumps(row)


def write(tmp_path, name, lines):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_small_good_files(tmp_path):
    [medqa] = read_mcq(write(tmp_path, "q.jsonl", [medqa_row()]))
    assert (medqa.answer, medqa.answer_text, medqa.dataset, medqa.id) == ("B", "b", "medqa-us-4", "medqa-us-4:1")
    [mc] = read_mcq(write(tmp_path, "train.jsonl", [medmcqa_row()]))
    assert (mc.answer, mc.answer_text, mc.dataset, mc.subject, mc.explanation) == ("D", "d", "medmcqa-train",
                                                                                   "Anatomy", None)
    assert "topic_name" not in mc.metadata


@pytest.mark.parametrize("bad_line,message", [
    ("{not json", "invalid JSON"),
    (medqa_row(answer_idx="E"), "answer_idx 'E' is not one of the options"),
    (medqa_row(options={"A": "a", "C": "c"}), "not A, B, C"),
    (medqa_row(question=""), "question is empty"),
    (json.dumps({"foo": 1}), "fields of the first row"),
])
def test_medqa_errors_name_file_and_line(tmp_path, bad_line, message):
    path = write(tmp_path, "q.jsonl", [medqa_row(), "", medqa_row(), bad_line, medqa_row()])
    with pytest.raises(MedkgError, match=re.escape(message)) as info:
        read_mcq(path)
    assert info.value.line == 4 and info.value.path == str(path)
    assert "q.jsonl:4" in str(info.value)


@pytest.mark.parametrize("change,message", [
    ({"cop": 0}, "cop 0 is not among the options (1..4)"),
    ({"cop": 5}, "cop 5 is not among the options"),
    ({"cop": "a"}, "not an option number"),
    ({"opc": None}, "option C is missing"),
])
def test_medmcqa_errors_name_file_and_line(tmp_path, change, message):
    path = write(tmp_path, "dev.jsonl", [medmcqa_row(), medmcqa_row(**change)])
    with pytest.raises(MedkgError, match=re.escape(message)) as info:
        read_mcq(path)
    assert info.value.line == 2 and info.value.path == str(path)


def headqa_doc(ra="2", image=""):
    return {"version": "1.0", "language": "es", "exams": {"Cuaderno_2015_1_M": {
        "name": "Cuaderno_2015_1_M", "category": "medicine", "year": "2015",
        "data": [{"qid": "7", "qtext": "¿Cuál?", "ra": ra, "image": image,
                  "answers": [{"aid": 1, "atext": "uno"}, {"aid": 2, "atext": "dos"}, {"aid": 3, "atext": "tres"},
                              {"aid": 4, "atext": "cuatro"}]}]}}}


def test_headqa_small_file_and_errors(tmp_path):
    path = tmp_path / "dev_HEAD.json"
    path.write_text(json.dumps(headqa_doc(image="./img.png"), indent=1), encoding="utf-8")
    [item] = read_mcq(path)
    assert (item.id, item.answer, item.answer_text, item.lang, item.dataset, item.subject) == (
        "Cuaderno_2015_1_M:7", "B", "dos", "es", "headqa-es-dev", "medicine")
    assert item.metadata["image"] == "./img.png"
    path.write_text(json.dumps(headqa_doc(ra="9")), encoding="utf-8")
    with pytest.raises(MedkgError, match=r"Cuaderno_2015_1_M.*'7'.*ra='9' is not one of the answer ids"):
        read_mcq(path)
    # a pretty-printed document with a syntax error: the line of the error
    text = json.dumps(headqa_doc(), indent=1).splitlines()
    text[5] = text[5] + ",,"
    path.write_text("\n".join(text), encoding="utf-8")
    with pytest.raises(MedkgError, match="invalid JSON") as info:
        read_mcq(path)
    assert info.value.line == 6


def test_unknown_formats(tmp_path):
    with pytest.raises(MedkgError, match="unknown multiple-choice format") as info:
        read_mcq(write(tmp_path, "x.jsonl", [json.dumps({"text": "hello"}), json.dumps({"text": "b"})]))
    assert info.value.line == 1
    with pytest.raises(MedkgError, match="unknown multiple-choice format"):
        read_mcq(write(tmp_path, "list.json", [json.dumps([1, 2])]))
    with pytest.raises(MedkgError, match="empty file"):
        read_mcq(write(tmp_path, "empty.jsonl", [""]))
    with pytest.raises(MedkgError, match="no such file"):
        load_mcq(str(tmp_path / "missing.jsonl"))


# ---------------------------------------------------------------- the Hugging Face path, offline

def test_hub_id_without_datasets_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` raise ImportError
    with pytest.raises(MedkgError, match="pip install datasets"):
        load_mcq("openlifescienceai/medmcqa")


def test_hub_rows_go_through_the_same_mapping(monkeypatch):
    """A stand-in `datasets` module: HF MedMCQA's cop is 0-based, HEAD-QA answers may come columnar."""
    calls = []
    rows = {
        "openlifescienceai/medmcqa": [json.loads(medmcqa_row(cop=0)), json.loads(medmcqa_row(id="x2", cop=3))],
        "head_qa": [{**headqa_doc()["exams"]["Cuaderno_2015_1_M"]["data"][0], "name": "Cuaderno_2015_1_M",
                     "category": "medicine", "year": "2015",
                     "answers": {"aid": [1, 2, 3, 4], "atext": ["uno", "dos", "tres", "cuatro"]}}],
        "GBaker/MedQA-USMLE-4-options": [json.loads(medqa_row())] * 3,
    }

    def load_dataset(name, config=None, split=None):
        calls.append((name, config, split))
        return rows[name]

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    mc = load_mcq("openlifescienceai/medmcqa")
    assert [i.answer for i in mc] == ["A", "D"] and mc[0].dataset == "openlifescienceai/medmcqa/validation"
    [hq] = load_mcq("head_qa:es", split="train")
    assert (hq.answer, hq.lang, hq.id, hq.subject) == ("B", "es", "Cuaderno_2015_1_M:7", "medicine")
    assert len(load_mcq("GBaker/MedQA-USMLE-4-options", limit=2)) == 2
    assert calls == [("openlifescienceai/medmcqa", None, "validation"), ("head_qa", "es", "train"),
                     ("GBaker/MedQA-USMLE-4-options", None, "test")]
    rows["openlifescienceai/medmcqa"] = [json.loads(medmcqa_row(cop=-1))]  # the hub's test split: no answers
    with pytest.raises(MedkgError, match="row 0: cop -1 is not among the options"):
        load_mcq("openlifescienceai/medmcqa", split="test")


@pytest.mark.parametrize("lang", ["es", "it", "en"])
def test_casimedicos_case_and_question_together_splits_and_languages(lang):
    path = shared(f"mcqa/casimedicos/casimedicos_arg_mcqa_{lang}.jsonl")
    items = read_mcq(path)
    assert len(items) == 394  # 395 rows; one has no answer upstream (its case lost the line) and is skipped
    assert {i.dataset for i in items} == {f"casimedicos-{lang}-train", f"casimedicos-{lang}-dev"}
    assert all(len(i.options) == 5 and i.lang == lang for i in items)
    first = items[0]
    raw = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert first.question == f"{raw['clinical_case']}\n{raw['question']}"
    assert first.answer == "ABCDE"[int(raw["answer"]) - 1] and first.subject == raw["question_type"]
    dev = load_mcq(str(path), split="dev")
    assert len(dev) == 51 and {i.metadata["split"] for i in dev} == {"dev"}
    with pytest.raises(MedkgError, match="no questions of split 'test'"):
        load_mcq(str(path), split="test")


def test_split_of_a_file_without_splits_is_refused(tmp_path):
    path = tmp_path / "medqa.jsonl"
    path.write_text(json.dumps({"question": "Q?", "options": {"A": "a", "B": "b"}, "answer_idx": "A",
                                "answer": "a", "meta_info": "step1"}) + "\n")
    with pytest.raises(MedkgError, match="carry no split"):
        load_mcq(str(path), split="dev")
