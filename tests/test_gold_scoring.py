"""Gold readers (E3C Layer 1 XMI, CodiEsp) on the real data in ../shared, and span/link/negation scoring on
hand-built cases. E3C is CC BY-NC: its text is read from ../shared, never copied here."""
from __future__ import annotations

import re
from collections import Counter

import pytest

from conftest import shared
from medkg.errors import MedkgError
from medkg.extract.gold import (
    read_codiesp,
    read_e3c_folder,
    read_e3c_xmi,
    read_gold,
    summarize_gold,
)
from medkg.extract.records import Annotation, Assertion, ConceptLink, Document, GoldDocument, GoldMention
from medkg.extract.scoring import assertion_agreement, score_annotations, scores_table

E3C = "clinical_annotation/e3c"
CODIESP = "clinical_annotation/codiesp"
TYPE_MAP = {"CLINENTITY": {"problem", "sign_symptom"}, "DIAGNOSTICO": {"problem", "sign_symptom"},
            "PROCEDIMIENTO": {"procedure", "test"}}
PREDICTED_TYPE = {"CLINENTITY": "problem", "DIAGNOSTICO": "problem", "PROCEDIMIENTO": "procedure"}

# Measured on the E3C Layer 1 training split in ../shared (36 documents per language, as PROVENANCE.md says):
# CLINENTITY elements in the XMI, mentions after merging elements with the same span, mentions with a CUI,
# mentions flagged DISCONTINUOUS, mentions with a polarity (same-span EVENT / sole EVENT inside) and NEG ones.
E3C_COUNTS = {
    "English": {"lang": "en", "elements": 463, "mentions": 462, "coded": 442, "discontinuous": 17,
                "polarity_same": 157, "neg_same": 37, "polarity_contained": 365, "neg_contained": 55},
    "Italian": {"lang": "it", "elements": 361, "mentions": 361, "coded": 342, "discontinuous": 7,
                "polarity_same": 110, "neg_same": 2, "polarity_contained": 226, "neg_contained": 10},
    "Spanish": {"lang": "es", "elements": 525, "mentions": 525, "coded": 484, "discontinuous": 15,
                "polarity_same": 253, "neg_same": 33, "polarity_contained": 453, "neg_contained": 47},
}
# CodiEsp-X, measured: rows, mentions after merging rows with the same label and offsets, per label,
# mentions with several fragments, mentions whose text disagrees with the file at their offsets.
CODIESP_COUNTS = {
    "train": {"documents": 500, "rows": 9181, "mentions": 9091, "DIAGNOSTICO": 7172, "PROCEDIMIENTO": 1919,
              "multi_span": 1751, "offset_mismatch": 4},
    "dev": {"documents": 250, "rows": 4477, "mentions": 4441, "DIAGNOSTICO": 3419, "PROCEDIMIENTO": 1022,
            "multi_span": 955, "offset_mismatch": 2},
}


# ------------------------------------------------------------------------------------ E3C on real data


@pytest.mark.parametrize("folder", sorted(E3C_COUNTS))
def test_e3c_counts_offsets_and_codes(folder):
    path = shared(f"{E3C}/layer1_xmi/{folder}")
    expected = E3C_COUNTS[folder]
    docs = read_e3c_folder(path)
    assert len(docs) == 36
    assert {g.document.lang for g in docs} == {expected["lang"]}
    assert sum(f.read_text(encoding="utf-8").count("<custom:CLINENTITY ") for f in path.glob("*.xml")) \
        == expected["elements"]
    summary = summarize_gold(docs)[expected["lang"]]
    assert summary == {"documents": 36, "mentions": expected["mentions"], "coded": expected["coded"],
                       "discontinuous": expected["discontinuous"], "multi_span": 0, "offset_mismatch": 0}
    for gold in docs:
        assert gold.document.id == gold.document.path.stem
        for m in gold.mentions:
            assert m.type == "CLINENTITY" and len(m.spans) == 1
            assert m.text == gold.document.text[m.start:m.end]
            assert m.text and m.text == m.text.strip()  # offsets land on the entity, not one char off
            assert all(re.fullmatch(r"UMLS:C\d{7}", c) for c in m.codes)
            if m.attributes.get("entityID", "").upper().replace("-", "") == "CUILESS":
                assert m.codes == ()
    # the sole mention of each span: the official IOB conversion (train.txt) drops discontinuous and nested
    # entities; what is left here is within a handful of its entity count.
    iob = shared(f"{E3C}/iob_layer1/{folder}/train.txt").read_text(encoding="utf-8").splitlines()
    iob_entities = sum(1 for line in iob if line.rsplit(" ", 1)[-1].startswith("B-"))
    flat = 0
    for gold in docs:
        for m in gold.mentions:
            nested = any(o is not m and o.start < m.end and m.start < o.end for o in gold.mentions)
            flat += not nested and m.attributes.get("discontinuous") != "true"
    assert abs(flat - iob_entities) <= 5


