"""Graph-cited reasoning traces: question + options + gold answer + evidence → numbered steps citing [P#]/[T#].

Generation is conditioned on the correct answer (as in the research this follows): the model explains why it is
right from the evidence. Every trace is then verified before anything uses it; failures are kept with reasons:

- it parses into numbered steps and ends with the answer letter;
- every cited id exists in the evidence, and at least one step cites something;
- the final answer equals the gold one;
- each step that cites something shares content words with what it cites (a citation must be able to support it);
- it does more than restate the answer (some step brings words that are in neither the question nor the options);
- it is neither too short nor too long, does not repeat steps, and does not copy the prompt's worked example.

When the evidence carries graph paths (`medkg.rag.path_traces`), the trace must also follow one: every step
cites, consecutive steps connect (a concept of the path named in step n is named in step n+1), and the last
step reaches the gold option's concept, the end of a path to it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

from medkg.language import fold
from medkg.rag.generators import ChatMessage, GenerationConfig, Generator
from medkg.rag.mcq import MCQItem
from medkg.rag.records import Evidence

PROMPT_VERSION = "trace-v2"
PATH_PROMPT_VERSION = "trace-v2+paths"  # the same prompt with the graph path shown as guidance
NO_PATH = "no graph path from the question's concepts to the gold option's (within 3 hops)"
EXCEPTION_ASKED = "asks for the false or excepted option: a chain to it would argue the wrong way"
# "All of the following are true EXCEPT", "¿Cuál es falsa?", "Quale non è corretta?": the gold option is the one
# the evidence does NOT support, so a path to it explains nothing. Matched on the question's last line (a
# clinical case before it may say "no fever").
_EXCEPTION = re.compile(
    r"\b(?:except|excepto|salvo|tranne|eccetto|ad eccezione)\b|\b(?:not|no|non)\s+(?:true|correct|cierta|correcta|"
    r"verdadera|vera|corretta|indicated|indicada|indicata|characteristic|típic[oa]|tipic[oa])\b|"
    r"\b(?:false|incorrect|wrong|falsa|fals[oa]|incorrect[oa]|errat[oa]|least|menos probable|meno probabile)\b",
    re.IGNORECASE)
_SHOUTED_EXCEPTION = re.compile(r"\b(?:NOT|NO|NON|EXCEPT|EXCEPTO|TRANNE)\b")  # "Which is NOT …": capitals only
UNTRACED = (NO_PATH, EXCEPTION_ASKED)  # the reasons of a question that gets no path trace


def asks_for_exception(question: str) -> bool:
    """Whether the question asks for the option that is false, excepted or least likely."""
    lines = [line for line in question.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return bool(_EXCEPTION.search(last) or _SHOUTED_EXCEPTION.search(last))


def untraced(reasons: Sequence[str]) -> bool:
    """Whether a record is a question that got no trace (no path, or asks for the excepted option)."""
    return len(reasons) == 1 and reasons[0] in UNTRACED

_SYSTEM = ("You are a medical expert who writes short, correct explanations for exam questions. "
           "Use only the evidence given. Write 2 to 6 numbered steps, one per line, like "
           "\"1. ... [P1]\". Every step cites the evidence it uses in square brackets: [P1] for passages, "
           "[T1] for graph facts. The last line is \"Answer: X\" with the letter of the correct option.")

_STEP = re.compile(r"^\s*(?:step\s*)?(\d{1,2})\s*[.):]\s*(.+)$", re.IGNORECASE)
_CITATION_GROUP = re.compile(r"\[([^\[\]]{1,40})\]")
_CITATION_ID = re.compile(r"\b([PT]\d{1,3})\b")
ANSWER = re.compile(  # "Answer: C", "The answer is (C)", "Risposta: C", "Respuesta: C"
    r"(?:answer|risposta|respuesta)\s*(?:is|è|es)?\s*[:：]?\s*\(?\b([A-J])\b\)?", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]{4,}", re.UNICODE)


@dataclass(frozen=True)
class Limits:
    min_steps: int = 2
    max_steps: int = 12
    min_chars: int = 60
    max_chars: int = 4000
    min_new_words: int = 4  # words in some step that are in neither the question nor the options
    min_shared_words: int = 2  # words a citing step shares with the evidence it cites
    max_example_overlap: float = 0.5  # share of a step's words found in one step of the worked example


@dataclass(frozen=True)
class TraceStep:
    number: int
    text: str
    citations: tuple[str, ...]


@dataclass
class Trace:
    steps: list[TraceStep]
    answer: str | None           # the letter the trace ends with
    raw: str                     # the generator's text, unchanged
    generator: str
    prompt_version: str = PROMPT_VERSION
    attempts: int = 1             # generations made for this item (see `generate_traces`)

    @property
    def citations(self) -> list[str]:
        return list(dict.fromkeys(c for s in self.steps for c in s.citations))


@dataclass
class Verification:
    passed: bool
    reasons: list[str] = field(default_factory=list)


@dataclass
class TraceRecord:
    item: MCQItem
    evidence: Evidence
    trace: Trace
    verification: Verification


# ------------------------------------------------------------------------------------------------ prompting

def evidence_block(evidence: Evidence, passage_chars: int = 700) -> str:
    """Evidence as the model sees it: one line per passage and fact, each behind its citable id."""
    lines = []
    for p in evidence.passages:
        text = " ".join(p.passage.text.split())
        if len(text) > passage_chars:
            text = text[:passage_chars].rsplit(" ", 1)[0] + " …"
        title = f"({p.passage.title}) " if p.passage.title else ""
        lines.append(f"[{p.id}] {title}{text}")
    lines += [f"[{f.id}] {f.fact.text}" for f in evidence.facts]
    for path in evidence.paths:
        lines.append("Graph path from the question to the answer: " + " → ".join(f"[{i}]" for i in path.fact_ids))
    return "\n".join(lines) if lines else "(no evidence found)"


def options_block(item: MCQItem) -> str:
    return "\n".join(f"{label}. {text}" for label, text in item.options)


def _trace_request(question: str, options: str, answer: str, answer_text: str, evidence: str) -> str:
    return (f"Question: {question}\n\nOptions:\n{options}\n\nCorrect answer: {answer}. {answer_text}\n\n"
            f"Evidence:\n{evidence}\n\nExplain step by step, citing the evidence ids, why the correct answer is "
            f"right. End with \"Answer: {answer}\".")


# One worked example, written for this prompt (not from any benchmark): small models copy its shape — numbered
# steps that each add a fact with its citation — instead of repeating the answer.
_EXAMPLE = (
    _trace_request(
        "A sailor returns from a long voyage with bleeding gums, easy bruising and poor wound healing. "
        "Lack of which nutrient explains these findings?",
        "A. Vitamin A\nB. Vitamin C\nC. Vitamin D\nD. Vitamin K", "B", "Vitamin C",
        "[P1] (Scurvy) Scurvy is a disease resulting from a lack of vitamin C (ascorbic acid). Early symptoms "
        "include weakness and sore arms and legs; later, bleeding gums, easy bruising and poor wound healing.\n"
        "[T1] DOID:13724 — definition — A nutritional deficiency disease that is characterized by vitamin C "
        "(ascorbic acid) deficiency and has_symptom fatigue, weakness, anemia, gingivitis, and poor wound healing."),
    "1. Bleeding gums, easy bruising and poor wound healing are the typical late signs of scurvy [P1].\n"
    "2. Scurvy results from a lack of vitamin C (ascorbic acid) [P1], a nutritional deficiency disease [T1].\n"
    "3. Vitamins A, D and K deficiencies cause night blindness, rickets and clotting problems instead, so they do "
    "not fit.\nAnswer: B",
)


def trace_prompt(item: MCQItem, evidence: Evidence) -> list[ChatMessage]:
    user = _trace_request(item.question, options_block(item), item.answer, item.answer_text,
                          evidence_block(evidence))
    return [ChatMessage("system", _SYSTEM), ChatMessage("user", _EXAMPLE[0]), ChatMessage("assistant", _EXAMPLE[1]),
            ChatMessage("user", user)]


# -------------------------------------------------------------------------------------------------- parsing

def parse_trace(text: str, generator: str) -> Trace:
    steps: list[TraceStep] = []
    for line in text.splitlines():
        match = _STEP.match(line)
        if not match or ANSWER.match(match.group(2).strip()):
            continue
        body = match.group(2).strip()
        cited = tuple(dict.fromkeys(i.upper() for g in _CITATION_GROUP.findall(body)
                                    for i in _CITATION_ID.findall(g.upper())))
        steps.append(TraceStep(int(match.group(1)), body, cited))
    answers = ANSWER.findall(text)
    return Trace(steps, answers[-1].upper() if answers else None, text, generator)


# ------------------------------------------------------------------------------------------------ verifying

def mentions_name(text: str, name: str) -> bool:
    """Whether a name occurs in the text as whole words, case and accents folded."""
    folded = fold(name)
    return len(folded) >= 3 and re.search(rf"(?<!\w){re.escape(folded)}(?!\w)", fold(text)) is not None


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(_CITATION_GROUP.sub(" ", text))}


def verify(trace: Trace, item: MCQItem, evidence: Evidence, limits: Limits = Limits()) -> Verification:
    reasons: list[str] = []
    if len(trace.steps) < limits.min_steps:
        reasons.append(f"too few steps ({len(trace.steps)} < {limits.min_steps})")
    if len(trace.steps) > limits.max_steps:
        reasons.append(f"too many steps ({len(trace.steps)} > {limits.max_steps})")
    length = sum(len(s.text) for s in trace.steps)
    if length < limits.min_chars:
        reasons.append(f"too short ({length} characters of steps < {limits.min_chars})")
    if len(trace.raw) > limits.max_chars:
        reasons.append(f"too long ({len(trace.raw)} characters > {limits.max_chars})")
    known = {p.id for p in evidence.passages} | {f.id for f in evidence.facts}
    unknown = [c for c in trace.citations if c not in known]
    if unknown:
        reasons.append(f"cites ids not in the evidence: {', '.join(unknown)}")
    if trace.steps and not trace.citations:
        reasons.append("no step cites the evidence")
    if trace.answer is None:
        reasons.append("no final answer")
    elif trace.answer != item.answer:
        reasons.append(f"final answer {trace.answer} is not the gold {item.answer}")
    given = _words(item.question) | {w for _, text in item.options for w in _words(text)}
    if trace.steps and max(len(_words(s.text) - given) for s in trace.steps) < limits.min_new_words:
        reasons.append("restates the question and answer without reasoning")
    bodies = [" ".join(s.text.lower().split()) for s in trace.steps]
    if len(set(bodies)) < len(bodies):
        reasons.append("repeats a step")
    cited_text = {p.id: f"{p.passage.title or ''} {p.passage.text}" for p in evidence.passages}
    cited_text.update({f.id: f.fact.text for f in evidence.facts})
    unsupported = [s.number for s in trace.steps if s.citations and len(
        _words(s.text) & _words(" ".join(cited_text.get(c, "") for c in s.citations))) < limits.min_shared_words]
    if unsupported:
        reasons.append(f"steps that share nothing with what they cite: {', '.join(map(str, unsupported))}")
    copied = [s.number for s in trace.steps if _copies_example(s.text, limits.max_example_overlap)]
    if copied:
        reasons.append(f"steps copied from the prompt's worked example: {', '.join(map(str, copied))}")
    if evidence.paths and trace.steps:
        reasons += _path_reasons(trace, item, evidence)
    return Verification(not reasons, reasons)


def _path_reasons(trace: Trace, item: MCQItem, evidence: Evidence) -> list[str]:
    """What a trace that follows a graph path must also do: cite in every step, connect each step to the next
    through a concept of the path, and end at the gold option's concept."""
    names: dict[str, list[str]] = {}
    display: dict[str, str] = {}
    for path in evidence.paths:
        for node, node_names in zip(path.nodes, path.names):
            names.setdefault(node, []).extend(n for n in node_names if n not in names.get(node, ()))
            display.setdefault(node, node_names[0] if node_names else node)
    named = [{c for c, ns in names.items() if any(mentions_name(s.text, n) for n in ns)} for s in trace.steps]
    reasons = []
    uncited = [s.number for s in trace.steps if not s.citations]
    if uncited:
        reasons.append(f"steps that cite nothing: {', '.join(map(str, uncited))}")
    breaks = [f"{a.number}-{b.number}" for a, b, x, y in zip(trace.steps, trace.steps[1:], named, named[1:])
              if not x & y]
    if breaks:
        reasons.append(f"the chain breaks (no concept of the path in both steps): {', '.join(breaks)}")
    gold_ends = {p.end for p in evidence.paths if p.option in (None, item.answer)}
    if not named[-1] & gold_ends:
        wanted = " or ".join(sorted(display[e] for e in gold_ends))
        ended = ", ".join(sorted(display[c] for c in named[-1]))
        reasons.append(f"the chain does not reach the gold option's concept: ends at {ended or 'no concept of the path'},"
                       f" not {wanted}")
    return reasons


