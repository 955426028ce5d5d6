"""SQuAD-format reader (v1.1 and v2.0, plain or gzipped JSON) for training and evaluating the QA model.

XQuAD, SQuAD-it, SQuAD-es, MLQA and SQuAD 2.0 all use this layout. Answer offsets are checked against the
context: a wrong `answer_start` whose text occurs once elsewhere in the context is moved there (SQuAD-it
has 39 of these), one that cannot be placed is dropped and counted — never silently trained on.
"""
from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

from medkg.errors import MedkgError


@dataclass(frozen=True)
class Answer:
    text: str
    start: int  # character offset into the context

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass(frozen=True)
class QAExample:
    id: str
    question: str
    context: str
    answers: tuple[Answer, ...]  # empty = not answerable from this context (SQuAD 2.0)
    title: str = ""
    paragraph: int = 0           # index of the paragraph within the file, to keep paragraphs together
    source: str = ""


@dataclass
class SquadFile:
    path: Path
    version: str
    examples: list[QAExample]
    repaired: int = 0
    dropped: list[str] = field(default_factory=list)  # ids whose answers could not be placed
    licence: str = ""  # a top-level "licence" the file states (medkg's squad-from-gold writes one when told)
    language: str = ""  # a top-level "language" of the contexts (squad-from-gold writes it)


def _open_json(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as exc:
        raise MedkgError(f"cannot read SQuAD file: {exc.strerror or exc}", path=path) from None
    except json.JSONDecodeError as exc:
        raise MedkgError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno, column=exc.colno) from None


def _place(answer: dict, context: str) -> Answer | None:
    text, start = answer.get("text", ""), answer.get("answer_start", -1)
    if not isinstance(text, str) or not text or not isinstance(start, int):
        return None
    if context[start:start + len(text)] == text:
        return Answer(text, start)
    if context.count(text) == 1:
        return Answer(text, context.index(text))
    return None


def read_squad(path: Path | str) -> SquadFile:
    path = Path(path)
    data = _open_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise MedkgError('not a SQuAD file: expected {"data": [{"title", "paragraphs": [...]}]}', path=path)
    result = SquadFile(path, str(data.get("version", "")), [],
                       licence=str(data.get("licence") or data.get("license") or ""),
                       language=str(data.get("language") or ""))
    paragraph_index = 0
    for article_no, article in enumerate(data["data"]):
        if not isinstance(article, dict):
            raise MedkgError(f"article {article_no} is not an object with 'paragraphs'", path=path)
        paragraphs = article.get("paragraphs", [])
        # CPGQA writes each article's one paragraph as an object rather than a list of one.
        for paragraph in [paragraphs] if isinstance(paragraphs, dict) else paragraphs:
            if not isinstance(paragraph, dict):
                raise MedkgError(f"article {article_no} ({article.get('title', '?')}): a paragraph is not an "
                                 "object with 'context' and 'qas'", path=path)
            context = paragraph.get("context")
            if not isinstance(context, str):
                raise MedkgError(f"article {article_no} ({article.get('title', '?')}) has a paragraph without "
                                 "a context string", path=path)
            for qa in paragraph.get("qas", []):
                qid, question = str(qa.get("id", "")), qa.get("question")
                if not qid or not isinstance(question, str):
                    raise MedkgError(f"article {article_no}: a question lacks 'id' or 'question'", path=path)
                raw = qa.get("answers", [])
                placements = [(x, _place(x, context)) for x in raw]
                placed = [a for _, a in placements if a is not None]
                if raw and not placed and not qa.get("is_impossible", False):
                    result.dropped.append(qid)
                    continue
                result.repaired += sum(1 for x, a in placements if a is not None and a.start != x.get("answer_start"))
                answers = () if qa.get("is_impossible", False) else tuple(dict.fromkeys(placed))
                result.examples.append(QAExample(qid, question, context, answers,
                                                 str(article.get("title", "")), paragraph_index, path.name))
            paragraph_index += 1
    return result


def excluding(examples: list[QAExample], held_out: list[QAExample]) -> list[QAExample]:
    """Drop every paragraph that shares a question id or a context with `held_out`.

    XQuAD, SQuAD-it's test set and SQuAD-es' dev set are all translations of SQuAD v1.1 dev and keep its
    question ids, so training on the latter two without this would train on XQuAD's paragraphs.
    """
    held_ids = {e.id for e in held_out}
    held_contexts = {e.context for e in held_out}
    tainted = {(e.source, e.paragraph) for e in examples if e.id in held_ids or e.context in held_contexts}
    return [e for e in examples if (e.source, e.paragraph) not in tainted]
