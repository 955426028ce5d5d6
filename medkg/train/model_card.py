"""A model card (README.md) written beside every trained model, from its training record."""
from __future__ import annotations

from pathlib import Path


def render_model_card(record: dict, title: str) -> str:
    hp = record.get("hyperparameters", {})
    data = record.get("data", {})
    hardware = record.get("hardware", {})
    files = "\n".join(f"  - `{Path(f['path']).name}` (sha256 `{f['sha256'][:16]}…`): {f['examples']} questions, "
                      f"{f['repaired_offsets']} answer offsets repaired, {f['dropped']} dropped; licence: "
                      f"{f.get('licence') or 'not stated in the file (see its source)'}"
                      for f in data.get("files", []))
    excluded = ", ".join(f"`{Path(p).name}`" for p in data.get("excluded_files", [])) or "none"
    curve = record.get("loss_curve", [])
    loss = f"{curve[0][1]:.3f} (step {curve[0][0]}) → {curve[-1][1]:.3f} (step {curve[-1][0]})" if curve else "n/a"
    return f"""# {title}

Extractive question answering (SQuAD style) trained with `medkg train qa`.

- Backbone: `{record.get('backbone')}`; method: {record.get('method')}
  ({record.get('trainable_parameters', 0):,} trainable parameters){_continued(hp)}
- Training data:
{files}
- Paragraphs excluded because they appear in (translations of) evaluation files: {excluded}
  ({data.get('dropped_as_held_out', 0)} questions dropped)
- {record.get('examples')} questions → {record.get('windows')} windows of ≤ {hp.get('max_length')} tokens
  (stride {hp.get('stride')}); {record.get('windows_with_answer')} contain their answer, the rest teach "no answer"
- Steps: {record.get('steps')} × batch {hp.get('batch_size')} (× {hp.get('grad_accumulation')} accumulation),
  learning rate {hp.get('learning_rate') or ('5e-4' if record.get('method') == 'lora' else '5e-5')}, linear decay,
  seed {hp.get('seed')}; LoRA r={hp.get('lora_r')}, alpha={hp.get('lora_alpha')} on query/key/value/dense
- Training loss: {loss}
- Hardware: {hardware.get('device')} ({hardware.get('cpu_count')} CPUs, {hardware.get('machine')},
  torch {hardware.get('torch')}{', ' + hardware['gpu'] if hardware.get('gpu') else ''}); wall time
  {record.get('wall_seconds', 0) / 60:.1f} min

{_sections(render_promotion(record.get("promotion")),
            render_evaluation(record.get("evaluation"), record),
            render_annotation_evaluation(record.get("annotation_evaluation")),
            render_throughput(record.get("throughput")))}
Load it with `medkg qa … --model <this folder>` or `ExtractiveQA.load("<this folder>")`; evaluate it with
`medkg eval qa FILE… --model <this folder>`.
"""


def _continued(hyperparameters: dict) -> str:
    start = hyperparameters.get("init_from")
    if not start:
        return ""
    return f"; continues {'the shipped adapter' if start == 'default' else f'`{Path(start).name}`'}"


def _sections(*sections: str) -> str:
    """The card's optional sections, a blank line between them; absent ones leave no gap."""
    return "\n".join(section for section in sections if section)


def render_evaluation(evaluation: dict | None, record: dict | None = None) -> str:
    """The card's evaluation table, XQuAD rows side by side with the published XLM-R figures."""
    from medkg.train.qa_eval import PUBLISHED_XQUAD

    if not evaluation:
        return "Not evaluated yet: `medkg eval qa FILE… --model <this folder> --update-card`.\n"
    base, large = PUBLISHED_XQUAD["xlm-roberta-base"], PUBLISHED_XQUAD["xlm-roberta-large"]
    # F1 of the adapter this one replaced (`medkg train promote`), by file, where the record keeps it
    previous = (record or {}).get("previous_evaluation") or {}
    rows = []
    for r in evaluation["results"]:
        anchor = ""
        if r["file"].startswith("xquad.") and r["lang"] in base:
            anchor = f"{base[r['lang']][0]:.1f} / {large[r['lang']][0]:.1f}"
        was = f" ({previous[r['file']]:.1f})" if r["file"] in previous else ""
        rows.append(f"| `{r['file']}` | {r['lang']} | {r['questions']} | {r['exact_match']:.1f} | {r['f1']:.1f}{was} "
                    f"| {anchor} |")
    if previous:
        rows.append("\nIn brackets: the F1 of the adapter this one replaced, on the same files.")
    return f"""## Evaluation

`{evaluation.get('command', 'medkg eval qa')}` on {evaluation.get('device', '?')}; SQuAD v1.1 EM/F1
(MLQA normalisation for es/it/de). None of these paragraphs was trained on (see exclusions above).
Anchor: published XQuAD F1 of XLM-R base / large, zero-shot after full fine-tuning on English SQuAD
(88k questions); this model: {_seen(record or {})}.

| file | lang | questions | EM | F1 | XLM-R base / large F1 |
|---|---|---|---|---|---|
{chr(10).join(rows)}
"""


def render_promotion(promotion: dict | None) -> str:
    """Why this adapter replaced the previous one (`medkg train promote`): dev F1 per file, before and after."""
    if not promotion or not promotion.get("dev"):
        return ""
    rows = "\n".join(f"| `{r['file']}` | {r['lang']} | {r['questions']} | {r['previous_f1']:.1f} | {r['f1']:.1f} |"
                     for r in promotion["dev"])
    return f"""## Promotion

`{promotion.get('command')}` replaced the previous adapter because its mean F1 on these held-out dev files
was higher ({promotion['previous_mean_f1']:.1f} → {promotion['mean_f1']:.1f}).

| dev file | lang | questions | previous F1 | this adapter's F1 |
|---|---|---|---|---|
{rows}
"""


