"""Medical relations: the vocabulary, every relation reader on real rows (and malformed ones), folder loads,
and how relation edges join the concepts of other sources."""
from __future__ import annotations

import gzip
import shutil

import pytest
from pyoxigraph import Literal, NamedNode

from conftest import DATA, dump
from medkg.errors import MedkgError
from medkg.kg import namespaces as ns
from medkg.kg.linking import LinkReport, relink
from medkg.kg.loading import LoadFailed, Source, load_paths, load_source
from medkg.kg.relations import RELATIONS, VOCABULARY_GRAPH, relation
from medkg.kg.stats import relation_stats

REL = DATA / "relations"
HAS_SYMPTOM = NamedNode(relation("has_symptom").iri)
TREATS = NamedNode(relation("treats").iri)
LOCATED_IN = NamedNode(relation("located_in").iri)
MALARIA, MEASLES, CHOLERA = (ns.obo_iri(c) for c in ("DOID:12365", "DOID:8622", "DOID:1498"))


def objects(store, subject, predicate) -> set:
    return {q.object for q in store.ox.quads_for_pattern(subject, predicate, None, None)}


def test_every_relation_reads_in_english_italian_and_spanish_and_declares_its_inverse(store):
    for rel in RELATIONS:
        assert set(rel.labels) == {"en", "it", "es"}, rel.key
        assert rel.symmetric or set(rel.inverse_labels or {}) == {"en", "it", "es"}, rel.key
    load_paths(store, [REL / "disease-symptom.tsv"])
    labels = objects(store, HAS_SYMPTOM, ns.RDFS_LABEL)
    assert {label.language for label in labels} == {"en", "it", "es"}
    assert Literal("ha come sintomo", language="it") in labels
    inverse = objects(store, TREATS, ns.term(ns.OWL, "inverseOf"))
    assert inverse == {NamedNode(ns.OBO + "RO_0002302")}  # RO's own inverse, not a minted one
    assert Literal("se trata con", language="es") in objects(store, next(iter(inverse)), ns.RDFS_LABEL)
    assert VOCABULARY_GRAPH.value in store.named_graphs()


def test_disease_symptom_report_links_diseases_to_named_symptom_terms(store):
    report = load_source(store, Source(REL / "disease-symptom.tsv"))
    assert report.reader == "do-symptoms-tsv" and report.graph.endswith("/relations/disease-symptom")
    fever, cough = ns.obo_iri("SYMP:0000613"), ns.obo_iri("SYMP:0000614")
    assert {fever, cough} <= objects(store, MEASLES, HAS_SYMPTOM)
    assert objects(store, fever, ns.RDFS_LABEL) == {Literal("fever", language="en")}
    assert objects(store, MALARIA, ns.RDFS_LABEL) == {Literal("malaria", language="en")}


def test_humando_report_resolves_parents_within_the_file_and_reports_the_missing_root(store):
    report = load_source(store, Source(REL / "HumanDO.tsv"))
    assert objects(store, MALARIA, ns.RDFS_SUBCLASS_OF) == set()  # its parent's row is not in the sample
    assert objects(store, CHOLERA, ns.RDFS_SUBCLASS_OF) == {ns.obo_iri("DOID:0050338")}
    assert any("'disease'" in note and "not guessed" in note for note in report.notes)


def test_xref_report_normalises_prefixes(store):
    load_source(store, Source(REL / "allXREFinDO.tsv"))
    xrefs = {o.value for o in objects(store, MALARIA, ns.HAS_DB_XREF)}
    assert {"MESH:D008288", "UMLS:C0024530"} <= xrefs  # MESH:, UMLS_CUI: in the report
    assert not any(x.startswith(("UMLS_CUI:", "SNOMEDCT_US")) for x in xrefs)


def test_icdo_anatomy_report_accepts_do_s_underscore_ids_and_keeps_icdo_codes(store):
    load_source(store, Source(REL / "DO-ICDO-anatomy.tsv"))
    assert objects(store, ns.obo_iri("DOID:5465"), LOCATED_IN) == {ns.obo_iri("UBERON:0001811")}
    quirk = ns.obo_iri("DOID:0081281")  # spelled DOID_0081281 upstream
    assert {o.value for o in objects(store, quirk, ns.HAS_DB_XREF)} == {"ICDO:9450/3"}
    assert objects(store, quirk, ns.OBO_ID) == {Literal("DOID:0081281")}


