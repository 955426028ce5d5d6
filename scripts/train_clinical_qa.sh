#!/usr/bin/env bash
# How the clinical QA adapter was trained: the shipped SQuAD-it/es adapter (scripts/train_default_qa.sh),
# trained further on clinical QA made from the BSC Spanish entity corpora (CC BY 4.0) with the schema's own
# questions in en/it/es, English clinical-guideline QA (CPGQA, MIT), and a slice of SQuAD-it/es so general
# QA is not forgotten. Held out: each corpus's fixed dev split (15% of documents, by id), every clinical case
# that E3C (the evaluation set, CC BY-NC) also holds, and XQuAD / SQuAD-it held-out paragraphs.
# On a CPU: --max-minutes bounds it; re-running the same command resumes from the last checkpoint.
# On a GPU the same commands run the full data (drop --max-questions and --max-minutes).
set -euo pipefail
DATA=${DATA:-../shared/data}
WORK=${WORK:-.medkg/qa-clinical}
MEDKG=${MEDKG:-.venv/bin/medkg}
MINUTES=${MINUTES:-42}
NER=$DATA/clinical_annotation/spanish_ner
E3C=$DATA/clinical_annotation/e3c/layer1_xmi
mkdir -p "$WORK"
corpus() {  # corpus NAME QUESTIONS: the training split as QA; the dev split for `medkg train promote`
  for split in train dev; do
    "$MEDKG" train squad-from-gold "$NER/$1" --split $split --exclude-overlap "$E3C" --languages en,it,es \
      --passage-chars 700 --unanswerable 0.3 --max-questions "$([ $split = train ] && echo "$2" || echo 300)" \
      --licence "CC BY 4.0 ($1, Barcelona Supercomputing Center; see its PROVENANCE.md)" --out "$WORK/$1.$split.json"
  done
}
corpus distemist "${Q_DISTEMIST:-1500}"
corpus symptemist "${Q_SYMPTEMIST:-1500}"
corpus medprocner "${Q_MEDPROCNER:-900}"
corpus pharmaconer "${Q_PHARMACONER:-800}"
corpus cantemist "${Q_CANTEMIST:-600}"
# SQuAD-it's last 60 paragraphs are the Italian held-out set (as for the shipped adapter); a seeded sample of
# the rest of SQuAD-it and of SQuAD-es keeps general QA in the mix.
.venv/bin/python - "$DATA/extractive_qa" "$WORK" "${Q_SQUAD:-1200}" <<'PY'
import gzip, json, sys
from pathlib import Path
from medkg.train.qa_from_gold import sample_questions, write_squad
data, work, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
squad_it = json.load(gzip.open(data / "squad_it/SQuAD_it-test.json.gz", "rt", encoding="utf-8"))
paragraphs = [(a["title"], p) for a in squad_it["data"] for p in a["paragraphs"]]
held = {"version": "1.1", "data": [{"title": t, "paragraphs": [p]} for t, p in paragraphs[-60:]]}
write_squad(held, work / "squad_it_heldout.json")
rest = {"version": "1.1", "data": [{"title": t, "paragraphs": [p]} for t, p in paragraphs[:-60]]}
write_squad({**sample_questions(rest, count), "licence": "CC BY-SA 4.0 (SQuAD-it, Croce et al. 2018)"},
            work / "squad_it.sample.json")
squad_es = json.loads((data / "squad_es/dev-v1.1-es_small.json").read_text(encoding="utf-8"))
write_squad({**sample_questions(squad_es, count), "licence": "CC BY 4.0 (SQuAD-es, Carrino et al. 2020)"},
            work / "squad_es.sample.json")
PY
"$MEDKG" train qa "$WORK"/{distemist,symptemist,medprocner,pharmaconer,cantemist}.train.json \
  "$DATA/extractive_qa/cpgqa/dataset/cpgQA-v1.0.json" "$WORK"/squad_{it,es}.sample.json \
  --exclude "$DATA/extractive_qa/xquad/xquad.en.json" --exclude "$WORK/squad_it_heldout.json" \
  --init-from default --lr "${LR:-4e-4}" --max-steps "${STEPS:-420}" --max-minutes "$MINUTES" \
  --batch-size 16 --max-length 256 --stride 64 --out "$WORK/adapter" "$@"
# Then: `medkg train promote "$WORK/adapter" --dev "$WORK"/{distemist,symptemist,medprocner,pharmaconer}.dev.json
#   --dev "$WORK/squad_it_heldout.json"` replaces the shipped adapter only if the candidate's mean dev F1 is higher;
# `medkg eval qa` (XQuAD, SQuAD-it held out) and `medkg eval annotate` (E3C, the dev splits) with --update-card
# write the figures into its model card.
