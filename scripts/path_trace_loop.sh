#!/usr/bin/env bash
# The trace -> few-shot -> SFT loop on the full ../shared data, measured end to end (issue 17).
#
# Training side (traces): HEAD-QA train es/en, CasiMedicos train it/es/en, MedMCQA dev part 1/2 (split by id).
# Evaluation side (never overlaps): a fixed 200-question MedQA-US 4-option test sample, 100 of MedMCQA dev part
# 2/2, 60 each of HEAD-QA dev es/en, CasiMedicos dev it/es/en (51 each). SmolLM2-135M answers zero-shot, with
# retrieved evidence (rag) and few-shot with 3 verified path traces as demonstrations; then SFT on the verified
# traces (held-out loss before/after in medkg_sft.json) and zero-shot again with the tuned model.
# Every figure lands as JSON under $WORK (accuracy with 95% CIs, letters picked, predictions per question).
set -euo pipefail
DATA=${DATA:-../shared/data}/mcqa
HOME_DIR=${HOME_DIR:-.medkg/eval}   # the full graph: see bench/README.md, bench_graph.py
WORK=${WORK:-.medkg/trace-loop}
MEDKG=${MEDKG:-.venv/bin/medkg}
SFT_STEPS=${SFT_STEPS:-200}
M="$MEDKG --home $HOME_DIR"
mkdir -p "$WORK"
TRACES=$WORK/traces_train.jsonl
VERIFIED=$WORK/verified_train.jsonl

$M traces generate "$DATA/head_qa/es/train_HEAD.json" "$DATA/head_qa/en/train_HEAD_EN.json" --out "$TRACES" \
  --format json > "$WORK/gen_headqa.json"
for l in it es en; do
  $M traces generate "$DATA/casimedicos/casimedicos_arg_mcqa_$l.jsonl" --split train --out "$TRACES" --format json \
    > "$WORK/gen_casi_$l.json"
done
$M traces generate "$DATA/medmcqa/dev.jsonl" --part 1/2 --out "$TRACES" --format json > "$WORK/gen_medmcqa.json"
$M traces verify "$TRACES" --verified-out "$VERIFIED" --format json > "$WORK/verify_train.json"

evaluate() {  # name, generator (default = SmolLM2), mode, extra options...
  local name=$1 gen=$2 mode=$3; shift 3
  local g=(); [ "$gen" != default ] && g=(--generator "$gen")
  local common=(--mode "$mode" "${g[@]}" "$@" --format json)
  $M eval mcq "$DATA/medqa_usmle/test_4options_phrases_no_exclude.jsonl" --sample 200 "${common[@]}" \
    --predictions "$WORK/pred_${name}_medqa.jsonl" > "$WORK/${name}_medqa.json"
  $M eval mcq "$DATA/medmcqa/dev.jsonl" --part 2/2 --sample 100 "${common[@]}" \
    --predictions "$WORK/pred_${name}_medmcqa.jsonl" > "$WORK/${name}_medmcqa.json"
  $M eval mcq "$DATA/head_qa/es/dev_HEAD.json" "$DATA/head_qa/en/dev_HEAD_EN.json" --sample 60 "${common[@]}" \
    --predictions "$WORK/pred_${name}_headqa.jsonl" > "$WORK/${name}_headqa.json"
  for l in it es en; do
    $M eval mcq "$DATA/casimedicos/casimedicos_arg_mcqa_$l.jsonl" --split dev "${common[@]}" \
      --predictions "$WORK/pred_${name}_casi_$l.jsonl" > "$WORK/${name}_casi_$l.json"
  done
}

evaluate before default few-shot --traces "$VERIFIED"      # zero-shot runs beside it (the baseline)
evaluate before_rag default rag --no-baseline
$M train sft "$VERIFIED" --out "$WORK/sft" --max-steps "$SFT_STEPS" --batch-size 2 --max-length 1024 \
  --eval-fraction 0.1 --max-minutes "${SFT_MINUTES:-14}" > "$WORK/sft.log" 2>&1
evaluate after "$WORK/sft" zero-shot
