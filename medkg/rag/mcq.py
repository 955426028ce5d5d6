"""Multiple-choice medical QA items: MedQA-USMLE, MedMCQA and HEAD-QA, from local files or the Hugging Face hub.

One function per source schema (`_from_medqa`, `_from_medmcqa`, `_from_headqa`) turns one raw record into an
`MCQItem`; the local readers and the Hugging Face loader both call these, so the field logic exists once.

Schemas (as found in ../shared/data/mcqa):

- MedQA jsonl: ``{question, options: {"A": ..., ...}, answer_idx, answer, meta_info[, metamap_phrases]}``,
  no ids (the item id is ``<dataset>:<line>``). ``meta_info`` (step1 / step2&3) becomes ``subject``.
- MedMCQA jsonl: ``{id, question, opa..opd, cop, exp, subject_name, topic_name, choice_type}``. In the
  upstream GitHub files ``cop`` is **1-based** (1 = opa); on the Hugging Face hub it is a 0-based class label.
- HEAD-QA json: ``{version, language, exams: {name: {name, category, year, data: [{qid, qtext, ra, image,
  answers: [{aid, atext}]}]}}}``; ``ra`` is the aid of the right answer (a string, while aids are ints).
  The item id is ``<exam>:<qid>``, identical in the Spanish and English files.
- medkg's own jsonl (what `medkg translate` writes, `write_mcq` below): one `MCQItem` per row,
  ``{id, lang, dataset, question, options: {"A": ...}, answer: "A", subject, explanation, metadata}``.
"""
from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medkg.errors import MedkgError
from medkg.kg.readers.jsonl import iter_jsonl

LABELS = "ABCDEFGHIJ"
MEDMCQA_OPTION_FIELDS = ("opa", "opb", "opc", "opd")


@dataclass(frozen=True)
class MCQItem:
    id: str
    lang: str
    question: str
    options: tuple[tuple[str, str], ...]  # (label, text), labels "A", "B", ... in order
    answer: str  # the correct label
    dataset: str  # "medqa-us-4", "medqa-us-5", "medmcqa-dev", "headqa-es-dev", ...
    subject: str | None = None
    explanation: str | None = None
    metadata: dict = field(default_factory=dict)

    @property
    def answer_text(self) -> str:
        return dict(self.options)[self.answer]


class _BadRecord(Exception):
    """A record that does not fit its schema; the caller adds the file and line."""


# ---------------------------------------------------------------- one mapping per schema (local and HF share them)

def _text(value: Any, what: str) -> str:
    if value is None or isinstance(value, (dict, list, bool)):
        raise _BadRecord(f"{what} is missing or not text ({value!r})")
    text = str(value).strip()
    if not text:
        raise _BadRecord(f"{what} is empty")
    return text


def _field(row: dict, key: str) -> Any:
    if key not in row:
        raise _BadRecord(f"missing field {key!r}")
    return row[key]


def _rest(row: dict, used: Iterable[str]) -> dict:
    """The fields not mapped elsewhere, without empty ones (metadata)."""
    used = set(used)
    return {k: v for k, v in row.items() if k not in used and v not in (None, "", [], {})}


def _labelled(texts: Sequence[str]) -> tuple[tuple[str, str], ...]:
    if not 2 <= len(texts) <= len(LABELS):
        raise _BadRecord(f"{len(texts)} options; expected 2 to {len(LABELS)}")
    return tuple((LABELS[i], _text(t, f"option {LABELS[i]}")) for i, t in enumerate(texts))


