"""Documents to annotate, from files and folders: plain text, E3C (XMI or its JSON text), BRAT (.txt + .ann).

A file that cannot be read becomes an `InputProblem` (what and where) instead of an exception, so one bad
document in a folder of thousands is reported and skipped, not the end of the run.

Dependencies run one way: this module reads E3C XMI through the gold reader (`medkg.extract.gold`), and the
gold readers read text through `medkg.extract.text_files`, never through this module.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from medkg.errors import MedkgError
from medkg.extract.gold import read_e3c_xmi
from medkg.extract.records import Document
from medkg.extract.text_files import read_text_exactly

SUFFIXES = (".txt", ".xml", ".xmi", ".json")


@dataclass(frozen=True)
class InputProblem:
    path: Path
    reason: str


def find_input_files(paths: Iterable[Path]) -> list[Path]:
    """Files named, and files with a known suffix under folders named (sorted, each once)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                                and not p.name.startswith(".")))
        elif path.exists():
            found.append(path)
        else:
            raise MedkgError("no such file or folder", path=path)
    seen: set[Path] = set()
    return [p for p in found if not (p.resolve() in seen or seen.add(p.resolve()))]


def read_document(path: Path, lang: str | None = None) -> Document:
    """One document; `lang` None or "auto" lets the annotator detect it (E3C files say theirs)."""
    lang = None if lang in (None, "auto") else lang
    suffix = path.suffix.lower()
    if suffix in (".xml", ".xmi"):
        document = read_e3c_xmi(path, lang).document
        return Document(document.id, document.text, lang or document.lang, path)
    if suffix == ".json":
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise MedkgError(f"not valid JSON: {exc}", path=path) from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise MedkgError("a JSON document needs a 'text' field (E3C layer1_text format)", path=path)
        return Document(str(record.get("id") or path.stem), record["text"], lang or record.get("language"), path)
    return Document(path.stem, read_text_exactly(path), lang, path)


def iter_documents(paths: Iterable[Path], lang: str | None = None) -> Iterator[Document | InputProblem]:
    for path in find_input_files(paths):
        try:
            document = read_document(path, lang)
        except MedkgError as exc:
            yield InputProblem(path, exc.message)
        except OSError as exc:
            yield InputProblem(path, exc.strerror or str(exc))
        else:
            if document.text.strip():
                yield document
            else:
                yield InputProblem(path, "empty document")