def render_annotation_evaluation(evaluation: dict | None) -> str:
    """Span F1 and link accuracy on annotated corpora (`medkg eval annotate --update-card`), beside the model
    it was compared with when the command was given one (`--compare-to`)."""
    if not evaluation:
        return ""
    previous = evaluation.get("previous") or {}
    rows = []
    for key, row in evaluation["rows"].items():
        before = previous.get(key)
        was = (lambda field: f" ({before[field]:.3f})" if before and before.get(field) is not None else "")
        link = f"{row['link_acc1']:.3f}{was('link_acc1')}" if row.get("link_acc1") is not None else ""
        rows.append(f"| {row['gold']} | {row['lang']} | {row['type']} | {row['combine']} | {row['strict_f1']:.3f}"
                    f"{was('strict_f1')} | {row['relaxed_f1']:.3f}{was('relaxed_f1')} | {link} |")
    compared = (f" In brackets: `{previous.get('_model')}` in a run of the same command."
                if previous else "")
    return f"""## Clinical annotation

`{evaluation.get('command')}`: span F1 (strict = same offsets, relaxed = overlap) of the schema's answers and
dictionary candidates combined as named, and link accuracy @1 on the matched coded mentions (through the
ontologies' UMLS / ICD-10 / SNOMED xrefs).{compared}

| gold | lang | type | candidates | strict F1 | relaxed F1 | link acc@1 |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}
"""


def render_throughput(rows: list[dict] | None) -> str:
    if not rows:
        return ""
    body = "\n".join(f"| {r['config']} | {r['windows_per_s']:.2f} | {r['windows_per_s'] / rows[0]['windows_per_s']:.2f} "
                     f"| {r['trainable']:,} |" for r in rows)
    return f"""## Training throughput on the machine it was trained on (`bench/bench_train_qa.py`)

| configuration | windows/s | x first row | trainable parameters |
|---|---|---|---|
{body}
"""


def annotation_rows(result: dict) -> dict[str, dict]:
    """`medkg eval annotate --format json` output → card rows keyed by gold, combine, language and type."""
    links = {(r["gold"], r["combine"], r["lang"], r["type"]): r for r in result.get("linking", [])}
    types = {}
    for r in result.get("spans", []):
        types.setdefault(r["gold"], set()).add(r["type"])
    rows: dict[str, dict] = {}
    for r in result.get("spans", []):
        if r["type"] == "all" and len(types[r["gold"]]) == 2:  # one gold type: "all" repeats its rows
            continue
        key = (r["gold"], r["combine"], r["lang"], r["type"])
        row = rows.setdefault("|".join(key), {"gold": r["gold"], "combine": r["combine"], "lang": r["lang"],
                                              "type": r["type"], "link_acc1": (links.get(key) or {}).get("acc1")})
        row[f"{r['match']}_f1"] = r["f1"]
    return rows


def record_annotation_evaluation(folder: Path, result: dict, command: str, previous: dict | None = None) -> Path:
    import json

    from medkg.errors import MedkgError
    from medkg.models.qa import TRAINING_RECORD, read_training_record

    if folder is None or not (Path(folder) / TRAINING_RECORD).exists():
        raise MedkgError("--update-card needs --model FOLDER written by `medkg train qa`", path=folder)
    folder = Path(folder)
    record = read_training_record(folder)
    record["annotation_evaluation"] = {
        "command": command, "rows": annotation_rows(result),
        "previous": {**annotation_rows(previous), "_model": previous.get("model")} if previous else None}
    (folder / TRAINING_RECORD).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return rewrite_card(folder, record)


def rewrite_card(folder: Path, record: dict) -> Path:
    """Render the card again from `record`, keeping its title."""
    card = folder / "README.md"
    title = None
    if card.exists():
        first = card.read_text(encoding="utf-8").splitlines()[:1]
        title = first[0].lstrip("# ").strip() if first and first[0].startswith("# ") else None
    return write_model_card(folder, record, title)


def _seen(record: dict) -> str:
    hp = record.get("hyperparameters", {})
    windows, steps = record.get("windows"), record.get("steps")
    if not windows or not steps:
        return f"{record.get('examples', '?')} training questions"
    batch = hp.get("batch_size", 1) * hp.get("grad_accumulation", 1)
    return (f"{record.get('examples')} training questions in {windows} windows, "
            f"{steps * batch / windows:.2f} epochs")


def write_model_card(folder: Path, record: dict, title: str | None = None) -> Path:
    path = Path(folder) / "README.md"
    path.write_text(render_model_card(record, title or Path(folder).name), encoding="utf-8")
    return path


def record_evaluation(folder: Path | None, scores, command: str, device: str) -> Path:
    """Store `medkg eval qa` scores in a trained model's record and rewrite its card from it."""
    import json
    from dataclasses import asdict

    from medkg.errors import MedkgError
    from medkg.models.qa import TRAINING_RECORD, read_training_record

    if folder is None or not (Path(folder) / TRAINING_RECORD).exists():
        raise MedkgError("--update-card needs --model FOLDER written by `medkg train qa`", path=folder)
    folder = Path(folder)
    record = read_training_record(folder)
    record["evaluation"] = {
        "command": command, "device": device, "trained_questions": record.get("examples"),
        "results": [{k: v for k, v in asdict(s).items() if k != "examples"} for s in scores],
    }
    (folder / TRAINING_RECORD).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return rewrite_card(folder, record)
