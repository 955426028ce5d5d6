"""`medkg translate`: the checks on real MedQA questions and hand-made translations, reply parsing, and the
whole path with the real offline generator (SmolLM2-135M: its translations are poor, so the tests assert the
contract — every item accepted with all checks passing or rejected with a reason — not the quality)."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medkg.cli import app
from test_cli import run_main
from medkg.errors import MedkgError
from medkg.rag.mcq import read_mcq, write_mcq
from medkg.rag.translate import (PROMPT_VERSION, check_numbers, check_translation, language_name, number_values,
                                 parse_reply, problem_kind, token_budget, translate_items, translation_prompt, units)

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mcq" / "medqa_sample.jsonl"
runner = CliRunner()

# Hand translations (Italian) of two real MedQA test questions of the sample: line 4 (7lb 2oz, 3.2 kg) and
# line 3 (2,300 g, written 2.300 in Italian).
IT_4 = {
    "question": "Una donna di 27 anni sieropositiva all'HIV ha dato alla luce una bambina di 7lb 2oz (3,2 kg). "
                "L'ostetrico teme che la bambina possa essere stata infettata a causa dell'uso discontinuo dei "
                "farmaci antiretrovirali da parte della madre. Quale dei seguenti test utilizzerebbe un ospedale "
                "per rilevare il materiale genetico dell'HIV se la bambina fosse stata infettata?",
    "options": {"A": "Saggio di immunoassorbimento enzimatico (ELISA)", "B": "Test rapido per gli anticorpi anti-HIV",
                "C": "Reazione a catena della polimerasi", "D": "Southern blot"}}
IT_3 = {
    "question": "Un neonato maschio di 2.300 g (5 lb) nasce da una primigravida di 29 anni. La madre ha l'HIV e ha "
                "ricevuto una triplice terapia antiretrovirale durante la gravidanza. La sua carica virale era di "
                "678 copie/mL 1 settimana prima del parto. Il travaglio è stato senza complicazioni. I punteggi di "
                "Apgar erano 7 e 8 rispettivamente a 1 e 5 minuti. L'esame obiettivo del neonato non mostra "
                "anomalie. Quale dei seguenti è il passo successivo più appropriato nella gestione di questo neonato?",
    "options": {"A": "Somministrare zidovudina", "B": "Test del DNA dell'HIV", "C": "Test dell'RNA dell'HIV",
                "D": "Rassicurazione e follow-up"}}


@pytest.fixture(scope="module")
def items():
    return {item.id: item for item in read_mcq(SAMPLE)}


def kinds(problems):
    return {problem_kind(p) for p in problems}


# ------------------------------------------------------------------------------------------------ the checks

def test_correct_italian_translations_pass(items):
    assert check_translation(items["medqa-us-4:4"], IT_4["question"], IT_4["options"], "it") == []
    assert check_translation(items["medqa-us-4:3"], IT_3["question"], IT_3["options"], "it") == []
    # Spanish decimal comma and thousands dot are read the same way.
    assert check_numbers("a 7lb 2oz (3.2 kg) baby, 2,300 g", "un bebé de 7lb 2oz (3,2 kg), 2.300 g", "question") == []


@pytest.mark.parametrize("edit, kind, detail", [
    (lambda q, o: (q.replace("27 anni", "giovane età"), o), "number missing", "question: 27"),
    (lambda q, o: (q.replace("(3,2 kg)", "(3,2 g)"), o), "unit mismatch", "kg ×1 in the source, ×0"),
    (lambda q, o: (q.replace("3,2 kg", "2,3 kg"), o), "number missing", "question: 3.2"),
    (lambda q, o: (q.replace("bambina di", "bambina di 2 giorni di"), o), "number added", "question: 2"),
    (lambda q, o: (q, {k: v for k, v in o.items() if k != "D"}), "option labels", "missing D"),
    (lambda q, o: (q, {**o, "B": " "}), "empty", "option B"),
    (lambda q, o: (q, {**o, "C": "C"}), "empty", "option C"),  # SmolLM2's "options": ["A", "B", "C", "D"]
])
def test_each_broken_translation_names_its_problem(items, edit, kind, detail):
    question, options = edit(IT_4["question"], dict(IT_4["options"]))
    problems = check_translation(items["medqa-us-4:4"], question, options, "it")
    assert kind in kinds(problems) and any(detail in p for p in problems), problems


def test_thousands_are_not_decimals(items):
    """2,300 g in English is 2300 g: "2.300" and "2300" keep it, the Italian "2,3" (2.3 g) does not."""
    source = items["medqa-us-4:3"]
    assert check_numbers(source.question, IT_3["question"].replace("2.300", "2300"), "question") == []
    problems = check_numbers(source.question, IT_3["question"].replace("2.300", "2,3"), "question")
    assert problems == ["number missing: question: 2,300", "number added: question: 2,3"]
    assert number_values("2,300", ".") == {"2300"} and number_values("2,300") == {"2300", "2.3"}


def test_untranslated_and_wrong_language(items):
    source = items["medqa-us-4:4"]
    copy = check_translation(source, source.question, dict(source.options), "it")
    assert copy == ["untranslated: question: a copy of the source"]
    spanish = ("Una mujer de 27 años VIH positiva dio a luz a una niña de 7lb 2oz (3,2 kg). El obstetra teme que la "
               "niña se haya infectado. ¿Cuál de las siguientes pruebas usaría un hospital para detectar el "
               "material genético del VIH?")
    assert kinds(check_translation(source, spanish, IT_4["options"], "it")) == {"wrong language"}
    assert check_translation(source, spanish, IT_4["options"], "es") == []


def test_units_are_compared_by_meaning():
    assert units("120/80 mm Hg, 250 mcg, 10 UI, 18 breaths/min, 500 cells/mm3, 6.5%") == \
        units("120/80 mmHg, 250 µg, 10 IU, 18 respiri/min, 500 cellule/mm³, 6,5 %")
    assert not units("5 giorni, 2 litri, 3 Laboratori")  # letters of words after a number are not units


# ---------------------------------------------------------------------------------------------- reply parsing

@pytest.mark.parametrize("reply", [
    '```json\n{"question": "Quale {fattore}?", "options": {"A": "IL-4", "B": "TNF-alfa"}}\n```',
    'Ecco la traduzione:\n{"question": "Quale {fattore}?", "options": {"A": "IL-4", "B": "TNF-alfa",}}\nSpero aiuti.',
    '{"options": {"A)": "IL-4", "b": "TNF-alfa"}, "question": "Quale {fattore}?"} {"question": "second"}',
    'Note {not json} then {"question": "Quale {fattore}?", "options": ["IL-4", "TNF-alfa"]}',
])
def test_replies_with_fences_prose_and_slips_parse(reply):
    assert parse_reply(reply) == ({"question": "Quale {fattore}?", "options": {"A": "IL-4", "B": "TNF-alfa"}}, [])


@pytest.mark.parametrize("reply, problem", [
    ("I cannot translate this.", "no JSON object"),
    ('{"question": "Quale fattore è secreto dalle cellule Th1', "not closed"),
    ('{"question": ["a"], "options": {"A": "x"}}', "question is list"),
    ('{"question": "q", "options": "A, B"}', "options is str"),
    ('{"A": "x", "B": "y"}', "no JSON object"),
])
def test_garbage_replies_give_problems(reply, problem):
    fields, problems = parse_reply(reply)
    assert fields is None and len(problems) == 1 and problem in problems[0]


# ------------------------------------------------------------------------------------------------ the prompt

def test_prompt_names_the_language_and_asks_for_json(items):
    source = items["medqa-us-4:4"]
    system, user = translation_prompt(source, "es")
    assert system.role == "system" and "from English into Spanish" in system.content
    assert '"options": {"A": "<option A in Spanish>"' in user.content and "7lb 2oz (3.2 kg)" in user.content
    assert language_name("IT") == "Italian"
    with pytest.raises(MedkgError, match="unknown language code 'xx'"):
        translation_prompt(source, "xx")
    long_ = items["medqa-us-4:3"]
    short = replace(long_, question="Which is the next step?")
    assert token_budget(short, 2048) < token_budget(long_, 2048) and token_budget(long_, 100) == 100


# ------------------------------------------------------------------------- the real offline default generator

@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("translate-home")


@pytest.fixture(scope="module")
def generator(home, generator_cache):
    """SmolLM2-135M from the session's converted copy, placed in this workspace's model cache so that the CLI
    test finds it there too.

    One torch thread: on a small shared machine two OpenMP threads that spin-wait for a core held by another
    process made each forward pass ~15x slower than one thread."""
    import torch

    from medkg.rag.generators import TransformersGenerator

    import shutil

    shutil.copytree(generator_cache / "smollm2-135m-instruct", home / "models" / "smollm2-135m-instruct")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield TransformersGenerator.load(None, cache_dir=home / "models")
    torch.set_num_threads(threads)


def test_translate_items_accepts_only_checked_translations(generator, items):
    sources = [items["medqa-us-4:3"], items["medqa-us-4:4"]]
    italian_already = replace(items["medqa-us-4:6"], lang="it")
    requests = generator.usage.requests
    results = translate_items([*sources, italian_already], generator, "it")
    assert [r.source for r in results] == [*sources, italian_already]
    assert generator.usage.requests == requests + 2  # the Italian item costs nothing
    assert results[2].problems == ["already in it"] and results[2].translated is None
    for result in results[:2]:
        assert result.raw_reply  # kept either way, to judge the model
        if result.accepted:
            t = result.translated
            assert result.problems == [] and t.lang == "it" and t.id == result.source.id
            assert t.answer == result.source.answer and t.dataset == "medqa-us-4-it" and t.explanation is None
            assert t.metadata["translated_by"] == generator.name and t.metadata["prompt_version"] == PROMPT_VERSION
            assert check_translation(result.source, t.question, dict(t.options), "it") == []
        else:
            assert result.translated is None and result.problems


def test_cli_writes_accepted_and_rejected_and_resumes(generator, home, items, tmp_path):
    out = tmp_path / "out"
    accepted, rejected = out / "medqa-us-4.it.jsonl", out / "medqa-us-4.it.rejected.jsonl"
    # An earlier run's accepted item (the hand translation) must survive and not be translated again.
    done = replace(items["medqa-us-4:3"], lang="it", dataset="medqa-us-4-it", question=IT_3["question"],
                   options=tuple(IT_3["options"].items()))
    write_mcq([done], accepted)
    # --max-new-tokens keeps the test short; cut-off replies are rejected with a reason like any other.
    args = ["--home", str(home), "translate", str(SAMPLE), "--to", "it", "--limit", "3", "--out", str(out),
            "--max-new-tokens", "160", "--format", "json"]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [summary] = json.loads(result.stdout)["results"]
    assert (summary["items"], summary["skipped"]) == (3, 1)
    assert summary["accepted"] + summary["rejected"] == 2 and summary["tokens"]["completion_tokens"] > 0
    kept = read_mcq(accepted)
    rows = [json.loads(line) for line in rejected.read_text(encoding="utf-8").splitlines()]
    assert kept[0] == done and len(kept) == 1 + summary["accepted"] and len(rows) == summary["rejected"]
    assert sorted([i.id for i in kept] + [r["id"] for r in rows]) == ["medqa-us-4:1", "medqa-us-4:2", "medqa-us-4:3"]
    assert all(r["problems"] and r["raw_reply"] for r in rows)
    assert sum(summary["problems"].values()) >= summary["rejected"]

    again = runner.invoke(app, args, catch_exceptions=False)
    [summary] = json.loads(again.stdout)["results"]
    assert (summary["skipped"], summary["accepted"], summary["rejected"]) == (3, 0, 0)
    assert json.loads(again.stdout)["generator"] is None  # nothing to do: the model is not even loaded
    assert read_mcq(accepted) == kept


@pytest.mark.parametrize("args, message", [
    ([str(SAMPLE), "--to", "xx"], "unknown language code 'xx'"),
    (["no-such-medqa.jsonl", "--to", "it"], "no-such-medqa.jsonl: no such file"),
])
def test_bad_input_exits_2_with_one_message(tmp_path, capsys, args, message):
    code = run_main(tmp_path / "ws", "translate", *args)
    err = capsys.readouterr().err
    assert code == 2 and message in err.replace("\n", "") and "Traceback" not in err and err.count("error:") == 1
