"""The Italian name sources on real rows: Orphanet rare diseases and AIFA's ATC names, packs and groups."""
from __future__ import annotations

import pytest
from pyoxigraph import Literal, NamedNode

from conftest import DATA, dump
from medkg.errors import MedkgError
from medkg.kg import namespaces as ns
from medkg.kg.loading import Source, load_paths, load_source
from medkg.kg.readers.aifa import GROUPS_SKIPPED, atc_iri
from medkg.kg.readers.orphanet import orpha_iri

IT = DATA / "ontologies_it"
ORPHANET = IT / "orphanet_rare_diseases_it.tsv"
ATC = IT / "aifa_atc_principi_attivi_it.tsv"
PACKS = IT / "aifa_farmaci_equivalenti_it.tsv"
GROUPS = IT / "aifa_gruppi_equivalenza_it.tsv"
KIND = ns.term(ns.SCHEMA, "additionalType")
NOTATION = ns.term(ns.SKOS, "notation")

# DOID:1485 as DO_rare_slim.obo (doid/releases/2026-07-31) has it: Orphanet's cystic fibrosis is `xref: ORDO:586`.
CYSTIC_FIBROSIS_OBO = """format-version: 1.2
data-version: doid/releases/2026-07-31/subsets/DO_rare_slim.obo
idspace: skos http://www.w3.org/2004/02/skos/core#
ontology: doid/subsets/DO_rare_slim

[Term]
id: DOID:1485
name: cystic fibrosis
namespace: disease_ontology
alt_id: DOID:12447
def: "A syndrome that is characterized by the buildup of thick, sticky mucus that can damage many organs." [url:http\\://en.wikipedia.org/wiki/Cystic_fibrosis]
subset: DO_rare_slim
synonym: "CF" EXACT OMO:0003012 []
synonym: "mucoviscidosis" EXACT []
xref: GARD:6233
xref: ICD10CM:E84
xref: MESH:D003550
xref: MIM:219700
xref: ORDO:586
xref: UMLS_CUI:C0010674
"""


def objects(store, subject, predicate, graph=None) -> set:
    return {q.object for q in store.ox.quads_for_pattern(subject, predicate, None, graph)}


def values(store, subject, predicate) -> set[str]:
    return {o.value for o in objects(store, subject, predicate)}


def about(store, subject) -> list:
    return list(store.ox.quads_for_pattern(subject, None, None, None))


# -- Orphanet ----------------------------------------------------------------------------------------------

def test_orphanet_italian_names_codes_and_kinds(store):
    report = load_source(store, Source(ORPHANET))
    assert report.status == "loaded" and report.reader == "orphanet-it-tsv"
    assert report.graph == ns.graph_iri("ontology", "orphanet_rare_diseases_it").value
    cf = orpha_iri("586")
    assert cf.value == "http://www.orpha.net/ORDO/Orphanet_586"
    assert objects(store, cf, ns.RDFS_LABEL) == {Literal("Fibrosi cistica", language="it")}
    assert objects(store, cf, ns.RDF_TYPE) == {ns.OWL_CLASS}
    assert values(store, cf, NOTATION) == {"586"}
    # The literal DO's `xref: ORDO:586` becomes, so the two share it.
    assert values(store, cf, ns.HAS_DB_XREF) == {"ORPHA:586"} == {ns.normalize_xref("ORDO:586")}
    assert values(store, cf, KIND) == {"disease", "Malattia"}
    assert values(store, orpha_iri("166063"), KIND) == {"disease", "Sindrome malformativa"}
    assert values(store, orpha_iri("848"), KIND) == {"disease", "Gruppo di fenomi"}
    # A quoted cell with doubled quotes, as upstream writes it.
    assert objects(store, orpha_iri("179"), ns.RDFS_LABEL) == {Literal('Corioretinopatia "birdshot"', language="it")}
    labelled = {q.subject for q in store.ox.quads_for_pattern(None, ns.RDFS_LABEL, None, None)}
    assert len(labelled) == 8
    # Names and codes only: no prevalence, inheritance or expert links.
    predicates = {q.predicate for q in store.ox.quads_for_pattern(None, None, None, NamedNode(report.graph))}
    assert predicates == {ns.RDF_TYPE, ns.RDFS_LABEL, NOTATION, ns.HAS_DB_XREF, KIND}


