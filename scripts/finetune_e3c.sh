#!/usr/bin/env bash
# E3C Layer 1 (training split, 36 documents per language): the first 24 documents of each language (by id)
# fine-tune the shipped QA adapter for the schema's problem / sign-symptom questions; the other 12 per
# language are scored, zero-shot and fine-tuned, and never trained on. E3C is CC BY-NC: it stays in ../shared.
set -euo pipefail
E3C=${E3C:-../shared/data/clinical_annotation/e3c/layer1_xmi}
WORK=${WORK:-.medkg/e3c}
MEDKG=${MEDKG:-.venv/bin/medkg}
HOME_DIR=${HOME_DIR:-.medkg/demo}   # a workspace whose graph holds the ontologies (make demo builds it)
mkdir -p "$WORK"
.venv/bin/python - "$E3C" "$WORK" <<'PY'
import sys
from pathlib import Path
from medkg.extract.gold import read_e3c_folder
root, work = Path(sys.argv[1]), Path(sys.argv[2])
train, held = [], []
for lang in ("English", "Italian", "Spanish"):
    ids = sorted(g.document.id for g in read_e3c_folder(root / lang))
    train += ids[:24]
    held += ids[24:]
(work / "train_ids.txt").write_text("\n".join(train) + "\n")
(work / "heldout_ids.txt").write_text("\n".join(held) + "\n")
PY
"$MEDKG" train squad-from-gold "$E3C" --only "$WORK/train_ids.txt" --out "$WORK/train.squad.json"
"$MEDKG" --home .medkg train qa "$WORK/train.squad.json" --init-from default --lr 3e-4 --max-steps 220 \
  --max-minutes 18 --batch-size 16 --max-length 256 --stride 64 --out "$WORK/adapter"
"$MEDKG" --home "$HOME_DIR" eval annotate "$E3C" --exclude "$WORK/train_ids.txt" --format json > "$WORK/zero_shot.json"
"$MEDKG" --home "$HOME_DIR" eval annotate "$E3C" --exclude "$WORK/train_ids.txt" --model "$WORK/adapter" \
  --format json > "$WORK/fine_tuned.json"
