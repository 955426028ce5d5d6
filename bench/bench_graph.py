"""Graph retrieval on a real workspace: passages per concept and paths per MCQ item, beside baselines measured
in the same run.

    python bench/bench_graph.py --home .medkg/eval [--questions 200] [--json PATH]

The workspace should hold the full ../shared graph (see bench/README.md). Concepts and items come from a
fixed sample of MedQA-USMLE test questions (../shared/data/mcqa/medqa_usmle), so the concepts are the ones
MCQ evaluation really asks about.

- passages per concept: `GraphRetriever.passages([c], k=10)` (the in-memory concept graph, then the ten
  passages' texts from the store) against the SPARQL query that did this before (`_PASSAGES_SPARQL` below:
  matches, subclasses, mentions, grouped), on the same concepts; both return the same top passages where
  both finish. The one-time cost of the concept graph (built from SPARQL, or read from the workspace cache)
  is reported on its own line.
- paths per item: question concepts -> `QuestionReach` -> `paths_to` for every option, against networkx's
  `all_simple_paths(cutoff=3)` between the same concept sets on the same graph (the naive bounded search),
  which is given at most `--naive-seconds` per item.

Targets: passages per concept p50 <= 50 ms; paths per item p50 <= 200 ms.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import networkx as nx
from pyoxigraph import NamedNode

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
MEDQA = SHARED / "mcqa" / "medqa_usmle" / "test_4options_phrases_no_exclude.jsonl"

# What `GraphRetriever.passages` ran per concept before the concept graph (medkg 0.1, rag/graph_retrieval.py).
_PASSAGES_SPARQL = """SELECT ?passage ?text ?article ?title ?begin ?end (MAX(?on_topic) AS ?about) WHERE {
  ?c (skos:exactMatch|^skos:exactMatch)? ?same .
  ?mentioned rdfs:subClassOf* ?same .
  ?passage schema:mentions ?mentioned ; schema:text ?text .
  OPTIONAL { ?passage schema:isPartOf ?article . ?article a schema:Article OPTIONAL { ?article schema:name ?title } }
  OPTIONAL { ?passage nif:beginIndex ?begin ; nif:endIndex ?end }
  BIND(IF(BOUND(?article) && EXISTS { ?article schema:about ?same }, 1, 0) AS ?on_topic)
} GROUP BY ?passage ?text ?article ?title ?begin ?end"""


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"p50 {1000 * statistics.median(ordered):8.1f} ms   p95 {1000 * p95:8.1f} ms"


def main() -> None:
    from medkg.config import Settings
    from medkg.kg.store import OxigraphStore
    from medkg.rag.concept_graph import ConceptGraph
    from medkg.rag.graph_retrieval import GraphRetriever
    from medkg.rag.mcq import read_mcq, sample_items
    from medkg.rag.retrieve import cache_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, default=REPO / ".medkg" / "eval")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--concepts", type=int, default=60, help="concepts timed against the SPARQL baseline")
    parser.add_argument("--naive-seconds", type=float, default=5.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not MEDQA.exists():
        print(f"skipped: needs {MEDQA} (../shared/data)")
        return
    settings = Settings(home=args.home)
    store = OxigraphStore(settings.store_path, query_timeout=600)
    figures: dict = {"home": str(args.home)}

    started = time.perf_counter()
    built = ConceptGraph.load(store)
    figures["concept_graph_build_s"] = time.perf_counter() - started
    graph = GraphRetriever(store, cache_dir(settings))
    started = time.perf_counter()
    graph.concept_graph, graph._automata  # from the workspace cache when it is there (else built and cached)
    figures["concept_graph_and_automata_cached_s"] = time.perf_counter() - started
    print(f"concept graph: {built.graph.number_of_nodes():,} concepts, {built.graph.number_of_edges():,} edges, "
          f"{sum(len(v) for v in built.mentions.values()):,} mentions; built from SPARQL in "
          f"{figures['concept_graph_build_s']:.1f} s, with the name automata from the cache in "
          f"{figures['concept_graph_and_automata_cached_s']:.1f} s", flush=True)

    items = sample_items(read_mcq(MEDQA), args.questions, 13)
    concepts = list(dict.fromkeys(m.concept for item in items for m in graph.concepts(item.question)))
    timed_concepts = concepts[:: max(1, len(concepts) // args.concepts)][: args.concepts]

    new, old, agree = [], [], 0
    for concept in timed_concepts:
        started = time.perf_counter()
        hits = graph.passages([concept], k=10)
        new.append(time.perf_counter() - started)
        started = time.perf_counter()
        rows = store.query(_PASSAGES_SPARQL, bindings={"c": NamedNode(concept)}, timeout=600).rows
        old.append(time.perf_counter() - started)
        agree += {h.passage.iri for h in hits[:3]} <= {r["passage"].value for r in rows}
    figures.update(passages_new_ms=[1000 * t for t in new], passages_sparql_ms=[1000 * t for t in old])
    print(f"\npassages per concept ({len(timed_concepts)} concepts of {len(items)} MedQA questions)")
    print(f"  SPARQL query (before)          {ms(old)}")
    print(f"  concept graph + passage texts  {ms(new)}")
    ratio = statistics.median(old) / statistics.median(new)
    print(f"  speed-up p50 {ratio:.0f}x; new p50 {'<=' if statistics.median(new) <= 0.05 else '>'} 50 ms "
          f"(target: {'ok' if statistics.median(new) <= 0.05 else 'MISS'}); the new top 3 are among the query's "
          f"passages for {agree}/{len(timed_concepts)} concepts")

    reach_times, naive_times, naive_done = [], [], 0
    nx_graph = graph.concept_graph.graph
    for item in items:
        question = [m.concept for m in graph.concepts(item.question)]
        options = [[m.concept for m in graph.concepts(text)] for _, text in item.options]
        started = time.perf_counter()
        reach = graph.reach(question)
        for concepts_of_option in options:
            reach.paths_to(concepts_of_option)
        reach_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        deadline = started + args.naive_seconds
        finished = True
        for concepts_of_option in options:
            for source in (c for c in question if c in nx_graph):
                for target in (c for c in concepts_of_option if c in nx_graph and c != source):
                    for _ in nx.all_simple_paths(nx_graph, source, target, cutoff=3):
                        if time.perf_counter() > deadline:
                            finished = False
                            break
                    if not finished:
                        break
                if not finished:
                    break
        naive_times.append(time.perf_counter() - started)
        naive_done += finished
    figures.update(paths_ms=[1000 * t for t in reach_times], naive_paths_ms=[1000 * t for t in naive_times],
                   naive_finished=naive_done)
    print(f"\npaths per MCQ item ({len(items)} MedQA questions, all options, <= 3 hops)")
    print(f"  networkx all_simple_paths      {ms(naive_times)}   ({naive_done}/{len(items)} finished within "
          f"{args.naive_seconds:g} s)")
    print(f"  medkg QuestionReach            {ms(reach_times)}")
    p50 = statistics.median(reach_times)
    print(f"  speed-up p50 {statistics.median(naive_times) / p50:.0f}x (naive times capped); "
          f"target p50 <= 200 ms: {'ok' if p50 <= 0.2 else 'MISS'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
    store.close()


if __name__ == "__main__":
    main()
