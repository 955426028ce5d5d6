"""medkg on a private Virtuoso against the embedded Oxigraph store, whole commands side by side in one run.

    python bench/bench_virtuoso.py [--sources full|small] [--skip-load] [--json PATH]

Both sides are what a user runs: the installed `medkg` command as a fresh process, once with `--home
bench/.work/embedded` (the embedded store under it) and once with the MEDKG_* settings that
`scripts/virtuoso.sh start bench/.work/virtuoso` writes to instance.env (the remote store; `--home
bench/.work/virtuoso-home` only holds medkg's caches). Measured:

- the load of the sources (`--sources full`: the ../shared graph of bench/README.md, ~1.4M triples;
  `--sources small`: `ontologies examples`, the demo graph), the whole command, with per-source seconds from
  its output, and the triple counts of `medkg kg stats --format json` on both (they must agree);
- every saved query (`medkg.kg.queries.SAVED_QUERIES`, with its `.example` arguments): the whole command
  `medkg kg saved NAME key=value ... --format json` (median of 3, sides alternating), and the library call
  `run_saved` on `OxigraphStore(path)` and `SparqlEndpointStore(...)` (one warm-up, then median of 5,
  alternating); rows are checked to agree;
- `medkg kg stats` (median of 3) and a reload of the same sources (every source should be "unchanged");
- the library calls again once Virtuoso has been restarted on its database (on one machine, right after a
  large load, queries returning long literals were far slower until a restart: bench/README.md).

A command that fails or runs past its time limit is recorded (command, seconds, error text with the password
masked) and the bench goes on with what works. Virtuoso is stopped at the end, on failure too.
`--skip-load` reuses the stores left in bench/.work by an earlier run (Virtuoso is restarted on its
database). Ratios are Virtuoso / embedded (above 1: Virtuoso slower).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
MEDKG = Path(sys.executable).with_name("medkg")
WORK = REPO / "bench" / ".work"
VIRTUOSO_DIR = WORK / "virtuoso"
EMBEDDED_HOME = WORK / "embedded"
VIRTUOSO_HOME = WORK / "virtuoso-home"
SCRIPT = REPO / "scripts" / "virtuoso.sh"

SOURCES = {
    "small": [REPO / "ontologies", REPO / "examples"],
    "full": [REPO / "ontologies", REPO / "examples", SHARED / "ontologies" / "doid_subsets",
             SHARED / "ontologies" / "hpo_translations", SHARED / "ontologies" / "wikidata_medical",
             SHARED / "wikipedia_medical" / "enwiki2015_disease_articles.jsonl", SHARED / "relations"],
}
LOAD_TIMEOUT = {"small": 600, "full": 2400}  # seconds per load command
COMMAND_TIMEOUT = 900  # any other command
_SOURCE_LINE = re.compile(r"^(\w+)\s+([\d,]+) triples\s+(\S+)\s+->\s+<([^>]+)>\s+\((\d+(?:\.\d+)?) s\)")

failures: list[dict] = []
_secrets: list[str] = []


def mask(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, "(hidden)")
    return text


def show(command: list[str]) -> str:
    return " ".join(str(part).replace(str(REPO) + "/", "").replace(str(REPO.parent) + "/", "../")
                    for part in command)


def base_env() -> dict[str, str]:
    """The environment without any MEDKG_* setting of the caller's, so only what we pass chooses the store."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MEDKG_")}


def read_instance_env() -> dict[str, str]:
    values = {}
    for line in (VIRTUOSO_DIR / "instance.env").read_text().splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    _secrets.extend(v for k, v in values.items() if k.endswith("PASSWORD") and v)
    return values


class Side:
    def __init__(self, name: str, home: Path, env: dict[str, str]) -> None:
        self.name, self.home, self.env = name, home, env

    def medkg(self, *args: str) -> list[str]:
        return [str(MEDKG), "--home", str(self.home), *args]


