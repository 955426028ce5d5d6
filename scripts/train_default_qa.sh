#!/usr/bin/env bash
# How the shipped QA adapter (medkg/models/qa_default) was trained: LoRA on SQuAD-it + SQuAD-es from
# ../shared/data, every paragraph that XQuAD (the evaluation set) shares with them excluded, and the last
# 60 paragraphs of SQuAD-it held out as an Italian evaluation set. One hour of wall time on the CPU.
set -euo pipefail
DATA=${DATA:-../shared/data/extractive_qa}
WORK=${WORK:-.medkg/qa-train}
MEDKG=${MEDKG:-.venv/bin/medkg}
mkdir -p "$WORK"
.venv/bin/python - "$DATA/squad_it/SQuAD_it-test.json.gz" "$WORK" <<'PY'
import gzip, json, sys
from pathlib import Path
data = json.load(gzip.open(sys.argv[1], "rt", encoding="utf-8"))
paragraphs = [(a["title"], p) for a in data["data"] for p in a["paragraphs"]]
held = paragraphs[-60:]
out = {"version": "1.1", "data": [{"title": t, "paragraphs": [p]} for t, p in held]}
Path(sys.argv[2], "squad_it_heldout.json").write_text(json.dumps(out, ensure_ascii=False))
PY
"$MEDKG" train qa "$DATA/squad_it/SQuAD_it-test.json.gz" "$DATA/squad_es/dev-v1.1-es_small.json" \
  --exclude "$DATA/xquad/xquad.en.json" --exclude "$WORK/squad_it_heldout.json" \
  --method lora --lr 8e-4 --max-steps "${MAX_STEPS:-520}" --max-minutes "${MAX_MINUTES:-60}" \
  --batch-size 16 --max-length 256 --stride 64 --out "$WORK/adapter" "$@"
# Then: score it on XQuAD and the held-out Italian paragraphs, record the figures in its model card, and
# copy adapter_config.json, adapter_model.safetensors (fp16 is enough), medkg_training.json and README.md
# into medkg/models/qa_default.
"$MEDKG" eval qa "$DATA"/xquad/xquad.{en,es,de}.json "$WORK/squad_it_heldout.json" \
  examples/qa_sample.{en,it,es}.json --model "$WORK/adapter" --update-card
