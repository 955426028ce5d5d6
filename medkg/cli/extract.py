"""`medkg annotate` and `medkg eval annotate`: the command-line face of medkg.extract."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from medkg.cli.common import CountProgress, LoadProgress, State, err, out
from medkg.errors import MedkgError

PRECISION_HELP = "auto (bf16 where fast: CUDA, AMX CPUs), fp32, or int8 (ONNX Runtime, CPU: fast without AMX)."
# Loaded on first use into a workspace with no concepts (see `_linkable`); absent in a pip install.
SHIPPED_CATALOG = Path(__file__).resolve().parents[2] / "ontologies"
MODEL_HELP = "QA model: default (shipped adapter), a folder from `medkg train qa`, or a HF id."

commands = typer.Typer()  # `medkg annotate`
eval_commands = typer.Typer()  # `medkg eval annotate`


def build_annotator(state: State, schema: Optional[Path], model: Optional[str], lang: str, link: bool,
                    device: str = "auto", precision: str = "auto"):
    """The annotator the options describe: schema + QA model + (optionally) the graph's concept index."""
    from medkg.extract.annotator import Annotator
    from medkg.extract.linker import concept_index
    from medkg.extract.schema import load_schema
    from medkg.language import detect_language
    from medkg.models.qa import ExtractiveQA

    detect_language("", lang)  # validates --lang before anything slow happens
    loaded_schema = load_schema(schema)
    qa = ExtractiveQA.load(model, home=state.settings.home, device=device, precision=precision)
    index = concept_index(state.store(), state.settings.home) if link and _linkable(state) else None
    return Annotator(qa, loaded_schema, index, lang=lang)


# A label on anything but an article or a passage: the graph has concepts a span can be linked to.
_HAS_CONCEPT_NAMES = ("ASK { ?c rdfs:label ?name FILTER(isIRI(?c)) "
                      "MINUS { ?c a schema:Article } MINUS { ?c a medkg:Passage } }")


def _linkable(state: State) -> bool:
    """True when the graph has concepts to link to. A fresh workspace has none: the catalog that ships with the
    checkout (ontologies/: Disease Ontology slim, HPO with IT/ES labels, ICD-10, Wikidata) is loaded once,
    saying so; without a checkout (a pip install) annotation goes on without links, saying why."""
    from medkg.kg.loading import load_paths

    store = state.store()
    if store.query(_HAS_CONCEPT_NAMES).boolean:
        return True
    if SHIPPED_CATALOG.is_dir():
        err.print(f"first use: the graph in {state.settings.home} has no concepts to link to; loading the shipped "
                  f"catalog {SHIPPED_CATALOG} once (add more with `medkg kg load`)", highlight=False)
        with LoadProgress(disabled=state.quiet) as listener:
            reports = load_paths(store, [SHIPPED_CATALOG], listener=listener)
        err.print(f"loaded {sum(r.status == 'loaded' for r in reports)} sources, "
                  f"{sum(r.triples for r in reports):,} triples", highlight=False)
        return True
    err.print(f"[yellow]annotating without linking[/yellow]: the graph in {state.settings.home} has no concept "
              "labels; load ontologies with `medkg kg load FILE…` to link spans to concept IRIs", highlight=False)
    return False