def _from_medqa(row: dict, *, index: int, dataset: str, lang: str) -> MCQItem:
    raw = _field(row, "options")
    if isinstance(raw, list):  # bigbio/med_qa style: [{"key": "A", "value": ...}, ...]
        try:
            raw = {o["key"]: o["value"] for o in raw}
        except (TypeError, KeyError):
            raise _BadRecord("options is a list but not of {key, value} objects") from None
    if not isinstance(raw, dict):
        raise _BadRecord(f"options must be an object of label -> text, not {type(raw).__name__}")
    keys = list(raw)
    if keys != list(LABELS[:len(keys)]):
        raise _BadRecord(f"option labels {keys} are not A, B, C, ... in order")
    options = _labelled([raw[k] for k in keys])
    answer = _text(_field(row, "answer_idx"), "answer_idx")
    if answer not in dict(options):
        raise _BadRecord(f"answer_idx {answer!r} is not one of the options {keys}")
    metadata = _rest(row, ("question", "options", "answer_idx", "answer", "meta_info"))
    stated = row.get("answer")
    if isinstance(stated, str) and stated.strip() != dict(options)[answer]:
        metadata["answer_text_mismatch"] = stated  # never seen in the shared files; kept for translated copies
    meta = row.get("meta_info")
    return MCQItem(id=f"{dataset}:{index}", lang=lang, question=_text(_field(row, "question"), "question"),
                   options=options, answer=answer, dataset=dataset,
                   subject=str(meta) if meta not in (None, "") else None, metadata=metadata)


def _from_medmcqa(row: dict, *, index: int, dataset: str, lang: str, cop_base: int) -> MCQItem:
    options = _labelled([_field(row, k) for k in MEDMCQA_OPTION_FIELDS])
    cop = _field(row, "cop")
    try:
        position = int(cop) - cop_base
    except (TypeError, ValueError):
        raise _BadRecord(f"cop {cop!r} is not an option number") from None
    if isinstance(cop, bool) or not 0 <= position < len(options):
        raise _BadRecord(f"cop {cop!r} is not among the options ({cop_base}..{cop_base + len(options) - 1})")
    explanation = row.get("exp")
    subject = row.get("subject_name")
    return MCQItem(id=str(row.get("id") or f"{dataset}:{index}"), lang=lang,
                   question=_text(_field(row, "question"), "question"), options=options,
                   answer=options[position][0], dataset=dataset,
                   subject=str(subject).strip() or None if subject is not None else None,
                   explanation=str(explanation).strip() or None if explanation is not None else None,
                   metadata=_rest(row, ("id", "question", *MEDMCQA_OPTION_FIELDS, "cop", "exp", "subject_name")))


def _from_headqa(row: dict, *, index: int, dataset: str, lang: str) -> MCQItem:
    """One HEAD-QA question, flattened with its exam's fields (name, category, year), as the HF rows are."""
    answers = _field(row, "answers")
    if isinstance(answers, dict) and "aid" in answers:  # datasets' columnar form of a list of structs
        answers = [{"aid": a, "atext": t} for a, t in zip(answers["aid"], answers.get("atext", []))]
    if not isinstance(answers, list) or not all(isinstance(a, dict) for a in answers):
        raise _BadRecord("answers must be a list of {aid, atext} objects")
    options = _labelled([_field(a, "atext") for a in answers])
    aids = [str(_field(a, "aid")).strip() for a in answers]
    ra = str(_field(row, "ra")).strip()  # "4" in the files while aids are ints
    if ra not in aids:
        raise _BadRecord(f"right answer ra={ra!r} is not one of the answer ids {aids}")
    exam, qid = row.get("name"), row.get("qid")
    category = row.get("category")
    metadata = _rest(row, ("qtext", "answers", "ra", "category"))
    return MCQItem(id=f"{exam}:{qid}" if exam is not None and qid is not None else f"{dataset}:{index}",
                   lang=lang, question=_text(_field(row, "qtext"), "qtext"), options=options,
                   answer=options[aids.index(ra)][0], dataset=dataset,
                   subject=str(category) if category else None, metadata=metadata)


