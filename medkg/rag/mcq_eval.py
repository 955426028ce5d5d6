"""Multiple-choice evaluation: accuracy per dataset, language and subject, with 95% confidence intervals.

Modes:
- retrieval: no language model. Each option is scored by the passages that support it and the graph paths
  that join it to the question (`medkg.rag.mcq_retrieval`). Printed beside chance (the mean of 1 / number of
  options), the floor for a method with no model.
- zero-shot, rag (zero-shot with retrieved evidence) and few-shot (verified traces as demonstrations): a
  generator answers (`medkg.rag.mcq_answer`); rag and few-shot are printed beside zero-shot, their baseline.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Sequence

from medkg.errors import MedkgError
from medkg.rag.mcq import MCQItem

MODES = ("retrieval", "zero-shot", "rag", "few-shot")


@dataclass(frozen=True)
class MCQPrediction:
    item_id: str
    predicted: str | None
    correct: bool
    scores: dict[str, float] = field(default_factory=dict)   # option label → score
    evidence: dict[str, list[str]] = field(default_factory=dict)  # option label → passage IRIs used
    paths: dict[str, list[list[str]]] = field(default_factory=dict)  # option label → graph paths (node IRIs)


@dataclass(frozen=True)
class AccuracyRow:
    dataset: str
    lang: str
    subject: str            # "all" for the overall rows
    questions: int
    correct: int
    accuracy: float
    ci_low: float
    ci_high: float
    chance: float


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (sound at small n and near 0 or 1, unlike the normal one)."""
    if n == 0:
        return 0.0, 0.0
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def accuracy_rows(items: Sequence[MCQItem], predictions: Sequence[MCQPrediction]) -> list[AccuracyRow]:
    """Rows per (dataset, language) overall and per subject, each with its Wilson interval and chance level."""
    if len(items) != len(predictions):
        raise MedkgError("items and predictions must pair up one to one")
    groups: dict[tuple[str, str, str], list[tuple[MCQItem, MCQPrediction]]] = defaultdict(list)
    for item, prediction in zip(items, predictions):
        groups[(item.dataset, item.lang, "all")].append((item, prediction))
        if item.subject:
            groups[(item.dataset, item.lang, item.subject)].append((item, prediction))
    rows = []
    for (dataset, lang, subject), pairs in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1], g[0][2] != "all",
                                                                                  g[0][2])):
        n = len(pairs)
        correct = sum(p.correct for _, p in pairs)
        low, high = wilson_interval(correct, n)
        chance = sum(1 / len(i.options) for i, _ in pairs) / n
        rows.append(AccuracyRow(dataset, lang, subject, n, correct, round(correct / n, 4), round(low, 4),
                                round(high, 4), round(chance, 4)))
    return rows


def letter_counts(letters) -> dict[str, int]:
    """How often each option letter occurs (no answer counted as "none"), in letter order: the position bias of
    a model's answers beside the gold letters'."""
    counts = Counter(letter or "none" for letter in letters)
    return {k: counts[k] for k in sorted(counts, key=lambda k: (k == "none", k))}
