"""Graph-dictionary candidates: name matching with the linker's folding, QA margins for given spans, and the
schema's combination rules, on the demo graph and the shipped QA adapter."""
from __future__ import annotations

import math

import pytest

from conftest import REPO
from medkg.errors import MedkgError
from medkg.extract.dictionary import Dictionary, fold_same_length, plural_forms
from medkg.extract.records import Document
from medkg.extract.schema import load_schema, parse_schema


@pytest.fixture(scope="module")
def concept_index(demo_store, tmp_path_factory):
    from medkg.extract.linker import concept_index as build

    return build(demo_store, tmp_path_factory.mktemp("dictionary-linker"))


@pytest.fixture(scope="module")
def dictionary(concept_index):
    return Dictionary.build(concept_index)


def _found(dictionary, concept_index, text, lang):
    return {m.text: {concept_index.concepts[c].rsplit("/", 1)[1] for c in m.concepts}
            for m in dictionary.matches(text, lang)}


def test_folding_keeps_offsets_and_plurals_follow_the_language():
    text = "NEUMONÍA con Fiebre"
    assert fold_same_length(text) == "neumonia con fiebre" and len(fold_same_length(text)) == len(text)
    assert plural_forms("infezione polmonare", "it") == ["infezione polmonari"]
    assert plural_forms("micosi", "it") == [] or plural_forms("micosi", "it") == ["micosi"[:-1] + "i"]
    assert plural_forms("quiste", "es") == ["quistes"] and plural_forms("absceso", "en") == ["abscesos"]
    assert plural_forms("tos", "es") == []  # too short to inflect safely


def test_names_match_in_the_documents_language_accents_and_case_aside(dictionary, concept_index):
    it = _found(dictionary, concept_index, "Paziente con FEBBRE da tre giorni e tubercolosi.", "it")
    assert "HP_0001945" in it["FEBBRE"]
    assert any(c.startswith("DOID_399") or c == "Q12204" for c in it["tubercolosi"])
    es = _found(dictionary, concept_index, "Refiere fiebre y sarampion en la infancia.", "es")
    assert "HP_0001945" in es["fiebre"] and "sarampion" in es        # "Sarampión" matched without its accent
    en = _found(dictionary, concept_index, "Fever; pulmonary tuberculosis was confirmed.", "en")
    assert "pulmonary tuberculosis" in en and "tuberculosis" not in en  # longest match wins
    # Names of another language are not candidates, and words inside words never match.
    assert "fiebre" not in _found(dictionary, concept_index, "fiebre", "en")
    assert not _found(dictionary, concept_index, "Antifebbrele", "it")


def test_short_names_match_only_as_written(dictionary, concept_index):
    shorts = [n for n, lang, s in zip(concept_index.names, concept_index.name_lang, concept_index.name_strength)
              if lang == "en" and len(n) <= 4 and n.isupper() and s < 3]
    assert shorts, "the demo graph has abbreviations (e.g. TB, HIV)"
    name = shorts[0]
    assert name in _found(dictionary, concept_index, f"History of {name}.", "en")
    assert name.lower() not in _found(dictionary, concept_index, f"history of {name.lower()}.", "en")


def test_qa_margins_for_given_spans_match_the_models_own_answer(default_qa):
    context = ("The patient was started on isoniazid for pulmonary tuberculosis. No fever was reported. Vital signs "
               "were stable and the chest radiograph showed a small cavity in the right upper lobe, with no pleural "
               "effusion and no enlargement of the hilar lymph nodes on either side.")
    question = "What drug was the patient treated with?"
    own = default_qa.predict([question], [context], allow_no_answer=False)[0].best
    start = context.index("pulmonary")
    scored = default_qa.predict([question], [context], score_spans=[[(own.start, own.end),
                                                                     (start, start + 21), (0, len(context))]])[0]
    assert scored.scored[(own.start, own.end)] == pytest.approx(own.margin, abs=1e-3)
    assert scored.scored[(start, start + 21)] < own.margin          # the model's answer scores best
    assert scored.scored[(0, len(context))] == -math.inf             # longer than an answer may be


def test_combination_rules_pick_from_one_pass(default_qa, concept_index):
    from medkg.extract.annotator import Annotator

    annotator = Annotator(default_qa, load_schema(), concept_index)
    doc = Document("n1", "Paziente ricoverato per polmonite. Presenta febbre e tosse. Terapia con amoxicillina.",
                   "it")
    candidates = annotator.candidates(doc)
    by_rule = {rule: annotator.finish(candidates, rule) for rule in ("qa", "dictionary", "union", "confirm")}
    assert {a.source for a in by_rule["qa"]} == {"qa"}
    names = by_rule["dictionary"]
    assert names and {a.source for a in names} == {"dictionary"}
    febbre = next(a for a in names if a.text == "febbre")
    assert febbre.type == "sign_symptom" and febbre.concept.iri.endswith("HP_0001945") and febbre.concept.score == 1.0
    spans = lambda rule: {(a.start, a.end, a.type) for a in by_rule[rule]}  # noqa: E731
    names_in = lambda rule: {(a.start, a.end, a.type) for a in by_rule[rule] if a.source != "qa"}  # noqa: E731
    assert names_in("confirm") <= names_in("union")
    for answer in by_rule["qa"]:  # an answer leaves the union only for a graph name of its type overlapping it,
        kept = (answer.start, answer.end, answer.type) in spans("union")  # or a better-scored span
        beaten = any(u.start < answer.end and answer.start < u.end and (
                     (u.type == answer.type and (u.source != "qa" or u.score >= answer.score))
                     or ((u.start, u.end) == (answer.start, answer.end) and u.score >= answer.score))
                     for u in by_rule["union"])
        assert kept or beaten
    assert all(a.score >= annotator.schema.type(a.type).dictionary_threshold
               for a in by_rule["confirm"] if a.source == "dictionary")


def test_schema_combination_settings_are_checked(tmp_path):
    base = {"questions": {"en": ["Which?"]}}
    with pytest.raises(MedkgError, match="combine 'union' needs a 'dictionary'"):
        parse_schema({"types": {"x": {**base, "combine": "union"}}})
    with pytest.raises(MedkgError, match="combine must be one of"):
        parse_schema({"types": {"x": {**base, "dictionary": ["HP"], "combine": "both"}}})
    schema = parse_schema({"defaults": {"combine": "confirm"},
                           "types": {"x": {**base, "dictionary": ["hp"]}, "y": base}})
    assert schema.type("x").combine == "confirm" and schema.type("x").dictionary == ("HP",)
    assert schema.type("y").combine == "qa"  # a default rule applies to the types that have a dictionary
    shipped = load_schema(REPO / "medkg" / "extract" / "schemas" / "clinical.yaml")
    assert shipped.type("sign_symptom").dictionary and shipped.type("dosage").combine == "qa"
