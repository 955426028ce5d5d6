"""Scoring predicted annotations against gold mentions: span P/R/F1 (strict and relaxed), linking accuracy,
and negation agreement.

Conventions (`score_annotations`):

- Types. `type_map` maps each gold type to the predicted types that count for it
  (``{"CLINENTITY": {"problem", "sign_symptom"}, …}``). Gold mentions of a type that is not in `type_map`
  are not scored (counted in `AnnotationScores.unscored_gold`). A prediction whose type maps to no gold
  type present in the gold documents (e.g. a medication when the gold has only diagnoses) is ignored: it is
  not a false positive (counted in `AnnotationScores.ignored_predictions`). Predictions for document ids
  that are not in the gold are ignored too; gold documents with no predictions count all their mentions as
  false negatives.
- Strict match: same start and end, compatible type. A discontinuous gold mention (several spans, as in
  CodiEsp) can never match strictly — a predicted span is contiguous — so it is a strict false negative;
  it can match relaxed. (E3C's discontinuous entities are one covering span in the file and score like
  any other.)
- Relaxed match: at least one character of overlap with one of the gold mention's spans (not with the gap
  between them), compatible type.
- Matching is one-to-one in each document: each gold mention and each prediction is used at most once,
  chosen greedily by overlap size (ties: closer boundaries, then a prediction with a link to one of the gold
  codes, then text order). A second prediction over an already matched gold mention is a false positive.
- Rows are keyed ``(lang, gold_type)``, with ``(lang, "all")``, ``("all", gold_type)`` and
  ``("all", "all")`` totals. An unmatched prediction is a false positive of every gold type its type maps
  to (within the gold present), and once in the ``"all"`` rows.
- Linking is scored on the relaxed matches (which include the exact ones) of gold mentions with codes: a
  match is correct @1 if the prediction's first `ConceptLink` has an xref equal to one of the gold codes,
  @k if any of its first k links does. Xrefs are normalised (`normalize_xref`) before comparing. The
  category-level variant compares ICD codes at the category (the code up to the dot: ``ICD10CM:R50.9`` →
  ``R50``), and takes WHO ICD-10 (``ICD10:``) and ICD-10-CM (``ICD10CM:``) categories as the same; other
  codes (UMLS CUIs, ICD-10-PCS) compare exactly at both levels. Accuracy is given over the matched coded
  mentions and over all coded mentions (end to end: an unmatched mention counts as wrong).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from medkg.errors import MedkgError
from medkg.extract.records import Annotation, GoldDocument, GoldMention
from medkg.kg.namespaces import normalize_xref

ALL = "all"
_ICD_FAMILIES = {"ICD10CM": "ICD10", "ICD10": "ICD10", "ICD9CM": "ICD9", "ICD9": "ICD9"}


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


@dataclass
class SpanScores:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class LinkScores:
    """Linking of the gold mentions that have codes. `correct_*` compare codes as `code_match` says;
    `category_*` always at the ICD category level (see the module docstring)."""

    k: int = 5
    coded: int = 0          # gold mentions with at least one code
    matched: int = 0        # … of which a prediction matched
    correct_at1: int = 0
    correct_atk: int = 0
    category_at1: int = 0
    category_atk: int = 0

    @property
    def accuracy_at1(self) -> float:
        """Over the matched coded mentions."""
        return _ratio(self.correct_at1, self.matched)

    @property
    def accuracy_atk(self) -> float:
        return _ratio(self.correct_atk, self.matched)

    @property
    def accuracy_at1_all(self) -> float:
        """Over all coded mentions: an unmatched one counts as wrong."""
        return _ratio(self.correct_at1, self.coded)

    @property
    def accuracy_atk_all(self) -> float:
        return _ratio(self.correct_atk, self.coded)

    @property
    def category_accuracy_at1(self) -> float:
        return _ratio(self.category_at1, self.matched)

    @property
    def category_accuracy_atk(self) -> float:
        return _ratio(self.category_atk, self.matched)


@dataclass
class AnnotationScores:
    strict: dict[tuple[str, str], SpanScores] = field(default_factory=dict)
    relaxed: dict[tuple[str, str], SpanScores] = field(default_factory=dict)
    linking: dict[tuple[str, str], LinkScores] = field(default_factory=dict)
    documents: int = 0
    ignored_predictions: int = 0                            # types that map to no gold type present
    unscored_gold: dict[str, int] = field(default_factory=dict)  # gold type -> mentions (type not in type_map)
    code_match: str = "exact"


def score_annotations(gold: Sequence[GoldDocument], predicted: Mapping[str, Sequence[Annotation]],
                      type_map: Mapping[str, Collection[str]], code_match: str = "exact",
                      k: int = 5) -> AnnotationScores:
    """Span scores (strict and relaxed) and linking accuracy per (language, gold type); see the module
    docstring for the matching rules. Predictions whose type maps to no gold type are ignored, not counted
    as false positives. `code_match` is ``"exact"`` or ``"category"`` (what `LinkScores.correct_*` use);
    `k` is the depth of the @k linking accuracy."""
    if code_match not in ("exact", "category"):
        raise MedkgError(f"code_match must be 'exact' or 'category', not {code_match!r}")
    if k < 1:
        raise MedkgError(f"k must be at least 1, not {k}")
    present = {m.type for g in gold for m in g.mentions}
    scored_types = {t for t in present if t in type_map}
    if present and not scored_types:
        raise MedkgError(f"type_map maps none of the gold types ({', '.join(sorted(present))})")
    # predicted type -> the scored gold types it counts for
    targets: dict[str, set[str]] = {}
    for gold_type in scored_types:
        for predicted_type in type_map[gold_type]:
            targets.setdefault(predicted_type, set()).add(gold_type)

    scores = AnnotationScores(documents=len(gold), code_match=code_match)
    scores.strict[(ALL, ALL)], scores.relaxed[(ALL, ALL)] = SpanScores(), SpanScores()
    unscored: Counter[str] = Counter()
    for gold_doc in gold:
        lang = gold_doc.document.lang or "und"
        mentions = [m for m in gold_doc.mentions if m.type in scored_types]
        unscored.update(m.type for m in gold_doc.mentions if m.type not in scored_types)
        predictions = []
        for annotation in predicted.get(gold_doc.document.id, ()):
            if targets.get(annotation.type):
                predictions.append(annotation)
            else:
                scores.ignored_predictions += 1
        for gold_type in {m.type for m in mentions}:
            for key in _keys(lang, gold_type):
                scores.strict.setdefault(key, SpanScores())
                scores.relaxed.setdefault(key, SpanScores())

        for table, strict in ((scores.strict, True), (scores.relaxed, False)):
            pairs = _match(mentions, predictions, type_map, strict)
            matched_gold = {g for g, _ in pairs}
            matched_pred = {p for _, p in pairs}
            for g in range(len(mentions)):
                for key in _keys(lang, mentions[g].type):
                    row = table.setdefault(key, SpanScores())
                    if g in matched_gold:
                        row.tp += 1
                    else:
                        row.fn += 1
            for p, annotation in enumerate(predictions):
                if p in matched_pred:
                    continue
                for gold_type in targets[annotation.type]:
                    for key in ((lang, gold_type), (ALL, gold_type)):
                        table.setdefault(key, SpanScores()).fp += 1
                for key in ((lang, ALL), (ALL, ALL)):
                    table.setdefault(key, SpanScores()).fp += 1
            if not strict:
                _score_links(scores.linking, lang, mentions, predictions, pairs, code_match, k)
    scores.unscored_gold = dict(unscored)
    return scores


def _keys(lang: str, gold_type: str) -> tuple[tuple[str, str], ...]:
    return ((lang, gold_type), (lang, ALL), (ALL, gold_type), (ALL, ALL))


def _overlap(mention: GoldMention, annotation: Annotation) -> int:
    return sum(max(0, min(e, annotation.end) - max(s, annotation.start)) for s, e in mention.spans)


def _match(mentions: Sequence[GoldMention], predictions: Sequence[Annotation],
           type_map: Mapping[str, Collection[str]], strict: bool) -> list[tuple[int, int]]:
    """One-to-one (gold index, prediction index) pairs, greedy by overlap size."""
    candidates = []
    for g, mention in enumerate(mentions):
        allowed = type_map.get(mention.type, ())
        for p, annotation in enumerate(predictions):
            if annotation.type not in allowed:
                continue
            if strict and (len(mention.spans) != 1
                           or (mention.start, mention.end) != (annotation.start, annotation.end)):
                continue
            overlap = _overlap(mention, annotation)
            if overlap <= 0:
                continue
            distance = abs(mention.start - annotation.start) + abs(mention.end - annotation.end)
            agrees = bool(mention.codes) and _link_hits(annotation, mention.codes, len(annotation.links), True)[1]
            candidates.append((-overlap, distance, not agrees, g, p))
    candidates.sort()
    used_gold: set[int] = set()
    used_pred: set[int] = set()
    pairs = []
    for *_, g, p in candidates:
        if g in used_gold or p in used_pred:
            continue
        used_gold.add(g)
        used_pred.add(p)
        pairs.append((g, p))
    return pairs


def _code_key(code: str, category: bool) -> str:
    prefix, _, local = code.partition(":")
    family = _ICD_FAMILIES.get(prefix)
    if family is None:
        return code
    local = local.upper()
    if not category:
        return f"{prefix}:{local}"
    return f"{family}:{local.split('.', 1)[0]}"


def _codes(codes: Iterable[str], category: bool) -> set[str]:
    keys = set()
    for code in codes:
        normalised = normalize_xref(code)
        if normalised:
            keys.add(_code_key(normalised, category))
    return keys


def _link_hits(annotation: Annotation, gold_codes: Sequence[str], k: int, category: bool) -> tuple[bool, bool]:
    wanted = _codes(gold_codes, category)
    hits = [bool(_codes(link.xrefs, category) & wanted) for link in annotation.links[:k]]
    return (bool(hits) and hits[0], any(hits))


def _score_links(table: dict[tuple[str, str], LinkScores], lang: str, mentions: Sequence[GoldMention],
                 predictions: Sequence[Annotation], pairs: list[tuple[int, int]], code_match: str,
                 k: int) -> None:
    partner = dict(pairs)
    for g, mention in enumerate(mentions):
        if not mention.codes:
            continue
        rows = [table.setdefault(key, LinkScores(k=k)) for key in _keys(lang, mention.type)]
        p = partner.get(g)
        if p is None:
            for row in rows:
                row.coded += 1
            continue
        exact1, exactk = _link_hits(predictions[p], mention.codes, k, category=False)
        cat1, catk = _link_hits(predictions[p], mention.codes, k, category=True)
        at1, atk = (cat1, catk) if code_match == "category" else (exact1, exactk)
        for row in rows:
            row.coded += 1
            row.matched += 1
            row.correct_at1 += at1
            row.correct_atk += atk
            row.category_at1 += cat1
            row.category_atk += catk


def assertion_agreement(gold: Sequence[GoldDocument], predicted: Mapping[str, Sequence[Annotation]],
                        types: Collection[str] | None = None) -> dict:
    """Negation agreement on E3C: the CLINENTITY mentions with a ``polarity`` attribute (copied from their
    EVENT, see `read_e3c_xmi`) that a prediction matches strictly (same start and end; of one of `types`
    if given, of any type otherwise). Gold ``polarity == "NEG"`` against a prediction with ``"negated"``
    among its assertion modifiers (or as its status): a confusion matrix with NEG as the positive class.
    Returns a flat dict (``{}`` when no gold mention has a polarity)::

        {"mentions", "matched", "gold_neg", "tp", "fp", "fn", "tn", "precision", "recall", "f1", "accuracy"}
    """
    counts: Counter[str] = Counter()
    for gold_doc in gold:
        with_polarity = [m for m in gold_doc.mentions if m.type == "CLINENTITY" and m.attributes.get("polarity")]
        if not with_polarity:
            continue
        by_span: dict[tuple[int, int], list[Annotation]] = {}
        for annotation in predicted.get(gold_doc.document.id, ()):
            if types is None or annotation.type in types:
                by_span.setdefault((annotation.start, annotation.end), []).append(annotation)
        for mention in with_polarity:
            counts["mentions"] += 1
            gold_neg = mention.attributes["polarity"].upper() == "NEG"
            counts["gold_neg"] += gold_neg
            candidates = by_span.get((mention.start, mention.end)) if len(mention.spans) == 1 else None
            if not candidates:
                continue
            counts["matched"] += 1
            pred_neg = any("negated" in a.assertion.modifiers or a.assertion.status == "negated"
                           for a in candidates)
            counts[{(True, True): "tp", (False, True): "fp", (True, False): "fn", (False, False): "tn"}[
                (gold_neg, pred_neg)]] += 1
    if not counts["mentions"]:
        return {}
    tp, fp, fn, tn = counts["tp"], counts["fp"], counts["fn"], counts["tn"]
    span = SpanScores(tp, fp, fn)
    return {"mentions": counts["mentions"], "matched": counts["matched"], "gold_neg": counts["gold_neg"],
            "tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": round(span.precision, 4),
            "recall": round(span.recall, 4), "f1": round(span.f1, 4),
            "accuracy": round(_ratio(tp + tn, counts["matched"]), 4)}


def _row_order(key: tuple[str, str]) -> tuple:
    lang, gold_type = key
    return (lang == ALL, lang, gold_type == ALL, gold_type)


def scores_table(scores: AnnotationScores) -> list[dict]:
    """Flat rows for a table or JSON: span rows ``{"kind": "span", "lang", "type", "match": "strict" |
    "relaxed", "tp", "fp", "fn", "precision", "recall", "f1"}``, then linking rows ``{"kind": "linking",
    "lang", "type", "match": "relaxed", "k", "coded", "matched", "acc1", "acck", "acc1_all", "acck_all",
    "cat_acc1", "cat_acck", "cat_acc1_all", "cat_acck_all"}`` (accuracies over matched coded mentions, and
    ``_all`` over all coded ones). Rows per language come first, ``"all"`` totals last; floats rounded to 4
    places."""
    rows: list[dict] = []
    for key in sorted(set(scores.strict) | set(scores.relaxed), key=_row_order):
        for match, table in (("strict", scores.strict), ("relaxed", scores.relaxed)):
            s = table.get(key, SpanScores())
            rows.append({"kind": "span", "lang": key[0], "type": key[1], "match": match, "tp": s.tp, "fp": s.fp,
                         "fn": s.fn, "precision": round(s.precision, 4), "recall": round(s.recall, 4),
                         "f1": round(s.f1, 4)})
    for key in sorted(scores.linking, key=_row_order):
        link = scores.linking[key]
        rows.append({"kind": "linking", "lang": key[0], "type": key[1], "match": "relaxed", "k": link.k,
                     "coded": link.coded, "matched": link.matched,
                     "acc1": round(link.accuracy_at1, 4), "acck": round(link.accuracy_atk, 4),
                     "acc1_all": round(link.accuracy_at1_all, 4), "acck_all": round(link.accuracy_atk_all, 4),
                     "cat_acc1": round(link.category_accuracy_at1, 4),
                     "cat_acck": round(link.category_accuracy_atk, 4),
                     "cat_acc1_all": round(_ratio(link.category_at1, link.coded), 4),
                     "cat_acck_all": round(_ratio(link.category_atk, link.coded), 4)})
    return rows
