#!/usr/bin/env bash
# Which multi-answer training target works: `--answer-targets first` (a window holding several answers of one
# question learns the first) or `each` (one copy of the window per answer). Same start (the SQuAD-it/es adapter
# that shipped before the clinical one, taken from git), same DisTEMIST training questions, same steps; scored
# by span F1 of the QA answers alone on DisTEMIST's fixed dev split (`medkg eval annotate --combine qa`).
set -euo pipefail
DATA=${DATA:-../shared/data}
WORK=${WORK:-.medkg/qa-targets}
MEDKG=${MEDKG:-.venv/bin/medkg}
NER=$DATA/clinical_annotation/spanish_ner
START=${START:-$WORK/start}
mkdir -p "$WORK"
if [ ! -f "$START/adapter_model.safetensors" ]; then
  # the SQuAD-only adapter: the shipped one as it was before the commit that promoted the clinical one
  before=$(git log -1 --format=%H -- medkg/models/qa_default/adapter_model.safetensors)~1
  mkdir -p "$START"
  for f in adapter_config.json adapter_model.safetensors medkg_training.json README.md; do
    git show "$before:medkg/models/qa_default/$f" > "$START/$f"
  done
fi
"$MEDKG" train squad-from-gold "$NER/distemist" --split train --exclude-overlap "$DATA/clinical_annotation/e3c/layer1_xmi" \
  --languages en,it,es --passage-chars 700 --unanswerable 0.3 --max-questions 800 \
  --licence "CC BY 4.0 (distemist, Barcelona Supercomputing Center)" --out "$WORK/distemist.train.json"
score() {  # score NAME ADAPTER
  "$MEDKG" --home "$WORK/home" eval annotate "$NER/distemist" --split dev --limit "${DOCS:-30}" --combine qa --no-link \
    --model "$2" --format json > "$WORK/eval-$1.json"
}
score start "$START"
for target in first each; do
  "$MEDKG" train qa "$WORK/distemist.train.json" --init-from "$START" --answer-targets $target --lr 4e-4 \
    --max-steps "${STEPS:-40}" --batch-size 16 --max-length 256 --stride 64 --out "$WORK/adapter-$target"
  score $target "$WORK/adapter-$target"
done