def _copies_example(step: str, threshold: float) -> bool:
    words = _words(step)
    return bool(words) and any(len(words & _words(line)) / len(words) > threshold
                               for line in _EXAMPLE[1].splitlines())


# ----------------------------------------------------------------------------------------------- generating

def generate_traces(items: Sequence[MCQItem], evidence_for: Callable[[MCQItem], Evidence], generator, *,
                    config: GenerationConfig = GenerationConfig(max_new_tokens=384), batch_size: int = 4,
                    attempts: int = 1, retry_temperature: float = 0.7, limits: Limits = Limits(),
                    paths_only: bool = False, progress: Callable[[int], None] | None = None):
    """Yield a verified (or rejected, with reasons) TraceRecord per item, in order, batch by batch.

    `generator`: a language model (`Generator`: prompted with the evidence) or a writer with
    ``write_trace(item, evidence) -> str`` and a ``name`` (the offline `PathWriter`, deterministic: one attempt).
    With `paths_only`, an item whose evidence has no graph path, or whose question asks for the false or excepted
    option, is not traced: its record has no steps and the reason (`NO_PATH`, `EXCEPTION_ASKED`), so reports
    count it and a resumed run skips it.

    With `attempts` > 1, rejected traces are sampled again (temperature `retry_temperature`, seeded) until one
    passes or the attempts run out: generate-then-verify, so a weak generator still yields some usable traces;
    the record keeps the last attempt's reasons and `trace.attempts` says how many were made.
    """
    write = getattr(generator, "write_trace", None)
    for start in range(0, len(items), batch_size):
        batch = items[start:start + batch_size]
        excepted = [paths_only and asks_for_exception(item.question) for item in batch]
        # No evidence is gathered for a question that will not be traced whatever its paths.
        evidences = [Evidence(item.question, item.lang, "paths") if skip else evidence_for(item)
                     for item, skip in zip(batch, excepted)]
        records: list[TraceRecord | None] = [None] * len(batch)
        pending = []
        for i, (item, evidence) in enumerate(zip(batch, evidences)):
            reason = EXCEPTION_ASKED if excepted[i] else NO_PATH if paths_only and not evidence.paths else None
            if reason:
                records[i] = TraceRecord(item, evidence,
                                         Trace([], None, "", getattr(generator, "name", ""), PATH_PROMPT_VERSION),
                                         Verification(False, [reason]))
            else:
                pending.append(i)
        if write is not None:
            for i in pending:
                trace = parse_trace(write(batch[i], evidences[i]), generator.name)
                trace.prompt_version = PATH_PROMPT_VERSION
                records[i] = TraceRecord(batch[i], evidences[i], trace, verify(trace, batch[i], evidences[i], limits))
            pending = []
        prompts = {i: trace_prompt(batch[i], evidences[i]) for i in pending}
        for attempt in range(1, max(1, attempts) + 1):
            if not pending:
                break
            run = config if attempt == 1 else replace(config, temperature=retry_temperature,
                                                      seed=(config.seed or 0) + attempt)
            generations = generator.generate([prompts[i] for i in pending], run)
            for i, generation in zip(pending, generations):
                trace = parse_trace(generation.text, generation.model)
                trace.attempts = attempt
                if evidences[i].paths:
                    trace.prompt_version = PATH_PROMPT_VERSION
                records[i] = TraceRecord(batch[i], evidences[i], trace, verify(trace, batch[i], evidences[i], limits))
            pending = [i for i in pending if not records[i].verification.passed]
        yield from records
        if progress:
            progress(len(batch))