def test_typed_relation_table_maps_do_relation_names_and_reports_rows_without_a_target(store):
    report = load_source(store, Source(REL / "do-disease-relations.tsv"))
    basis = NamedNode(relation("has_material_basis_in").iri)
    assert objects(store, CHOLERA, basis) == {ns.obo_iri("NCBITaxon:666")}
    assert objects(store, ns.obo_iri("DOID:399"), NamedNode(relation("transmitted_by").iri)) == {
        ns.obo_iri("TRANS:0000008")}
    susceptibility = objects(store, MALARIA, NamedNode(relation("has_major_susceptibility_factor").iri))
    assert NamedNode("https://omim.org/entry/611162") in susceptibility
    assert any("has_allergic_trigger target" in note for note in report.notes)  # the split chemical name


def test_manchester_axioms_resolve_targets_by_label_in_the_relation_s_target_ontology(store):
    # Targets are named by label only. "fever" is SYMP:0000613 (from the symptom report) and also Hetionet's
    # MeSH "Fever"; DO's has-symptom targets are SYMP terms, so that one is taken.
    reports = load_paths(store, [REL / "disease-symptom.tsv", REL / "hetionet-nodes.tsv",
                                 REL / "DO-subClassOf-anonymous.tsv"])
    axioms = next(r for r in reports if r.reader == "do-axioms-tsv")
    assert ns.obo_iri("SYMP:0000613") in objects(store, MEASLES, HAS_SYMPTOM)
    assert any("'has material basis in' target" in note and "Vibrio cholerae" in note for note in axioms.notes)
    assert any("nested class expressions" in note for note in axioms.notes)  # leprosy's ('a' or 'b')


def test_malformed_relation_rows_name_file_and_line_and_change_nothing(store, tmp_path):
    load_source(store, Source(REL / "disease-symptom.tsv"))
    before = dump(store)
    bad = tmp_path / "disease-symptom.tsv"
    lines = (REL / "disease-symptom.tsv").read_text().splitlines()
    lines[3] = lines[3].replace("DOID:", "DIOD:")
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(MedkgError, match="not a DOID") as caught:
        load_source(store, Source(bad))
    assert caught.value.path == str(bad) and caught.value.line == 4
    short = tmp_path / "hetionet-edges.tsv"
    rows = (REL / "hetionet-edges.tsv").read_text().splitlines()
    short.write_text("\n".join(rows[:2] + [rows[2].rsplit("\t", 2)[0]]) + "\n")
    with pytest.raises(MedkgError, match="cells where the header has 5") as caught:
        load_source(store, Source(short))
    assert caught.value.line == 3
    assert dump(store) == before


def test_hetionet_nodes_get_standard_iris_xrefs_and_uninverted_mesh_names(store):
    load_source(store, Source(REL / "hetionet-nodes.tsv"))
    metformin = NamedNode("https://identifiers.org/drugbank:DB00331")
    assert objects(store, metformin, ns.RDFS_LABEL) == {Literal("Metformin", language="en")}
    assert {o.value for o in objects(store, metformin, ns.HAS_DB_XREF)} == {"DRUGBANK:DB00331"}
    assert ns.term(ns.SCHEMA, "Drug") in objects(store, metformin, ns.RDF_TYPE)
    fever = NamedNode("http://id.nlm.nih.gov/mesh/D005334")
    assert {o.value for o in objects(store, fever, ns.HAS_DB_XREF)} == {"MESH:D005334"}
    gene = NamedNode("https://identifiers.org/ncbigene:213")
    assert objects(store, gene, ns.RDFS_LABEL) == {Literal("ALB", language="en")}


def test_hetionet_edges_keep_each_row_s_sources_and_licence(store):
    load_source(store, Source(REL / "hetionet-edges.tsv"))
    t2d = ns.obo_iri("DOID:9352")
    acarbose = NamedNode("https://identifiers.org/drugbank:DB00284")
    assert t2d in objects(store, acarbose, TREATS)
    associated = NamedNode(relation("associated_with").iri)
    assert NamedNode("https://identifiers.org/ncbigene:31") in objects(store, t2d, associated)
    licences = store.query(
        "SELECT ?licence ?source WHERE { ?a owl:annotatedSource ?s ; owl:annotatedProperty ?p ; "
        "owl:annotatedTarget ?o ; dcterms:license ?licence ; dcterms:source ?source }",
        bindings={"s": t2d, "p": associated, "o": NamedNode("https://identifiers.org/ncbigene:31")})
    assert [(r["licence"].value, r["source"].value) for r in licences.rows] == [("CC BY 4.0", "DISEASES")]