@pytest.mark.parametrize("folder", sorted(E3C_COUNTS))
def test_e3c_event_attributes(folder):
    path = shared(f"{E3C}/layer1_xmi/{folder}")
    expected = E3C_COUNTS[folder]
    for mode, suffix in (("same_span", "same"), ("contained", "contained")):
        docs = [read_e3c_xmi(f, event_match=mode) for f in sorted(path.glob("*.xml"))]
        mentions = [m for g in docs for m in g.mentions]
        with_polarity = [m for m in mentions if "polarity" in m.attributes]
        assert len(with_polarity) == expected[f"polarity_{suffix}"]
        assert sum(m.attributes["polarity"] == "NEG" for m in with_polarity) == expected[f"neg_{suffix}"]
        assert all(m.attributes.get("docTimeRel") and m.attributes.get("contextualModality")
                   for m in with_polarity)
        if mode == "same_span":
            assert {m.attributes["event_span"] for m in with_polarity} == {"same"}


def test_e3c_quirks_split_file_and_other_layers():
    english = shared(f"{E3C}/layer1_xmi/English")
    gold = read_e3c_xmi(english / "EN100017.xml")
    by_span = {(m.start, m.end): m for m in gold.mentions}
    # a CUI typed into the 'discontinuous' feature, no entityID: the CUI is the code
    assert by_span[(192, 207)].codes == ("UMLS:C0000737",)
    assert by_span[(192, 207)].attributes["cui_source"] == "discontinuous"
    # discontinuous="DISCONTINUOUS" with a CUI: one covering span, flagged
    assert by_span[(312, 341)].codes == ("UMLS:C0151205",)
    assert by_span[(312, 341)].attributes["discontinuous"] == "true"
    # two elements over one span (one without a CUI) merge into one mention that keeps the CUI
    merged = [m for m in read_e3c_xmi(english / "EN106156.xml").mentions if (m.start, m.end) == (160, 168)]
    assert len(merged) == 1 and merged[0].codes == ("UMLS:C0038999",)
    # Spanish CUI-LESS with the English concept's CUI: no gold code, the CUI kept as an attribute
    spanish = [m for g in read_e3c_folder(shared(f"{E3C}/layer1_xmi/Spanish")) for m in g.mentions]
    cuiless = [m for m in spanish if m.attributes.get("entityID") == "CUILESS"]
    assert len(cuiless) == 41 and all(m.codes == () for m in cuiless)
    assert sum("cui_en" in m.attributes for m in cuiless) == 19

    split = shared(f"{E3C}/train_test_split.txt")
    italian = read_e3c_folder(shared(f"{E3C}/layer1_xmi/Italian"), split_file=split)
    assert len(italian) == 36  # the folder is the training split: every file is listed
    listed = set(re.findall(r"'(IT\d+)'", split.read_text(encoding="utf-8")))
    assert {g.document.id for g in italian} <= listed

    layers = read_e3c_xmi(english / "EN100017.xml", layers=("CLINENTITY", "EVENT", "TIMEX3", "ACTOR"))
    types = Counter(m.type for m in layers.mentions)
    assert types == {"CLINENTITY": 34, "EVENT": 108, "TIMEX3": 13, "ACTOR": 18}
    timex = next(m for m in layers.mentions if m.type == "TIMEX3")
    assert "timex3Class" in timex.attributes and "timexLink" not in timex.attributes
    with pytest.raises(MedkgError, match="unknown E3C layer"):
        read_e3c_xmi(english / "EN100017.xml", layers=("CLINENTITIES",))


