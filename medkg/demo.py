"""The demo behind `make demo`: build the graph from what ships in the repository, offline, and answer
saved queries in English, Italian and Spanish."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from medkg.errors import MedkgError
from medkg.kg.display import term_text
from medkg.kg.loading import LoadListener, load_paths
from medkg.kg.queries import run_saved
from medkg.kg.store import GraphStore
from medkg.rag.records import Evidence
from medkg.rag.retrieve import Retriever, build_indexes

REPO = Path(__file__).resolve().parents[1]
DEMO_SOURCES = (REPO / "ontologies", REPO / "examples")


@dataclass(frozen=True)
class DemoQuestion:
    title: str
    query: str
    arguments: dict[str, str]
    columns: tuple[str, ...]
    limit: int = 8


QUESTIONS = (
    DemoQuestion("IT  'Tubercolosi' — which concept has this Italian name?", "concept-by-label",
                 {"text": "Tubercolosi", "lang": "it"}, ("concept", "name", "via", "label_en")),
    DemoQuestion("    ... and which ontology concepts is it matched to, on what evidence?", "equivalents",
                 {"concept": "wd:Q12204"}, ("match", "relation", "label_en", "evidence")),
    DemoQuestion("ES  'Sarampión' — concept by Spanish label", "concept-by-label",
                 {"text": "Sarampión", "lang": "es"}, ("concept", "name", "label_en")),
    DemoQuestion("ES  'Fiebre' — an HPO phenotype by its Spanish label", "concept-by-label",
                 {"text": "fiebre", "lang": "es"}, ("concept", "name", "via")),
    DemoQuestion("    HP:0001945 in every language, with translation status", "labels",
                 {"concept": "HP:0001945"}, ("lang", "via", "name", "status")),
    DemoQuestion("ICD-10-CM B54 — which concepts carry this code?", "by-xref",
                 {"xref": "ICD10CM:B54"}, ("concept", "label_en")),
    DemoQuestion("    ... malaria's matches: Wikidata by UMLS/MeSH, WHO ICD-10 by code", "equivalents",
                 {"concept": "DOID:12365"}, ("match", "relation", "label_en", "evidence")),
    DemoQuestion("UMLS C0025007 — which concepts carry this CUI?", "by-xref",
                 {"xref": "UMLS:C0025007"}, ("concept", "label_en")),
    DemoQuestion("Parents of measles (DOID:8622)", "ancestors", {"concept": "DOID:8622"},
                 ("ancestor", "label_en", "depth")),
    DemoQuestion("Wikipedia articles about tuberculosis, in any language", "articles", {"concept": "DOID:399"},
                 ("article", "lang", "title")),
    DemoQuestion("Wikipedia passages that mention measles or one of its subtypes", "passages",
                 {"concept": "DOID:8622"}, ("passage", "mentioned", "text"), limit=3),
)


RETRIEVAL_QUESTIONS = ("How is measles prevented?", "Cosa causa la tubercolosi?", "¿Cómo se transmite la malaria?")
RELATION_QUESTIONS = REPO / "examples" / "mcq" / "relations_demo.jsonl"


def demo_sources() -> list[Path]:
    missing = [p for p in DEMO_SOURCES if not p.is_dir()]
    if missing:
        raise MedkgError("the demo data ships with the medkg repository; not found here (run from a checkout)",
                         path=missing[0])
    return list(DEMO_SOURCES)


def run_demo(store: GraphStore, console: Console, *, quiet: bool = False,
             listener: LoadListener | None = None) -> None:
    reports = load_paths(store, demo_sources(), listener=listener)
    if not quiet:
        console.print("[bold]Graph built from ontologies/ and examples/[/bold]")
        for r in reports:
            console.print(f"  {r.status:9} {r.triples:>9,} triples  {r.path.name}", markup=False, highlight=False)
    for question in QUESTIONS:
        result = run_saved(store, question.query, **question.arguments)
        table = Table(*question.columns, title=f"{question.title}\n[dim]medkg kg saved {question.query} "
                      + " ".join(f"{k}={v}" for k, v in question.arguments.items()) + "[/dim]",
                      title_justify="left", header_style="bold")
        for row in result.rows[: question.limit]:
            table.add_row(*(term_text(row.get(c), max_length=240) for c in question.columns))
        console.print()
        console.print(table)
        if len(result.rows) > question.limit:
            console.print(f"  … {len(result.rows) - question.limit} more", style="dim")
        if not result.rows:
            console.print("  (no answer)", style="yellow")
    console.print("\nNext: [bold]medkg --home .medkg/demo kg stats[/bold], "
                  "[bold]medkg --home .medkg/demo search \"…\"[/bold], "
                  "[bold]medkg --home .medkg/demo kg serve[/bold] (SPARQL at http://127.0.0.1:7878/sparql)")


def retrieval_demo(store: GraphStore, text_index, dense_index, *, progress=None) -> list[Evidence]:
    """Index the demo passages (incrementally), then hybrid and graph evidence for one question per language."""
    build_indexes(store, text_index, dense_index, progress=progress)
    retriever = Retriever(store, text_index, dense_index)
    return [retriever.retrieve(question, mode=mode, k=3, facts_per_concept=3)
            for question in RETRIEVAL_QUESTIONS for mode in ("hybrid", "graph")]


@dataclass
class RelationDemo:
    """One multiple-choice question: the relation facts around its concepts, the best graph paths from its
    concepts to each option's, and the option that passages and paths support best."""

    item: object  # MCQItem
    facts: list  # EvidenceFact, relation facts only
    paths: dict[str, list]  # option label -> GraphPathEvidence, best first
    prediction: object  # MCQPrediction