def test_the_full_hetionet_edge_list_format_loads_gzipped(store, tmp_path):
    """hetionet-v1.0-edges.sif.gz: source, metaedge, target only, gzip-compressed."""
    sif = tmp_path / "hetionet-v1.0-edges.sif.gz"
    rows = [r.split("\t")[:3] for r in (REL / "hetionet-edges.tsv").read_text().splitlines()]
    with gzip.open(sif, "wt", encoding="utf-8") as handle:
        handle.write("\n".join("\t".join(r) for r in rows) + "\n")
    report = load_source(store, Source(sif))
    assert report.reader == "hetionet-edges" and report.graph.endswith("/relations/hetionet-v1.0-edges")
    assert ns.obo_iri("DOID:9352") in objects(store, NamedNode("https://identifiers.org/drugbank:DB00331"), TREATS)
    bad = tmp_path / "bad.sif"
    bad.write_text("source\tmetaedge\ttarget\nGene::1\tGxX\tGene::2\n")
    with pytest.raises(MedkgError, match="unknown Hetionet metaedge 'GxX'") as caught:
        load_source(store, Source(bad))
    assert caught.value.line == 2


def test_pharmacotherapydb_indications_treat_palliate_and_skip_non_indications(store):
    load_source(store, Source(REL / "indications.tsv"))
    gliclazide = NamedNode("https://identifiers.org/drugbank:DB01120")
    assert objects(store, gliclazide, TREATS) == {ns.obo_iri("DOID:9352")}
    biperiden = NamedNode("https://identifiers.org/drugbank:DB00810")
    assert objects(store, biperiden, TREATS) == set()  # NOT: a non-indication is no edge


def test_wikidata_relation_labels_resolve_to_concepts_in_any_file_order(store):
    reports = load_paths(store, [REL / "wikidata_drugs.jsonl", REL / "hetionet-nodes.tsv",
                                 REL / "WikiDataDiseaseData.csv", REL / "WikiDataMedicineData.csv"])
    t2d, mody = NamedNode(ns.WD + "Q3025883"), NamedNode(ns.WD + "Q32147145")
    metformin = NamedNode(ns.WD + "Q19484")
    # "metformin" names the Wikidata item and Hetionet's compound: the Wikidata item is preferred.
    assert objects(store, metformin, TREATS) == {t2d, mody}
    # The medicine table names MODY by label; the disease table, loaded in the same command, defines it.
    medicine = next(r for r in reports if r.path.name == "WikiDataMedicineData.csv")
    assert not any("maturity-onset" in note for note in medicine.notes)
    disease = next(r for r in reports if r.path.name == "WikiDataDiseaseData.csv")
    assert any(note.startswith("3 Symptons reference") and "'polydipsia'" in note for note in disease.notes)
    # cartesian rows: metformin appears on six rows of type-2 diabetes, as one edge
    assert len(list(store.ox.quads_for_pattern(metformin, TREATS, t2d, None))) == 1


def test_obo_relationship_lines_become_restrictions_and_direct_edges(store):
    load_source(store, Source(REL / "do-relationships.obo"))
    basis = NamedNode(relation("has_material_basis_in").iri)  # the shorthand's Typedef xref: IDO:0000664
    assert objects(store, CHOLERA, basis) == {ns.obo_iri("NCBITaxon:666")}
    assert objects(store, CHOLERA, HAS_SYMPTOM) == {ns.obo_iri("SYMP:0000570")}
    restrictions = store.query(
        "SELECT ?p ?x WHERE { ?c rdfs:subClassOf [ a owl:Restriction ; owl:onProperty ?p ; owl:someValuesFrom ?x ] }",
        bindings={"c": CHOLERA})
    assert len(restrictions.rows) == 3
    assert Literal("transmitted by", language="en") in objects(store, NamedNode(ns.OBO + "RO_0002451"), ns.RDFS_LABEL)


