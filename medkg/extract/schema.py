"""The question schema: which concept types to extract, asked how in each language, linked to what.

A schema is a YAML file (the shipped default is `schemas/clinical.yaml`, which documents the format).
Loading validates everything a user can get wrong and says where: unknown keys, a type without questions,
a threshold that is not a number.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from medkg.errors import MedkgError

DEFAULT_SCHEMA = Path(__file__).parent / "schemas" / "clinical.yaml"
FALLBACK_LANGUAGE = "en"
_TYPE_KEYS = {"label", "questions", "link_to", "threshold", "max_answers", "link_threshold", "dictionary",
              "combine", "dictionary_threshold"}
_DEFAULT_KEYS = {"threshold", "max_answers", "link_threshold", "combine", "dictionary_threshold"}
# How a type's dictionary candidates and QA answers combine: QA answers only; dictionary spans only; both;
# QA answers plus the dictionary spans the QA model scores at least `dictionary_threshold` over "no answer".
COMBINE_MODES = ("qa", "dictionary", "union", "confirm")


@dataclass(frozen=True)
class ConceptType:
    name: str
    label: str
    questions: dict[str, tuple[str, ...]]   # language -> questions
    link_to: tuple[str, ...] = ()           # ontology schemes (IRI prefixes: DOID, HP, ICD10, WD, …)
    threshold: float = 0.0                  # minimum QA margin over "no answer"
    max_answers: int = 6
    link_threshold: float = 0.55
    dictionary: tuple[str, ...] = ()        # schemes whose names in the document's language are candidates
    combine: str = "qa"                     # one of COMBINE_MODES
    dictionary_threshold: float = 0.0       # QA margin a dictionary span needs under "confirm"

    def questions_for(self, lang: str) -> tuple[str, ...]:
        return self.questions.get(lang) or self.questions.get(FALLBACK_LANGUAGE) or ()


@dataclass(frozen=True)
class Schema:
    name: str
    types: tuple[ConceptType, ...]
    path: Path | None = None
    languages: tuple[str, ...] = field(default=())

    def type(self, name: str) -> ConceptType:
        for concept_type in self.types:
            if concept_type.name == name:
                return concept_type
        raise MedkgError(f"no concept type {name!r} in schema {self.name!r}", path=self.path)

    def questions(self, lang: str) -> list[tuple[ConceptType, str]]:
        """(type, question) pairs asked of a document in `lang`, in schema order."""
        return [(t, q) for t in self.types for q in t.questions_for(lang)]


def load_schema(path: Path | str | None = None) -> Schema:
    path = Path(path) if path else DEFAULT_SCHEMA
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MedkgError(f"cannot read schema: {exc.strerror}", path=path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise MedkgError(f"not valid YAML: {getattr(exc, 'problem', exc)}", path=path,
                         line=mark.line + 1 if mark else None) from None
    return parse_schema(raw, path)


def parse_schema(raw: object, path: Path | None = None) -> Schema:
    if not isinstance(raw, dict) or not isinstance(raw.get("types"), dict) or not raw["types"]:
        raise MedkgError("a schema needs a 'types' mapping with at least one concept type", path=path)
    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, dict) or set(defaults) - _DEFAULT_KEYS:
        raise MedkgError(f"'defaults' may only set {', '.join(sorted(_DEFAULT_KEYS))}", path=path)
    types = [_concept_type(name, spec, defaults, path) for name, spec in raw["types"].items()]
    languages = sorted({lang for t in types for lang in t.questions})
    return Schema(str(raw.get("name") or (path.stem if path else "schema")), tuple(types), path, tuple(languages))


def _concept_type(name: str, spec: object, defaults: dict, path: Path | None) -> ConceptType:
    where = f"type {name!r}"
    if not isinstance(spec, dict):
        raise MedkgError(f"{where}: expected a mapping with 'questions'", path=path)
    unknown = set(spec) - _TYPE_KEYS
    if unknown:
        raise MedkgError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} "
                         f"(allowed: {', '.join(sorted(_TYPE_KEYS))})", path=path)
    questions = spec.get("questions")
    if not isinstance(questions, dict) or not questions:
        raise MedkgError(f"{where}: 'questions' must map languages to lists of questions", path=path)
    parsed: dict[str, tuple[str, ...]] = {}
    for lang, items in questions.items():
        items = [items] if isinstance(items, str) else items
        if not isinstance(items, list) or not items or not all(isinstance(q, str) and q.strip() for q in items):
            raise MedkgError(f"{where}: questions for {lang!r} must be a non-empty list of strings", path=path)
        parsed[str(lang)] = tuple(q.strip() for q in items)
    link_to = spec.get("link_to") or []
    if not isinstance(link_to, list) or not all(isinstance(s, str) for s in link_to):
        raise MedkgError(f"{where}: 'link_to' must be a list of ontology prefixes", path=path)
    dictionary = spec.get("dictionary") or []
    if not isinstance(dictionary, list) or not all(isinstance(s, str) for s in dictionary):
        raise MedkgError(f"{where}: 'dictionary' must be a list of ontology prefixes", path=path)
    settings = {**defaults, **{k: spec[k] for k in _DEFAULT_KEYS if k in spec}}
    try:
        threshold = float(settings.get("threshold", 0.0))
        max_answers = int(settings.get("max_answers", 6))
        link_threshold = float(settings.get("link_threshold", 0.55))
        dictionary_threshold = float(settings.get("dictionary_threshold", 0.0))
    except (TypeError, ValueError):
        raise MedkgError(f"{where}: threshold, max_answers, link_threshold and dictionary_threshold must be numbers",
                         path=path) from None
    if max_answers < 1:
        raise MedkgError(f"{where}: max_answers must be at least 1", path=path)
    # A default `combine` applies to the types that have a dictionary; the others ask their questions only.
    combine = str(spec.get("combine") or (defaults.get("combine", "union") if dictionary else "qa"))
    if combine not in COMBINE_MODES:
        raise MedkgError(f"{where}: combine must be one of {', '.join(COMBINE_MODES)}, not {combine!r}", path=path)
    if combine != "qa" and not dictionary:
        raise MedkgError(f"{where}: combine {combine!r} needs a 'dictionary' list of ontology prefixes", path=path)
    return ConceptType(name, str(spec.get("label") or name), parsed, tuple(s.upper() for s in link_to),
                       threshold, max_answers, link_threshold, tuple(s.upper() for s in dictionary), combine,
                       dictionary_threshold)
