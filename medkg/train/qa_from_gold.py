"""Annotated documents → SQuAD-format training data for the schema's questions.

A gold mention of type CLINENTITY (mapped to the schema's problem and sign/symptom types) becomes an answer
to those types' questions in the document's language. One question instance per mention, alternating the
mapped questions, with that mention first and the document's other mentions of the type after it: training
labels each window with the first of them it holds (see `label_windows`), so every mention is taught once and
no window holding a mention learns "no answer". The output is a plain SQuAD 2.0 file for `medkg train qa`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

from medkg.extract.records import GoldDocument
from medkg.extract.schema import Schema


def gold_to_squad(gold: Sequence[GoldDocument], schema: Schema,
                  type_map: Mapping[str, set[str] | frozenset[str] | Sequence[str]]) -> dict:
    articles = []
    for doc in gold:
        lang = doc.document.lang or "en"
        questions_by_gold_type: dict[str, list[str]] = {}
        for gold_type, schema_types in type_map.items():
            questions = [q for t in schema.types if t.name in schema_types for q in t.questions_for(lang)]
            if questions:
                questions_by_gold_type[gold_type] = questions
        qas = []
        for gold_type, questions in questions_by_gold_type.items():
            mentions = sorted({(m.start, m.end) for m in doc.mentions if m.type == gold_type and len(m.spans) == 1})
            for i, (start, end) in enumerate(mentions):
                ordered = [(start, end)] + mentions[:i] + mentions[i + 1:]
                qas.append({
                    "id": f"{doc.document.id}:{gold_type}:{i}",
                    "question": questions[i % len(questions)],
                    "answers": [{"text": doc.document.text[a:b], "answer_start": a} for a, b in ordered],
                    "is_impossible": False,
                })
        if qas:
            articles.append({"title": doc.document.id, "paragraphs": [{"context": doc.document.text, "qas": qas}]})
    return {"version": "v2.0", "data": articles}


def write_squad(data: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path