@commands.command("annotate")
def annotate(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Files or folders: .txt, E3C .xml/.json, BRAT .txt."),
    schema: Optional[Path] = typer.Option(None, help="Question schema YAML (default: the shipped clinical one)."),
    fmt: list[str] = typer.Option(["jsonld"], "--format", help="jsonld, brat, rdf, html (repeat for several)."),
    out_dir: Path = typer.Option(Path("annotations"), "--out", help="Output folder."),
    lang: str = typer.Option("auto", help="auto (detected per document), en, it, es, ..."),
    model: Optional[str] = typer.Option(None, help=MODEL_HELP),
    link: bool = typer.Option(True, help="Link spans to the graph's concepts (needs a loaded graph)."),
    resume: bool = typer.Option(True, help="Skip documents finished by an earlier run with the same settings."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or mps."),
    precision: str = typer.Option("auto", help=PRECISION_HELP),
    report_format: str = typer.Option("table", "--report", help="table or json: the run summary."),
) -> None:
    """Extract concepts from clinical documents by asking the schema's questions; link, assess, export."""
    from medkg.extract.pipeline import annotate_paths, check_formats

    state: State = ctx.obj
    formats = [f for value in fmt for f in value.split(",") if f]
    check_formats(formats)  # before the model loads, so a typo costs nothing
    annotator = build_annotator(state, schema, model, lang, link, device, precision)
    store = state.store() if "rdf" in formats else None
    with CountProgress(disabled=state.quiet) as progress:
        report = annotate_paths(paths, annotator, out_dir, formats, store=store, resume=resume, progress=progress)
    for problem in report.failed:
        err.print(f"[yellow]skipped[/yellow] {problem.path}: {problem.reason}", highlight=False)
    summary = {"documents": report.documents, "skipped_done": report.skipped, "failed": len(report.failed),
               "annotations": report.annotations, "linked": report.linked, "by_type": dict(report.by_type),
               "by_assertion": dict(report.by_assertion), "by_source": dict(report.by_source),
               "seconds": report.seconds, "out": str(out_dir)}
    if report_format == "json":
        out.print_json(json.dumps(summary, ensure_ascii=False))
    elif not state.quiet:
        out.print(f"{report.documents} documents annotated, {report.skipped} already done, "
                  f"{len(report.failed)} failed; {report.annotations} annotations ({report.linked} linked) "
                  f"in {report.seconds:.1f} s → {out_dir}")
        if report.by_type:
            out.print("by type: " + ", ".join(f"{k} {v}" for k, v in report.by_type.most_common()))
            out.print("by assertion: " + ", ".join(f"{k} {v}" for k, v in report.by_assertion.most_common()))
            out.print("by source: " + ", ".join(f"{k} {v}" for k, v in report.by_source.most_common()))
    if report.failed and not report.documents and not report.skipped:
        raise typer.Exit(2)


@eval_commands.command("annotate")
def eval_annotate(
    ctx: typer.Context,
    gold: list[Path] = typer.Argument(..., help="Gold standards: E3C XMI files/folders, CodiEsp split folders."),
    schema: Optional[Path] = typer.Option(None, help="Question schema YAML."),
    model: Optional[str] = typer.Option(None, help=MODEL_HELP),
    limit: Optional[int] = typer.Option(None, help="First N documents per gold set."),
    split: str = typer.Option("all", help="all, or the fixed train / dev part of each gold set (by document id)."),
    link: bool = typer.Option(True, help="Also score linking (needs the ontologies with xrefs in the graph)."),
    exclude: list[Path] = typer.Option([], help="Documents (files or a list of ids) trained on: not scored."),
    combine: list[str] = typer.Option(["schema"], help="Candidate sources to score: schema (each type's rule), "
                                                       "qa, dictionary, union, confirm; repeat to compare (one QA pass)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or mps."),
    precision: str = typer.Option("auto", help=PRECISION_HELP),
    fmt: str = typer.Option("table", "--format", help="table or json"),
    update_card: bool = typer.Option(False, help="Store the scores in --model's training record and model card."),
    compare_to: Optional[Path] = typer.Option(None, help="An earlier `--format json` result (e.g. of the previous "
                                                         "model) to show beside these scores in the card."),
) -> None:
    """Span P/R/F1 (strict and relaxed) per type and language, and linking accuracy, against gold."""
    from medkg.extract.evaluation import evaluate_annotation

    state: State = ctx.obj
    annotator = build_annotator(state, schema, model, "auto", link, device, precision)
    with CountProgress(disabled=state.quiet or fmt == "json") as progress:
        result = evaluate_annotation(gold, annotator, limit=limit, exclude=exclude, progress=progress, split=split,
                                     combine=[c for value in combine for c in value.split(",") if c])
    if update_card:
        import shlex
        import sys

        from medkg.train.model_card import record_annotation_evaluation

        previous = None
        if compare_to is not None:
            try:
                previous = json.loads(compare_to.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise MedkgError(f"not a `medkg eval annotate --format json` result: {exc}", path=compare_to) from None
        card = record_annotation_evaluation(Path(model) if model else None, result.to_json(),
                                            "medkg " + shlex.join(sys.argv[1:]), previous)
        err.print(f"model card updated: {card}", highlight=False)
    if fmt == "json":
        out.print_json(json.dumps(result.to_json(), ensure_ascii=False))
        return
    table = Table("gold", "combine", "lang", "type", "match", "P", "R", "F1", "tp", "fp", "fn", header_style="bold",
                  title=f"{annotator.qa.name}: {result.documents} documents")
    for row in result.span_rows:
        table.add_row(row["gold"], row["combine"], row["lang"], row["type"], row["match"], f"{row['precision']:.3f}",
                      f"{row['recall']:.3f}", f"{row['f1']:.3f}", str(row["tp"]), str(row["fp"]), str(row["fn"]))
    out.print(table)
    if result.link_rows:
        links = Table("gold", "combine", "lang", "type", "coded gold", "matched", "acc@1", "acc@k", "acc@1 (all coded)",
                      header_style="bold", title="linking (through the ontologies' xrefs)")
        for row in result.link_rows:
            links.add_row(*(str(row.get(k, "")) for k in ("gold", "combine", "lang", "type", "coded", "matched", "acc1",
                                                           "acck", "acc1_all")))
        out.print(links)