def _from_casimedicos(row: dict, *, index: int, dataset: str, lang: str) -> MCQItem:
    """CasiMedicos-Arg as MCQA: the clinical case and its question together are the question; options are
    numbered "1".."5" (labelled A..E here); the dataset name carries language and split."""
    raw = _field(row, "options")
    if not isinstance(raw, dict) or list(raw) != [str(i) for i in range(1, len(raw) + 1)]:
        raise _BadRecord("options must be an object with keys 1, 2, 3, ... in order")
    options = _labelled(list(raw.values()))
    answer = str(_field(row, "answer")).strip()
    if answer not in raw:
        raise _BadRecord(f"answer {answer!r} is not one of the options {list(raw)}")
    lang = str(row.get("lang") or lang)
    split = str(row.get("split") or "")
    case = str(row.get("clinical_case") or "").strip()
    question = _text(_field(row, "question"), "question")
    return MCQItem(id=_text(row.get("id") or f"{dataset}:{index}", "id"), lang=lang,
                   question=f"{case}\n{question}" if case else question, options=options,
                   answer=options[int(answer) - 1][0], dataset=f"casimedicos-{lang}-{split}" if split else dataset,
                   subject=row.get("question_type") or None, explanation=row.get("explanation") or None,
                   metadata=_rest(row, ("id", "lang", "clinical_case", "question", "options", "answer",
                                        "question_type", "explanation")))


def _from_medkg(row: dict, *, index: int, dataset: str, lang: str) -> MCQItem:
    raw = _field(row, "options")
    if not isinstance(raw, dict) or list(raw) != list(LABELS[:len(raw)]):
        raise _BadRecord("options must be an object with labels A, B, C, ... in order")
    options = _labelled(list(raw.values()))
    answer = _text(_field(row, "answer"), "answer")
    if answer not in raw:
        raise _BadRecord(f"answer {answer!r} is not one of the options {list(raw)}")
    metadata = row.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise _BadRecord("metadata must be an object")
    return MCQItem(id=_text(row.get("id") or f"{dataset}:{index}", "id"), lang=_text(_field(row, "lang"), "lang"),
                   question=_text(_field(row, "question"), "question"), options=options, answer=answer,
                   dataset=str(row.get("dataset") or dataset), subject=row.get("subject") or None,
                   explanation=row.get("explanation") or None, metadata=metadata)


def mcq_row(item: MCQItem) -> dict:
    """The medkg jsonl row of an item (read back by `read_mcq`)."""
    return {"id": item.id, "lang": item.lang, "dataset": item.dataset, "question": item.question,
            "options": dict(item.options), "answer": item.answer, "subject": item.subject,
            "explanation": item.explanation, "metadata": item.metadata}


