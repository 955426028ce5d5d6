"""Replace a QA adapter only with a better one: both are scored on the same dev files, in the same run.

A long CPU run is interrupted and resumed, tried with other data, tried again; what ships (or what a user's
workspace serves as its default) must never get worse by accident. `promote` scores the current adapter and
the candidate on held-out SQuAD-format dev files (mean F1 over the files, each file counting once) and copies
the candidate's adapter, record and card over the current one only when its mean is higher.

    decision = promote(Path("runs/clinical-qa"), SHIPPED_ADAPTER, [Path("distemist.dev.json")], home=home)
    print(decision.promoted, decision.candidate_f1, decision.current_f1)
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from medkg.errors import MedkgError
from medkg.models.qa import TRAINING_RECORD, ExtractiveQA
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
            device: str | None = "cpu", dry_run: bool = False, progress=None) -> Promotion:
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
        for name in ADAPTER_FILES:
            if (candidate / name).exists():
                shutil.copy2(candidate / name, current / name)
    return decision
