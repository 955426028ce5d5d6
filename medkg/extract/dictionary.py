"""Dictionary candidates: spans of a document that are a concept's name in the document's language.

The names are the linker's (`ConceptIndex`: labels, exact synonyms and alternative labels of every concept in
the graph: DOID, HPO with its Italian and Spanish translations, Wikidata, Orphanet, ...), compared as the
linker compares them: case- and accent-folded ("Polmonite" = "polmonite", "neumonía" = "neumonia"), plus the
regular plural of a name's last word in the language ("infezione" -> "infezioni", "quiste" -> "quistes").
Short names (<= 4 characters: "TB", "HIV", "ECG") must match as written, so an abbreviation does not fire on an
ordinary word. Related synonyms are left out: they are often broader or narrower than the concept; a name that
is one concept's label and another's alias names the first; an alias several concepts share names none; one-word
aliases (but abbreviations) are left out where the concept has a label in that language.

    index = concept_index(store, home)
    dictionary = Dictionary.build(index)
    for match in dictionary.matches("Paziente con polmonite e febbre.", "it"):
        print(match.start, match.end, [index.concepts[c] for c in match.concepts])

A match is a candidate only: which concept types it may be, and whether the QA model must confirm it, is the
schema's call (`dictionary:` and `combine:` per type, see `schemas/clinical.yaml`).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import ahocorasick

from medkg.extract.linker import ConceptIndex, fold

MIN_NAME_LENGTH = 3
CASE_SENSITIVE_UP_TO = 4
_ALTERNATIVE, _RELATED = 2, 3  # ConceptIndex.name_strength of an alternative label, a related synonym
_WORD_CHAR = re.compile(r"\w")


@dataclass(frozen=True)
class DictionaryMatch:
    start: int
    end: int
    text: str
    concepts: tuple[int, ...]     # indices into ConceptIndex.concepts, strongest naming first
    name: str                     # the name it matched, as the graph writes it


def fold_same_length(text: str) -> str:
    """`fold` character by character, so offsets in the folded text are offsets in the original."""
    return "".join(_fold_char(ch) for ch in text)


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    folded = "".join(c for c in unicodedata.normalize("NFKD", ch.casefold()) if not unicodedata.combining(c))
    if len(folded) == 1:
        return folded
    lowered = ch.lower()
    return lowered if len(lowered) == 1 else ch


def plural_forms(name: str, lang: str) -> list[str]:
    """The regular plural of the name's last word (folded names): en/es +s/+es, it -o/-e -> -i, -a -> -e."""
    head, _, last = name.rpartition(" ")
    if len(last) < 4 or not last[-1].isalpha():
        return []
    prefix = f"{head} " if head else ""
    if lang in ("en", "es"):
        return [prefix + last + ("es" if last[-1] in "szxy" or (lang == "es" and last[-1] not in "aeiou") else "s")]
    if lang == "it":
        forms = {"o": "i", "e": "i", "a": "e"}
        if last[-1] in forms:
            stem = last[:-1] + ("h" if last[-2:] in ("ca", "co", "ga", "go") and last[-1] != "e" else "")
            return [prefix + stem + forms[last[-1]]]
    return []


def _strongest_naming(originals: dict[str, dict[int, int]]) -> dict[str, dict[int, int]]:
    """Per name, only the concepts it names most strongly: "blood" is UBERON's label and a Wikidata alias of
    thrombosis, so it names the tissue. An alias that several concepts share ("included") names none."""
    strongest = min(s for by_concept in originals.values() for s in by_concept.values())
    kept = {o: {c: s for c, s in by_concept.items() if s == strongest} for o, by_concept in originals.items()}
    kept = {o: by_concept for o, by_concept in kept.items() if by_concept}
    if strongest >= _ALTERNATIVE and len({c for by_concept in kept.values() for c in by_concept}) > 1:
        return {}
    return kept


def _case_fits(original: str, surface: str, by_concept: dict[int, int]) -> bool:
    """Short names match as written ("TB", not "tb"); a one-word alias kept for being upper-case (a brand:
    "LASER", "CHIARO" are naproxen and a drug in AIFA's list, and words of Italian) needs a capital."""
    if len(original) <= CASE_SENSITIVE_UP_TO:
        return original == surface
    if " " not in original and original.isupper() and min(by_concept.values()) >= _ALTERNATIVE:
        return surface[:1].isupper()
    return True


@dataclass
class Dictionary:
    index: ConceptIndex
    automata: dict[str, ahocorasick.Automaton]   # language -> folded name -> (length, {original: concepts})

    @classmethod
    def build(cls, index: ConceptIndex, languages: tuple[str, ...] | None = None) -> "Dictionary":
        entries: dict[str, dict[str, dict[str, dict[int, int]]]] = {}
        rows = list(zip(index.names, index.name_lang, index.name_concept.tolist(), index.name_strength))
        labelled = {(concept, lang) for _, lang, concept, strength in rows if strength < _ALTERNATIVE}
        for name, lang, concept, strength in rows:
            if strength >= _RELATED or len(name) < MIN_NAME_LENGTH or not lang:
                continue
            if (strength == _ALTERNATIVE and " " not in name.strip() and not name.isupper()
                    and (concept, lang) in labelled):
                # One-word aliases are too often a word of the language ("normal" for a glaucoma); where the
                # concept has no label in the language, though, its alias (often the Wikipedia title:
                # "Tubercolosi") is the only name it has there.
                continue
            if languages and lang not in languages:
                continue
            key = fold(name)
            if not any(ch.isalpha() for ch in key):
                continue
            forms = [key] + ([] if len(name) <= CASE_SENSITIVE_UP_TO else plural_forms(key, lang))
            for form in forms:
                by_original = entries.setdefault(lang, {}).setdefault(form, {}).setdefault(name, {})
                by_original[concept] = min(strength, by_original.get(concept, 9))
        automata = {}
        for lang, names in entries.items():
            automaton = ahocorasick.Automaton()
            for form, originals in names.items():
                originals = _strongest_naming(originals)
                if originals:
                    automaton.add_word(form, (len(form), originals))
            automaton.make_automaton()
            automata[lang] = automaton
        return cls(index, automata)

    def matches(self, text: str, lang: str) -> list[DictionaryMatch]:
        """Whole-word, longest-first, non-overlapping name occurrences in `text` (names in `lang` only)."""
        automaton = self.automata.get(lang)
        if automaton is None:
            return []
        folded = fold_same_length(text)
        found = []
        for last, (length, originals) in automaton.iter(folded):
            start, end = last - length + 1, last + 1
            if start > 0 and _WORD_CHAR.match(text[start - 1]) or end < len(text) and _WORD_CHAR.match(text[end]):
                continue
            surface = text[start:end]
            concepts: dict[int, int] = {}
            name = ""
            for original, by_concept in originals.items():
                if not _case_fits(original, surface, by_concept):
                    continue
                for concept, strength in by_concept.items():
                    if strength < concepts.get(concept, 9):
                        concepts[concept] = strength
                name = name or original
            if concepts:
                ordered = tuple(sorted(concepts, key=lambda c: (concepts[c], self.index.concepts[c])))
                found.append(DictionaryMatch(start, end, surface, ordered, name))
        found.sort(key=lambda m: (m.start, -(m.end - m.start)))
        chosen, reach = [], -1
        for match in found:
            if match.start >= reach:
                chosen.append(match)
                reach = match.end
        return chosen