def test_owl_restrictions_become_direct_edges_like_obo_ones(store):
    load_source(store, Source(REL / "measles-restrictions.owl"))
    assert objects(store, MEASLES, HAS_SYMPTOM) == {ns.obo_iri("SYMP:0000613")}
    assert objects(store, MEASLES, NamedNode(relation("has_material_basis_in").iri)) == {
        ns.obo_iri("NCBITaxon:3052345")}


def test_a_folder_loads_what_it_can_and_reports_the_rest_by_name(store, tmp_path):
    folder = tmp_path / "relations"
    shutil.copytree(REL, folder)
    (folder / "README.md").write_text("# relations\n")
    (folder / "langlinks.tsv").write_text("qid\ten_title\tit_title\tes_title\nQ12204\tTuberculosis\tTubercolosi\t\n")
    broken = folder / "broken" / "disease-symptom.tsv"
    broken.parent.mkdir()
    broken.write_text("disease_id\tdisease_label\tsymptom_id\tsymptom_label\nDOID:1\tx\tnot a curie\ty\n")
    with pytest.raises(LoadFailed) as caught:
        load_paths(store, [folder])
    by_name = {r.path.name: r for r in caught.value.reports if r.path.parent != broken.parent}
    assert by_name["README.md"].status == "skipped" and "no reader for .md" in by_name["README.md"].notes[0]
    assert by_name["langlinks.tsv"].status == "skipped"
    assert "unrecognised table (header: qid, en_title" in by_name["langlinks.tsv"].notes[0]
    failed = [r for r in caught.value.reports if r.status == "failed"]
    assert len(failed) == 1 and "broken/disease-symptom.tsv:2" in failed[0].notes[0]
    assert {r.status for r in caught.value.reports if r.path.suffix in (".tsv", ".csv", ".obo", ".owl", ".jsonl")
            and r.path.parent == folder and r.path.name != "langlinks.tsv"} == {"loaded"}
    # the broken file's graph did not appear; the good file of the same name loaded from the other folder
    assert objects(store, MEASLES, HAS_SYMPTOM) >= {ns.obo_iri("SYMP:0000613")}


def test_relation_ends_join_existing_concepts_through_ids_and_labels(store):
    load_paths(store, [DATA / "mini.obo", REL / "wikidata_drugs.jsonl", REL / "hetionet-nodes.tsv",
                       REL / "hetionet-edges.tsv"])
    # Hetionet's "Metformin" has no id Wikidata shares: its exact English label matches it.
    matched = store.query("SELECT ?b ?label WHERE { ?a skos:exactMatch|^skos:exactMatch ?b . "
                          "?ax owl:annotatedSource|owl:annotatedTarget ?a , ?b ; medkg:sharedLabel ?label "
                          "FILTER(?a != ?b) }",
                          bindings={"a": NamedNode("https://identifiers.org/drugbank:DB00331")})
    assert [(r["b"].value, r["label"].value) for r in matched.rows] == [(ns.WD + "Q19484", "metformin")]
    [edges] = relation_stats(store, [ns.GRAPH_BASE + "relations/hetionet-edges"])
    # metformin and acarbose reach Wikidata items; type 2 diabetes (DOID:9352) is not in mini.obo, genes
    # are in no concept source: so no edge links on both ends, and the report says how many ends do.
    assert (edges.edges, edges.subject_linked) == (6, 2)
    assert edges.both_linked == 0


def test_relinking_after_a_load_touches_only_what_it_can_change(store, tmp_path):
    load_paths(store, [DATA / "mini.obo", DATA / "mini_wikipedia.jsonl"])
    mentions = dump(store)
    edges = tmp_path / "edges.ttl"
    edges.write_text(f"<{MALARIA.value}> <{HAS_SYMPTOM.value}> <{ns.OBO}SYMP_0019174> .\n")
    [report] = load_paths(store, [edges], link=False)
    assert report.changed.relations and not report.changed.name_languages and not report.changed.passages
    assert relink(store, [report]) == LinkReport(None, None)  # no names, xrefs or passages: nothing to redo
    named = tmp_path / "names.ttl"
    named.write_text(f'<{ns.OBO}SYMP_0019174> <{ns.RDFS}label> "chills"@en .\n')
    [report] = load_paths(store, [named], link=False)
    assert relink(store, [report]).mentions is not None  # English names and English passages: rescan
    assert {q for q in dump(store) if "schema.org/mentions" in q} >= {q for q in mentions if "schema.org/mentions" in q}
