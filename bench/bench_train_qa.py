"""Extractive-QA training throughput on this machine: the whole `medkg train qa` command per configuration.

    python bench/bench_train_qa.py [--steps 26] [--json PATH]

Each configuration runs the installed `medkg train qa` as a user would (a fresh process: imports, backbone,
tokenisation, training, saving) for `--steps` optimiser steps of batch 16 on the same SQuAD file, built from
DisTEMIST's training split (../shared data; passages of ~700 characters, questions in en/it/es) by `medkg train
squad-from-gold`. Reported per configuration: training windows per second (steps x batch / training wall time
from medkg_training.json), training questions per second (the same, times questions per window: shorter
windows are cheaper, but there are more of them), the whole command's wall time, and the loss at step 25; the ratio
is against the first row, the configuration the shipped adapter was trained with (256 tokens, stride 64,
LoRA r=16 on query/key/value/dense, random batches, all cores).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
DISTEMIST = SHARED / "clinical_annotation" / "spanish_ner" / "distemist"
E3C = SHARED / "clinical_annotation" / "e3c" / "layer1_xmi"
MEDKG = str(Path(sys.executable).with_name("medkg"))

CONFIGS = [
    ("baseline: 256 tok, stride 64, LoRA r16 q/k/v/dense, random batches", []),
    ("length-grouped batches", ["--group-by-length"]),
    ("192 tokens", ["--group-by-length", "--max-length", "192", "--stride", "48"]),
    ("384 tokens, stride 128", ["--group-by-length", "--max-length", "384", "--stride", "128"]),
    ("LoRA r8 on query/value only", ["--group-by-length", "--lora-r", "8", "--lora-targets", "query,value"]),
    ("full fine-tuning", ["--group-by-length", "--method", "full"]),
    ("1 thread", ["--group-by-length", "--threads", "1"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=26)  # the loss is logged every 25 steps
    parser.add_argument("--home", type=Path, default=REPO / "bench" / ".work" / "train-home")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not DISTEMIST.exists():
        print(f"skipped: needs {DISTEMIST} (../shared/data)")
        return
    work = REPO / "bench" / ".work" / "train_qa"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    data = work / "distemist.train.json"
    subprocess.run([MEDKG, "--quiet", "train", "squad-from-gold", str(DISTEMIST), "--split", "train",
                    "--exclude-overlap", str(E3C), "--languages", "en,it,es", "--passage-chars", "700",
                    "--unanswerable", "0.3", "--out", str(data)], check=True, stdout=subprocess.DEVNULL)
    print(f"{os.cpu_count()} CPUs; {args.steps} steps of batch 16 per configuration; data {data.name}\n")
    rows = []
    for name, extra in CONFIGS:
        out = work / f"run{len(rows)}"
        command = [MEDKG, "--home", str(args.home), "--quiet", "train", "qa", str(data), "--out", str(out),
                   "--max-steps", str(args.steps), "--batch-size", "16", *extra]
        if "--group-by-length" not in extra:
            command.append("--no-group-by-length")
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        whole = time.perf_counter() - started
        record = json.loads((out / "medkg_training.json").read_text())
        windows_per_s = record["steps"] * 16 / record["wall_seconds"]
        # Shorter windows are cheaper but there are more of them: questions/s is what a run's length depends on.
        questions_per_s = windows_per_s * record["examples"] / record["windows"]
        losses = [loss for _, loss in record["loss_curve"]]
        rows.append({"config": name, "windows_per_s": windows_per_s, "questions_per_s": questions_per_s,
                     "windows": record["windows"], "command_s": whole,
                     "train_s": record["wall_seconds"], "last_loss": losses[-1] if losses else None,
                     "trainable": record["trainable_parameters"]})
        base = rows[0]["windows_per_s"]
        print(f"{name:66} {windows_per_s:6.2f} windows/s  x{windows_per_s / base:4.2f}  "
              f"{questions_per_s:5.2f} questions/s  command {whole:6.1f} s  "
              f"loss {rows[-1]['last_loss'] if rows[-1]['last_loss'] is not None else float('nan'):.3f}  "
              f"({record['trainable_parameters']:,} trainable)", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
