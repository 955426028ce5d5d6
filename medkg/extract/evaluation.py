"""`medkg eval annotate`: run the annotator over gold documents and score spans, links and negation.

Gold types are mapped onto schema types (`DEFAULT_TYPE_MAP`): E3C's CLINENTITY (clinical entities: diseases
and findings, with UMLS CUIs) and CodiEsp's DIAGNOSTICO count problem and sign/symptom answers; CodiEsp's
PROCEDIMIENTO counts procedure and test answers. Answers of other types (medication, dose, anatomy) have no
gold here and are left out of the scores rather than counted as false positives.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from medkg.errors import MedkgError
from medkg.extract.annotator import Annotator
from medkg.extract.gold import read_gold
from medkg.extract.records import GoldDocument
from medkg.extract.scoring import assertion_agreement, score_annotations, scores_table

DEFAULT_TYPE_MAP = {
    "CLINENTITY": {"problem", "sign_symptom"},
    "DIAGNOSTICO": {"problem", "sign_symptom"},
    "PROCEDIMIENTO": {"procedure", "test"},
}


@dataclass
class AnnotationEvaluation:
    model: str
    documents: int = 0
    excluded: int = 0
    seconds: float = 0.0
    span_rows: list[dict] = field(default_factory=list)
    link_rows: list[dict] = field(default_factory=list)
    assertion: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"model": self.model, "documents": self.documents, "excluded_documents": self.excluded,
                "seconds": self.seconds, "spans": self.span_rows, "linking": self.link_rows,
                "negation": self.assertion}


def excluded_ids(paths: Sequence[Path]) -> set[str]:
    """Document ids not to score: from gold files/folders (their documents) or text files (one id per line)."""
    ids: set[str] = set()
    for path in map(Path, paths):
        if path.is_file() and path.suffix.lower() in (".txt", ".lst", ".ids"):
            ids.update(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        elif path.exists():
            ids.update(g.document.id for g in read_gold(path))
        else:
            raise MedkgError("no such file or folder", path=path)
    return ids


def evaluate_annotation(gold_paths: Sequence[Path], annotator: Annotator, limit: int | None = None,
                        exclude: Sequence[Path] = (), type_map: dict | None = None,
                        progress=None) -> AnnotationEvaluation:
    type_map = type_map or DEFAULT_TYPE_MAP
    skip = excluded_ids(exclude)
    result = AnnotationEvaluation(annotator.qa.name)
    started = time.perf_counter()
    for gold_path in map(Path, gold_paths):
        gold_docs = read_gold(gold_path)
        kept = [g for g in gold_docs if g.document.id not in skip]
        result.excluded += len(gold_docs) - len(kept)
        kept = kept[:limit] if limit else kept
        predicted = _annotate(annotator, kept, f"annotating {gold_path.name}", progress)
        scores = score_annotations(kept, predicted, type_map)
        for row in scores_table(scores):
            row = {"gold": gold_path.name, **row}
            (result.link_rows if row.get("kind") == "linking" else result.span_rows).append(row)
        agreement = assertion_agreement(kept, predicted)
        if agreement:
            result.assertion.append({"gold": gold_path.name, **agreement})
        result.documents += len(kept)
    result.seconds = round(time.perf_counter() - started, 1)
    return result


def _annotate(annotator: Annotator, gold_docs: list[GoldDocument], name: str, progress) -> dict:
    advance = progress(name, len(gold_docs)) if progress else None
    predicted = {}
    for gold in gold_docs:
        predicted[gold.document.id] = annotator.annotate(gold.document)
        if advance:
            advance(1)
    return predicted
