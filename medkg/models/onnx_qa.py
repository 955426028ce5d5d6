"""An extractive-QA model on ONNX Runtime with int8 weights: the CPU engine for machines without fast bf16.

The merged model (backbone + adapter + QA head) is exported once with torch.onnx, checked against torch on a
padded batch, quantised (`medkg.models.onnx_runtime.quantize_int8`) and cached under
`<home>/models/qa-onnx/<fingerprint of the weights>/`. `OnnxQAModel` is called like the transformers model
it replaces, so `ExtractiveQA.predict` does not know which engine it runs.

    model, tokenizer, name = load_qa_model(None, home)
    qa = ExtractiveQA(OnnxQAModel(onnx_qa_path(model, home)), tokenizer, pick_device("cpu"), name)
    # or simply: ExtractiveQA.load(precision="int8")
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from medkg.errors import MedkgError
from medkg.models.backbone import models_dir
from medkg.models.onnx_runtime import ort_session, quantize_int8, require_module

ONNX_QA_DIR = "qa-onnx"
# Part of the cache key: change it whenever the export or the quantisation changes.
ONNX_QA_RECIPE = "qa-start-end/opset17/int8-dynamic-qint8-per-channel-matmul-gather-fp32-head/v2"
# The QA head (one 384 x 2 MatMul) stays fp32 and weights use the full int8 range: measured on 150 XQuAD
# questions each, F1 en 61.2 / es 56.2 against fp32's 61.6 / 57.7; the dense encoder's recipe (7-bit weights,
# head quantised) gave 60.7 / 51.7. Start/end logits are differences of near-equal scores: more sensitive
# to rounding than a pooled vector's direction.
QA_HEAD_NODE = "/model/qa_outputs/MatMul"
PURPOSE = "the int8 QA engine (--precision int8)"


def weights_fingerprint(model) -> str:
    """Hash of every parameter and buffer of the (merged) torch model, plus the recipe: ~0.5 s for e5-small."""
    digest = hashlib.sha256(ONNX_QA_RECIPE.encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:20]


def _export(model, target: Path) -> None:
    torch = require_module("torch", purpose=PURPOSE)
    require_module("onnx", purpose=PURPOSE)

    class StartEnd(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            out = self.model(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=torch.zeros_like(input_ids))
            return out.start_logits, out.end_logits

    ids = torch.tensor([[0, 70, 80, 90, 2], [0, 70, 2, 1, 1]])  # two lengths, so padding is in the trace
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the tracer warns about mask helpers; the export is checked below
        torch.onnx.export(StartEnd().eval(), (ids, mask), str(target), input_names=["input_ids", "attention_mask"],
                          output_names=["start_logits", "end_logits"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "start_logits": axes,
                                        "end_logits": axes})


def _check(model, onnx_file: Path) -> None:
    """The fp32 export must give torch's logits on a padded batch of another shape than the traced one."""
    torch = require_module("torch", purpose=PURPOSE)
    rng = np.random.default_rng(0)
    ids = rng.integers(5, 1000, size=(3, 23)).astype(np.int64)
    ids[:, 0] = 0
    mask = np.ones_like(ids)
    for row, length in enumerate((23, 9, 14)):
        ids[row, length - 1], ids[row, length:], mask[row, length:] = 2, 1, 0
    with torch.inference_mode():
        out = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
    start, end = ort_session(onnx_file, 1, purpose=PURPOSE).run(None, {"input_ids": ids, "attention_mask": mask})
    attended = mask.astype(bool)
    gap = max(float(np.abs(start - out.start_logits.numpy())[attended].max()),
              float(np.abs(end - out.end_logits.numpy())[attended].max()))
    if gap > 1e-3:
        raise MedkgError(f"the ONNX export of the QA model disagrees with torch (logits differ by {gap:.4f}); "
                         "it was not cached", path=onnx_file)


def onnx_qa_path(model, home: Path | None = None) -> Path:
    """The cached int8 ONNX file of this (merged, fp32) QA model; exported, checked and quantised on first use."""
    require_module("onnxruntime", purpose=PURPOSE)
    fingerprint = weights_fingerprint(model)
    root = models_dir(home) / ONNX_QA_DIR
    cache = root / fingerprint
    int8 = cache / "model-int8.onnx"
    if int8.exists():
        return int8
    cache.mkdir(parents=True, exist_ok=True)
    staging = cache / f".partial-{os.getpid()}"  # per process: two first uses never write the same file
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        fp32 = staging / "model-fp32.onnx"
        _export(model, fp32)
        _check(model, fp32)
        quantize_int8(fp32, staging / int8.name, purpose=PURPOSE, reduce_range=False, keep_fp32=[QA_HEAD_NODE])
        os.replace(staging / int8.name, int8)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    (cache / "medkg_source.json").write_text(json.dumps({"fingerprint": fingerprint, "recipe": ONNX_QA_RECIPE},
                                                        indent=2))
    return int8


class OnnxQAModel:
    """Called like a transformers QA model (`model(input_ids=..., attention_mask=...)` → start/end logits)."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        self.path, self.threads = path, threads

    @cached_property
    def session(self):
        return ort_session(self.path, self.threads, purpose=PURPOSE)

    def eval(self) -> "OnnxQAModel":
        return self

    def __call__(self, input_ids, attention_mask) -> SimpleNamespace:
        import torch

        start, end = self.session.run(None, {"input_ids": input_ids.cpu().numpy().astype(np.int64),
                                             "attention_mask": attention_mask.cpu().numpy().astype(np.int64)})
        return SimpleNamespace(start_logits=torch.from_numpy(start), end_logits=torch.from_numpy(end))
