"""Trace records ↔ JSONL rows that `datasets.load_dataset("json", data_files=...)` loads as one table.

Every row has the same fields with the same types (Arrow needs that): options and citations are lists of
objects rather than objects keyed by label or id, and the item's free-form metadata is a JSON string. Rejected
traces are written too, with `verified: false` and their `reasons`, so nothing is lost; users filter on
`verified`. Rows read back into `TraceRecord`s for re-verification and few-shot demonstrations.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator

from medkg.errors import MedkgError
from medkg.kg.readers.jsonl import iter_jsonl
from medkg.rag.mcq import MCQItem
from medkg.rag.records import Evidence, EvidenceFact, EvidencePassage, Fact, GraphPathEvidence, Passage
from medkg.rag.traces import Trace, TraceRecord, TraceStep, Verification

SCHEMA_VERSION = 2  # 2: the graph paths the trace follows ("paths"), empty for traces from retrieval alone


def _passage_row(p: EvidencePassage) -> dict:
    return {"id": p.id, "iri": p.passage.iri, "url": p.passage.article, "title": p.passage.title,
            "lang": p.passage.lang, "begin": p.passage.begin, "end": p.passage.end, "text": p.passage.text,
            "score": float(p.score)}


def _fact_row(f: EvidenceFact) -> dict:
    return {"id": f.id, "subject": f.fact.subject, "predicate": f.fact.predicate, "object": f.fact.object,
            "object_is_iri": f.fact.object_is_iri, "text": f.fact.text}


def _path_row(path: GraphPathEvidence) -> dict:
    """A path as IRIs: its concepts in order, each hop's triple and the [T#] it is cited by, each concept's
    names (what the verifier looks for in the steps)."""
    return {"option": path.option, "score": float(path.score), "nodes": list(path.nodes),
            "names": [list(n) for n in path.names],
            "hops": [{"fact": fact_id, "subject": f.subject, "predicate": f.predicate, "object": f.object}
                     for f, fact_id in zip(path.facts, path.fact_ids)]}


def _path_from_row(row: dict, facts: dict[str, EvidenceFact]) -> GraphPathEvidence:
    hops = row["hops"]
    return GraphPathEvidence(
        start=row["nodes"][0], end=row["nodes"][-1], nodes=tuple(row["nodes"]),
        facts=tuple(facts[h["fact"]].fact if h["fact"] in facts else Fact(h["subject"], h["predicate"], h["object"], "")
                    for h in hops),
        score=float(row.get("score") or 0.0), option=row.get("option"),
        names=tuple(tuple(n) for n in row.get("names") or ()), fact_ids=tuple(h["fact"] for h in hops))


def _citation_rows(record: TraceRecord) -> list[dict]:
    """The trace's citations resolved: a passage to its IRI, article URL and offsets; a fact to its triple."""
    passages = {p.id: p for p in record.evidence.passages}
    facts = {f.id: f for f in record.evidence.facts}
    rows = []
    for cited in record.trace.citations:
        row = {"id": cited, "kind": None, "iri": None, "url": None, "begin": None, "end": None,
               "subject": None, "predicate": None, "object": None}
        if cited in passages:
            p = passages[cited].passage
            row.update(kind="passage", iri=p.iri, url=p.article, begin=p.begin, end=p.end)
        elif cited in facts:
            f = facts[cited].fact
            row.update(kind="fact", iri=f.subject, subject=f.subject, predicate=f.predicate, object=f.object)
        else:
            row.update(kind="unknown")  # the verifier rejected this trace for it
        rows.append(row)
    return rows


def trace_row(record: TraceRecord, *, retrieval_mode: str) -> dict:
    item, trace = record.item, record.trace
    return {
        "id": item.id, "dataset": item.dataset, "language": item.lang, "subject": item.subject,
        "question": item.question, "options": [{"label": label, "text": text} for label, text in item.options],
        "answer": item.answer, "answer_text": item.answer_text,
        "evidence": {"passages": [_passage_row(p) for p in record.evidence.passages],
                     "facts": [_fact_row(f) for f in record.evidence.facts]},
        "paths": [_path_row(p) for p in record.evidence.paths],
        "trace": [{"number": s.number, "text": s.text, "citations": list(s.citations)} for s in trace.steps],
        "trace_answer": trace.answer, "trace_text": trace.raw,
        "citations": _citation_rows(record),
        "verified": record.verification.passed, "reasons": record.verification.reasons,
        "generator": trace.generator, "prompt_version": trace.prompt_version, "attempts": trace.attempts,
        "retrieval_mode": retrieval_mode,
        "metadata": json.dumps(item.metadata, ensure_ascii=False, sort_keys=True),
        "schema_version": SCHEMA_VERSION,
    }


def append_rows(rows: Iterable[dict], path: Path) -> int:
    """Append rows and flush each: an interrupted run keeps every finished trace (resume skips them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            handle.flush()
            count += 1
    return count


def done_ids(path: Path) -> set[tuple[str, str]]:
    """(dataset, id) of every question already in the file: ids alone are not enough, CasiMedicos gives one
    case the same id in each of its languages."""
    if not path.exists():
        return set()
    return {(row.get("dataset"), row.get("id")) for _, row in iter_jsonl(path) if isinstance(row, dict)}


def record_from_row(row: dict, *, path: Path | None = None, line: int | None = None) -> TraceRecord:
    try:
        item = MCQItem(id=row["id"], lang=row["language"], question=row["question"],
                       options=tuple((o["label"], o["text"]) for o in row["options"]), answer=row["answer"],
                       dataset=row["dataset"], subject=row.get("subject"),
                       metadata=json.loads(row.get("metadata") or "{}"))
        evidence = Evidence(question=row["question"], lang=row["language"], mode=row.get("retrieval_mode") or "")
        evidence.passages = [EvidencePassage(p["id"], Passage(p["iri"], p["text"], p.get("lang") or "und",
                                                              p.get("url"), p.get("title"), p.get("begin"),
                                                              p.get("end")), p.get("score") or 0.0)
                             for p in row["evidence"]["passages"]]
        evidence.facts = [EvidenceFact(f["id"], Fact(f["subject"], f["predicate"], f["object"], f["text"],
                                                     f.get("object_is_iri", True)))
                          for f in row["evidence"]["facts"]]
        by_id = {f.id: f for f in evidence.facts}
        evidence.paths = [_path_from_row(p, by_id) for p in row.get("paths") or ()]
        trace = Trace([TraceStep(s["number"], s["text"], tuple(s["citations"])) for s in row["trace"]],
                      row.get("trace_answer"), row.get("trace_text") or "", row.get("generator") or "",
                      row.get("prompt_version") or "", int(row.get("attempts") or 1))
        verification = Verification(bool(row.get("verified")), list(row.get("reasons") or []))
    except (KeyError, TypeError, ValueError) as error:
        raise MedkgError(f"not a medkg trace row ({type(error).__name__}: {error})", path=path, line=line) from None
    return TraceRecord(item, evidence, trace, verification)


def read_records(path: Path) -> Iterator[TraceRecord]:
    path = Path(path)
    if not path.is_file():
        raise MedkgError("no such trace file", path=path)
    for line, row in iter_jsonl(path):
        yield record_from_row(row, path=path, line=line)
