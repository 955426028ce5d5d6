"""Benchmark medkg's embedded graph store (OxigraphStore) against baselines measured in the same run.

    python bench/bench_kg.py [--triples N] [--repeat R] [--load-repeat L] [--json PATH] [--keep]

Baselines: raw pyoxigraph (same engine, no medkg layer) and rdflib's in-memory store (on a 1/10 subset,
since it is far slower). See bench/README.md for what each figure means and the targets.
"""
from __future__ import annotations

import argparse
import gc
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyoxigraph as ox
import rdflib

from medkg.kg.namespaces import PREFIXES
from medkg.kg.store import OxigraphStore

OBO = "http://purl.obolibrary.org/obo/"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OIO = "http://www.geneontology.org/formats/oboInOwl#"
SCHEMA = "http://schema.org/"
TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
OWL_CLASS = "http://www.w3.org/2002/07/owl#Class"
PASSAGES = "https://w3id.org/medkg/passage/"
GRAPH = ox.NamedNode("https://w3id.org/medkg/graph/bench")
BRANCHING = 4  # class i's parent is (i - 1) // 4: depth ~8 at 75k classes
MID_CLASS = 21  # depth 3 (1 -> 5 -> 21): ~1/64 of the classes below it
DOCS = 100  # passages are spread over this many documents
WORDS = {
    "en": "heart cardiac renal hepatic pulmonary acute chronic syndrome disease disorder tumor carcinoma "
          "infection deficiency fever pain lesion failure atrophy fibrosis neuropathy anemia".split(),
    "it": "cuore cardiaco renale epatico polmonare acuto cronico sindrome malattia disturbo tumore carcinoma "
          "infezione deficit febbre dolore lesione insufficienza atrofia fibrosi neuropatia anemia".split(),
    "es": "corazon cardiaco renal hepatico pulmonar agudo cronico sindrome enfermedad trastorno tumor carcinoma "
          "infeccion deficiencia fiebre dolor lesion insuficiencia atrofia fibrosis neuropatia anemia".split(),
}

QUERIES = {
    "filter": """SELECT ?c ?label WHERE { ?c rdfs:label ?label .
        FILTER(LANG(?label) = "it" && CONTAINS(?label, "fibrosi")) }""",
    "2-hop join": f"""SELECT ?p ?c ?xref WHERE {{ ?p schema:isPartOf <{PASSAGES}doc7> .
        ?p schema:mentions ?c . ?c oboInOwl:hasDbXref ?xref }}""",
    "path +": f"SELECT ?d WHERE {{ ?d rdfs:subClassOf+ obo:X_{MID_CLASS:06d} }}",
    # Cheap to evaluate, many rows: measures medkg's row materialisation.
    "large result": "SELECT ?c ?parent WHERE { ?c rdfs:subClassOf ?parent }",
    # One row: measures medkg's fixed cost per call (worker hand-off).
    "point lookup": f"SELECT ?l WHERE {{ obo:X_{MID_CLASS:06d} rdfs:label ?l FILTER(LANG(?l) = 'en') }}",
}