def test_e3c_xmi_utf16_offsets_and_lang(tmp_path):
    """UIMA offsets count UTF-16 units: after a character outside the BMP they are one ahead of Python's."""
    text = "Fever 🤒 and no cough.\r\nRash."
    start_cough = text.index("cough")
    start_rash = text.index("Rash")
    xmi = f"""<?xml version="1.0" encoding="UTF-8"?>
<xmi:XMI xmlns:xmi="http://www.omg.org/XMI" xmlns:cas="http:///uima/cas.ecore"
 xmlns:custom="http:///webanno/custom.ecore" xmi:version="2.0">
 <cas:Sofa xmi:id="12" sofaNum="1" sofaID="_InitialView" mimeType="text"
  sofaString="Fever 🤒 and no cough.&#13;&#10;Rash."/>
 <custom:CLINENTITY xmi:id="1" sofa="12" begin="0" end="5" entityID="C0015967"/>
 <custom:CLINENTITY xmi:id="2" sofa="12" begin="{start_cough + 1}" end="{start_cough + 6}" entityID="CUI-LESS"/>
 <custom:CLINENTITY xmi:id="3" sofa="12" begin="{start_rash + 1}" end="{start_rash + 5}" entityID="C0015230"/>
 <custom:EVENT xmi:id="4" sofa="12" begin="{start_cough + 1}" end="{start_cough + 6}" polarity="NEG"
  contextualModality="ACTUAL" docTimeRel="OVERLAP" TLINK="9"/>
</xmi:XMI>"""
    folder = tmp_path / "Italian"
    folder.mkdir()
    path = folder / "XX000001.xml"
    path.write_text(xmi, encoding="utf-8")
    gold = read_e3c_xmi(path)
    assert gold.document.text == text and gold.document.lang == "it"
    assert [(m.text, m.codes) for m in gold.mentions] == [
        ("Fever", ("UMLS:C0015967",)), ("cough", ()), ("Rash", ("UMLS:C0015230",))]
    cough = gold.mentions[1]
    assert cough.attributes == {"entityID": "CUI-LESS", "polarity": "NEG", "contextualModality": "ACTUAL",
                                "docTimeRel": "OVERLAP", "event_span": "same"}
    assert read_gold(path)[0].mentions == gold.mentions
    assert read_e3c_xmi(path, lang="en").document.lang == "en"

    broken = tmp_path / "broken.xml"
    broken.write_text("<xmi:XMI", encoding="utf-8")
    with pytest.raises(MedkgError, match="not well-formed") as error:
        read_e3c_xmi(broken)
    assert error.value.path == str(broken) and error.value.line == 1


# ------------------------------------------------------------------------------- CodiEsp on real data