def _with_cystic_fibrosis(store, tmp_path):
    obo = tmp_path / "DO_rare_slim.obo"
    obo.write_text(CYSTIC_FIBROSIS_OBO, encoding="utf-8")
    load_paths(store, [obo, ORPHANET])
    return ns.obo_iri("DOID:1485"), orpha_iri("586")


def test_orphanet_concept_shares_do_s_ordo_xref(store, tmp_path):
    doid, orpha = _with_cystic_fibrosis(store, tmp_path)
    shared = store.query("SELECT ?x WHERE { GRAPH ?g { ?a oboInOwl:hasDbXref ?x } "
                         "GRAPH ?h { ?b oboInOwl:hasDbXref ?x } FILTER(?g != ?h) }",
                         bindings={"a": doid, "b": orpha}).values("x")
    assert shared == ["ORPHA:586"]


def test_orphanet_concept_is_matched_to_its_do_class(store, tmp_path):
    doid, orpha = _with_cystic_fibrosis(store, tmp_path)
    linked = {q.predicate for a, b in ((doid, orpha), (orpha, doid))
              for q in store.ox.quads_for_pattern(a, None, b, ns.LINKS_GRAPH)}
    assert linked & {ns.SKOS_EXACT_MATCH, ns.SKOS_CLOSE_MATCH}


# -- AIFA ----------------------------------------------------------------------------------------------------

def test_aifa_atc_names_xrefs_and_kinds_without_the_dropped_name(store):
    report = load_source(store, Source(ATC))
    assert report.status == "loaded" and report.reader == "aifa-atc-tsv"
    acarbose = atc_iri("A10BF01")
    assert acarbose.value == "http://purl.bioontology.org/ontology/ATC/A10BF01"
    assert objects(store, acarbose, ns.RDFS_LABEL) == {Literal("Acarbosio", language="it")}
    assert values(store, acarbose, ns.HAS_DB_XREF) == {"ATC:A10BF01"}
    assert values(store, acarbose, NOTATION) == {"A10BF01"}
    assert values(store, acarbose, KIND) == {"drug"}
    # Realigned upstream: omeprazole's own name, not the neighbour's ("Omega polienoici ...") it had there.
    assert objects(store, atc_iri("A02BC01"), ns.RDFS_LABEL) == {Literal("Omeprazolo", language="it")}
    # L04AA06's name was dropped as unreliable: the code is left out, and the report says so.
    assert about(store, atc_iri("L04AA06")) == []
    assert report.notes == ("1 ATC code(s) whose Italian name was dropped as unreliable (status "
                            "unreliable_dropped): left out",)
    assert len({q.subject for q in store.ox.quads_for_pattern(None, ns.RDFS_LABEL, None, None)}) == 7


def test_aifa_packs_give_brand_names_not_ingredient_and_maker_names(store):
    report = load_source(store, Source(PACKS))
    assert report.status == "loaded" and report.reader == "aifa-packs-tsv"

    def brands(code: str) -> set[Literal]:
        return objects(store, atc_iri(code), ns.SKOS_ALT_LABEL)

    it = lambda *names: {Literal(n, language="it") for n in names}  # noqa: E731
    assert brands("A10BF01") == it("ACARPHAGE", "GLUCOBAY")  # not "ACARBOSIO DOC GENERICI"
    assert brands("J01CR02") == it("AUGMENTIN", "CLAVULIN")  # a brand coined from the ingredient is a brand
    assert brands("J01FA09") == it("KLACID RM")
    assert brands("L04AX03") == it("AFSLAMET")  # upstream's trailing asterisk is no part of the name
    # The pack's ATC code holds where the code's name was dropped: MYFORTIC names L04AA06, ACCORD's pack does not.
    assert brands("L04AA06") == it("MYFORTIC")
    assert about(store, atc_iri("M05BA04")) == []  # "ALENDRONATO ALMUS" only
    assert values(store, atc_iri("A10BF01"), ns.HAS_DB_XREF) == {"ATC:A10BF01"}
    assert values(store, atc_iri("A10BF01"), KIND) == {"drug"}
    assert not list(store.ox.quads_for_pattern(None, ns.RDFS_LABEL, None, None))  # labels come from the ATC table
    generic, wrong = report.notes
    assert generic.startswith("3 pack(s) named after their active ingredient and maker")
    # PLAVIX is clopidogrel alone, yet B01AC04's Italian name is that of the combination with aspirin.
    assert wrong.startswith("1 ATC code(s) whose Italian name names other active ingredients") and \
        "B01AC04 'Clopidogrel + Acido acetilsalicilico'" in wrong