def relations_demo(retriever: Retriever, *, paths_per_option: int = 1) -> list[RelationDemo]:
    """The questions of examples/mcq/relations_demo.jsonl (EN, IT, ES) answered from the graph: relation
    facts in the question's language, and the path that joins the question to each option."""
    from medkg.rag.graph_retrieval import fact_kind
    from medkg.rag.mcq import read_mcq
    from medkg.rag.mcq_retrieval import OptionScorer
    from medkg.rag.records import EvidenceFact

    scorer = OptionScorer(retriever, k=3)
    shown = []
    for item in read_mcq(RELATION_QUESTIONS):
        evidence = retriever.retrieve(item.question, mode="graph", lang=item.lang, k=1, facts_per_concept=30)
        relations = [f.fact for f in evidence.facts if fact_kind(f.fact.predicate) == "relation"][:6]
        supports = scorer.supports(item)
        paths = {label: retriever.graph.path_evidence(support.graph_paths[:paths_per_option], item.lang, label)
                 for label, support in supports.items()}
        shown.append(RelationDemo(item, [EvidenceFact(f"T{i}", f) for i, f in enumerate(relations, start=1)],
                                  paths, scorer.predict(item, supports)))
    return shown


@dataclass
class QADemoAnswer:
    lang: str
    question: str
    context: str
    answer: str | None
    start: int | None
    end: int | None
    margin: float | None


def qa_demo(home: Path) -> list[QADemoAnswer]:
    """The shipped QA adapter answers the first questions of examples/qa_sample.{en,it,es}.json."""
    from medkg.models.qa import ExtractiveQA
    from medkg.train.squad import read_squad

    qa = ExtractiveQA.load(None, home=home)
    examples = [(lang, e) for lang in ("en", "it", "es")
                for e in read_squad(REPO / "examples" / f"qa_sample.{lang}.json").examples[:2]]
    predictions = qa.predict([e.question for _, e in examples], [e.context for _, e in examples])
    answers = []
    for (lang, example), prediction in zip(examples, predictions):
        best = prediction.best
        answers.append(QADemoAnswer(lang, example.question, example.context, best.text if best else None,
                                    best.start if best else None, best.end if best else None,
                                    best.margin if best else None))
    return answers


