"""Supervised fine-tuning of the generator on verified reasoning traces.

Each verified trace becomes one chat: the system and user turns carry the question, the options and the
evidence ([P#] passages, [T#] facts) exactly as the trace prompt showed them; the assistant turn is the trace's
steps and "Answer: X". Only the assistant tokens carry loss (the prompt's labels are -100), so the model learns
to write traces, not to reproduce questions. LoRA (peft) or full fine-tuning through the transformers Trainer:
the same call runs on a GPU with mixed precision, and an interrupted run resumes from its last checkpoint.
The output folder is a Hugging Face model (a LoRA adapter, or the merged / full model) with `medkg_sft.json`
beside the weights: the training config, the data fingerprint, held-out loss before and after, hardware, time.
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from medkg.errors import MedkgError
from medkg.models.causal_lm import load_causal_lm, mark_plain_weights, resolve_source
from medkg.models.device import pick_device
from medkg.rag.generators import ChatMessage
from medkg.rag.trace_export import read_records
from medkg.rag.traces import TraceRecord, evidence_block, options_block
from medkg.train.runs import (file_fingerprint, hardware_record, loss_curve, time_limit_callback,
                              train_resumable)

SFT_RECORD = "medkg_sft.json"
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
_SYSTEM = ("You are a medical expert. Explain the answer to the exam question in short numbered steps that cite "
           "the evidence ids ([P1] passages, [T1] graph facts), then give \"Answer: X\".")


@dataclass
class SFTConfig:
    trace_files: list[Path]
    output_dir: Path
    base: str | None = None                 # None = the offline default generator (SmolLM2-135M-Instruct)
    method: str = "lora"                    # "lora" or "full"
    merge: bool = False                     # LoRA only: save the merged model instead of the adapter
    include_unverified: bool = False        # for experiments; the default trains on verified traces only
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    learning_rate: float | None = None      # default: 2e-4 LoRA, 2e-5 full
    epochs: float = 1.0
    max_steps: int = -1
    max_minutes: float | None = None
    batch_size: int = 4
    grad_accumulation: int = 1
    max_length: int = 1024
    packing: bool = False
    eval_fraction: float = 0.1              # held-out share of the questions (by id), for the before/after loss
    seed: int = 13
    device: str | None = None
    home: Path | None = None                # workspace whose models/ caches the converted base
    logging_steps: int = 10
    save_steps: int = 50

    def lr(self) -> float:
        return self.learning_rate or (2e-4 if self.method == "lora" else 2e-5)


@dataclass
class SFTResult:
    output_dir: Path
    train_examples: int
    eval_examples: int
    eval_loss_before: float | None
    eval_loss_after: float | None
    losses: list[tuple[int, float]] = field(default_factory=list)
    wall_seconds: float = 0.0
    steps: int = 0


def sft_messages(record: TraceRecord) -> list[ChatMessage]:
    item = record.item
    user = (f"Evidence:\n{evidence_block(record.evidence)}\n\nQuestion: {item.question}\n\n"
            f"Options:\n{options_block(item)}")
    steps = "\n".join(f"{s.number}. {s.text}" for s in record.trace.steps)
    return [ChatMessage("system", _SYSTEM), ChatMessage("user", user),
            ChatMessage("assistant", f"{steps}\nAnswer: {item.answer}")]


def encode_example(tokenizer, messages: list[ChatMessage]) -> dict:
    """input_ids and labels with the prompt masked (-100): the chat template renders the prompt with the
    generation prompt, then the whole chat; what the whole adds after the prompt is the assistant's turn."""
    as_dicts = [{"role": m.role, "content": m.content} for m in messages]
    prompt = tokenizer.apply_chat_template(as_dicts[:-1], add_generation_prompt=True, tokenize=False)
    whole = tokenizer.apply_chat_template(as_dicts, tokenize=False)
    if not whole.startswith(prompt):
        raise MedkgError("the chat template does not render the prompt as a prefix of the whole chat; "
                         "cannot separate the assistant turn")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(whole[len(prompt):], add_special_tokens=False)["input_ids"]
    return {"input_ids": prompt_ids + answer_ids, "labels": [-100] * len(prompt_ids) + answer_ids}


def pack(examples: list[dict], max_length: int) -> list[dict]:
    """Whole examples side by side in rows of at most max_length tokens (fewer pad tokens per step)."""
    rows: list[dict] = []
    current = {"input_ids": [], "labels": []}
    for example in examples:
        if current["input_ids"] and len(current["input_ids"]) + len(example["input_ids"]) > max_length:
            rows.append(current)
            current = {"input_ids": [], "labels": []}
        current["input_ids"] += example["input_ids"]
        current["labels"] += example["labels"]
    if current["input_ids"]:
        rows.append(current)
    return rows


class _Collator:
    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: list[dict]) -> dict:
        import torch

        width = max(len(r["input_ids"]) for r in rows)
        pad = lambda values, fill: values + [fill] * (width - len(values))  # noqa: E731
        return {"input_ids": torch.tensor([pad(r["input_ids"], self.pad_id) for r in rows]),
                "labels": torch.tensor([pad(r["labels"], -100) for r in rows]),
                "attention_mask": torch.tensor([pad([1] * len(r["input_ids"]), 0) for r in rows])}


