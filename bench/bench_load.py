"""`medkg kg load FILE` as a user runs it — the whole command, derived links included — against raw pyoxigraph
bulk_load into an on-disk store, measured in the same run on the same file.

    python bench/bench_load.py [--triples N] [--repeat R] [--json PATH] [--keep]

Both sides run as fresh processes (interpreter start and imports included): the baseline is a python
process that opens an on-disk `pyoxigraph.Store`, calls `bulk_load` on the file into a named graph and
flushes; medkg is the installed `medkg` command (`medkg --home DIR --quiet kg load FILE`) into a fresh
workspace, which also fingerprints the file, counts what it loaded, records provenance and updates the
derived links and relation vocabulary. The data is bench_kg's ontology-shaped N-Triples (classes with
en/it/es labels, synonyms, UMLS xrefs, a subclass tree, and CreativeWork passages); it adds no medkg
passages and shares no xref with another source, so a load needs no relinking. A second row loads the same
file into a workspace that already holds the demo graph (ontologies/ + examples/), where the file's English
names do meet English passages and mentions are rebuilt: that row is reported, not targeted.

Target: medkg / raw throughput >= 0.80 on the fresh workspace.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kg import generate  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MEDKG = Path(sys.executable).with_name("medkg")
RAW = """import sys, pyoxigraph as ox
store = ox.Store(sys.argv[1])
store.bulk_load(path=sys.argv[2], format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode("https://w3id.org/medkg/graph/bench"))
store.flush()
"""


def run(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--triples", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="loads per side (median reported)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--no-demo-row", action="store_true", help="skip the load into a demo workspace")
    args = parser.parse_args()

    (REPO / "bench" / ".work").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-load-", dir=REPO / "bench" / ".work"))
    data = work / "generic.nt"
    count = generate(data, args.triples)
    print(f"medkg kg load benchmark: {count:,} N-Triples ({data.stat().st_size / 1e6:.0f} MB), "
          f"{args.repeat} loads per side, fresh processes", flush=True)
    raw_times, medkg_times = [], []
    for i in range(args.repeat):  # alternate, so drift on a shared machine hits both sides alike
        raw_dir, home = work / f"raw{i}", work / f"home{i}"
        raw_times.append(run([sys.executable, "-c", RAW, str(raw_dir), str(data)]))
        medkg_times.append(run([str(MEDKG), "--home", str(home), "--quiet", "kg", "load", str(data)]))
        shutil.rmtree(raw_dir), shutil.rmtree(home)
        print(f"  run {i + 1}: raw {raw_times[-1]:.2f} s, medkg {medkg_times[-1]:.2f} s", flush=True)
    raw, medkg = statistics.median(raw_times), statistics.median(medkg_times)
    ratio = raw / medkg
    figures = {"triples": count, "raw_seconds": raw_times, "medkg_seconds": medkg_times,
               "raw_triples_per_s": count / raw, "medkg_triples_per_s": count / medkg, "ratio": ratio}
    print(f"\n{'':34}{'triples/s':>12}{'s':>8}")
    print(f"{'raw pyoxigraph bulk_load':34}{count / raw:>12,.0f}{raw:>8.2f}")
    print(f"{'medkg kg load (whole command)':34}{count / medkg:>12,.0f}{medkg:>8.2f}")
    print(f"medkg / raw throughput = {ratio:.2f}  (target >= 0.80: {'ok' if ratio >= 0.8 else 'MISS'})")
    if not args.no_demo_row:
        home = work / "demo-home"
        subprocess.run([str(MEDKG), "--home", str(home), "--quiet", "kg", "load", str(REPO / "ontologies"),
                        str(REPO / "examples")], check=True, stdout=subprocess.DEVNULL)
        seconds = run([str(MEDKG), "--home", str(home), "--quiet", "kg", "load", str(data)])
        figures["into_demo_seconds"] = seconds
        print(f"into the demo workspace (its English passages meet the file's English names, so mentions are "
              f"rebuilt): {seconds:.2f} s = {raw / seconds:.2f} x raw")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
