"""ONNX Runtime on the CPU: sessions and int8 dynamic quantisation, shared by the dense encoder and QA.

CPUs without AMX have no fast bf16, and fp32 matrix products dominate encoder inference there; ONNX Runtime's
int8 kernels (VNNI where present) run the same graph 2-3x faster. Both users export with torch.onnx, check
the export against torch, then quantise the weights of MatMul (and embedding Gather) nodes.

    quantize_int8(Path("model-fp32.onnx"), Path("model-int8.onnx"))
    session = ort_session(Path("model-int8.onnx"), threads=2)
    outputs = session.run(None, {"input_ids": ids, "attention_mask": mask})
"""
from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path
from types import ModuleType
from typing import Sequence

from medkg.errors import MedkgError


def require_module(module: str, pip_name: str | None = None, purpose: str = "") -> ModuleType:
    """Import `module` or raise a MedkgError that says what to pip install.

    >>> ort = require_module("onnxruntime", purpose="the onnx-int8 dense encoder")
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        what = f" for {purpose}" if purpose else ""
        raise MedkgError(f"{module} is needed{what} but is not installed: pip install {pip_name or module}") from None


def cpu_threads() -> int:
    """The cores this process may use, not the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def quantize_int8(source: Path, target: Path, purpose: str = "quantising an ONNX model", *,
                  reduce_range: bool = True, keep_fp32: Sequence[str] = ()) -> None:
    """Per-channel int8 weights for MatMul and Gather nodes (but the nodes named in `keep_fp32`);
    activations are quantised per batch at run time."""
    require_module("onnx", purpose=purpose)
    require_module("onnxruntime", purpose=purpose)
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Measured on e5-small's dense vectors: per-channel int8 weights keep cosine ~0.997 where
    # per-tensor gives ~0.985. reduce_range (7-bit weights) costs ~0.0005 of cosine but avoids the int16
    # saturation of ORT's u8s8 kernels on x86 CPUs without VNNI, so the file behaves alike on older CPUs.
    # Gather = the 250k x 384 word embeddings: int8 there makes the file 118 MB instead of 407 MB.
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # it logs "consider pre-processing" on the root logger: nothing to act on
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=reduce_range, op_types_to_quantize=["MatMul", "Gather"],
                         nodes_to_exclude=list(keep_fp32))
    finally:
        logging.disable(previous)


def ort_session(path: Path, threads: int | None = None, purpose: str = "running an ONNX model"):
    ort = require_module("onnxruntime", purpose=purpose)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or cpu_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # ORT's load-time warnings (removed initialisers, …) are noise to users
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