def test_a_folder_load_reads_the_tables_and_says_why_it_skips_the_groups(store):
    reports = {r.path.name: r for r in load_paths(store, [IT])}
    assert {name: r.reader for name, r in reports.items() if r.status == "loaded"} == {
        "orphanet_rare_diseases_it.tsv": "orphanet-it-tsv", "aifa_atc_principi_attivi_it.tsv": "aifa-atc-tsv",
        "aifa_farmaci_equivalenti_it.tsv": "aifa-packs-tsv"}
    assert reports["aifa_gruppi_equivalenza_it.tsv"].status == "skipped"
    assert reports["aifa_gruppi_equivalenza_it.tsv"].notes == (GROUPS_SKIPPED,)
    # Named directly, the group table is refused with the same reason.
    with pytest.raises(MedkgError, match="AIFA equivalence groups"):
        load_source(store, Source(GROUPS))
    glucobay = store.query("SELECT ?c ?name WHERE { ?c skos:altLabel 'GLUCOBAY'@it ; rdfs:label ?name }").rows
    assert [(r["c"], r["name"]) for r in glucobay] == [(atc_iri("A10BF01"), Literal("Acarbosio", language="it"))]


# -- malformed rows --------------------------------------------------------------------------------------------

def _break_last_row(source, tmp_path, change):
    """A copy of `source` (same name, so the same graph) whose last row `change` rewrites; its line number."""
    lines = source.read_text(encoding="utf-8").splitlines()
    cells = lines[-1].split("\t")
    lines[-1] = "\t".join(change(cells))
    broken = tmp_path / source.name
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return broken, len(lines)


def _set(index, value):
    return lambda cells: cells[:index] + [value] + cells[index + 1:]


@pytest.mark.parametrize("source, change, message", [
    (ORPHANET, _set(0, "179a"), "not an OrphaCode"),
    (ORPHANET, _set(0, ""), "not an OrphaCode"),
    (ORPHANET, _set(1, ""), "OrphaCode 179 has no name"),
    (ORPHANET, lambda cells: cells[:-1], "11 cells where the header has 12"),
    (ATC, _set(0, "A02-BC01"), "not an ATC code"),
    (ATC, _set(3, "guessed"), "unknown status 'guessed'"),
    (PACKS, _set(4, "l04ax03"), "not an ATC code"),
    (PACKS, _set(1, ""), "has no name"),
], ids=["orpha-code-not-numeric", "orpha-code-missing", "orpha-name-empty", "orpha-cell-missing",
        "atc-code", "atc-status", "pack-atc-code", "pack-name-empty"])
def test_a_malformed_row_names_file_and_line_and_changes_nothing(store, tmp_path, source, change, message):
    load_source(store, Source(source))  # an earlier version: the broken one must not replace it
    before = dump(store)
    broken, line = _break_last_row(source, tmp_path, change)
    with pytest.raises(MedkgError, match=message) as caught:
        load_source(store, Source(broken))
    assert caught.value.path == str(broken) and caught.value.line == line
    assert f"{broken.name}:{line}" in str(caught.value)
    assert dump(store) == before


def test_a_malformed_first_load_leaves_the_store_empty(store, tmp_path):
    broken, line = _break_last_row(ORPHANET, tmp_path, _set(0, "ORPHA:179"))
    with pytest.raises(MedkgError) as caught:
        load_paths(store, [broken])
    assert caught.value.line == line
    assert dump(store) == set()


def test_brand_names_are_italian_dictionary_names_that_need_a_capital(store, tmp_path):
    from medkg.extract.dictionary import Dictionary
    from medkg.extract.linker import concept_index

    load_paths(store, [IT])
    index = concept_index(store, tmp_path / "linker")
    dictionary = Dictionary.build(index)

    def found(text):
        return {m.text: {index.concepts[c] for c in m.concepts} for m in dictionary.matches(text, "it")}

    plavix = atc_iri("B01AC04").value
    assert plavix in found("In terapia con PLAVIX 75 mg.")["PLAVIX"]
    assert plavix in found("Sospeso Plavix da una settimana.")["Plavix"]
    # A brand kept for being written in capitals is not matched in lower case (brands such as CHIARO or LASER
    # are words of Italian), while the active ingredient's label is matched however it is written.
    assert "plavix" not in found("il paziente dice plavix")
    assert "acarbosio" in found("iniziata acarbosio")
    assert not found("Il paziente usa un'acarbosia")
