"""Reasoning traces grounded in graph paths: the evidence is built around the paths that join a question's
concepts to its gold option's concepts (as MedReason does), and an offline writer verbalises a path into
numbered steps in the item's language, each citing the graph facts [T#] and passages [P#] it rests on.

Evidence for an item (`path_evidence`): the best paths (at most three hops, `medkg.rag.paths`) from the
concepts named in the question to those named in the gold option; the facts on the paths come first (T1…),
then the definitions of the concepts at either end; then the passages that mention most of the path's
concepts. An item with no path gets evidence with no paths, and no path trace (`NO_PATH` says so).

The writer (`PathWriter`) is a generator like the others: its name and version go into every trace record
(``medkg-path-writer/1``), so nobody takes its traces for a language model's. An LLM given the same evidence
sees the path as guidance in its prompt (`medkg.rag.traces.evidence_block`).

    retriever = Retriever(store, text_index)
    evidence = path_evidence(retriever, item)          # item: an MCQItem with its gold answer
    if evidence.paths:
        text = PathWriter().write_trace(item, evidence)   # "1. The question mentions … [T1] …\\nAnswer: B"
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from medkg.language import fold
from medkg.rag.graph_retrieval import fact_kind, predicate_text
from medkg.rag.mcq import MCQItem
from medkg.rag.records import Evidence, EvidenceFact, EvidencePassage, Fact, GraphPathEvidence
from medkg.rag.traces import NO_PATH, mentions_name

PATH_WRITER = "medkg-path-writer/1"

# The writer's words, per language; everything else in a step is the graph's (names and relation labels in
# the item's language where the graph has them) or a passage's own sentence.
_TEMPLATES = {
    "en": {"first": "The question mentions {surface}: {a} {rel} {b}", "hop": "{a} {rel} {b}",
           "end": "So {start} leads to {end}, which is option {label} ({text})", "definition": "{name}: {text}",
           "answer": "Answer: {label}"},
    "it": {"first": "La domanda menziona {surface}: {a} {rel} {b}", "hop": "{a} {rel} {b}",
           "end": "Quindi {start} porta a {end}, che è l'opzione {label} ({text})", "definition": "{name}: {text}",
           "answer": "Risposta: {label}"},
    "es": {"first": "La pregunta menciona {surface}: {a} {rel} {b}", "hop": "{a} {rel} {b}",
           "end": "Por tanto, {start} lleva a {end}, que es la opción {label} ({text})",
           "definition": "{name}: {text}", "answer": "Respuesta: {label}"},
}
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
QUOTE_CHARS = 220


# ------------------------------------------------------------------------------------------------- evidence

def path_evidence(retriever, item: MCQItem, *, max_paths: int = 2, k: int = 3, max_facts: int = 8) -> Evidence:
    """The paths from the question's concepts to the gold option's, with their facts and the passages that
    mention their concepts; no paths (and nothing else) when the graph joins none."""
    graph = retriever.graph
    mentions = graph.concepts(item.question)
    evidence = Evidence(question=item.question, lang=item.lang, mode="paths", concepts=mentions)
    option_mentions = graph.concepts(item.answer_text)
    question_concepts = [m.concept for m in mentions]
    found = graph.reach(question_concepts).paths_to([m.concept for m in option_mentions]) if question_concepts else []
    if not found:
        return evidence
    candidates = found[:max_paths * 4]
    display = graph.labels([n for p in candidates for n in p.nodes], item.lang)
    rendered = graph.path_evidence(candidates, item.lang, option=item.answer, names=display)
    # A path whose every hop joins two sources' records of one name says only that the question names the
    # answer: no reasoning to write.
    rendered = [p for p in rendered if not all(_same_name(display, f) for f in p.facts)]
    rendered = rendered[:max_paths]
    if not rendered:
        return evidence
    nodes = list(dict.fromkeys(n for p in rendered for n in p.nodes))
    english = graph.labels(nodes, "en") if item.lang != "en" else {}
    surfaces: dict[str, list[str]] = {}
    for m in [*mentions, *option_mentions]:
        surfaces.setdefault(m.concept, []).append(m.surface)

    facts: list[EvidenceFact] = []
    ids: dict[tuple[str, str, str], str] = {}

    def cite(fact: Fact) -> str:
        key = (fact.subject, fact.predicate, fact.object)
        if key not in ids:
            ids[key] = f"T{len(facts) + 1}"
            facts.append(EvidenceFact(ids[key], fact))
        return ids[key]

    paths = []
    for path in rendered:
        fact_ids = tuple(cite(f) for f in path.facts)
        names = tuple(tuple(dict.fromkeys([display[n], *surfaces.get(n, ()), *([english[n]] if n in english else [])]))
                      for n in path.nodes)
        paths.append(GraphPathEvidence(path.start, path.end, path.nodes, path.facts, path.score, path.option,
                                       names, fact_ids))
    for concept in dict.fromkeys([p.end for p in paths] + [p.start for p in paths]):
        for fact in graph.facts(concept, item.lang, limit=12):
            if len(facts) >= max_facts:
                break
            if fact_kind(fact.predicate) in ("definition", "description") and fact.subject == concept:
                cite(fact)
                break  # one definition per concept
    evidence.facts = facts
    evidence.paths = paths
    ranked = graph.concept_graph.passages_for(nodes, k=k)
    records = graph.passage_records([iri for iri, _ in ranked])
    evidence.passages = [EvidencePassage(f"P{i}", records[iri], score, {"paths": i})
                         for i, (iri, score) in enumerate((r for r in ranked if r[0] in records), start=1)]
    return evidence


def _same_name(display: dict[str, str], fact: Fact) -> bool:
    """A match between two sources' records that carry the same name ("lysosomal storage disease" in DOID
    and in Wikidata): true to the graph, but not a step of reasoning."""
    return fact_kind(fact.predicate) in ("same as", "close to") and \
        fold(display.get(fact.subject, fact.subject)) == fold(display.get(fact.object, fact.object))


# --------------------------------------------------------------------------------------------------- writer

def _quote(evidence: Evidence, names: list[tuple[str, ...]], used: set[str]) -> tuple[str, str] | None:
    """A passage sentence naming the hop's concepts (both if one does, else the second), not quoted before:
    (passage id, sentence)."""
    for wanted in (names, names[1:]):
        for p in evidence.passages:
            if p.id in used:
                continue
            for sentence in _SENTENCE.split(" ".join(p.passage.text.split())):
                if all(any(mentions_name(sentence, n) for n in node) for node in wanted):
                    if len(sentence) > QUOTE_CHARS:
                        sentence = sentence[:QUOTE_CHARS].rsplit(" ", 1)[0] + " …"
                    used.add(p.id)
                    return p.id, sentence
    return None


@dataclass(frozen=True)
class PathWriter:
    """Verbalises the best path of an item's evidence: one step per hop ("{a} {relation} {b} [T#]", with a
    passage sentence naming the hop's concepts where one does, [P#]), then a step that reaches the gold option
    and cites the whole path (and the answer concept's definition, if the evidence has one)."""

    name: str = PATH_WRITER

    def write_trace(self, item: MCQItem, evidence: Evidence) -> str:
        if not evidence.paths:
            raise ValueError(NO_PATH)
        path = evidence.paths[0]
        words = _TEMPLATES.get(item.lang, _TEMPLATES["en"])
        display = [names[0] for names in path.names]
        surface = path.names[0][1] if len(path.names[0]) > 1 else display[0]
        names = dict(zip(path.nodes, display))
        steps, used, held = [], set(), []
        for i, (fact, fact_id) in enumerate(zip(path.facts, path.fact_ids)):
            a = path.nodes[i]
            if _same_name(names, fact):
                held.append(fact_id)  # said with the next hop: "X same as X" is no step
                continue
            rel = predicate_text(fact.predicate, item.lang, inverse=fact.subject != a)
            text = words["hop" if steps else "first"].format(surface=surface, a=display[i], rel=rel,
                                                             b=display[i + 1])
            text = text[0].upper() + text[1:] + f" [{', '.join([*held, fact_id])}]"
            held = []
            quoted = _quote(evidence, [path.names[i], path.names[i + 1]], used)
            if quoted:
                text += f'; “{quoted[1]}” [{quoted[0]}]'
            steps.append(text + ".")
        ending = words["end"].format(start=display[0], end=display[-1], label=item.answer, text=item.answer_text)
        cited = list(path.fact_ids)
        definition = next((f for f in evidence.facts if f.fact.subject == path.end and f.id not in cited
                           and fact_kind(f.fact.predicate) in ("definition", "description")), None)
        if definition is not None:
            text = definition.fact.object.rstrip(". ")
            if len(text) > QUOTE_CHARS:
                text = text[:QUOTE_CHARS].rsplit(" ", 1)[0] + " …"
            ending += "; " + words["definition"].format(name=display[-1], text=text)
            cited.append(definition.id)
        steps.append(f"{ending} [{', '.join(cited)}].")
        return "\n".join(f"{n}. {s}" for n, s in enumerate(steps, start=1)) + "\n" + words["answer"].format(
            label=item.answer)
