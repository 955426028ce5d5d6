"""Benchmark medkg's batched extractive QA for annotation against the plain transformers pipeline.

    python bench/bench_annotate.py [--docs N] [--folder DIR] [--model M] [--json PATH]

Both sides use the same model (the shipped adapter merged into its backbone) on the same CPU threads and ask
every question of the default schema of every document. The baseline is what a user writes first: one
question at a time, as transformers' `question-answering` pipeline did. transformers 5 removed that
pipeline, so the baseline is the procedure of the Hugging Face question-answering guide (windows with
stride via the tokenizer's overflow, one forward pass per question, the n-best start/end logits mapped back
through the offsets), written with plain transformers calls below. medkg tokenises all (question × window) pairs of a document at once and runs them in length-sorted
batches. The script checks that both return the same best span for each question (offsets compared after
trimming surrounding whitespace) and prints documents per second for both and their ratio (target ≥ 3×).

Documents: E3C Layer 1 English/Italian/Spanish texts from ../shared/data when present (read, never copied),
otherwise the three sample notes in examples/notes.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "clinical_annotation" / "e3c" / "layer1_text"


def load_documents(limit: int, folder: Path | None):
    from medkg.extract.inputs import InputProblem, iter_documents
    from medkg.language import detect_language

    if folder is None:
        folder = SHARED if SHARED.exists() else REPO / "examples" / "notes"
    paths = [folder / lang for lang in ("English", "Italian", "Spanish") if (folder / lang).exists()] or [folder]
    per_folder = max(1, limit // len(paths))
    docs = []
    for path in paths:
        found = [d for d in iter_documents([path]) if not isinstance(d, InputProblem)][:per_folder]
        docs.extend(found)
    return [(d, d.lang or detect_language(d.text[:2000])) for d in docs[:limit]], folder


def hf_guide_answer(model, tokenizer, question: str, context: str, max_length: int, stride: int,
                    max_answer_tokens: int, n_best: int = 20) -> dict:
    """One question, the Hugging Face QA guide's way: {"answer", "start", "end", "score"} (best span)."""
    import numpy as np
    import torch

    enc = tokenizer(question, context, truncation="only_second", max_length=max_length, stride=stride,
                    return_overflowing_tokens=True, return_offsets_mapping=True, padding=True, return_tensors="pt")
    offsets = enc.pop("offset_mapping").tolist()
    enc.pop("overflow_to_sample_mapping", None)
    with torch.inference_mode():
        out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
    best = {"answer": "", "start": 0, "end": 0, "score": float("-inf")}
    for i in range(len(offsets)):
        sequence_ids = enc.sequence_ids(i)
        start_logits, end_logits = out.start_logits[i].numpy(), out.end_logits[i].numpy()
        for s in np.argsort(start_logits)[-1:-n_best - 1:-1]:
            for e in np.argsort(end_logits)[-1:-n_best - 1:-1]:
                if sequence_ids[s] != 1 or sequence_ids[e] != 1 or e < s or e - s + 1 > max_answer_tokens:
                    continue
                score = float(start_logits[s] + end_logits[e])
                if score > best["score"]:
                    start, end = offsets[i][s][0], offsets[i][e][1]
                    best = {"answer": context[start:end], "start": start, "end": end, "score": score}
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=12)
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--model")
    parser.add_argument("--home", type=Path, default=REPO / ".medkg")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--precision", default="auto", help="the medkg rows' engine: auto (medkg's default: bf16 "
                        "with AMX, else fp32) or int8 (ONNX Runtime); fp32 is always timed too")
    parser.add_argument("--graph-home", type=Path, default=REPO / ".medkg" / "demo",
                        help="workspace whose graph gives the dictionary and the linker (skipped when absent)")
    args = parser.parse_args()

    import torch

    from medkg.extract.schema import load_schema
    from medkg.models.qa import ExtractiveQA, trim_span

    torch.set_num_threads(torch.get_num_threads())
    qa = ExtractiveQA.load(args.model, home=args.home, device="cpu", precision=args.precision)
    qa32 = ExtractiveQA.load(args.model, home=args.home, device="cpu", precision="fp32")  # what a user gets
    schema = load_schema()
    docs, folder = load_documents(args.docs, args.folder)
    asks = [(doc, [q for _, q in schema.questions(lang)]) for doc, lang in docs]
    n_questions = sum(len(qs) for _, qs in asks)
    chars = sum(len(doc.text) for doc, _ in asks)
    print(f"{len(docs)} documents ({chars:,} characters) from {folder}, {n_questions} questions in all; "
          f"{torch.get_num_threads()} CPU threads")

    # Warm both up on one question, so neither pays first-call costs in the timing.
    def pipe(question: str, context: str) -> dict:
        return hf_guide_answer(qa32.model, qa32.tokenizer, question, context, qa.max_length, qa.stride,
                               qa.max_answer_tokens)

    pipe("What?", "Warm up.")
    qa.predict(["What?"], ["Warm up."])
    qa32.predict(["What?"], ["Warm up."])

    started = time.perf_counter()
    ours32 = [qa32.predict(questions, [doc.text] * len(questions)) for doc, questions in asks]
    medkg32_seconds = time.perf_counter() - started

    started = time.perf_counter()
    ours = [qa.predict(questions, [doc.text] * len(questions)) for doc, questions in asks]
    medkg_seconds = time.perf_counter() - started

    annotator_seconds = None
    if (args.graph_home / "store").exists():
        # What `medkg annotate` does per document: QA with the dictionary's spans scored in the same pass, the
        # combination rule, assertion and linking (the index is built or read before timing starts).
        from medkg.config import Settings
        from medkg.extract.annotator import Annotator
        from medkg.extract.linker import concept_index
        from medkg.kg.store import OxigraphStore

        graph = OxigraphStore(Settings(home=args.graph_home).store_path, query_timeout=600)
        annotator = Annotator(qa, schema, concept_index(graph, args.graph_home))
        annotator.dictionary  # built once per run, like the index
        annotator.annotate(docs[0][0])
        started = time.perf_counter()
        found = [annotator.annotate(doc) for doc, _ in docs]
        annotator_seconds = time.perf_counter() - started
        from_dictionary = sum(a.source != "qa" for annotations in found for a in annotations)
        graph.close()

    started = time.perf_counter()
    baseline = [[pipe(q, doc.text) for q in questions] for doc, questions in asks]
    baseline_seconds = time.perf_counter() - started

    same32 = sum((p.best.start, p.best.end) == (q.best.start, q.best.end)
                 for mine, theirs in zip(ours32, ours) for p, q in zip(mine, theirs) if p.best and q.best)
    same = differ = 0
    examples = []
    for (doc, questions), mine, theirs in zip(asks, ours, baseline):
        for question, prediction, answer in zip(questions, mine, theirs):
            a = (prediction.best.start, prediction.best.end) if prediction.best else None
            b = trim_span(doc.text, answer["start"], answer["end"]) if answer and answer["answer"] else None
            if a == b:
                same += 1
            else:
                differ += 1
                if len(examples) < 5:
                    examples.append({"doc": doc.id, "question": question, "medkg": a, "pipeline": b})
    result = {
        "documents": len(docs), "questions": n_questions, "characters": chars,
        "medkg_precision": qa.describe(), "medkg_seconds": round(medkg_seconds, 2),
        "medkg_fp32_seconds": round(medkg32_seconds, 2), "pipeline_seconds": round(baseline_seconds, 2),
        "speedup_fp32_batching_only": round(baseline_seconds / medkg32_seconds, 2),
        "fp32_and_auto_same_best_span": same32,
        "medkg_docs_per_s": round(len(docs) / medkg_seconds, 3),
        "pipeline_docs_per_s": round(len(docs) / baseline_seconds, 3),
        "speedup": round(baseline_seconds / medkg_seconds, 2),
        "same_best_span": same, "different_best_span": differ, "differences": examples,
    }
    print(f"medkg batched : {result['medkg_docs_per_s']:.3f} docs/s ({medkg_seconds:.1f} s, {qa.describe()})")
    print(f"medkg fp32    : {len(docs) / medkg32_seconds:.3f} docs/s ({medkg32_seconds:.1f} s): "
          f"{result['speedup_fp32_batching_only']:.2f}x from batching and padding alone; "
          f"best spans equal to the {qa.describe()} run: {same32}/{n_questions}")
    print(f"HF guide loop : {result['pipeline_docs_per_s']:.3f} docs/s ({baseline_seconds:.1f} s), fp32, "
          "one question at a time")
    print(f"speed-up      : {result['speedup']:.2f}x (target >= 3x)")
    if annotator_seconds is not None:
        result.update(annotator_docs_per_s=round(len(docs) / annotator_seconds, 3),
                      annotator_speedup=round(baseline_seconds / annotator_seconds, 2),
                      annotator_spans_from_dictionary=from_dictionary)
        print(f"medkg annotate: {result['annotator_docs_per_s']:.3f} docs/s ({annotator_seconds:.1f} s) with the "
              f"dictionary, assertion and linking ({from_dictionary} spans from the dictionary): "
              f"{result['annotator_speedup']:.2f}x the HF guide loop")
    print(f"same best span: {same}/{same + differ}")
    for example in examples:
        print("  differs:", example)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if differ > 0.05 * (same + differ):
        sys.exit("more than 5% of best spans differ from the pipeline's")


if __name__ == "__main__":
    main()
