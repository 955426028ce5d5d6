"""Replace a QA adapter only with a better one: both are scored on the same dev files, in the same run.

A long CPU run is interrupted and resumed, tried with other data, tried again; what ships (or what a user's
workspace serves as its default) must never get worse by accident. `promote` scores the current adapter and
the candidate on held-out SQuAD-format dev files (mean F1 over the files, each file counting once) and copies
the candidate's adapter, record and card over the current one only when its mean is higher. The promoted
record keeps the decision (each dev file's F1 before and after) and the replaced adapter's evaluation F1, so
its model card shows what it replaced and by how much.

    decision = promote(Path("runs/clinical-qa"), SHIPPED_ADAPTER, [Path("distemist.dev.json")], home=home)
    print(decision.promoted, decision.candidate_f1, decision.current_f1)
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from medkg.errors import MedkgError
from medkg.models.qa import TRAINING_RECORD, ExtractiveQA, read_training_record
from medkg.train.qa_eval import QAScores, evaluate_qa

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", TRAINING_RECORD, "README.md")


@dataclass
class Promotion:
    promoted: bool
    current_f1: float
    candidate_f1: float
    current: list[QAScores] = field(default_factory=list)
    candidate: list[QAScores] = field(default_factory=list)


def _mean_f1(scores: Sequence[QAScores]) -> float:
    return round(sum(s.f1 for s in scores) / max(len(scores), 1), 2)


def promote(candidate: Path, current: Path, dev_files: Sequence[Path], home: Path | None = None,
            device: str | None = "cpu", dry_run: bool = False, progress=None, command: str = "") -> Promotion:
    candidate, current = Path(candidate), Path(current)
    for folder in (candidate, current):
        missing = [name for name in ADAPTER_FILES[:2] if not (folder / name).exists()]
        if missing:
            raise MedkgError(f"not a LoRA adapter folder (no {', '.join(missing)})", path=folder)
    if not dev_files:
        raise MedkgError("promotion needs at least one dev file")
    scores = {}
    for name, folder in (("current", current), ("candidate", candidate)):
        qa = ExtractiveQA.load(str(folder), home=home, device=device, precision="fp32")
        scores[name] = evaluate_qa(qa, list(dev_files), progress=progress)
    decision = Promotion(_mean_f1(scores["candidate"]) > _mean_f1(scores["current"]), _mean_f1(scores["current"]),
                         _mean_f1(scores["candidate"]), scores["current"], scores["candidate"])
    if decision.promoted and not dry_run:
        replaced = _evaluation_f1(current)
        for name in ADAPTER_FILES:
            if (candidate / name).exists():
                shutil.copy2(candidate / name, current / name)
        _record_promotion(current, decision, replaced, command)
    return decision


def _evaluation_f1(folder: Path) -> dict[str, float]:
    """F1 per evaluation file (`medkg eval qa --update-card`) of the adapter in `folder`, if it has any."""
    if not (folder / TRAINING_RECORD).exists():
        return {}
    evaluation = read_training_record(folder).get("evaluation") or {}
    return {r["file"]: r["f1"] for r in evaluation.get("results", [])}


def _record_promotion(folder: Path, decision: Promotion, replaced_f1: dict[str, float], command: str) -> None:
    from medkg.train.model_card import rewrite_card

    if not (folder / TRAINING_RECORD).exists():
        return
    record = read_training_record(folder)
    record["promotion"] = {
        "command": command or "medkg train promote", "previous_mean_f1": decision.current_f1,
        "mean_f1": decision.candidate_f1,
        "dev": [{"file": before.file, "lang": before.lang, "questions": before.questions,
                 "previous_f1": round(before.f1, 1), "f1": round(after.f1, 1)}
                for before, after in zip(decision.current, decision.candidate)]}
    if replaced_f1:
        record["previous_evaluation"] = replaced_f1
    (folder / TRAINING_RECORD).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    rewrite_card(folder, record)