def generate(path: Path, n_triples: int, seed: int = 42) -> int:
    """Write an ontology-shaped N-Triples file of >= n_triples triples; return the exact count."""
    rng = random.Random(seed)
    n_classes = max(200, int(n_triples * 0.6) // 8)  # ~8 triples per class, ~6 per passage
    n_passages = max(DOCS, (n_triples - n_classes * 8) // 6 + 1)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        def t(s: str, p: str, o: str) -> None:
            nonlocal count
            out.write(f"<{s}> <{p}> {o} .\n")
            count += 1

        for i in range(n_classes):
            c = f"{OBO}X_{i:06d}"
            t(c, TYPE, f"<{OWL_CLASS}>")
            for lang, words in WORDS.items():
                t(c, RDFS + "label", f'"{" ".join(rng.sample(words, 2))} {i}"@{lang}')
            for k in range(2):
                t(c, OIO + "hasExactSynonym", f'"{" ".join(rng.sample(WORDS["en"], 3))} {i}.{k}"')
            t(c, OIO + "hasDbXref", f'"UMLS:C{rng.randrange(10**7):07d}"')
            if i:
                t(c, RDFS + "subClassOf", f"<{OBO}X_{(i - 1) // BRANCHING:06d}>")
        for j in range(n_passages):
            p = f"{PASSAGES}{j}"
            t(p, TYPE, f"<{SCHEMA}CreativeWork>")
            t(p, SCHEMA + "text", f'"passage {j} about {" ".join(rng.sample(WORDS["en"], 4))}"@en')
            t(p, SCHEMA + "isPartOf", f"<{PASSAGES}doc{j % DOCS}>")
            for c in rng.sample(range(n_classes), 3):
                t(p, SCHEMA + "mentions", f"<{OBO}X_{c:06d}>")
    return count


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def load_raw(directory: Path, data: Path) -> ox.Store:
    store = ox.Store(str(directory))
    store.bulk_load(path=str(data), format=ox.RdfFormat.N_TRIPLES, to_graph=GRAPH)
    store.flush()
    return store


def load_medkg(directory: Path, data: Path) -> OxigraphStore:
    store = OxigraphStore(directory)
    store.load_rdf_file(data, ox.RdfFormat.N_TRIPLES, GRAPH)
    store.close()  # flush, as raw does; the store object stays usable
    return store


def run_raw(store: ox.Store, q: str) -> int:
    rows = [[t.value if t is not None else None for t in sol]
            for sol in store.query(q, prefixes=PREFIXES, use_default_graph_as_union=True)]
    return len(rows)


def run_rdflib(graph: rdflib.Graph, q: str) -> int:
    return len([[str(t) for t in row] for row in graph.query(q, initNs=PREFIXES)])


def median_ms(fns: dict, repeat: int, budget_s: float = 3.0) -> tuple[dict[str, float], int, int]:
    """Median ms per callable over `repeat` interleaved rounds after one warm-up each (a single round if a
    warm-up took over `budget_s`), the common row count, and the rounds run."""
    warm = {name: timed(fn) for name, fn in fns.items()}
    rows = {got for _, got in warm.values()}
    assert len(rows) == 1, f"row counts differ: { {k: v[1] for k, v in warm.items()} }"
    rounds = repeat if max(w for w, _ in warm.values()) < budget_s else 1
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            elapsed, got = timed(fn)
            assert got in rows, "row count changed between runs"
            times[name].append(elapsed)
    return {name: statistics.median(ts) * 1000 for name, ts in times.items()}, rows.pop(), rounds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--triples", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5, help="runs per query (median reported)")
    ap.add_argument("--load-repeat", type=int, default=3, help="loads per store (median reported)")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument("--keep", action="store_true", help="keep bench/.work/ scratch files")
    args = ap.parse_args(argv)

    base = Path(__file__).resolve().parent / ".work"
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=base))
    figures: dict = {"triples": args.triples, "repeat": args.repeat, "load_repeat": args.load_repeat}
    try:
        full, subset = work / "full.nt", work / "subset.nt"
        gen_s, n = timed(lambda: generate(full, args.triples))
        n_sub = generate(subset, args.triples // 10)
        figures.update(n_triples=n, n_subset=n_sub, generate_s=round(gen_s, 2))
        print(f"generated {n:,} triples in {gen_s:.1f} s (subset for rdflib: {n_sub:,})", file=sys.stderr)

        # -- loads: fresh directory each time, alternating raw / medkg so drift hits both alike ----------
        stores: dict = {}
        load_s: dict[str, list[float]] = {"raw": [], "medkg": []}
        for k in range(args.load_repeat):
            for name, loader in (("raw", load_raw), ("medkg", load_medkg)):
                stores.pop(name, None)
                gc.collect()
                elapsed, stores[name] = timed(lambda: loader(work / f"{name}-{k}", full))
                load_s[name].append(elapsed)
                print(f"load {name} #{k}: {elapsed:.2f} s", file=sys.stderr)
        rdflib_s, graph = timed(lambda: rdflib.Graph().parse(str(subset), format="nt"))
        assert len(graph) == n_sub, (len(graph), n_sub)
        assert len(stores["raw"]) == len(stores["medkg"].ox) == n
        sub_medkg = load_medkg(work / "medkg-subset", subset)  # same subset as rdflib, for a fair ratio

        tps = {k: n / statistics.median(v) for k, v in load_s.items()}
        tps["rdflib"] = n_sub / rdflib_s
        figures["load_triples_per_s"] = {k: round(v) for k, v in tps.items()}
        figures["load_s"] = {**{k: [round(x, 3) for x in v] for k, v in load_s.items()}, "rdflib": round(rdflib_s, 3)}
        figures["load_ratio_medkg_raw"] = round(tps["medkg"] / tps["raw"], 3)
        figures["load_ratio_medkg_rdflib"] = round(tps["medkg"] / tps["rdflib"], 2)

        # -- queries -----------------------------------------------------------------------------------
        qfig = figures["queries"] = {}
        for name, q in QUERIES.items():
            print(f"query {name} ...", file=sys.stderr)
            f = qfig[name] = {}
            ms, f["rows"], _ = median_ms({"medkg": lambda: len(stores["medkg"].query(q).rows),
                                          "raw": lambda: run_raw(stores["raw"], q),
                                          "raw_same": lambda: run_raw(stores["medkg"].ox, q)}, args.repeat)
            f.update(medkg_ms=ms["medkg"], raw_ms=ms["raw"], raw_same_store_ms=ms["raw_same"])
            ms, f["rows_subset"], f["rdflib_runs"] = median_ms(
                {"medkg": lambda: len(sub_medkg.query(q).rows), "rdflib": lambda: run_rdflib(graph, q)}, args.repeat)
            f.update(medkg_subset_ms=ms["medkg"], rdflib_subset_ms=ms["rdflib"])
            f["ratio_medkg_raw"] = f["medkg_ms"] / f["raw_ms"]
            f["ratio_medkg_raw_same_store"] = f["medkg_ms"] / f["raw_same_store_ms"]
            f["ratio_medkg_rdflib_subset"] = f["medkg_subset_ms"] / f["rdflib_subset_ms"]
            for key in list(f):
                if isinstance(f[key], float):
                    f[key] = round(f[key], 3)
        del stores, sub_medkg, graph
        gc.collect()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def report(f: dict) -> None:
    tps = f["load_triples_per_s"]
    ok = lambda good: "ok" if good else "MISS"  # noqa: E731
    print(f"\nmedkg graph-store benchmark: {f['n_triples']:,} triples "
          f"(rdflib Memory on a 1/10 subset of {f['n_subset']:,} triples); loads: median of {f['load_repeat']}, "
          f"queries: median of {f['repeat']} interleaved runs after a warm-up\n")
    print(f"{'load':<28}{'triples/s':>12}{'s':>9}")
    med = lambda xs: statistics.median(xs)  # noqa: E731
    print(f"{'raw pyoxigraph bulk_load':<28}{tps['raw']:>12,}{med(f['load_s']['raw']):>9.2f}")
    print(f"{'medkg load_rdf_file':<28}{tps['medkg']:>12,}{med(f['load_s']['medkg']):>9.2f}")
    print(f"{'rdflib Memory parse (1/10)':<28}{tps['rdflib']:>12,}{f['load_s']['rdflib']:>9.2f}")
    r = f["load_ratio_medkg_raw"]
    print(f"medkg / raw throughput   = {r:.2f}  (target >= 0.80: {ok(r >= 0.8)})")
    print(f"medkg / rdflib Memory    = {f['load_ratio_medkg_rdflib']:.1f}x\n")
    print(f"{'query, ms (full graph)':<24}{'rows':>7}{'medkg':>9}{'raw':>9}{'raw*':>9}{'medkg/raw':>10}{'/raw*':>7}")
    for name, q in f["queries"].items():
        print(f"{name:<24}{q['rows']:>7,}{q['medkg_ms']:>9.2f}{q['raw_ms']:>9.2f}{q['raw_same_store_ms']:>9.2f}"
              f"{q['ratio_medkg_raw']:>10.2f}{q['ratio_medkg_raw_same_store']:>7.2f}  "
              f"(target <= 1.50: {ok(q['ratio_medkg_raw'] <= 1.5)})")
    print(f"\n{'query, ms (1/10 subset)':<24}{'rows':>7}{'medkg':>9}{'rdflib':>9}{'medkg/rdflib':>13}")
    for name, q in f["queries"].items():
        note = "" if q["rdflib_runs"] == f["repeat"] else f"  ({q['rdflib_runs']} run only: slow)"
        print(f"{name:<24}{q['rows_subset']:>7,}{q['medkg_subset_ms']:>9.2f}{q['rdflib_subset_ms']:>9.2f}"
              f"{q['ratio_medkg_rdflib_subset']:>13.3f}{note}")
    print("\nmedkg = OxigraphStore.query() (worker thread + rows materialised as dicts); raw = pyoxigraph "
          "query on its own store, touching every value; raw* = the same on medkg's own store (layer overhead only).")

if __name__ == "__main__":
    sys.exit(main())