def _fingerprint(files: list[Path], ids: list[str]) -> dict:
    return {"files": {str(f): file_fingerprint(f) for f in files},
            "ids_sha256": hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest(), "questions": len(ids)}


def load_records(config: SFTConfig) -> tuple[list[TraceRecord], list[TraceRecord], dict]:
    """Verified traces (all, with include_unverified), split by question id into train / held-out."""
    records = [r for f in config.trace_files for r in read_records(f)
               if r.verification.passed or config.include_unverified]
    if not records:
        raise MedkgError("no verified traces in " + ", ".join(map(str, config.trace_files)) +
                         " (run `medkg traces generate`, or --include-unverified for experiments)")
    ids = sorted({r.item.id for r in records})
    random.Random(config.seed).shuffle(ids)
    held = set(ids[:int(len(ids) * config.eval_fraction)]) if config.eval_fraction > 0 and len(ids) > 1 else set()
    train = [r for r in records if r.item.id not in held]
    held_out = [r for r in records if r.item.id in held]
    return train, held_out, _fingerprint(config.trace_files, ids)


def train_sft(config: SFTConfig, log: Callable[[str], None] = print) -> SFTResult:
    from transformers import Trainer, TrainingArguments

    if config.method not in ("lora", "full"):
        raise MedkgError(f"unknown training method {config.method!r} (lora or full)")
    if config.merge and config.method != "lora":
        raise MedkgError("--merge applies to LoRA training only")
    train_records, held_records, fingerprint = load_records(config)
    source = resolve_source(config.base)
    model, tokenizer = load_causal_lm(source, cache_dir=(config.home / "models") if config.home else None)
    mark_plain_weights(model)  # a GGUF-derived model is plain fp32 weights: trainable and savable

    def encode(records):
        examples = [encode_example(tokenizer, sft_messages(r)) for r in records]
        kept = [e for e in examples if len(e["input_ids"]) <= config.max_length]
        if len(kept) < len(examples):
            log(f"{len(examples) - len(kept)} examples longer than {config.max_length} tokens skipped")
        return kept

    train_set, held_set = encode(train_records), encode(held_records)
    if not train_set:
        raise MedkgError(f"no training example fits in --max-length {config.max_length}")
    if config.packing:
        train_set = pack(train_set, config.max_length)
    log(f"{len(train_records)} traces → {len(train_set)} training rows; {len(held_set)} held out")
    if config.method == "lora":
        from peft import LoraConfig, TaskType, get_peft_model

        model = get_peft_model(model, LoraConfig(task_type=TaskType.CAUSAL_LM, r=config.lora_r,
                                                 lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                                                 target_modules=LORA_TARGETS))
    plan = pick_device(config.device)
    out = Path(config.output_dir)
    args = TrainingArguments(
        output_dir=str(out / "checkpoints"), per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size, gradient_accumulation_steps=config.grad_accumulation,
        learning_rate=config.lr(), num_train_epochs=config.epochs, max_steps=config.max_steps,
        lr_scheduler_type="cosine", warmup_steps=0.05, logging_steps=config.logging_steps, save_strategy="steps",
        save_steps=config.save_steps, save_total_limit=1, report_to="none", seed=config.seed, bf16=plan.bf16,
        fp16=plan.fp16, use_cpu=plan.device == "cpu", dataloader_num_workers=0, remove_unused_columns=False)
    callbacks = [time_limit_callback(config.max_minutes)] if config.max_minutes else []
    trainer = Trainer(model=model, args=args, train_dataset=train_set, eval_dataset=held_set or None,
                      data_collator=_Collator(tokenizer.pad_token_id), callbacks=callbacks)
    before = trainer.evaluate()["eval_loss"] if held_set else None
    wall = train_resumable(trainer, out / "checkpoints", log)
    after = trainer.evaluate()["eval_loss"] if held_set else None
    result = SFTResult(out, len(train_set), len(held_set), before, after, loss_curve(trainer), round(wall, 1),
                       trainer.state.global_step)
    record = {"base": source.name, "method": config.method, "merged": config.merge, "data": fingerprint,
              "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()
                         if k not in ("trace_files", "output_dir", "home")},
              "eval_loss_before": before, "eval_loss_after": after, "losses": result.losses,
              "wall_seconds": result.wall_seconds, "hardware": hardware_record(plan), "steps": result.steps}
    if trainer.is_world_process_zero():  # under `accelerate launch` every process gets here; one writes
        _save(trainer.model, tokenizer, config, source.name, out)
        (out / SFT_RECORD).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return result


def _save(model, tokenizer, config: SFTConfig, base_name: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if config.method == "lora" and not config.merge:
        model.save_pretrained(str(out))
        # Name the base as the user gave it (the offline default's name, not a cache path): loading resolves it.
        # Written after saving: peft looks a base *name* up on the hub while saving, which offline means a wait.
        adapter_config = out / "adapter_config.json"
        settings = json.loads(adapter_config.read_text(encoding="utf-8"))
        settings["base_model_name_or_path"] = base_name
        adapter_config.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    else:
        if config.method == "lora":
            model = model.merge_and_unload()
        model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))