def annotation_demo(store: GraphStore, home: Path, out_dir: Path, progress=None):
    """Annotate the sample notes (en/it/es) into JSON-LD, HTML and the graph; then find, with SPARQL, the
    notes that mention any kind of infectious disease (a descendant of DOID:0050117, reached from HPO or
    Wikidata concepts through the graph's skos:exactMatch links)."""
    from medkg.extract.annotator import Annotator
    from medkg.extract.linker import concept_index
    from medkg.extract.pipeline import annotate_paths
    from medkg.extract.queries import INFECTIOUS_DISEASE, documents_mentioning
    from medkg.extract.schema import load_schema
    from medkg.models.qa import ExtractiveQA

    annotator = Annotator(ExtractiveQA.load(None, home=home), load_schema(), concept_index(store, home))
    report = annotate_paths([REPO / "examples" / "notes"], annotator, out_dir, ("jsonld", "html", "rdf"),
                            store=store, resume=False, progress=progress)
    return report, documents_mentioning(store, INFECTIOUS_DISEASE)


def annotation_sources(out_dir: Path, per_note: int = 5) -> list[tuple[str, str, str, str, str | None]]:
    """(note, span, type, source, concept IRI) from the demo's JSON-LD: per note, spans of each source in turn
    (a QA answer, a dictionary name, one both found), so the table shows where candidates come from."""
    import json

    rows = []
    for path in sorted(out_dir.glob("*.jsonld")):
        items = json.loads(path.read_text(encoding="utf-8")).get("first", {}).get("items", [])
        by_source: dict[str, list] = {}
        for item in items:
            by_source.setdefault(item.get("candidateSource", "qa"), []).append(item)
        picked = []
        while len(picked) < per_note and any(by_source.values()):
            for source in sorted(by_source):
                if by_source[source] and len(picked) < per_note:
                    picked.append(by_source[source].pop(0))
        for item in picked:
            quote = next(s["exact"] for s in item["target"]["selector"] if s["type"] == "TextQuoteSelector")
            tag = next(b["value"] for b in item["body"] if b.get("purpose") == "tagging")
            concept = next((b.get("source") for b in item["body"] if b.get("purpose") == "identifying"), None)
            rows.append((path.stem, quote, tag, item.get("candidateSource", "qa"), concept))
    return rows


@dataclass
class TraceDemo:
    records: list           # TraceRecord per question of relations_demo.jsonl (EN, IT, ES): path traces, verified
    citations: list[list[dict]]  # each trace's citations resolved to IRIs / URLs / offsets
    translations: list      # TranslationResult per language, checked
    usage: dict


def trace_demo(store: GraphStore, home: Path, text_index, *, translate: bool = True) -> TraceDemo:
    """Path traces for the questions of examples/mcq/relations_demo.jsonl (EN, IT, ES): the graph path from
    the question's concepts to the gold option's, verbalised by the offline path writer in the question's
    language and verified; then the first MedQA sample question translated to Italian and Spanish with the
    offline generator (SmolLM2-135M), each translation checked."""
    from medkg.rag.mcq import read_mcq
    from medkg.rag.path_traces import PathWriter, path_evidence
    from medkg.rag.trace_export import trace_row
    from medkg.rag.traces import generate_traces

    retriever = Retriever(store, text_index, None)
    items = read_mcq(RELATION_QUESTIONS)
    records = list(generate_traces(items, lambda i: path_evidence(retriever, i), PathWriter(), paths_only=True))
    citations = [trace_row(r, retrieval_mode="paths")["citations"] for r in records]
    translations, usage = [], {}
    if translate:
        from medkg.rag.generators import TransformersGenerator
        from medkg.rag.translate import translate_items

        item = read_mcq(REPO / "examples" / "mcq" / "medqa_sample.jsonl", limit=1)[0]
        generator = TransformersGenerator.load(None, cache_dir=home / "models")
        translations = [translate_items([item], generator, lang)[0] for lang in ("it", "es")]
        usage = generator.usage.as_dict()
    return TraceDemo(records, citations, translations, usage)