def run(side: Side, command: list[str], timeout: float, log: Path | None = None, what: str = "") -> dict:
    """Run a whole command; return seconds, rc, stdout (or the log's text), stderr; record failures."""
    started = time.perf_counter()
    out_file = open(log, "w") if log else subprocess.PIPE
    try:
        proc = subprocess.run(command, env=side.env, stdout=out_file, stderr=subprocess.PIPE, text=True,
                              timeout=timeout)
        seconds = time.perf_counter() - started
        rc, stderr = proc.returncode, proc.stderr or ""
        stdout = log.read_text() if log else proc.stdout
    except subprocess.TimeoutExpired as exc:
        seconds = time.perf_counter() - started
        rc = None
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        stdout = log.read_text() if log else (exc.stdout or b"").decode(errors="replace")
    finally:
        if log:
            out_file.close()
    result = {"seconds": seconds, "rc": rc, "stdout": stdout, "stderr": stderr}
    if rc != 0:
        error = stderr.strip() or stdout.strip()
        failures.append({"side": side.name, "what": what, "command": show(command), "seconds": seconds,
                         "rc": rc, "timed_out": rc is None, "timeout_s": timeout,
                         "error": mask(error[-3000:])})
        state = f"TIMED OUT after {seconds:.1f} s (limit {timeout:.0f} s)" if rc is None else \
            f"FAILED (rc {rc}) after {seconds:.1f} s"
        print(f"  ! {side.name}: {what or show(command)} {state}: {mask(error[-600:])}", flush=True)
    return result


def virtuoso(action: str) -> None:
    done = subprocess.run(["bash", str(SCRIPT), action, str(VIRTUOSO_DIR)], env=base_env(),
                          capture_output=True, text=True)
    print(f"  virtuoso.sh {action}: {mask((done.stdout + done.stderr).strip())}", flush=True)
    if action == "start" and done.returncode != 0:
        raise SystemExit("Virtuoso did not start")


def virtuoso_version(endpoint: str | None) -> str:
    try:
        text = subprocess.run(["virtuoso-t", "+version"], capture_output=True, text=True).stderr
        line = next((ln for ln in text.splitlines() if ln.startswith("Version")), "")
        name = text.splitlines()[0] if text else ""
        version = f"{name.strip()}, {line.strip()}"
    except (OSError, IndexError):
        version = "virtuoso-t not found"
    if endpoint:
        try:
            base = endpoint.rsplit("/", 1)[0] + "/sparql?query=ASK%7B%7D"
            with urllib.request.urlopen(base, timeout=10) as response:
                version += f"; Server header: {response.headers.get('Server')}"
        except OSError as exc:
            version += f"; Server header: (not read: {exc})"
    return version


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def per_source(stdout: str) -> dict[str, tuple[str, int, float]]:
    found = {}
    for line in stdout.splitlines():
        match = _SOURCE_LINE.match(line.strip())
        if match:
            status, triples, name, _graph, seconds = match.groups()
            if name in found:  # the same file in two folders (ontologies/ ships copies): the second is unchanged
                name = f"{name} ({status})"
            found[name] = (status, int(triples.replace(",", "")), float(seconds))
    return found


def stats(side: Side) -> dict | None:
    result = run(side, side.medkg("kg", "stats", "--format", "json"), COMMAND_TIMEOUT, what="kg stats --format json")
    if result["rc"] != 0:
        return None
    try:
        return json.loads(result["stdout"])
    except ValueError:
        failures.append({"side": side.name, "what": "kg stats --format json", "error": "output is not JSON: "
                         + mask(result["stdout"][:300])})
        return None


def count_rows(stdout: str) -> int | None:
    try:
        data = json.loads(stdout)
    except ValueError:
        return None
    if "results" in data:
        return len(data["results"]["bindings"])
    if "boolean" in data:
        return 1
    return None


