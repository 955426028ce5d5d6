"""Retrieval evaluation on extractive-QA files (SQuAD 1.1 layout: XQuAD, SQuAD-it, SQuAD-es).

Each question was written about one paragraph; retrieval is scored on finding that paragraph.

How it works, through the graph (the single source of truth, as for every index):

1. ``load_qa_file`` reads a SQuAD-layout file (``.json`` or ``.json.gz``) into a ``QASet``: paragraphs keyed
   ``"{article_index}:{paragraph_index}"`` (so the parallel XQuAD files share keys) and questions pointing at
   their paragraph's key. The language comes from the file name (``xquad.es.json``, ``SQuAD_it-test.json.gz``,
   ``dev-v1.1-es_small.json``) or is given.
2. ``build_workspace`` writes the corpus paragraphs as Wikipedia-layout JSONL, one article per paragraph
   (titled ``"{article title} ¶{a}p{p}"``: the marker makes the title unique and tokenizes to one token no
   question contains), loads it into an Oxigraph store together with the shipped ontologies (so graph
   retrieval and the text mode's label bridging have DOID/HPO/ICD-10/Wikidata names), links mentions, and
   builds the tantivy and dense indexes from the graph's passages with ``build_indexes``. A long paragraph
   becomes several passages; every passage maps back to its paragraph through its article IRI.
3. ``evaluate`` asks the ``Retriever`` each question (``lang`` = the question file's language), dedupes the
   ranked passages by paragraph (first rank kept) and scores recall@1/5/20 and MRR (MRR@k_max: a gold
   paragraph not in the first k_max counts 0). Cross-lingual runs take questions from one file and the corpus
   from another: the gold paragraph is the corpus paragraph of the question with the same SQuAD id (XQuAD,
   SQuAD-it and SQuAD-es keep the SQuAD ids), or, for files without shared ids, the same positional key when
   both files have the same article/paragraph layout.
4. ``evaluate_retrieval`` is the library face of ``medkg eval retrieval``: a deterministic sample of ``limit``
   questions per file (ordered by a seeded hash of the question id, so parallel files sample the same
   questions), one workspace per corpus file (built once per call, reused across calls given ``workdir``).
   Dense query embeddings are computed once per question, in batches, and shared by the dense and hybrid modes.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import re
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import medkg
from medkg.errors import MedkgError
from medkg.kg.readers.wikidata import wikipedia_article_iri
from medkg.kg.store import GraphStore
from medkg.rag.dense import DenseIndex, Encoder, encoder_for
from medkg.language import SUPPORTED
from medkg.rag.retrieve import MODES, Retriever, build_indexes

# What an evaluation scores unless asked: `lexical` is text + graph fused, which these four already cover.
DEFAULT_MODES = ("text", "dense", "hybrid", "graph")

ONTOLOGIES = Path(medkg.__file__).resolve().parents[1] / "ontologies"
RECALL_AT = (1, 5, 20)
DEFAULT_LIMIT = 200
DEFAULT_SEED = 0
# ISO 639-1 codes recognised in file names (XQuAD's languages, SQuAD translations, medkg's own).
FILE_LANGUAGES = {"ar", "de", "el", "en", "es", "fr", "hi", "it", "ja", "ko", "nl", "pl", "pt", "ro", "ru", "sv",
                  "th", "tr", "vi", "zh"}

# progress(name, total) -> advance(n): the same factory protocol as `build_indexes`.
Progress = Callable[[str, int], Callable[[int], None]]


# -- QA files -----------------------------------------------------------------------------------------------

@dataclass
class QASet:
    """One extractive-QA file: its paragraphs (key, title, context) and questions (id, text, paragraph key)."""

    lang: str
    paragraphs: list[tuple[str, str, str]]
    questions: list[tuple[str, str, str]]
    path: Path | None = None

    @property
    def name(self) -> str:
        return self.path.name if self.path else f"qa-{self.lang}"

    def fingerprint(self) -> str:
        digest = hashlib.sha256(self.lang.encode())
        for key, title, context in self.paragraphs:
            digest.update("\x1f".join((key, title, context)).encode("utf-8") + b"\x1e")
        return digest.hexdigest()[:12]


def language_from_name(path: Path) -> str | None:
    """The one language code in the file name (else in its folder's name), or None."""
    for name in (path.name.lower().removesuffix(".gz").removesuffix(".json"), path.parent.name.lower()):
        found = {token for token in re.findall(r"[a-z]+", name) if token in FILE_LANGUAGES}
        if len(found) == 1:
            return found.pop()
        if len(found) > 1:
            return None  # ambiguous: the caller must say
    return None


def _read_json(path: Path):
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                return json.load(handle)
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise MedkgError("no such file", path=path) from None
    except json.JSONDecodeError as err:
        raise MedkgError(f"invalid JSON: {err.msg}", path=path, line=err.lineno, column=err.colno) from None
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as err:
        raise MedkgError(f"cannot read the file: {err}", path=path) from None


def load_qa_file(path: str | Path, lang: str | None = None) -> QASet:
    """A SQuAD 1.1-layout file (.json or .json.gz) -> QASet. SQuAD 2.0 unanswerable questions are skipped."""
    path = Path(path)
    lang = lang or language_from_name(path)
    if not lang:
        raise MedkgError("cannot tell the language from the file name: name it (e.g. xquad.es.json) or pass "
                         "the language", path=path)
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise MedkgError("not a SQuAD-layout file: expected an object with a 'data' list", path=path)
    paragraphs, questions = [], []
    for a, article in enumerate(data["data"]):
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise MedkgError(f"article #{a} has no 'paragraphs' list", path=path)
        title = " ".join(str(article.get("title") or f"Article {a}").replace("_", " ").split())
        for p, paragraph in enumerate(article["paragraphs"]):
            context = paragraph.get("context") if isinstance(paragraph, dict) else None
            qas = paragraph.get("qas", []) if isinstance(paragraph, dict) else None
            if not isinstance(context, str) or not isinstance(qas, list):
                raise MedkgError(f"article #{a} paragraph #{p} needs a 'context' string and a 'qas' list", path=path)
            key = f"{a}:{p}"
            if context.strip():
                paragraphs.append((key, title, context))
            for q, qa in enumerate(qas):
                if not isinstance(qa, dict) or not isinstance(qa.get("question"), str):
                    raise MedkgError(f"article #{a} paragraph #{p} question #{q} has no 'question' text", path=path)
                if qa.get("is_impossible") or not qa["question"].strip() or not context.strip():
                    continue
                questions.append((str(qa.get("id") or f"{key}:{q}"), qa["question"].strip(), key))
    if not paragraphs or not questions:
        raise MedkgError("no paragraphs with questions in the file", path=path)
    return QASet(lang=lang, paragraphs=paragraphs, questions=questions, path=path)


def _as_qaset(item: str | Path | QASet) -> QASet:
    return item if isinstance(item, QASet) else load_qa_file(item)


def sample_questions(qa: QASet, limit: int | None, seed: int = DEFAULT_SEED,
                     keep: Callable[[str], bool] | None = None) -> list[tuple[str, str, str]]:
    """Up to `limit` questions, chosen by a seeded hash of their id (deterministic; the same ids in parallel
    files), in file order. `keep` filters question ids first."""
    if limit is not None and limit < 1:
        raise MedkgError(f"the question limit must be at least 1, not {limit}")
    questions = [q for q in qa.questions if keep is None or keep(q[0])]
    if limit is None or limit >= len(questions):
        return questions
    order = sorted(range(len(questions)),
                   key=lambda i: hashlib.sha256(f"{seed}\x1f{questions[i][0]}".encode()).hexdigest())
    return [questions[i] for i in sorted(order[:limit])]


def gold_keys(questions: QASet, corpus: QASet) -> dict[str, str]:
    """question id -> the corpus paragraph key that answers it.

    The same file: the question's own paragraph. Another file: the corpus paragraph holding the question with
    the same id; if no id is shared, the same positional key, provided both files have the same layout.
    """
    corpus_keys = {key for key, _, _ in corpus.paragraphs}
    if questions is corpus or (questions.path is not None and questions.path == corpus.path):
        return {qid: key for qid, _, key in questions.questions if key in corpus_keys}
    by_id = {qid: key for qid, _, key in corpus.questions if key in corpus_keys}
    shared = {qid: by_id[qid] for qid, _, _ in questions.questions if qid in by_id}
    if shared:
        return shared
    if [k for k, _, _ in questions.paragraphs] == [k for k, _, _ in corpus.paragraphs]:
        return {qid: key for qid, _, key in questions.questions if key in corpus_keys}
    raise MedkgError(f"{questions.name} and {corpus.name} are not parallel: they share no question ids and their "
                     "paragraphs differ in layout", path=questions.path)


# -- metrics ------------------------------------------------------------------------------------------------

def paragraph_rank(ranked_keys: Iterable[str | None], gold: str, k_max: int = 20) -> int | None:
    """1-based rank of the gold paragraph among the distinct paragraphs of a passage ranking (passages of one
    paragraph count once, at the first one's place; passages outside the corpus are skipped), or None if it
    is not among the first k_max paragraphs."""
    seen: list[str] = []
    for key in ranked_keys:
        if key is None or key in seen:
            continue
        seen.append(key)
        if key == gold:
            return len(seen)
        if len(seen) >= k_max:
            break
    return None


def score_ranks(ranks: Sequence[int | None], recall_at: Sequence[int] = RECALL_AT) -> dict[str, float]:
    """recall@k for each k, and MRR (a miss counts 0)."""
    n = len(ranks)
    scores = {f"recall_at_{k}": (sum(1 for r in ranks if r is not None and r <= k) / n if n else 0.0)
              for k in recall_at}
    scores["mrr"] = sum(1.0 / r for r in ranks if r is not None) / n if n else 0.0
    return scores


@dataclass(frozen=True)
class RetrievalScore:
    question_lang: str
    corpus_lang: str
    mode: str
    n: int
    recall_at_1: float
    recall_at_5: float
    recall_at_20: float
    mrr: float
    questions: str = ""  # question file name
    corpus: str = ""  # corpus file name
    # Retrieval time for the n questions; excludes building the workspace and the one batched encoding of
    # the questions that the dense and hybrid modes share.
    seconds: float = 0.0


def scores_table(scores: Iterable[RetrievalScore]) -> list[dict]:
    """One printable row per score (recalls and MRR rounded to 3 decimals)."""
    rows = []
    for s in scores:
        rows.append({"questions": s.questions, "corpus": s.corpus,
                     "direction": f"{s.question_lang}->{s.corpus_lang}", "mode": s.mode, "n": s.n,
                     "R@1": round(s.recall_at_1, 3), "R@5": round(s.recall_at_5, 3),
                     "R@20": round(s.recall_at_20, 3), "MRR": round(s.mrr, 3), "seconds": round(s.seconds, 1)})
    return rows


# -- workspace ----------------------------------------------------------------------------------------------

def article_title(title: str, key: str) -> str:
    """The title of the one-paragraph article written for paragraph `key` ("3:12" -> "… ¶3p12")."""
    return f"{title} ¶{key.replace(':', 'p')}"


def article_keys(corpus: QASet) -> dict[str, str]:
    """article IRI -> paragraph key, for the articles `build_workspace` writes."""
    return {wikipedia_article_iri(corpus.lang, article_title(title, key)).value: key
            for key, title, _ in corpus.paragraphs}


def write_corpus_jsonl(corpus: QASet, path: Path) -> Path:
    """The corpus paragraphs as Wikipedia-layout JSONL, one article per paragraph (byte-stable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"id": key, "lang": corpus.lang, "title": article_title(title, key), "url": None,
                         "text": context}, ensure_ascii=False) for key, title, context in corpus.paragraphs]
    content = "\n".join(lines) + "\n"
    if not path.exists() or path.read_text(encoding="utf-8") != content:
        path.write_text(content, encoding="utf-8")
    return path


class CachedEncoder:
    """Wraps an encoder so each query is encoded once (dense and hybrid ask for the same questions)."""

    def __init__(self, encoder: Encoder, batch: int = 32) -> None:
        self.encoder, self.name, self.batch = encoder, encoder.name, batch
        self._queries: dict[str, np.ndarray] = {}

    def warm(self, texts: Iterable[str], progress: Callable[[int], None] | None = None) -> None:
        todo = list(dict.fromkeys(t for t in texts if t not in self._queries))
        for start in range(0, len(todo), self.batch):
            chunk = todo[start:start + self.batch]
            for text, vector in zip(chunk, self.encoder.encode_queries(chunk)):
                self._queries[text] = np.asarray(vector, dtype=np.float32)
            if progress:
                progress(len(chunk))

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        self.warm(texts)
        return np.stack([self._queries[t] for t in texts])

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self.encoder.encode_passages(texts)


@dataclass
class Workspace:
    """A graph store and indexes holding one corpus file's paragraphs, plus the shipped ontologies."""

    corpus: QASet
    path: Path
    store: GraphStore
    retriever: Retriever
    keys: dict[str, str] = field(default_factory=dict)  # article IRI -> paragraph key
    encoder: CachedEncoder | None = None

    def close(self) -> None:
        self.store.close()


def build_workspace(corpus: QASet, path: Path, *, dense: bool = True, model: str | None = None,
                    ontologies: Path | None = ONTOLOGIES, progress: Progress | None = None) -> Workspace:
    """Load the corpus (and the ontologies) into a store under `path` and index its passages there.

    Idempotent: loading skips unchanged sources and indexing adds only missing passages, so a workspace left
    in `path` by an earlier run is reused as it is.
    """
    from medkg.kg.loading import load_paths
    from medkg.kg.store import OxigraphStore
    from medkg.rag.tantivy_index import TantivyIndex

    path.mkdir(parents=True, exist_ok=True)
    jsonl = write_corpus_jsonl(corpus, path / "corpus" / f"qa-{corpus.lang}.jsonl")
    store = OxigraphStore(path / "store", query_timeout=120)
    try:
        load_paths(store, [p for p in (ontologies, jsonl) if p is not None])
        store.flush()
        text_index = TantivyIndex(path / "tantivy")
        encoder = CachedEncoder(encoder_for(model)) if dense else None
        dense_index = DenseIndex(path / "dense", encoder) if dense else None
        build_indexes(store, text_index, dense_index, progress=progress)
    except BaseException:
        store.close()
        raise
    return Workspace(corpus, path, store, Retriever(store, text_index, dense_index), article_keys(corpus), encoder)


def workspace_dir(workdir: Path, corpus: QASet) -> Path:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", corpus.name.removesuffix(".gz").removesuffix(".json"))
    return workdir / f"{corpus.lang}-{stem}-{corpus.fingerprint()}"


# -- evaluation ---------------------------------------------------------------------------------------------

def evaluate(questions_set: QASet, corpus_set: QASet, retriever: Retriever,
             modes: Sequence[str] = DEFAULT_MODES,
             k_max: int = 20, *, limit: int | None = None, seed: int = DEFAULT_SEED,
             keys: dict[str, str] | None = None, progress: Progress | None = None) -> list[RetrievalScore]:
    """Score each mode on questions of `questions_set` against the paragraphs of `corpus_set`, which
    `retriever` must index as `build_workspace` writes them (`keys`: article IRI -> paragraph key)."""
    if k_max < max(RECALL_AT):
        raise MedkgError(f"k_max must be at least {max(RECALL_AT)}")
    for mode in modes:
        if mode not in MODES:
            raise MedkgError(f"unknown retrieval mode {mode!r} (use {', '.join(MODES)})")
    keys = keys if keys is not None else article_keys(corpus_set)
    gold = gold_keys(questions_set, corpus_set)
    questions = sample_questions(questions_set, limit, seed, keep=gold.__contains__)
    lang = questions_set.lang if questions_set.lang in SUPPORTED else "auto"
    encoder = getattr(retriever.dense_index, "encoder", None)
    if isinstance(encoder, CachedEncoder) and any(m in ("dense", "hybrid") for m in modes):
        advance = progress(f"encode {questions_set.lang} questions", len(questions)) if progress else None
        encoder.warm([text for _, text, _ in questions], advance)
    scores = []
    depth = 2 * k_max  # passages asked for: a long paragraph has several, and they count once
    for mode in modes:
        advance = progress(f"{questions_set.lang}->{corpus_set.lang} {mode}", len(questions)) if progress else None
        started = time.perf_counter()
        ranks = []
        for qid, text, _ in questions:
            evidence = retriever.retrieve(text, mode=mode, lang=lang, k=depth, facts_per_concept=0)
            ranked = [keys.get(p.passage.article or "") for p in evidence.passages]
            ranks.append(paragraph_rank(ranked, gold[qid], k_max))
            if advance:
                advance(1)
        metrics = score_ranks(ranks)
        scores.append(RetrievalScore(questions_set.lang, corpus_set.lang, mode, len(questions),
                                     metrics["recall_at_1"], metrics["recall_at_5"], metrics["recall_at_20"],
                                     metrics["mrr"], questions=questions_set.name, corpus=corpus_set.name,
                                     seconds=time.perf_counter() - started))
    return scores


def evaluate_retrieval(question_files: Sequence[str | Path | QASet], *, corpus_file: str | Path | QASet | None = None,
                       modes: Sequence[str] = DEFAULT_MODES, limit: int | None = DEFAULT_LIMIT,
                       workdir: str | Path | None = None, progress: Progress | None = None,
                       seed: int = DEFAULT_SEED, model: str | None = None) -> list[RetrievalScore]:
    """`medkg eval retrieval`: score each mode on each question file.

    Without `corpus_file`, each file's questions search its own paragraphs (monolingual); with it, every
    question file searches the corpus file's paragraphs (cross-lingual when the languages differ). `limit`
    questions per file (None: all). The workspaces (graph store + indexes per corpus) go to a temporary folder
    removed afterwards, or to `workdir`, where a later call reuses them.
    """
    if not question_files:
        raise MedkgError("no question files")
    if limit is not None and limit < 1:
        raise MedkgError(f"the question limit must be at least 1, not {limit}")
    modes = list(dict.fromkeys(modes))
    for mode in modes:
        if mode not in MODES:
            raise MedkgError(f"unknown retrieval mode {mode!r} (use {', '.join(MODES)})")
    question_sets = [_as_qaset(f) for f in question_files]
    shared_corpus = _as_qaset(corpus_file) if corpus_file is not None else None
    # Group by corpus so each workspace is built once and closed before the next one opens.
    groups: dict[str, tuple[QASet, list[tuple[int, QASet]]]] = {}
    for index, qa in enumerate(question_sets):
        corpus = shared_corpus or qa
        groups.setdefault(f"{corpus.lang}/{corpus.fingerprint()}", (corpus, []))[1].append((index, qa))
    dense = any(m in ("dense", "hybrid") for m in modes)
    temporary = tempfile.TemporaryDirectory(prefix="medkg-eval-") if workdir is None else None
    root = Path(temporary.name) if temporary else Path(workdir)
    scores: list[tuple[int, RetrievalScore]] = []
    try:
        for corpus, sets in groups.values():
            workspace = build_workspace(corpus, workspace_dir(root, corpus), dense=dense, model=model,
                                        progress=progress)
            try:
                for index, qa in sets:
                    scores += [(index, score) for score in evaluate(
                        qa, corpus, workspace.retriever, modes, limit=limit, seed=seed, keys=workspace.keys,
                        progress=progress)]
            finally:
                workspace.close()
    finally:
        if temporary:
            temporary.cleanup()
    # In the order the files were given (stable: modes keep their order within a file).
    return [score for _, score in sorted(scores, key=lambda pair: pair[0])]
