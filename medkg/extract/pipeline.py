"""`medkg annotate` as a library call: files and folders in, one output per document and format out.

Resumable: a manifest in the output folder records each finished document with the hash of its text and
of the run's settings (schema, model, formats); a re-run skips those and does the rest. A document that
cannot be read or annotated is reported with its reason and the batch goes on.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from medkg.errors import MedkgError
from medkg.extract.annotator import Annotator
from medkg.extract.inputs import InputProblem, iter_documents
from medkg.extract.records import Annotation, Document

FORMATS = ("jsonld", "brat", "rdf", "html")
MANIFEST = "medkg-annotate.jsonl"


@dataclass
class AnnotateReport:
    documents: int = 0                       # annotated in this run
    skipped: int = 0                         # already done by an earlier run with the same settings
    annotations: int = 0
    by_type: Counter = field(default_factory=Counter)
    by_assertion: Counter = field(default_factory=Counter)
    by_source: Counter = field(default_factory=Counter)   # qa, dictionary, qa+dictionary
    linked: int = 0
    failed: list[InputProblem] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    seconds: float = 0.0


def run_key(annotator: Annotator, formats: Sequence[str]) -> str:
    schema = annotator.schema.path.read_bytes() if annotator.schema.path else repr(annotator.schema).encode()
    parts = [hashlib.sha256(schema).hexdigest(), annotator.qa.name, ",".join(sorted(formats)),
             str(annotator.index.fingerprint if annotator.index else "no-linking")]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def read_manifest(out_dir: Path) -> dict[str, dict]:
    path = out_dir / MANIFEST
    done: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                done[row["doc"]] = row
            except (ValueError, KeyError):
                continue  # a line cut short by an interrupted run: that document is simply redone
    return done


def write_outputs(doc: Document, annotations: list[Annotation], out_dir: Path, formats: Sequence[str],
                  store=None, generator: dict | None = None) -> list[Path]:
    from medkg.extract import export, html_view

    written: list[Path] = []
    stem = export.brat_stem(doc.id)  # an id with "/" or ":" still makes one safe file name
    if "jsonld" in formats:
        written.append(export.write_jsonld(doc, annotations, out_dir / f"{stem}.jsonld", generator))
    if "brat" in formats:
        written.extend(export.write_brat(doc, annotations, out_dir / "brat"))
    if "html" in formats:
        written.append(html_view.write_html([(doc, annotations)], out_dir / f"{stem}.html", title=doc.id))
    if "rdf" in formats:
        from medkg.extract.rdf import store_annotations, write_turtle

        if store is not None:
            store_annotations(store, doc, annotations, generator)
        written.append(write_turtle(doc, annotations, out_dir / f"{stem}.ttl", generator))
    return written


def check_formats(formats: Sequence[str]) -> None:
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise MedkgError(f"unknown output format(s) {', '.join(sorted(unknown))} (use {', '.join(FORMATS)})")


def annotate_paths(paths: Iterable[Path], annotator: Annotator, out_dir: Path, formats: Sequence[str] = ("jsonld",),
                   store=None, resume: bool = True,
                   progress: Callable[[str, int], Callable[[int], None]] | None = None) -> AnnotateReport:
    check_formats(formats)
    out_dir.mkdir(parents=True, exist_ok=True)
    key = run_key(annotator, formats)
    done = read_manifest(out_dir) if resume else {}
    report = AnnotateReport()
    started = time.perf_counter()
    items = list(iter_documents(paths, annotator.lang))
    advance = progress("annotating", len(items)) if progress else None
    generator = _generator(annotator)
    with (out_dir / MANIFEST).open("a", encoding="utf-8") as manifest:
        for item in items:
            if isinstance(item, InputProblem):
                report.failed.append(item)
            else:
                previous = done.get(item.id)
                if previous and previous.get("run") == key and previous.get("text") == _text_hash(item.text):
                    report.skipped += 1
                else:
                    try:
                        annotations = annotator.annotate(item)
                        report.outputs.extend(write_outputs(item, annotations, out_dir, formats, store, generator))
                    except MedkgError as exc:
                        report.failed.append(InputProblem(item.path or Path(item.id), exc.message))
                    else:
                        _count(report, annotations)
                        manifest.write(json.dumps({"doc": item.id, "path": str(item.path or ""), "run": key,
                                                   "text": _text_hash(item.text),
                                                   "annotations": len(annotations)}) + "\n")
                        manifest.flush()
            if advance:
                advance(1)
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _count(report: AnnotateReport, annotations: list[Annotation]) -> None:
    report.documents += 1
    report.annotations += len(annotations)
    report.by_type.update(a.type for a in annotations)
    report.by_assertion.update(a.assertion.status for a in annotations)
    report.by_source.update(a.source for a in annotations)
    report.linked += sum(1 for a in annotations if a.links)


def _generator(annotator: Annotator) -> dict:
    from medkg import __version__

    return {"name": "medkg", "version": __version__, "model": annotator.qa.name, "schema": annotator.schema.name}