def write_jsonl(rows: Iterable[dict], path: Path) -> int:
    """Write rows as JSON lines, atomically (a temp file renamed into place); returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(path.name + ".part")
    count = 0
    with staging.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    staging.replace(path)
    return count


def write_mcq(items: Iterable[MCQItem], path: Path) -> int:
    """Write items as medkg jsonl, atomically; returns the count."""
    return write_jsonl((mcq_row(item) for item in items), path)


def _row_schema(row: Any) -> str | None:
    if not isinstance(row, dict):
        return None
    if "clinical_case" in row and "options" in row and "answer" in row:
        return "casimedicos"
    if "options" in row and "lang" in row and "answer" in row and "answer_idx" not in row:
        return "medkg"
    if "opa" in row and "cop" in row:
        return "medmcqa"
    if "options" in row and "answer_idx" in row:
        return "medqa"
    if "qtext" in row and "answers" in row:
        return "headqa"
    return None


def _map(schema: str, row: dict, *, index: int, dataset: str, lang: str, cop_base: int) -> MCQItem:
    if schema == "medmcqa":
        return _from_medmcqa(row, index=index, dataset=dataset, lang=lang, cop_base=cop_base)
    if schema == "medqa":
        return _from_medqa(row, index=index, dataset=dataset, lang=lang)
    if schema == "medkg":
        return _from_medkg(row, index=index, dataset=dataset, lang=lang)
    if schema == "casimedicos":
        return _from_casimedicos(row, index=index, dataset=dataset, lang=lang)
    return _from_headqa(row, index=index, dataset=dataset, lang=lang)


# ---------------------------------------------------------------- local files

def _split_of(path: Path) -> str:
    """train / dev / test / validation from a file name (dev.jsonl, train_HEAD_EN.json, ...)."""
    match = re.match(r"(train|dev|validation|valid|test)", path.stem.lower())
    return match.group(1) if match else path.stem.lower()


def read_mcq(path: Path, dataset: str | None = None, lang: str | None = None,
             limit: int | None = None) -> list[MCQItem]:
    """Read a MedQA / MedMCQA jsonl file or a HEAD-QA json file; the format is detected from the content.

    Dataset names when not given: ``medqa-us-<n options>``, ``medmcqa-<split>``, ``headqa-<lang>-<split>``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MedkgError("no such file", path=path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise MedkgError(f"cannot read as UTF-8 text: {e}", path=path) from None
    if not text.strip():
        raise MedkgError("empty file; expected MedQA/MedMCQA jsonl or HEAD-QA json", path=path)
    try:
        whole = json.loads(text)
    except json.JSONDecodeError as e:
        first = next(line for line in text.splitlines() if line.strip())
        try:
            json.loads(first)
        except json.JSONDecodeError:
            if e.msg != "Extra data":  # one JSON document (e.g. HEAD-QA), broken: say where
                raise MedkgError(f"invalid JSON: {e.msg}", path=path, line=e.lineno, column=e.colno) from None
        whole = None
    if isinstance(whole, dict) and "exams" in whole:
        return _read_headqa(path, whole, dataset, lang, limit)
    if whole is not None and not isinstance(whole, dict):
        raise MedkgError(f"unknown multiple-choice format: a JSON {type(whole).__name__}, expected MedQA/MedMCQA "
                         "jsonl rows or a HEAD-QA object with 'exams'", path=path)
    return _read_jsonl(path, dataset, lang, limit)


def _read_jsonl(path: Path, dataset: str | None, lang: str | None,
                limit: int | None) -> list[MCQItem]:
    items: list[MCQItem] = []
    schema = None
    for number, row in iter_jsonl(path):
        if limit is not None and len(items) >= limit:
            break
        if schema is None:
            schema = _row_schema(row)
            if schema is None or schema == "headqa":
                fields = sorted(row) if isinstance(row, dict) else type(row).__name__
                raise MedkgError(f"unknown multiple-choice format (fields {fields}); expected MedQA "
                                 "(question, options, answer_idx), MedMCQA (question, opa..opd, cop), "
                                 "CasiMedicos (clinical_case, question, options, answer) or "
                                 "medkg (id, lang, question, options, answer)",
                                 path=path, line=number)
            if dataset is None:
                dataset = (f"medqa-us-{len(row['options'])}" if schema == "medqa"
                           else path.stem if schema in ("medkg", "casimedicos") else f"medmcqa-{_split_of(path)}")
        elif _row_schema(row) != schema:
            raise MedkgError(f"row does not have the {schema} fields of the first row", path=path, line=number)
        if schema == "casimedicos" and row.get("answer") is None:
            continue  # CasiMedicos rows whose case lost its answer line upstream: nothing to score them by
        try:
            items.append(_map(schema, row, index=number, dataset=dataset, lang=lang or "en", cop_base=1))
        except _BadRecord as e:
            raise MedkgError(str(e), path=path, line=number) from None
    return items


def _read_headqa(path: Path, doc: dict, dataset: str | None, lang: str | None,
                 limit: int | None) -> list[MCQItem]:
    lang = lang or str(doc.get("language") or "es")
    dataset = dataset or f"headqa-{lang}-{_split_of(path)}"
    exams = doc["exams"]
    if not isinstance(exams, dict):
        raise MedkgError("'exams' must be an object of exam name -> exam", path=path)
    items: list[MCQItem] = []
    for key, exam in exams.items():
        questions = exam.get("data") if isinstance(exam, dict) else None
        if not isinstance(questions, list):
            raise MedkgError(f"exam {key!r} has no 'data' list of questions", path=path)
        for position, question in enumerate(questions, start=1):
            if limit is not None and len(items) >= limit:
                return items
            if not isinstance(question, dict):
                raise MedkgError(f"exam {key!r}, question #{position} is not an object", path=path)
            row = {**question, "name": exam.get("name") or key, "category": exam.get("category"),
                   "year": exam.get("year")}
            try:
                items.append(_from_headqa(row, index=len(items) + 1, dataset=dataset, lang=lang))
            except _BadRecord as e:
                raise MedkgError(f"exam {key!r}, qid {question.get('qid')!r}: {e}", path=path) from None
    return items


# ---------------------------------------------------------------- local path or Hugging Face id

_DEFAULT_SPLITS = {"openlifescienceai/medmcqa": "validation", "medmcqa": "validation"}
_LANGS = ("en", "es", "it", "fr", "de", "pt")


def load_mcq(source: str, split: str | None = None, limit: int | None = None) -> list[MCQItem]:
    """A local file (→ `read_mcq`) or a Hugging Face dataset id, optionally ``id:config`` (``head_qa:es``).

    For a local file whose questions carry their split (CasiMedicos), ``split`` keeps that split.

    Hub rows go through the same per-schema mapping as the local files; MedMCQA's hub ``cop`` is 0-based.
    The default split is ``validation`` for MedMCQA (its test split has no answers) and ``test`` otherwise.
    """
    path = Path(source).expanduser()
    if path.exists():
        if split is None:
            return read_mcq(path, limit=limit)
        items = read_mcq(path)
        if not any("split" in i.metadata for i in items):
            raise MedkgError(f"--split {split}: this file's questions carry no split (only CasiMedicos files and "
                             "Hugging Face datasets have several)", path=path)
        chosen = [i for i in items if i.metadata.get("split") == split]
        if not chosen:
            found = sorted({str(i.metadata.get("split")) for i in items})
            raise MedkgError(f"no questions of split {split!r} (the file has {', '.join(found)})", path=path)
        return chosen[:limit] if limit is not None else chosen
    if path.suffix.lower() in (".json", ".jsonl"):
        raise MedkgError("no such file", path=source)
    try:
        import datasets  # lazy: an optional dependency
    except ImportError:
        raise MedkgError(f"{source!r} is not a local file; loading it from the Hugging Face hub needs the "
                         "datasets package: pip install datasets") from None
    name, _, config = source.partition(":")
    split = split or _DEFAULT_SPLITS.get(name, "test")
    try:
        rows = datasets.load_dataset(name, config or None, split=split)
    except Exception as e:  # noqa: BLE001  (network, unknown id, unknown split: all user-facing)
        raise MedkgError(f"cannot load {source!r} (split {split!r}) from the Hugging Face hub: {e}") from None
    suffix = re.search(r"[-_:](" + "|".join(_LANGS) + r")$", source)
    lang = suffix.group(1) if suffix else "en"
    dataset = f"{source}/{split}"
    items: list[MCQItem] = []
    schema = None
    for index, row in enumerate(rows):
        if limit is not None and len(items) >= limit:
            break
        schema = schema or _row_schema(row)
        if schema is None:
            raise MedkgError(f"{source!r}: unknown multiple-choice schema (fields {sorted(row)})")
        try:
            items.append(_map(schema, dict(row), index=index, dataset=dataset, lang=lang, cop_base=0))
        except _BadRecord as e:
            raise MedkgError(f"{source!r} {split} row {index}: {e}") from None
    return items


def sample_items(items: Sequence[MCQItem], n: int, seed: int = 13) -> list[MCQItem]:
    """A reproducible sample of n items (all of them when n >= len), in their original order."""
    if n < 0:
        raise MedkgError(f"sample size must be >= 0, not {n}")
    if n >= len(items):
        return list(items)
    chosen = sorted(random.Random(seed).sample(range(len(items)), n))
    return [items[i] for i in chosen]


def part_items(items: Sequence[MCQItem], part: str) -> list[MCQItem]:
    """Part K of N ("1/2") of the items, by a hash of each id: the parts never overlap, together they are every
    item, and an item stays in its part whatever the file's order or the other items (train on ``1/2``,
    evaluate on ``2/2``)."""
    try:
        k, n = (int(x) for x in part.split("/"))
    except ValueError:
        raise MedkgError(f"--part {part!r}: write K/N, e.g. 1/2") from None
    if not 1 <= k <= n:
        raise MedkgError(f"--part {part!r}: K must be between 1 and N")
    return [i for i in items if int(hashlib.sha1(i.id.encode("utf-8")).hexdigest(), 16) % n == k - 1]
