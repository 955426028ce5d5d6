"""AIFA's transparency list (Italian equivalent medicines, as HL7 Italia's FHIR CodeSystems ship it) -> RDF.

Three tables, told apart by their header:

- ``aifa_atc_principi_attivi_it.tsv`` (``atc_code, principio_attivo_it, upstream_display, status``): each ATC
  code becomes a class under BioPortal's ATC IRIs (``http://purl.bioontology.org/ontology/ATC/A10BF01``) with
  the Italian active-ingredient name as label, the code as skos:notation and ``ATC:A10BF01`` xref, and
  schema:additionalType "drug". Upstream pairs codes with the wrong names over long stretches; the copy in
  shared data re-checked each name, and a row whose name could not be confirmed (status
  ``unreliable_dropped``, name blanked) is left out and counted in the load report. That check compared
  leading words only: some combinations' names sit on single substances and the reverse ("Clopidogrel +
  Acido acetilsalicilico" on B01AC04, clopidogrel). The pack table, which has both, reports them.
- ``aifa_farmaci_equivalenti_it.tsv`` (one row per pack: ``aic_code, denominazione, gruppo_equivalenza,
  gruppo_descrizione_it, atc_code, principio_attivo_it, atc_name_status``): brand names, as written
  ("GLUCOBAY", "AUGMENTIN", "KLACID RM"), become skos:altLabel@it of the pack's ATC code, which is reliable
  upstream even where the code's name was dropped. Clinical notes name drugs by brand. A pack named after its
  ingredient and its maker ("ACARBOSIO DOC GENERICI", "ALENDRONATO ALMUS") has no name of its own and is
  left out, counted. Brand names stay upper-case: that is how the source writes them, and the dictionary takes
  one-word aliases only where they read as names (upper-case), not as words of the language. A few brands
  are words all the same ("CHIARO", "LASER", "TARGET", "CERCHIO"): about 1 in 100.
- ``aifa_gruppi_equivalenza_it.tsv`` (``gruppo_equivalenza, descrizione_it``): equivalence groups, described
  by ingredient, strength and pack size ("ACARBOSIO 100MG 40 UNITA' USO ORALE"). These are no concept names
  and carry no ATC code, so a folder load skips the table, saying why (`GROUPS_SKIPPED`).

    medkg kg load ../shared/data/ontologies/aifa_drugs_it

Attribution: "Fonte: AIFA – Agenzia Italiana del Farmaco, open data (CC BY 4.0); FHIR packaging by HL7 Italia".
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from difflib import SequenceMatcher
from pathlib import Path

from pyoxigraph import Literal, NamedNode, Quad

from medkg.errors import MedkgError
from medkg.kg import namespaces as ns
from medkg.kg.readers.context import ReadContext
from medkg.kg.readers.tables import iter_rows

ATC_COLUMNS = ("atc_code", "principio_attivo_it", "status")
PACK_COLUMNS = ("aic_code", "denominazione", "gruppo_descrizione_it", "atc_code", "principio_attivo_it")
GROUP_COLUMNS = ("gruppo_equivalenza", "descrizione_it")
STATUSES = ("verified", "realigned_from_neighbour", "unreliable_dropped")
GROUPS_SKIPPED = ("AIFA equivalence groups: pack descriptions by strength and size (\"ACARBOSIO 100MG 40 UNITA' "
                  "USO ORALE\"), no concept names and no ATC codes; nothing to load")
_NOTATION = ns.term(ns.SKOS, "notation")
_KIND = ns.term(ns.SCHEMA, "additionalType")
# ATC levels 1-5: A, A10, A10B, A10BF, A10BF01 (the list names a few level-4 codes: G04CA)
_ATC = re.compile(r"^[A-Z](?:[0-9]{2}(?:[A-Z](?:[A-Z](?:[0-9]{2})?)?)?)?$")


def atc_iri(code: str) -> NamedNode:
    return NamedNode(ns.ATC + code)


def _atc_code(value: str, path: Path, line: int) -> str:
    if not _ATC.match(value):
        raise MedkgError(f"not an ATC code: {value!r}", path=path, line=line)
    return value


def _concept(node: NamedNode, code: str, graph: NamedNode) -> Iterator[Quad]:
    yield Quad(node, ns.RDF_TYPE, ns.OWL_CLASS, graph)
    yield Quad(node, _NOTATION, Literal(code), graph)
    yield Quad(node, ns.HAS_DB_XREF, Literal(ns.normalize_xref(f"ATC:{code}")), graph)
    yield Quad(node, _KIND, Literal("drug"), graph)


def read_aifa_atc(path: Path, graph: NamedNode, context: ReadContext) -> Iterator[Quad]:
    dropped = 0
    for line, row in iter_rows(path, ATC_COLUMNS):
        code, name, status = _atc_code(row["atc_code"], path, line), row["principio_attivo_it"], row["status"]
        if status not in STATUSES:
            raise MedkgError(f"unknown status {status!r} (known: {', '.join(STATUSES)})", path=path, line=line)
        if not name or status == "unreliable_dropped":
            dropped += 1
            continue
        node = atc_iri(code)
        yield from _concept(node, code, graph)
        yield Quad(node, ns.RDFS_LABEL, Literal(name, language="it"), graph)
    if dropped:
        context.note(f"{dropped:,} ATC code(s) whose Italian name was dropped as unreliable (status "
                     "unreliable_dropped): left out")


# -- packs: brand names ----------------------------------------------------------------------------------------

def _ingredient_part(description: str) -> str:
    """A group description up to its first strength: "AMOXICILLINA+ACIDO CLAVULANICO 875+125MG ..." ->
    "AMOXICILLINA+ACIDO CLAVULANICO"."""
    words = []
    for word in description.upper().split():
        if any(ch.isdigit() for ch in word):
            break
        words.append(word)
    return " ".join(words)


def _words(text: str) -> set[str]:
    return set(re.split(r"[\s+/,]+", re.sub(r"\([^)]*\)", " ", text.upper()))) - {""}


def _same_substance(word: str, other: str) -> bool:
    """Spellings of one substance: as salt or acid ("ALENDRONATO", "ALENDRONICO"), old or new ("CHETOTIFENE",
    "KETOTIFENE"), Latin or Italian ("DOXAZOSIN", "DOXAZOSINA")."""
    if word == other:
        return True
    if min(len(word), len(other)) < 5:
        return False
    return word[:6] == other[:6] or SequenceMatcher(None, word, other).ratio() >= 0.75


def is_ingredient_name(name: str, description: str, ingredient: str) -> bool:
    """Whether a pack is named after its active ingredient (and its maker) rather than by a brand: one word
    that is an ingredient ("NIMESULIDE"), or more led by one, second after "ACIDO" or "SODIO" ("ACIDO
    IBANDRONICO ALTER"). A one-word brand coined from the ingredient ("OMEPRAZEN", "CLAVULIN") is a brand."""
    words = name.upper().split()
    ingredients = _words(_ingredient_part(description)) | _words(ingredient)
    if len(words) == 1:
        return words[0] in ingredients
    return any(_same_substance(lead, word) for lead in words[:2] for word in ingredients)


def _components(text: str) -> frozenset[str]:
    """An ingredient list as the stems of its components' leading words, to compare spellings across lists:
    "Ossicodone (oxicodone) cloridrato/naloxone" and "NALOXONE+OSSICODONE" -> {NALOXO, OSSICO}."""
    parts = re.split(r"[+/]", re.sub(r"\([^)]*\)", " ", text.upper()))
    return frozenset(part.split()[0][:6] for part in parts if part.split())


def read_aifa_packs(path: Path, graph: NamedNode, context: ReadContext) -> Iterator[Quad]:
    concepts: set[str] = set()
    generic = 0
    # ATC code -> its Italian name as the packs repeat it, and the ingredients of its packs' group descriptions
    named: dict[str, str] = {}
    described: dict[str, set[frozenset[str]]] = defaultdict(set)
    for line, row in iter_rows(path, PACK_COLUMNS):
        code = _atc_code(row["atc_code"], path, line)
        name = row["denominazione"].rstrip("*").strip()  # a trailing asterisk marks some packs upstream
        if not name:
            raise MedkgError(f"pack {row['aic_code']!r} has no name (denominazione)", path=path, line=line)
        if row["principio_attivo_it"]:
            named[code] = row["principio_attivo_it"]
        described[code].add(_components(_ingredient_part(row["gruppo_descrizione_it"])))
        if is_ingredient_name(name, row["gruppo_descrizione_it"], row["principio_attivo_it"]):
            generic += 1
            continue
        node = atc_iri(code)
        if code not in concepts:
            concepts.add(code)
            yield from _concept(node, code, graph)
        yield Quad(node, ns.SKOS_ALT_LABEL, Literal(name, language="it"), graph)
    if generic:
        context.note(f"{generic:,} pack(s) named after their active ingredient and maker (\"ACARBOSIO DOC "
                     "GENERICI\"): no brand name; left out")
    # The name checks upstream compared leading words only, so a combination's name on a single substance
    # passed ("Clopidogrel + Acido acetilsalicilico" on B01AC04, clopidogrel): say where names and packs differ.
    wrong = sorted(code for code, name in named.items() if _components(name) not in described[code])
    if wrong:
        examples = ", ".join(f"{code} {named[code]!r}" for code in wrong[:3])
        context.note(f"{len(wrong):,} ATC code(s) whose Italian name names other active ingredients than the "
                     f"code's own packs (e.g. {examples}); aifa_atc_principi_attivi_it labels them so")


def aifa_kind(header: list[str]) -> str | None:
    columns = set(header)
    if set(PACK_COLUMNS) <= columns:
        return "packs"
    if set(ATC_COLUMNS) <= columns:
        return "atc"
    if set(GROUP_COLUMNS) <= columns:
        return "groups"
    return None