def fmt_ms(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "—"


def ratio(a: float | None, b: float | None) -> str:
    return f"{b / a:.2f}" if a and b is not None else "—"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", choices=sorted(SOURCES), default="full")
    parser.add_argument("--skip-load", action="store_true", help="reuse the stores in bench/.work")
    parser.add_argument("--cli-repeat", type=int, default=3)
    parser.add_argument("--lib-repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sources = SOURCES[args.sources]
    missing = [str(p) for p in sources if not p.exists()]
    if missing:
        print(f"bench_virtuoso skipped: needs {', '.join(missing)} (../shared/data; --sources small runs without)")
        return
    if not shutil.which("virtuoso-t"):
        print("bench_virtuoso skipped: needs Virtuoso (`make virtuoso` installs Debian's virtuoso-opensource)")
        return
    WORK.mkdir(parents=True, exist_ok=True)
    figures: dict = {"sources": args.sources, "cpu": cpu_model(), "cores": os.cpu_count()}

    # a fresh instance (or, with --skip-load, the old database restarted)
    if (VIRTUOSO_DIR / "instance.env").exists() and (VIRTUOSO_DIR / "virtuoso.lck").exists():
        read_instance_env()
        virtuoso("stop")
    if not args.skip_load:
        for folder in (VIRTUOSO_DIR, EMBEDDED_HOME, VIRTUOSO_HOME):
            shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    virtuoso("start")
    figures["virtuoso_start_s"] = time.perf_counter() - started
    try:
        instance = read_instance_env()
        remote_env = base_env() | {k: v for k, v in instance.items() if k.startswith("MEDKG_")}
        embedded = Side("embedded", EMBEDDED_HOME, base_env())
        remote = Side("virtuoso", VIRTUOSO_HOME, remote_env)
        figures["virtuoso"] = virtuoso_version(instance.get("MEDKG_ENDPOINT"))
        bench(args, sources, embedded, remote, instance, figures)
    finally:
        virtuoso("stop")
        figures["failures"] = failures
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(figures, indent=2, default=str))
        print_failures()


def library_latency(instance: dict, repeat: int) -> dict[str, dict[str, dict]]:
    """Every saved query through `run_saved` on both stores: rows, median ms of `repeat` after one warm-up."""
    from medkg.kg.queries import SAVED_QUERIES, run_saved
    from medkg.kg.store import OxigraphStore, SparqlEndpointStore

    lib: dict[str, dict[str, dict]] = {name: {} for name in SAVED_QUERIES}
    stores = {}
    try:
        stores["embedded"] = OxigraphStore(EMBEDDED_HOME / "store")
        stores["virtuoso"] = SparqlEndpointStore(instance["MEDKG_ENDPOINT"],
                                                 graph_store=instance.get("MEDKG_GRAPH_STORE"),
                                                 user=instance.get("MEDKG_ENDPOINT_USER"),
                                                 password=instance.get("MEDKG_ENDPOINT_PASSWORD"))
        for name, query in SAVED_QUERIES.items():
            times = {s: [] for s in stores}
            for i in range(1 + repeat):
                for side in (list(stores) if i % 2 == 0 else list(stores)[::-1]):
                    if lib[name].get(side, {}).get("error"):
                        continue
                    started = time.perf_counter()
                    try:
                        result = run_saved(stores[side], name, **query.example)
                    except Exception as exc:  # noqa: BLE001 - recorded, the bench goes on
                        seconds = time.perf_counter() - started
                        error = mask(f"{type(exc).__name__}: {exc}")
                        lib[name][side] = {"error": error}
                        failures.append({"side": side, "what": f"run_saved({name!r}, **{query.example})",
                                         "seconds": seconds, "error": error})
                        print(f"  ! {side}: run_saved {name} failed after {seconds:.1f} s: {error[:600]}")
                        continue
                    seconds = time.perf_counter() - started
                    if i > 0:
                        times[side].append(seconds)
                    lib[name][side] = {"rows": len(result.rows) if result.kind == "select" else
                                       (1 if result.kind == "ask" else len(result.triples))}
            for side in stores:
                if times[side]:
                    lib[name][side]["ms"] = 1000 * statistics.median(times[side])
                    lib[name][side]["runs_ms"] = [1000 * t for t in times[side]]
    finally:
        for store in stores.values():
            store.close()
    return lib


def bench(args, sources: list[Path], embedded: Side, remote: Side, instance: dict, figures: dict) -> None:
    sides = (embedded, remote)
    print(f"medkg: Virtuoso vs embedded Oxigraph, whole commands (sources: {args.sources})")
    print(f"CPU: {figures['cpu']} ({figures['cores']} cores)")
    print(f"Virtuoso: {figures['virtuoso']} (started in {figures['virtuoso_start_s']:.1f} s)")
    print(f"medkg: {show([str(MEDKG)])}; embedded --home {show([str(EMBEDDED_HOME)])}; Virtuoso from "
          f"instance.env ({instance.get('MEDKG_ENDPOINT')}, graph store {instance.get('MEDKG_GRAPH_STORE')}), "
          f"--home {show([str(VIRTUOSO_HOME)])} for caches\n", flush=True)
    load_args = ["kg", "load", *[str(p) for p in sources]]
    loads = {}

    # 1. load
    if args.skip_load:
        print("load: skipped (--skip-load), reusing bench/.work stores")
    else:
        print(f"load: {show(['medkg', '--home', 'H', *load_args])}", flush=True)
        for side in sides:
            log = WORK / f"load-{side.name}.log"
            result = run(side, side.medkg(*load_args), LOAD_TIMEOUT[args.sources], log=log, what="kg load")
            loads[side.name] = result
            print(f"  {side.name:9} {result['seconds']:8.1f} s  rc {result['rc']}  (output in {show([str(log)])})",
                  flush=True)
        e, v = loads["embedded"], loads["virtuoso"]
        figures["load_s"] = {"embedded": e["seconds"], "virtuoso": v["seconds"]}
        ok = e["rc"] == 0 and v["rc"] == 0
        print(f"  load wall time: embedded {e['seconds']:.1f} s, Virtuoso {v['seconds']:.1f} s, "
              f"Virtuoso/embedded = {v['seconds'] / e['seconds']:.2f}" + ("" if ok else "  (a load failed)"))
        es, vs = per_source(e["stdout"]), per_source(v["stdout"])
        figures["load_per_source"] = {"embedded": es, "virtuoso": vs}
        print(f"\n  {'source':52}{'triples':>11}{'embedded s':>12}{'Virtuoso s':>12}{'ratio':>7}")
        for name in list(es) + [n for n in vs if n not in es]:
            et, vt = es.get(name), vs.get(name)
            triples = (et or vt)[1]
            print(f"  {name[:52]:52}{triples:>11,}{et[2] if et else float('nan'):>12.1f}"
                  f"{vt[2] if vt else float('nan'):>12.1f}{ratio(et and et[2], vt and vt[2]):>7}"
                  + ("" if et and vt and et[1] == vt[1] else "  triples differ or missing"))
        sum_e, sum_v = sum(x[2] for x in es.values()), sum(x[2] for x in vs.values())
        print(f"  {'sum of per-source lines':52}{'':11}{sum_e:>12.1f}{sum_v:>12.1f}{ratio(sum_e, sum_v):>7}")
        print(f"  {'rest (start, linking, mentions, vocabulary)':52}{'':11}{e['seconds'] - sum_e:>12.1f}"
              f"{v['seconds'] - sum_v:>12.1f}{ratio(e['seconds'] - sum_e, v['seconds'] - sum_v):>7}", flush=True)

    # triple counts
    counts = {side.name: stats(side) for side in sides}
    print("\ntriples (medkg kg stats --format json):")
    for side in sides:
        s = counts[side.name]
        print(f"  {side.name:9} " + (f"{s['triples']:>11,} triples, {s['concepts']:,} concepts, "
                                      f"{s['passages']:,} passages, {s['mentions']:,} mentions, "
                                      f"{len(s['graphs'])} graphs" if s else "(stats failed)"))
    if counts["embedded"] and counts["virtuoso"]:
        e, v = counts["embedded"], counts["virtuoso"]
        same = e["triples"] == v["triples"]
        figures["triples"] = {"embedded": e["triples"], "virtuoso": v["triples"]}
        print(f"  same number of triples: {'yes' if same else 'NO'}")
        eg = {g["graph"]: g["triples"] for g in e["graphs"]}
        vg = {g["graph"]: g["triples"] for g in v["graphs"]}
        for graph in sorted(set(eg) | set(vg)):
            if eg.get(graph) != vg.get(graph):
                print(f"    differs: <{graph}> embedded {eg.get(graph)}, Virtuoso {vg.get(graph)}")
        for key in ("concepts", "passages", "articles", "mentions", "matches", "labels_per_language"):
            if e.get(key) != v.get(key):
                print(f"    differs: {key}: embedded {e.get(key)}, Virtuoso {v.get(key)}")

    # 2. saved queries, whole commands
    from medkg.kg.queries import SAVED_QUERIES

    cli: dict[str, dict[str, dict]] = {}
    print(f"\nsaved queries: whole commands `medkg kg saved NAME key=value ... --format json`, median of "
          f"{args.cli_repeat} (sides alternating)", flush=True)
    for name, query in SAVED_QUERIES.items():
        arguments = [f"{k}={v}" for k, v in query.example.items()]
        cli[name] = {}
        times: dict[str, list[float]] = {s.name: [] for s in sides}
        rows: dict[str, int | None] = {}
        for i in range(args.cli_repeat):
            for side in (sides if i % 2 == 0 else sides[::-1]):
                if side.name in rows and rows[side.name] is None:
                    continue  # it failed: do not repeat the failure
                result = run(side, side.medkg("kg", "saved", name, *arguments, "--format", "json"),
                             COMMAND_TIMEOUT, what=f"kg saved {name} {' '.join(arguments)}")
                if result["rc"] != 0:
                    rows[side.name] = None
                    continue
                times[side.name].append(result["seconds"])
                rows[side.name] = count_rows(result["stdout"])
        for side in sides:
            cli[name][side.name] = {"rows": rows.get(side.name),
                                    "ms": 1000 * statistics.median(times[side.name]) if times[side.name] else None,
                                    "runs_ms": [1000 * t for t in times[side.name]]}
        print(f"  {name:18} embedded {fmt_ms(cli[name]['embedded']['ms']):>9} ms  "
              f"Virtuoso {fmt_ms(cli[name]['virtuoso']['ms']):>9} ms", flush=True)

    # 3. saved queries, in the library (after the commands: the embedded store takes one process at a time)
    print(f"\nsaved queries in the library: run_saved(store, NAME, **example), 1 warm-up + median of "
          f"{args.lib_repeat} (stores alternating)", flush=True)
    lib = library_latency(instance, args.lib_repeat)
    figures["saved_cli"], figures["saved_lib"] = cli, lib

    print("\n| query | rows embedded | rows Virtuoso | command, embedded ms | command, Virtuoso ms | ratio "
          "| library, embedded ms | library, Virtuoso ms | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    unequal = []
    for name in SAVED_QUERIES:
        c, l = cli[name], lib[name]
        counts_seen = {x for x in (c["embedded"]["rows"], c["virtuoso"]["rows"], l.get("embedded", {}).get("rows"),
                                   l.get("virtuoso", {}).get("rows")) if x is not None}
        er = c["embedded"]["rows"] if c["embedded"]["rows"] is not None else l.get("embedded", {}).get("rows")
        vr = c["virtuoso"]["rows"] if c["virtuoso"]["rows"] is not None else l.get("virtuoso", {}).get("rows")
        if len(counts_seen) > 1 or er is None or vr is None:
            unequal.append(name)
        le, lv = l.get("embedded", {}).get("ms"), l.get("virtuoso", {}).get("ms")
        print(f"| {name} | {er if er is not None else 'failed'} | {vr if vr is not None else 'failed'} "
              f"| {fmt_ms(c['embedded']['ms'])} | {fmt_ms(c['virtuoso']['ms'])} "
              f"| {ratio(c['embedded']['ms'], c['virtuoso']['ms'])} "
              f"| {fmt_ms(le)} | {fmt_ms(lv)} | {ratio(le, lv)} |")
    print("rows equal on both stores (command and library) for every query" if not unequal else
          f"rows NOT equal (or a side failed) for: {', '.join(unequal)}")
    for name in unequal:
        c, l = cli[name], lib[name]
        print(f"  {name}: command rows embedded {c['embedded']['rows']}, Virtuoso {c['virtuoso']['rows']}; "
              f"library rows embedded {l.get('embedded', {}).get('rows')}, Virtuoso {l.get('virtuoso', {}).get('rows')}"
              + "".join(f"; library {s} error: {l[s]['error'][:300]}" for s in l if l[s].get("error")))

    # 4. stats and reload
    print(f"\nmedkg kg stats (table), median of {args.cli_repeat}:", flush=True)
    stat_ms = {}
    for side in sides:
        times = []
        for _ in range(args.cli_repeat):
            result = run(side, side.medkg("kg", "stats"), COMMAND_TIMEOUT, what="kg stats")
            if result["rc"] != 0:
                break
            times.append(result["seconds"])
        stat_ms[side.name] = 1000 * statistics.median(times) if times else None
        print(f"  {side.name:9} {fmt_ms(stat_ms[side.name]):>9} ms")
    print(f"  Virtuoso/embedded = {ratio(stat_ms['embedded'], stat_ms['virtuoso'])}")
    figures["stats_ms"] = stat_ms

    print(f"\nreload of the same sources ({show(['medkg', '--home', 'H', *load_args])}):", flush=True)
    reload = {}
    for side in sides:
        log = WORK / f"reload-{side.name}.log"
        result = run(side, side.medkg(*load_args), LOAD_TIMEOUT[args.sources], log=log, what="kg load (reload)")
        found = per_source(result["stdout"])
        statuses: dict[str, int] = {}
        for status, _, _ in found.values():
            statuses[status] = statuses.get(status, 0) + 1
        reload[side.name] = {"seconds": result["seconds"], "rc": result["rc"], "statuses": statuses}
        every = statuses.get("unchanged", 0) == len(found) and found
        print(f"  {side.name:9} {result['seconds']:8.2f} s  rc {result['rc']}  sources: "
              f"{', '.join(f'{n} {s}' for s, n in statuses.items()) or 'none reported'}"
              + ("" if every else "  (NOT all unchanged)"))
    e, v = reload["embedded"]["seconds"], reload["virtuoso"]["seconds"]
    print(f"  Virtuoso/embedded = {v / e:.2f}")
    figures["reload"] = reload

    # 5. the same library calls once Virtuoso has been restarted on its database (see bench/README.md)
    print("\nsaved queries in the library after restarting Virtuoso (same database):", flush=True)
    virtuoso("stop")
    virtuoso("start")
    again = library_latency(instance, args.lib_repeat)
    figures["saved_lib_after_restart"] = again
    print("| query | rows embedded | rows Virtuoso | embedded ms | Virtuoso ms | ratio | Virtuoso ms before restart |")
    print("|---|---|---|---|---|---|---|")
    for name, sides_ in again.items():
        e_, v_ = sides_.get("embedded", {}), sides_.get("virtuoso", {})
        print(f"| {name} | {e_.get('rows', 'failed')} | {v_.get('rows', 'failed')} | {fmt_ms(e_.get('ms'))} "
              f"| {fmt_ms(v_.get('ms'))} | {ratio(e_.get('ms'), v_.get('ms'))} "
              f"| {fmt_ms(lib[name].get('virtuoso', {}).get('ms'))} |")


def print_failures() -> None:
    print("\nfailures and time-outs: " + ("none" if not failures else ""))
    for f in failures:
        state = f"timed out after {f['seconds']:.1f} s" if f.get("timed_out") else \
            f"rc {f.get('rc')} after {f.get('seconds', 0):.1f} s"
        print(f"  - {f['side']}: {f.get('command') or f['what']}\n    {state}\n    "
              + "\n    ".join(f["error"].splitlines()[-15:]))


if __name__ == "__main__":
    main()
