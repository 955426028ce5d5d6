"""Annotated documents → SQuAD-format training data for the schema's questions.

A gold mention of a mapped type becomes an answer to the mapped schema types' questions. Documents are cut
into passages of about `passage_chars` characters on sentence ends (a clinical case is several windows long,
and every window of every question costs training time); in each passage and type there is one question
instance per mention, with that mention first and the passage's other mentions of the type after it:
training labels each window with the first of them it holds (see `label_windows`), so every mention is
taught once and no window holding a mention learns "no answer". Passages without a mention of the type
become unanswerable questions (at most `unanswerable_per_answer` of them per answerable one), so "no
answer" stays calibrated. Questions rotate over the schema's languages: an Italian question over a Spanish
case must find the same span. The output is a plain SQuAD 2.0 file for `medkg train qa`.

    data = gold_to_squad(read_entity_corpus(Path("distemist")), load_schema(), {"ENFERMEDAD": {"problem"}})
    write_squad(data, Path("distemist.squad.json"))
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Mapping, Sequence

from medkg.extract.records import GoldDocument
from medkg.extract.schema import Schema

# Gold types of the corpora medkg reads → the schema types whose questions they answer, for training. E3C's
# CLINENTITY and CodiEsp's labels are here for users' own fine-tuning (E3C is CC BY-NC: never in a shipped
# model); PharmaCoNER's PROTEINAS (proteins, often lab tests) and UNCLEAR answer no schema question.
TRAINING_TYPE_MAP: dict[str, frozenset[str]] = {
    "ENFERMEDAD": frozenset({"problem"}),              # DisTEMIST
    "SINTOMA": frozenset({"sign_symptom"}),            # SympTEMIST
    "PROCEDIMIENTO": frozenset({"procedure"}),         # MedProcNER, CodiEsp
    "NORMALIZABLES": frozenset({"medication"}),        # PharmaCoNER
    "NO_NORMALIZABLES": frozenset({"medication"}),
    "MORFOLOGIA_NEOPLASIA": frozenset({"problem"}),    # CANTEMIST
    "CLINENTITY": frozenset({"problem", "sign_symptom"}),
    "DIAGNOSTICO": frozenset({"problem"}),
}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def passages(text: str, size: int) -> list[tuple[int, int]]:
    """(start, end) of consecutive passages of about `size` characters, cut after a sentence end."""
    if size <= 0 or len(text) <= size:
        return [(0, len(text))]
    cuts, start = [], 0
    breaks = [m.end() for m in _SENTENCE_END.finditer(text)]
    while start < len(text):
        end = next((b for b in breaks if b - start >= size), len(text))
        if len(text) - end < size // 3:  # a short tail joins the passage before it
            end = len(text)
        cuts.append((start, end))
        start = end
    return cuts


def gold_to_squad(gold: Sequence[GoldDocument], schema: Schema,
                  type_map: Mapping[str, set[str] | frozenset[str] | Sequence[str]],
                  languages: Sequence[str] | None = None, passage_chars: int = 0,
                  unanswerable_per_answer: float = 0.0, seed: int = 13) -> dict:
    """`languages`: the question languages to rotate over (default: the document's own); `passage_chars`:
    0 keeps whole documents as contexts."""
    rng = random.Random(seed)
    articles = []
    context_langs = {doc.document.lang or "en" for doc in gold}
    for doc in gold:
        lang = doc.document.lang or "en"
        question_langs = list(languages or [lang])
        questions_by_gold_type: dict[str, list[str]] = {}
        for gold_type, schema_types in type_map.items():
            questions = [q for question_lang in question_langs for t in schema.types if t.name in schema_types
                         for q in (t.questions.get(question_lang) or t.questions_for(lang))]
            if questions:
                questions_by_gold_type[gold_type] = list(dict.fromkeys(questions))
        paragraphs = []
        text = doc.document.text
        for number, (begin, end) in enumerate(passages(text, passage_chars)):
            context = text[begin:end]
            qas, empty = [], []
            for gold_type, questions in questions_by_gold_type.items():
                mentions = sorted({(m.start - begin, m.end - begin) for m in doc.mentions
                                   if m.type == gold_type and len(m.spans) == 1 and begin <= m.start and m.end <= end})
                if not any(m.type == gold_type for m in doc.mentions):
                    continue  # a document annotated for other types says nothing about this one
                for i, (start, stop) in enumerate(mentions):
                    ordered = [(start, stop)] + mentions[:i] + mentions[i + 1:]
                    qas.append({"id": f"{doc.document.id}:{number}:{gold_type}:{i}",
                                "question": rng.choice(questions),
                                "answers": [{"text": context[a:b], "answer_start": a} for a, b in ordered],
                                "is_impossible": False})
                if not mentions:
                    empty.append({"id": f"{doc.document.id}:{number}:{gold_type}:none",
                                  "question": rng.choice(questions), "answers": [], "is_impossible": True})
            paragraphs.append((context, qas, empty))
        answerable = sum(len(qas) for _, qas, _ in paragraphs)
        unanswerable = [(context, q) for context, _, empty in paragraphs for q in empty]
        rng.shuffle(unanswerable)
        keep = set(id(q) for _, q in unanswerable[:int(unanswerable_per_answer * answerable)])
        kept = [{"context": context, "qas": qas + [q for q in empty if id(q) in keep]}
                for context, qas, empty in paragraphs]
        kept = [p for p in kept if p["qas"]]
        if kept:
            articles.append({"title": doc.document.id, "paragraphs": kept})
    # The contexts' language decides how answers are normalised when scored (Spanish articles, not English);
    # questions may be in other languages.
    language = {"language": context_langs.pop()} if len(context_langs) == 1 else {}
    return {"version": "v2.0", **language, "data": articles}


def sample_questions(data: dict, count: int, seed: int = 13) -> dict:
    """A seeded random sample of `count` questions (all of them when there are fewer), paragraphs kept whole."""
    ids = [q["id"] for a in data["data"] for p in a["paragraphs"] for q in p["qas"]]
    keep = set(random.Random(seed).sample(ids, count)) if count < len(ids) else set(ids)
    articles = []
    for article in data["data"]:
        paragraphs = [{**p, "qas": [q for q in p["qas"] if q["id"] in keep]} for p in article["paragraphs"]]
        paragraphs = [p for p in paragraphs if p["qas"]]
        if paragraphs:
            articles.append({**article, "paragraphs": paragraphs})
    return {**data, "data": articles}


def write_squad(data: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path
