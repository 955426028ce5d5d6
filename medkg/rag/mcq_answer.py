"""Answering MCQ items with a generator: zero-shot, zero-shot with retrieved evidence (rag), few-shot with verified
traces as demonstrations.

How the answer is read: a local model scores each option letter after "Answer:" (`score_continuations`: the
highest log-probability wins, no free text to parse, deterministic); a server generates a short reply whose
first standalone option letter is the answer (none found → no answer, counted wrong, never guessed).
"""
from __future__ import annotations

import random
import re
from typing import Callable, Sequence

from medkg.errors import MedkgError
from medkg.rag.generators import ChatMessage, GenerationConfig, Generator
from medkg.rag.mcq import MCQItem
from medkg.rag.mcq_eval import MCQPrediction
from medkg.rag.records import Evidence
from medkg.rag.traces import ANSWER, TraceRecord, evidence_block, options_block, select_evidence

PROMPT_VERSION = "mcq-v1"
LLM_MODES = ("zero-shot", "rag", "few-shot")

_SYSTEM = ("You are a medical expert answering exam questions. Choose the single best option and reply "
           "\"Answer: X\" with its letter.")
_CITATIONS = re.compile(r"\s*\[[PT]\d{1,3}(?:\s*,\s*[PT]\d{1,3})*\]")


def _question_turn(item: MCQItem, evidence: Evidence | None = None) -> str:
    text = f"Question: {item.question}\n\nOptions:\n{options_block(item)}"
    if evidence is not None:
        text = f"Evidence:\n{evidence_block(evidence, passage_chars=500)}\n\n" + text
    return text


def _demo_turns(record: TraceRecord) -> list[ChatMessage]:
    """A verified trace as a worked example. Its evidence is not shown (it would triple the prompt), so the
    citation marks, which would point at nothing, are removed from the steps."""
    steps = "\n".join(f"{s.number}. {_CITATIONS.sub('', s.text)}" for s in record.trace.steps)
    return [ChatMessage("user", _question_turn(record.item)),
            ChatMessage("assistant", f"{steps}\nAnswer: {record.item.answer}")]


def answer_prompt(item: MCQItem, *, evidence: Evidence | None = None,
                  demos: Sequence[TraceRecord] = ()) -> list[ChatMessage]:
    messages = [ChatMessage("system", _SYSTEM)]
    for demo in demos:
        messages += _demo_turns(demo)
    messages.append(ChatMessage("user", _question_turn(item, evidence)))
    return messages


def pick_demos(records: Sequence[TraceRecord], n: int, *, lang: str | None = None, seed: int = 13
               ) -> list[TraceRecord]:
    """n verified traces, the same for every question (reproducible): in the question's language when there
    are enough, drawn with a fixed seed."""
    verified = [r for r in records if r.verification.passed]
    if len(verified) < n:
        raise MedkgError(f"few-shot needs {n} verified traces; the trace file has {len(verified)} "
                         "(run `medkg traces generate` on more questions, or lower --shots)")
    same_lang = [r for r in verified if r.item.lang == lang]
    pool = same_lang if len(same_lang) >= n else verified
    return random.Random(seed).sample(pool, n)


def _letter(text: str, labels: Sequence[str]) -> str | None:
    match = ANSWER.search(text) or re.search(r"\b([A-J])\b", text)
    letter = match.group(1).upper() if match else None
    return letter if letter in labels else None


def answer_items(items: Sequence[MCQItem], generator: Generator, *, mode: str,
                 evidence_for: Callable[[MCQItem], Evidence] | None = None,
                 demos: Sequence[TraceRecord] = (), progress: Callable[[int], None] | None = None
                 ) -> list[MCQPrediction]:
    if mode not in LLM_MODES:
        raise MedkgError(f"unknown mode {mode!r} (use {', '.join(LLM_MODES)})")
    if mode == "rag" and evidence_for is None:
        raise MedkgError("rag mode needs a retriever (a text index: run `medkg index build`)")
    if mode == "few-shot" and not demos:
        raise MedkgError("few-shot mode needs verified traces as demonstrations (--traces FILE)")
    scorer = getattr(generator, "score_continuations", None)
    predictions = []
    for item in items:
        evidence = evidence_for(item) if mode == "rag" else None
        own = [d for d in demos if d.item.id != item.id]  # never show a question its own trace
        messages = answer_prompt(item, evidence=evidence, demos=own)
        labels = [label for label, _ in item.options]
        if scorer is not None:
            scores = dict(zip(labels, scorer(messages, [" " + label for label in labels], assistant_prefix="Answer:")))
            predicted = max(scores, key=scores.get)
        else:
            reply = generator.generate([messages], GenerationConfig(max_new_tokens=16))[0].text
            predicted, scores = _letter(reply, labels), {}
        used = {"evidence": [p.passage.iri for p in evidence.passages]} if evidence else {}
        predictions.append(MCQPrediction(item.id, predicted, predicted == item.answer,
                                         {k: round(v, 4) for k, v in scores.items()}, used))
        if progress:
            progress(1)
    return predictions


def question_evidence(retriever, item: MCQItem, *, mode: str = "lexical", k: int = 3, max_facts: int = 4
                      ) -> Evidence:
    """Evidence for answering: retrieved with the question alone (the answer is what is asked)."""
    evidence = retriever.retrieve(item.question, mode=mode, lang=item.lang, k=k, facts_per_concept=4)
    return select_evidence(evidence, max_facts=max_facts)