@pytest.mark.parametrize("split", sorted(CODIESP_COUNTS))
def test_codiesp_counts_offsets_and_codes(split):
    path = shared(f"{CODIESP}/{split}")
    expected = CODIESP_COUNTS[split]
    docs = read_codiesp(path)
    rows = (path / f"{split}X.tsv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == expected["rows"]
    assert len(docs) == expected["documents"] and {g.document.lang for g in docs} == {"es"}
    mentions = [m for g in docs for m in g.mentions]
    assert len(mentions) == expected["mentions"]
    assert Counter(m.type for m in mentions) == {"DIAGNOSTICO": expected["DIAGNOSTICO"],
                                                 "PROCEDIMIENTO": expected["PROCEDIMIENTO"]}
    summary = summarize_gold(docs)["es"]
    assert summary["multi_span"] == expected["multi_span"]
    assert summary["offset_mismatch"] == expected["offset_mismatch"]  # few: a dropped ')' or '.', no drift
    # merging keeps every row's code: the codes of all mentions are the rows' codes
    assert sum(len(m.codes) for m in mentions) == len(rows)
    for gold in docs:
        text = gold.document.text
        for m in gold.mentions:
            assert len(m.codes) >= 1
            pattern = r"ICD10CM:[A-Z]\d[0-9A-Z]*(\.[0-9A-Z]+)?" if m.type == "DIAGNOSTICO" else r"ICD10PCS:[0-9A-Z]+"
            assert all(re.fullmatch(pattern, c) for c in m.codes), m.codes
            assert m.text == " ".join(text[s:e] for s, e in m.spans)
            if len(m.spans) == 1:
                assert m.text == text[m.start:m.end]
            if m.attributes.get("offset_mismatch") != "true":
                assert m.attributes == {}


def test_codiesp_discontinuous_and_normalised_codes():
    docs = {g.document.id: g for g in read_codiesp(shared(f"{CODIESP}/train"), limit=3)}
    assert len(docs) == 3
    gold = docs["S0004-06142005000700014-1"]
    by_spans = {m.spans: m for m in gold.mentions}
    # "Estreptomicina intramuscular  2787 2801;2810 2823" → two fragments
    injection = by_spans[((2787, 2801), (2810, 2823))]
    assert injection.type == "PROCEDIMIENTO" and injection.codes == ("ICD10PCS:3E02329",)
    assert injection.text == "Estreptomicina intramuscular" and (injection.start, injection.end) == (2787, 2823)
    assert by_spans[((2163, 2171),)].codes == ("ICD10PCS:BW03ZZZ",)
    assert by_spans[((1250, 1256),)].codes == ("ICD10CM:R60.9",)
    assert by_spans[((1250, 1256),)].text == "edemas"


def test_codiesp_tsv_errors_and_crlf(tmp_path):
    split = tmp_path / "mini"
    (split / "text_files").mkdir(parents=True)
    text = "Paciente con fiebre.\r\nSe hizo una radiografía de tórax.\r\n"
    (split / "text_files" / "case-1.txt").write_bytes(text.encode("utf-8"))
    fever, xray, chest = text.index("fiebre"), text.index("radiografía"), text.index("tórax")
    good = [f"case-1\tDIAGNOSTICO\tr50.9\tfiebre\t{fever} {fever + 6}",
            f"case-1\tPROCEDIMIENTO\tbw03zzz\tradiografía tórax\t{xray} {xray + 11};{chest} {chest + 5}",
            f"case-1\tDIAGNOSTICO\tr50.8\tfiebre\t{fever} {fever + 6}",
            f"case-1\tDIAGNOSTICO\tr05\tfiebr\t{fever} {fever + 6}",  # mention disagrees with the text
            "case-2\tDIAGNOSTICO\tr05\ttos\t0 3"]  # no text file: skipped, not an error
    tsv = split / "miniX.tsv"
    tsv.write_text("\n".join(good) + "\n", encoding="utf-8")
    (gold,) = read_codiesp(split)
    assert gold.document.text == text  # \r\n kept, so the offsets after it hold
    assert [(m.type, m.spans, m.text, m.codes) for m in gold.mentions] == [
        ("DIAGNOSTICO", ((fever, fever + 6),), "fiebre", ("ICD10CM:R50.9", "ICD10CM:R50.8", "ICD10CM:R05")),
        ("PROCEDIMIENTO", ((xray, xray + 11), (chest, chest + 5)), "radiografía tórax", ("ICD10PCS:BW03ZZZ",)),
    ]
    assert gold.mentions[0].attributes == {"mention": "fiebr", "offset_mismatch": "true"}
    assert read_gold(split)[0].mentions == gold.mentions

    for bad, message in (("case-1\tDIAGNOSTICO\tr50.9\tfiebre", "expected 5 tab-separated fields"),
                         (f"case-1\tDIAGNOSTICO\tr50.9\tfiebre\t{fever}-{fever + 6}", "malformed offsets"),
                         (f"case-1\tDIAGNOSTICO\tr50.9\tfiebre\t{fever + 6} {fever}", "ends before it starts"),
                         (f"case-1\tOTRO\tr50.9\tfiebre\t{fever} {fever + 6}", "neither DIAGNOSTICO"),
                         (f"case-1\tDIAGNOSTICO\tr50 9\tfiebre\t{fever} {fever + 6}", "malformed ICD-10 code")):
        tsv.write_text("\n".join([good[0], good[1], bad, good[2]]) + "\n", encoding="utf-8")
        with pytest.raises(MedkgError, match=message) as error:
            read_codiesp(split)
        assert error.value.line == 3 and error.value.path == str(tsv)
        assert f"{tsv}:3: " in str(error.value)


def test_read_gold_dispatch_and_errors(tmp_path):
    e3c = read_gold(shared(f"{E3C}/layer1_xmi"))
    assert Counter(g.document.lang for g in e3c) == {"en": 36, "it": 36, "es": 36}
    assert len(read_gold(shared(f"{CODIESP}/dev"))) == 250
    with pytest.raises(MedkgError, match="CodiEsp split folders inside: dev, train"):
        read_gold(shared(CODIESP))
    with pytest.raises(MedkgError, match="no such file"):
        read_gold(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(MedkgError, match="not a gold standard"):
        read_gold(tmp_path / "notes.txt")
    with pytest.raises(MedkgError, match="not a gold standard"):
        read_gold(tmp_path)


# ---------------------------------------------------------------------------- scoring on built cases


def _doc(text="Fever and cough, no rash; chest X-ray done.", doc_id="d1", lang="en"):
    return Document(id=doc_id, text=text, lang=lang)


def _gold(doc, *mentions):
    return GoldDocument(doc, [GoldMention(doc.id, spans, "".join(doc.text[s:e] for s, e in spans), gtype,
                                          codes, attrs) for spans, gtype, codes, attrs in mentions])


def _mention(start, end, gtype="CLINENTITY", codes=(), **attrs):
    return (((start, end),), gtype, codes, attrs)


def _pred(doc, start, end, ptype="problem", links=(), status="present", modifiers=()):
    return Annotation(doc.id, start, end, doc.text[start:end], ptype, 1.0, doc.lang or "en",
                      assertion=Assertion(status, frozenset(modifiers)), links=tuple(links))


def _link(*xrefs):
    return ConceptLink("http://example.org/c", "label", 0.9, xrefs=xrefs)


def _row(scores, match, lang="all", gtype="all"):
    table = scores.strict if match == "strict" else scores.relaxed
    s = table[(lang, gtype)]
    return s.tp, s.fp, s.fn


def test_exact_boundary_and_type():
    doc = _doc()
    gold = [_gold(doc, _mention(0, 5), _mention(10, 15))]  # Fever, cough
    exact = score_annotations(gold, {"d1": [_pred(doc, 0, 5), _pred(doc, 10, 15, "sign_symptom")]}, TYPE_MAP)
    assert _row(exact, "strict") == (2, 0, 0) and _row(exact, "relaxed") == (2, 0, 0)
    assert exact.strict[("en", "CLINENTITY")].f1 == 1.0 and exact.documents == 1

    boundary = score_annotations(gold, {"d1": [_pred(doc, 0, 4), _pred(doc, 10, 16)]}, TYPE_MAP)
    assert _row(boundary, "strict") == (0, 2, 2)
    assert _row(boundary, "relaxed") == (2, 0, 0)
    assert boundary.strict[("en", "CLINENTITY")].precision == 0.0

    # a type that maps to no gold type is ignored; a type of another (present) gold type is no match
    both = [_gold(doc, _mention(0, 5), _mention(26, 37, "PROCEDIMIENTO"))]
    typed = score_annotations(both, {"d1": [_pred(doc, 0, 5, "medication"), _pred(doc, 0, 5, "procedure")]},
                              TYPE_MAP)
    assert typed.ignored_predictions == 1
    assert _row(typed, "relaxed", "en", "CLINENTITY") == (0, 0, 1)
    assert _row(typed, "relaxed", "en", "PROCEDIMIENTO") == (0, 1, 1)
    assert _row(typed, "relaxed") == (0, 1, 2)
    # a predicted type whose gold type is absent from this gold set is ignored too
    clin_only = score_annotations(gold, {"d1": [_pred(doc, 26, 37, "procedure")]}, TYPE_MAP)
    assert clin_only.ignored_predictions == 1 and _row(clin_only, "relaxed") == (0, 0, 2)
    # unmapped gold types are not scored; a type_map that maps nothing is a user error
    unmapped = score_annotations([_gold(doc, _mention(0, 5), _mention(20, 24, "BODYPART"))], {}, TYPE_MAP)
    assert unmapped.unscored_gold == {"BODYPART": 1} and _row(unmapped, "strict") == (0, 0, 1)
    with pytest.raises(MedkgError, match="maps none of the gold types"):
        score_annotations(gold, {}, {"DIAGNOSTICO": {"problem"}})


def test_one_to_one_and_overlap_greedy():
    doc = _doc()
    gold = [_gold(doc, _mention(0, 5))]
    twice = score_annotations(gold, {"d1": [_pred(doc, 0, 5), _pred(doc, 0, 5)]}, TYPE_MAP)
    assert _row(twice, "strict") == (1, 1, 0) and _row(twice, "relaxed") == (1, 1, 0)
    partial = score_annotations(gold, {"d1": [_pred(doc, 1, 4), _pred(doc, 0, 9)]}, TYPE_MAP)
    assert _row(partial, "relaxed") == (1, 1, 0) and _row(partial, "strict") == (0, 2, 1)
    # the larger overlap wins: the link of the chosen prediction is the one scored
    coded = [_gold(doc, _mention(0, 9, codes=("UMLS:C1",)))]
    chosen = score_annotations(coded, {"d1": [_pred(doc, 7, 15, links=[_link("UMLS:C2")]),
                                              _pred(doc, 0, 8, links=[_link("UMLS:C1")])]}, TYPE_MAP)
    assert chosen.linking[("all", "all")].correct_at1 == 1
    # one prediction over two gold mentions matches one of them
    two = [_gold(doc, _mention(0, 5), _mention(10, 15))]
    wide = score_annotations(two, {"d1": [_pred(doc, 0, 15)]}, TYPE_MAP)
    assert _row(wide, "relaxed") == (1, 0, 1)


def test_discontinuous_gold():
    doc = _doc()
    gold = [GoldDocument(doc, [GoldMention("d1", ((0, 5), (20, 24)), "Fever rash", "DIAGNOSTICO")])]
    envelope = score_annotations(gold, {"d1": [_pred(doc, 0, 24)]}, TYPE_MAP)
    assert _row(envelope, "strict") == (0, 1, 1)  # several spans: never a strict match
    assert _row(envelope, "relaxed") == (1, 0, 0)
    gap = score_annotations(gold, {"d1": [_pred(doc, 10, 15)]}, TYPE_MAP)  # only the text between fragments
    assert _row(gap, "relaxed") == (0, 1, 1)


def test_linking_at1_atk_and_over_coded():
    doc = _doc()
    gold = [_gold(doc, _mention(0, 5, codes=("UMLS:C0015967",)), _mention(10, 15, codes=("UMLS:C0010200",)),
                  _mention(20, 24))]
    second = [_link("UMLS:C9999999"), _link("UMLS_CUI:C0015967")]  # right concept second, alias prefix
    scores = score_annotations(gold, {"d1": [_pred(doc, 0, 5, links=second), _pred(doc, 20, 24)]}, TYPE_MAP)
    link = scores.linking[("en", "CLINENTITY")]
    assert (link.coded, link.matched, link.correct_at1, link.correct_atk) == (2, 1, 0, 1)
    assert link.accuracy_at1 == 0.0 and link.accuracy_atk == 1.0 and link.accuracy_atk_all == 0.5
    shallow = score_annotations(gold, {"d1": [_pred(doc, 0, 5, links=second)]}, TYPE_MAP, k=1)
    assert shallow.linking[("all", "all")].correct_atk == 0
    first = score_annotations(gold, {"d1": [_pred(doc, 0, 5, links=second[::-1])]}, TYPE_MAP)
    assert first.linking[("all", "all")].accuracy_at1 == 1.0
    assert first.linking[("all", "all")].accuracy_at1_all == 0.5
    unlinked = score_annotations(gold, {"d1": [_pred(doc, 0, 5)]}, TYPE_MAP)
    assert unlinked.linking[("all", "all")].matched == 1 and unlinked.linking[("all", "all")].correct_atk == 0

    rows = scores_table(scores)
    link_rows = [r for r in rows if r["kind"] == "linking"]
    assert {(r["lang"], r["type"]) for r in link_rows} == {("en", "CLINENTITY"), ("en", "all"),
                                                          ("all", "CLINENTITY"), ("all", "all")}
    assert link_rows[-1]["lang"] == "all" and link_rows[-1]["type"] == "all"
    assert {k: link_rows[0][k] for k in ("coded", "matched", "acc1", "acck", "acc1_all")} == \
        {"coded": 2, "matched": 1, "acc1": 0.0, "acck": 1.0, "acc1_all": 0.0}
    span_rows = [r for r in rows if r["kind"] == "span"]
    assert len(span_rows) == 8 and {r["match"] for r in span_rows} == {"strict", "relaxed"}
    assert set(span_rows[0]) == {"kind", "lang", "type", "match", "tp", "fp", "fn", "precision", "recall", "f1"}


def test_icd_category_fallback():
    doc = _doc()
    gold = [_gold(doc, _mention(0, 5, "DIAGNOSTICO", ("ICD10CM:R50.9",)),
                  _mention(10, 15, "DIAGNOSTICO", ("ICD10CM:R05.1",)),
                  _mention(26, 37, "PROCEDIMIENTO", ("ICD10PCS:BW03ZZZ",)))]
    predicted = {"d1": [_pred(doc, 0, 5, links=[_link("ICD10CM:R50")]),           # category only
                        _pred(doc, 10, 15, links=[_link("ICD10:R05")]),            # WHO ICD-10 category
                        _pred(doc, 26, 37, "test", links=[_link("ICD10PCS:BW03")])]}  # PCS: no category level
    exact = score_annotations(gold, predicted, TYPE_MAP)
    diag = exact.linking[("en", "DIAGNOSTICO")]
    assert (diag.correct_at1, diag.category_at1, diag.category_atk) == (0, 2, 2)
    proc = exact.linking[("en", "PROCEDIMIENTO")]
    assert (proc.matched, proc.correct_at1, proc.category_at1) == (1, 0, 0)
    category = score_annotations(gold, predicted, TYPE_MAP, code_match="category")
    assert category.linking[("all", "all")].correct_at1 == 2
    lowercase = score_annotations(gold, {"d1": [_pred(doc, 0, 5, links=[_link("ICD10CM:r50.9")])]}, TYPE_MAP)
    assert lowercase.linking[("all", "DIAGNOSTICO")].correct_at1 == 1
    with pytest.raises(MedkgError, match="code_match"):
        score_annotations(gold, predicted, TYPE_MAP, code_match="fuzzy")


def test_rows_per_language():
    en, es = _doc(), _doc("Fiebre y tos.", "d2", "es")
    gold = [_gold(en, _mention(0, 5)), _gold(es, _mention(0, 6), _mention(9, 12))]
    scores = score_annotations(gold, {"d1": [_pred(en, 0, 5)], "d2": [_pred(es, 0, 6), _pred(es, 7, 8)],
                                      "other": [_pred(en, 0, 5)]}, TYPE_MAP)
    assert _row(scores, "strict", "en", "CLINENTITY") == (1, 0, 0)
    assert _row(scores, "strict", "es", "CLINENTITY") == (1, 1, 1)
    assert _row(scores, "strict", "es", "all") == (1, 1, 1)
    assert _row(scores, "strict") == (2, 1, 1)
    assert scores.documents == 2


def test_assertion_agreement():
    doc = _doc()
    gold = [_gold(doc, _mention(0, 5, polarity="POS"), _mention(10, 15, polarity="NEG"),
                  _mention(20, 24, polarity="NEG"), _mention(26, 31, polarity="POS"), _mention(38, 42))]
    predicted = {"d1": [_pred(doc, 0, 5, status="negated", modifiers={"negated"}),          # fp
                        _pred(doc, 10, 15, status="family", modifiers={"family", "negated"}),  # tp
                        _pred(doc, 20, 24),                                                 # fn
                        _pred(doc, 26, 30, status="negated", modifiers={"negated"})]}      # not strict
    agreement = assertion_agreement(gold, predicted)
    assert agreement == {"mentions": 4, "matched": 3, "gold_neg": 2, "tp": 1, "fp": 1, "fn": 1, "tn": 0,
                         "precision": 0.5, "recall": 0.5, "f1": 0.5, "accuracy": 0.3333}
    assert assertion_agreement([_gold(doc, _mention(0, 5))], predicted) == {}


# --------------------------------------------------------------------- gold against itself, real data


def _as_predictions(docs, with_links=True):
    predicted = {}
    for gold in docs:
        predicted[gold.document.id] = [
            Annotation(m.doc_id, m.start, m.end, gold.document.text[m.start:m.end], PREDICTED_TYPE[m.type], 1.0,
                       gold.document.lang or "es",
                       assertion=Assertion("negated", frozenset({"negated"}))
                       if m.attributes.get("polarity") == "NEG" else Assertion(),
                       links=(_link(*m.codes),) if with_links and m.codes else ())
            for m in gold.mentions]
    return predicted


def test_gold_against_itself_e3c():
    docs = read_gold(shared(f"{E3C}/layer1_xmi"))
    scores = score_annotations(docs, _as_predictions(docs), TYPE_MAP)
    for lang in ("en", "it", "es", "all"):
        for table in (scores.strict, scores.relaxed):
            row = table[(lang, "CLINENTITY")]
            assert row.fp == row.fn == 0 and row.f1 == 1.0
    link = scores.linking[("all", "all")]
    assert link.coded == link.matched == 442 + 342 + 484
    assert link.accuracy_at1 == link.accuracy_at1_all == link.category_accuracy_at1 == 1.0
    agreement = assertion_agreement(docs, _as_predictions(docs))
    assert agreement["mentions"] == 157 + 110 + 253 and agreement["f1"] == 1.0 and agreement["accuracy"] == 1.0
    unlinked = score_annotations(docs, _as_predictions(docs, with_links=False), TYPE_MAP)
    assert unlinked.linking[("all", "all")].accuracy_atk == 0.0


def test_gold_against_itself_codiesp():
    docs = read_codiesp(shared(f"{CODIESP}/dev"))
    scores = score_annotations(docs, _as_predictions(docs), TYPE_MAP)
    assert scores.relaxed[("es", "all")].f1 == 1.0
    strict = scores.strict[("es", "all")]
    # a predicted span is contiguous: exactly the multi-span gold mentions are strict misses
    assert strict.fn == CODIESP_COUNTS["dev"]["multi_span"] == strict.fp
    assert strict.tp == CODIESP_COUNTS["dev"]["mentions"] - CODIESP_COUNTS["dev"]["multi_span"]
    for gold_type in ("DIAGNOSTICO", "PROCEDIMIENTO"):
        link = scores.linking[("es", gold_type)]
        assert link.coded == link.matched == CODIESP_COUNTS["dev"][gold_type]
        assert link.accuracy_at1 == link.accuracy_at1_all == 1.0