# ------------------------------------------------------------------------------------------------- evidence

# Facts worth a reasoning step, in this order; labels and codes add nothing a step could use.
_USEFUL_FACTS = ("relation", "definition", "description", "subclass of", "same as", "close to")


def select_evidence(evidence: Evidence, *, max_facts: int = 6, prefer_concepts: Sequence[str] = ()) -> Evidence:
    """Keep the facts a step can reason with (relations, definitions, parents), facts about `prefer_concepts`
    first (the answer's concepts), at most `max_facts`, renumbered T1…; passages unchanged."""
    from medkg.rag.graph_retrieval import fact_kind
    from medkg.rag.records import EvidenceFact

    preferred = set(prefer_concepts)
    kept = []
    for f in evidence.facts:
        kind = fact_kind(f.fact.predicate)
        if kind in _USEFUL_FACTS:
            about_preferred = f.fact.subject in preferred or f.fact.object in preferred
            kept.append((not about_preferred, _USEFUL_FACTS.index(kind), len(kept), f.fact))
    kept.sort(key=lambda k: k[:3])
    # No kind may take more than half the slots while others wait: relations beside a definition, not
    # six symptoms and no definition.
    cap = max(2, max_facts // 2)
    seen: set[str] = set()
    per_kind: dict[int, int] = {}
    chosen, waiting = [], []
    for entry in kept:
        fact, kind = entry[3], entry[1]
        if fact.text.lower() in seen:
            continue
        seen.add(fact.text.lower())
        if per_kind.get(kind, 0) < cap:
            per_kind[kind] = per_kind.get(kind, 0) + 1
            chosen.append(entry)
        else:
            waiting.append(entry)
    chosen = (chosen + waiting)[:max_facts]
    facts = [EvidenceFact(f"T{i}", entry[3]) for i, entry in enumerate(chosen, start=1)]
    return Evidence(evidence.question, evidence.lang, evidence.mode, evidence.concepts, evidence.passages, facts,
                    evidence.paths)


def answer_evidence(retriever, item: MCQItem, *, mode: str = "lexical", k: int = 3, max_facts: int = 6) -> Evidence:
    """Evidence for explaining the gold answer: retrieved with the question and the answer text together."""
    evidence = retriever.retrieve(f"{item.question}\n{item.answer_text}", mode=mode, lang=item.lang, k=k,
                                  facts_per_concept=6)
    answer_concepts = [m.concept for m in retriever.graph.concepts(item.answer_text)]
    return select_evidence(evidence, max_facts=max_facts, prefer_concepts=answer_concepts)
