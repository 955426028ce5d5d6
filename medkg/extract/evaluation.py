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
from medkg.extract.gold_corpora import is_dev_document
from medkg.extract.records import GoldDocument
from medkg.extract.schema import COMBINE_MODES
from medkg.extract.scoring import assertion_agreement, score_annotations, scores_table

DEFAULT_TYPE_MAP = {
    "CLINENTITY": {"problem", "sign_symptom"},
    "DIAGNOSTICO": {"problem", "sign_symptom"},
    "PROCEDIMIENTO": {"procedure", "test"},          # CodiEsp, MedProcNER
    "ENFERMEDAD": {"problem"},                       # DisTEMIST
    "SINTOMA": {"sign_symptom"},                     # SympTEMIST
    "NORMALIZABLES": {"medication"},                 # PharmaCoNER (PROTEINAS and UNCLEAR are not scored)
    "NO_NORMALIZABLES": {"medication"},
    "MORFOLOGIA_NEOPLASIA": {"problem"},             # CANTEMIST
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
                        exclude: Sequence[Path] = (), type_map: dict | None = None, progress=None,
                        combine: Sequence[str] = ("schema",), split: str = "all") -> AnnotationEvaluation:
    """Scores per gold set, language and type. `combine` lists the combination rules to score ("schema": each
    type's own; or qa, dictionary, union, confirm for every type): the QA pass runs once per document and
    every rule picks from the same candidates, so the sources are compared on equal terms. `split`: all, or the
    fixed train / dev part of each gold set (`gold_corpora.is_dev_document`)."""
    type_map = type_map or DEFAULT_TYPE_MAP
    if split not in ("all", "train", "dev"):
        raise MedkgError(f"split must be all, train or dev, not {split!r}")
    unknown = [c for c in combine if c != "schema" and c not in COMBINE_MODES]
    if unknown:
        raise MedkgError(f"unknown combination rule(s) {', '.join(unknown)} (use schema, {', '.join(COMBINE_MODES)})")
    skip = excluded_ids(exclude)
    result = AnnotationEvaluation(annotator.qa.name)
    started = time.perf_counter()
    for gold_path in map(Path, gold_paths):
        gold_docs = read_gold(gold_path)
        kept = [g for g in gold_docs if g.document.id not in skip
                and (split == "all" or is_dev_document(g.document.id) == (split == "dev"))]
        result.excluded += len(gold_docs) - len(kept)
        kept = kept[:limit] if limit else kept
        predicted_by_rule = _annotate(annotator, kept, f"annotating {gold_path.name}", progress, combine)
        for rule, predicted in predicted_by_rule.items():
            scores = score_annotations(kept, predicted, type_map)
            for row in scores_table(scores):
                row = {"gold": gold_path.name, "combine": rule, **row}
                (result.link_rows if row.get("kind") == "linking" else result.span_rows).append(row)
            agreement = assertion_agreement(kept, predicted)
            if agreement:
                result.assertion.append({"gold": gold_path.name, "combine": rule, **agreement})
        result.documents += len(kept)
    result.seconds = round(time.perf_counter() - started, 1)
    return result


def _annotate(annotator: Annotator, gold_docs: list[GoldDocument], name: str, progress,
              combine: Sequence[str]) -> dict[str, dict]:
    advance = progress(name, len(gold_docs)) if progress else None
    predicted: dict[str, dict] = {rule: {} for rule in combine}
    for gold in gold_docs:
        candidates = annotator.candidates(gold.document)
        for rule in combine:
            predicted[rule][gold.document.id] = (annotator.finish(candidates, None if rule == "schema" else rule)
                                                 if candidates is not None else [])
        if advance:
            advance(1)
    return predicted
