"""How long the evidence explorer's pages take, beside the endpoint's own floor, measured in the same run.

    python bench/bench_explorer.py [--home .medkg/demo] [--repeat 5] [--json PATH]

Serves the workspace's graph as `medkg kg serve` does (read-only endpoint + explorer, on a free port) and
fetches each page over HTTP `--repeat` times. The baseline is the cheapest thing the endpoint does: a
one-row ASK at /sparql, which pays for HTTP and for the isolated query process every user query runs in.
Pages run their own queries in-process, so a page can cost less than that floor; the SPARQL editor's page
runs the user's query through the same isolated path and cannot. Prints median and worst time per page and
the median's ratio to the ASK's. No target is set; the figure to watch is a page that grows with the graph.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGES = {
    "home": ("/", {}),
    "search 'tuberc'": ("/search", {"q": "tuberc"}),
    "search 'sarampion'": ("/search", {"q": "sarampion"}),
    "search xref": ("/search", {"q": "ICD10CM:B54"}),
    "concept DOID:399": ("/concept", {"iri": "DOID:399"}),
    "concept HP:0000118 (broad)": ("/concept", {"iri": "HP:0000118"}),
    "concept wd:Q12204": ("/concept", {"iri": "wd:Q12204"}),
    "document note_en_tb": ("/document", {"iri": "https://w3id.org/medkg/id/document/note_en_tb"}),
    "documents": ("/documents", {}),
    "saved query 'equivalents'": ("/query", {"example": "equivalents"}),
}


def timed(client, path: str, params: dict, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path, params=params)
        times.append(time.perf_counter() - started)
        if response.status_code not in (200, 404):
            raise SystemExit(f"{path} {params}: HTTP {response.status_code}\n{response.text[:400]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=REPO / ".medkg" / "demo")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import httpx

    from medkg.config import Settings
    from medkg.explorer import Explorer
    from medkg.kg.server import serve
    from medkg.kg.store import OxigraphStore

    store = OxigraphStore(Settings(home=args.home).store_path)
    server = serve(store, port=0, pages=Explorer(store))
    server.start_background()
    results = {}
    try:
        with httpx.Client(base_url=server.base_url, timeout=120) as client:
            timed(client, "/", {}, 1)  # warm the templates and the query process
            floor = timed(client, "/sparql", {"query": "ASK { ?s ?p ?o }"}, args.repeat)
            results["baseline: ASK at /sparql"] = floor
            for name, (path, params) in PAGES.items():
                results[name] = timed(client, path, params, args.repeat)
    finally:
        server.shutdown()
        server.server_close()
        store.close()
    base = statistics.median(floor)
    print(f"{'page':32} {'median ms':>10} {'worst ms':>9} {'× ASK':>7}   ({args.home}, {args.repeat} runs each)")
    for name, times in results.items():
        median = statistics.median(times)
        print(f"{name:32} {median * 1000:10.1f} {max(times) * 1000:9.1f} {median / base:7.2f}")
    if args.json:
        args.json.write_text(json.dumps({k: {"median_s": statistics.median(v), "max_s": max(v)}
                                         for k, v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
