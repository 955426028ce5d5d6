"""ConText-style assertion detection (Harkema et al. 2009) for English, Italian and Spanish.

A concept found in clinical text is not necessarily a finding of the patient: "no fever" negates it,
"sospetta polmonite" hedges it, "antecedentes familiares de diabetes" moves it to a relative. ConText
decides this with trigger phrases and scopes instead of a model, so it is fast, explainable (every
decision names its cue) and needs no training data in a new language, only a list of phrases.

How it works, once per text (`assess_many` is called per document with dozens of spans):

1. The text is split into sentences; a trigger never reaches beyond its sentence.
2. Each sentence is tokenised into words and punctuation, and the language's rules are matched on the
   token sequence, leftmost-longest first. A longer match swallows the shorter triggers it contains,
   which is how pseudo-triggers ("no increase", "non solo", "sin embargo") block "no"/"non"/"sin".
3. Every trigger gets a scope: forward to the sentence end, backward to the sentence start, or both,
   cut by a termination term ("but", "ma", "pero", ";", and clause openers such as "was", "è", "se"),
   by the next trigger of the same category (so each cue reports only what it governs) and by the
   rule's maximum scope in words.
4. A concept takes every category whose scope it overlaps; its status is the most specific of them
   according to `STATUS_PRECEDENCE`. Cues inside the concept's own span do not count, except one that
   opens it ("assenza di febbre" as a whole span is negated).

The rules are data, in ``context_rules/<lang>.yaml`` next to this module (format in ``en.yaml``'s header).
They were tuned on the training documents of E3C Layer 1 (tests/test_assertion.py measures them against
the events' polarity: negation F1 0.85 en, 0.81 it, 0.85 es).
"""
from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import blingfire
import yaml

from medkg.errors import MedkgError
from medkg.extract.records import STATUS_PRECEDENCE, Assertion

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "it", "es")

RULES_DIR = Path(__file__).resolve().parent / "context_rules"

# Categories of a rule: an assertion status it sets, or one of the two that only shape other triggers.
PSEUDO = "pseudo"          # a phrase that looks like a trigger but is not one: it only blocks what it contains
TERMINATE = "terminate"    # ends the scope of the triggers before/after it; blocks what it contains too
MODIFIER_CATEGORIES = frozenset(STATUS_PRECEDENCE)
CATEGORIES = MODIFIER_CATEGORIES | {PSEUDO, TERMINATE}
DIRECTIONS = ("forward", "backward", "bidirectional")

# A word (letters, digits, combining accents; hyphenated compounds stay one word, so "non-tender" does not
# contain the trigger "non") or any single non-space character (punctuation is matched like a word).
_TOKEN = re.compile(r"(?:[\w\u0300-\u036f]+(?:-[\w\u0300-\u036f]+)*)|[^\w\s]")
# Typographic apostrophes and quotes are matched as their ASCII forms ("didn’t" = "didn't").
_CHAR_FOLD = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"'})
# A line break starts a new sentence when a blank line, a bullet, a capital or a digit follows it:
# clinical notes are full of lists and headings without a final full stop. Other line breaks are
# taken as wrapping inside a sentence.
_LINE_BREAK = re.compile(r"\r?\n(?:[ \t]*\r?\n)+|\r?\n(?=[ \t]*(?:[-*•·▪◦]|\d+[.)]\s|[A-ZÀ-ÖØ-Þ]))")


@dataclass(frozen=True)
class ContextRule:
    """One trigger phrase of a language and what it does to the concepts in its scope."""

    phrase: str
    category: str                   # a status of STATUS_PRECEDENCE, PSEUDO or TERMINATE
    direction: str = "forward"      # forward / backward / bidirectional (ignored for PSEUDO and TERMINATE)
    # Words the scope may reach on each side; None = to the sentence edge. 0 = only the cue's own words
    # after its first: "no change" negates "change" but not what follows ("no change in the effusion").
    max_scope: int | None = None

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(_normalise(m.group()) for m in _TOKEN.finditer(self.phrase))


@dataclass(frozen=True)
class RuleSet:
    """The rules of one language, indexed by their first token for matching."""

    lang: str
    rules: tuple[ContextRule, ...]
    by_first_token: dict[str, tuple[tuple[tuple[str, ...], ContextRule], ...]]
    # (word, category) of one-word forward cues: "no" for negated, so "no history of" governs "history".
    forward_words: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def build(cls, lang: str, rules: Sequence[ContextRule]) -> RuleSet:
        index: dict[str, list[tuple[tuple[str, ...], ContextRule]]] = {}
        for rule in rules:
            tokens = rule.tokens
            index.setdefault(tokens[0], []).append((tokens, rule))
        # Longest first, so that the first phrase that matches at a position is the longest one.
        frozen = {first: tuple(sorted(entries, key=lambda e: -len(e[0]))) for first, entries in index.items()}
        words = frozenset((r.tokens[0], r.category) for r in rules
                          if len(r.tokens) == 1 and r.direction != "backward" and r.category in MODIFIER_CATEGORIES)
        return cls(lang, tuple(rules), frozen, words)


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    norm: str


@dataclass(frozen=True)
class Trigger:
    """A rule matched in a text, with the character range it governs."""

    rule: ContextRule
    start: int          # characters of the cue in the text
    end: int
    # Where the rest of the cue, which its first word governs, begins: "history" in "no history of" is
    # negated, "show" in "did not show" is not ("did" is no cue). None when the first word is no cue alone.
    inner_start: int | None
    scope_start: int    # characters of the scope (an empty range when the scope is empty)
    scope_end: int

    @property
    def category(self) -> str:
        return self.rule.category


# --------------------------------------------------------------------------------------------- rules

def _normalise(token: str) -> str:
    """Lower case, composed accents, ASCII apostrophes: accent-sensitive but not case-sensitive."""
    return unicodedata.normalize("NFC", token.lower().translate(_CHAR_FOLD))


def _check_scope(value: Any, where: str, path: Path) -> int | None:
    """A max_scope as written in a rule file: a number of words, 0 included, or null."""
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise MedkgError(f"{where}: max_scope must be a number of words (0 or more) or null, not {value!r}", path=path)
    return value


def _rules_from_group(group: Any, where: str, path: Path, default_scope: int | None) -> list[ContextRule]:
    """The rules of one group of the YAML file: shared category/direction/max_scope, several phrases."""
    if not isinstance(group, dict):
        raise MedkgError(f"{where}: a rule group must be a mapping with 'category' and 'phrases'", path=path)
    unknown = set(group) - {"category", "direction", "max_scope", "phrases"}
    if unknown:
        raise MedkgError(f"{where}: unknown key(s) {sorted(unknown)}", path=path)
    category = str(group.get("category", "")).lower()
    if category not in CATEGORIES:
        raise MedkgError(f"{where}: category {category!r} is not one of {sorted(CATEGORIES)}", path=path)
    direction = str(group.get("direction", "forward")).lower()
    if direction not in DIRECTIONS:
        raise MedkgError(f"{where}: direction {direction!r} is not one of {list(DIRECTIONS)}", path=path)
    max_scope = _check_scope(group["max_scope"], where, path) if "max_scope" in group else default_scope
    phrases = group.get("phrases")
    if not isinstance(phrases, list) or not phrases:
        raise MedkgError(f"{where}: 'phrases' must be a non-empty list", path=path)
    rules = []
    for phrase in phrases:
        if not isinstance(phrase, str) or not _TOKEN.search(phrase):
            raise MedkgError(f"{where}: phrase {phrase!r} is not a non-empty string", path=path)
        rules.append(ContextRule(" ".join(phrase.split()), category, direction, max_scope))
    return rules


def parse_rules(data: Any, lang: str, path: Path) -> RuleSet:
    """Check and index the content of a rule file. A phrase may be listed once: two rules for the same
    words would make the outcome depend on their order."""
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise MedkgError("a ConText rule file must be a mapping with a 'rules' list", path=path)
    unknown = set(data) - {"lang", "max_scope", "rules"}
    if unknown:
        raise MedkgError(f"unknown key(s) {sorted(unknown)}; expected lang, max_scope, rules", path=path)
    if data.get("lang", lang) != lang:
        raise MedkgError(f"the file declares lang {data['lang']!r}, expected {lang!r}", path=path)
    default_scope = _check_scope(data.get("max_scope"), "max_scope", path)
    rules: dict[tuple[str, ...], ContextRule] = {}
    for i, group in enumerate(data["rules"]):
        for rule in _rules_from_group(group, f"rule group {i + 1}", path, default_scope):
            if rule.tokens in rules:
                raise MedkgError(f"rule group {i + 1}: phrase {rule.phrase!r} is already a "
                                 f"{rules[rule.tokens].category} rule", path=path)
            rules[rule.tokens] = rule
    return RuleSet.build(lang, list(rules.values()))


def load_rules(lang: str) -> RuleSet:
    """The shipped rules of a language; "EN" and "en-GB" mean "en"."""
    code = lang.strip().lower().replace("_", "-").split("-")[0] if isinstance(lang, str) else ""
    if code not in SUPPORTED_LANGUAGES:
        raise MedkgError(f"no assertion rules for language {lang!r}; supported languages: "
                         f"{', '.join(SUPPORTED_LANGUAGES)}")
    return _load_rules(code)


@cache
def _load_rules(lang: str) -> RuleSet:
    """Read once per process."""
    path = RULES_DIR / f"{lang}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MedkgError(f"cannot read ConText rules: {exc}", path=path) from exc
    return parse_rules(data, lang, path)


# ------------------------------------------------------------------------------ sentences and tokens

def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character ranges of the sentences: blingfire within each block of lines, blocks split at line breaks.

    blingfire keeps Python string offsets (accents included) but joins lines across blank lines, so
    the line structure is applied first.
    """
    sentences = []
    block_start = 0
    for brk in [*_LINE_BREAK.finditer(text), None]:
        block_end = brk.start() if brk else len(text)
        block = text[block_start:block_end]
        if block.strip():
            sentences.extend((block_start + a, block_start + b) for a, b in _block_sentences(block))
        block_start = brk.end() if brk else len(text)
    return sentences


def _block_sentences(block: str) -> list[tuple[int, int]]:
    """blingfire's sentence ranges of a block; the whole block if they are not well-formed ranges."""
    _, offsets = blingfire.text_to_sentences_and_offsets(block)
    previous_end = 0
    for a, b in offsets:
        if not (previous_end <= a < b <= len(block)):
            return [(0, len(block))]
        previous_end = b
    return list(offsets) or [(0, len(block))]


def tokenize(text: str, start: int = 0, end: int | None = None) -> list[Token]:
    """Words and punctuation of text[start:end], with their offsets in `text`."""
    end = len(text) if end is None else end
    return [Token(m.start(), m.end(), _normalise(m.group())) for m in _TOKEN.finditer(text, start, end)]


# --------------------------------------------------------------------------------------- triggers

def _match_rules(tokens: list[Token], rules: RuleSet) -> list[tuple[int, int, ContextRule]]:
    """Leftmost-longest matches as (first token, end token, rule); a match hides those it contains."""
    matches = []
    i = 0
    while i < len(tokens):
        for phrase, rule in rules.by_first_token.get(tokens[i].norm, ()):
            n = len(phrase)
            if tuple(t.norm for t in tokens[i:i + n]) == phrase:
                matches.append((i, i + n, rule))
                i += n
                break
        else:
            i += 1
    return matches


def _word_limit(tokens: list[Token], i: int, words: int | None, step: int) -> int:
    """From token i, walking by `step` (+1 or -1), the index just past `words` words.

    Punctuation is not counted: "no fever, cough, or dyspnoea" is four words of scope, not six tokens.
    Forward the result is an exclusive end, backward an inclusive start.
    """
    if words is None:
        return len(tokens) if step > 0 else 0
    if words == 0:
        return i
    seen = 0
    j = i if step > 0 else i - 1
    while 0 <= j < len(tokens):
        if tokens[j].norm[0].isalnum() or tokens[j].norm[0] == "_":
            seen += 1
            if seen == words:
                return j + 1 if step > 0 else j
        j += step
    return len(tokens) if step > 0 else 0


def _scope(tokens: list[Token], a: int, b: int, rule: ContextRule,
           starts: list[int], ends: list[int]) -> tuple[int, int]:
    """Token range [lo, hi) governed by the cue at tokens[a:b].

    The scope runs to the sentence edge unless a limit (a termination term or another cue of the same
    category, given by their token `starts` and `ends`, sorted) or the rule's max_scope comes first.
    """
    lo, hi = a, b
    if rule.direction in ("forward", "bidirectional"):
        hi = _word_limit(tokens, b, rule.max_scope, +1)
        j = bisect.bisect_left(starts, b)
        if j < len(starts):
            hi = min(hi, starts[j])
    if rule.direction in ("backward", "bidirectional"):
        lo = _word_limit(tokens, a, rule.max_scope, -1)
        j = bisect.bisect_right(ends, a) - 1
        if j >= 0:
            lo = max(lo, ends[j])
    if rule.direction == "forward":
        return b, hi
    if rule.direction == "backward":
        return lo, a
    return lo, hi


def sentence_triggers(text: str, start: int, end: int, rules: RuleSet) -> list[Trigger]:
    """The triggers of one sentence with their scopes (pseudo and termination matches are not returned)."""
    tokens = tokenize(text, start, end)
    matches = _match_rules(tokens, rules)
    terminators = [(a, b) for a, b, r in matches if r.category == TERMINATE]
    triggers = []
    for a, b, rule in matches:
        if rule.category not in MODIFIER_CATEGORIES:
            continue
        # The scope stops at termination terms and at the next cue of the same category.
        limits = terminators + [(a2, b2) for a2, b2, r2 in matches if r2.category == rule.category and a2 != a]
        lo, hi = _scope(tokens, a, b, rule, sorted(x for x, _ in limits), sorted(y for _, y in limits))
        governs_inner = (tokens[a].norm, rule.category) in rules.forward_words and b - a > 1
        inner = tokens[a + 1].start if governs_inner else None
        triggers.append(Trigger(rule, tokens[a].start, tokens[b - 1].end, inner, *_char_range(tokens, lo, hi)))
    return triggers


def _char_range(tokens: list[Token], i: int, j: int) -> tuple[int, int]:
    """Characters covered by tokens[i:j]; an empty range when there are none."""
    if j <= i:
        return (0, 0)
    return (tokens[i].start, tokens[j - 1].end)


# ---------------------------------------------------------------------------------------- assessing

def _applies(trigger: Trigger, start: int, end: int) -> bool:
    """Whether a trigger modifies the concept at [start, end).

    The concept's own words are no cue for it ("no" inside a span does not negate the span), except
    when the span begins with a forward cue or ends with a backward one: "assenza di febbre" as a whole
    span is still negated. A concept that is part of a cue after a first word that is a cue by itself
    ("history" in "no history of") is modified by it.
    """
    t = trigger
    if start <= t.start and t.end <= end and (start, end) != (t.start, t.end):
        forward = t.rule.direction in ("forward", "bidirectional")
        backward = t.rule.direction in ("backward", "bidirectional")
        return (forward and t.start == start and t.end < end) or (backward and t.end == end and start < t.start)
    if t.start <= start and end <= t.end:
        return t.inner_start is not None and start >= t.inner_start
    return start < t.scope_end and t.scope_start < end


def _assertion(text: str, triggers: list[Trigger]) -> Assertion:
    if not triggers:
        return Assertion()
    modifiers = frozenset(t.category for t in triggers)
    status = next(s for s in STATUS_PRECEDENCE if s in modifiers)
    cues = tuple(dict.fromkeys(text[t.start:t.end] for t in sorted(triggers, key=lambda t: t.start)))
    return Assertion(status, modifiers, cues)


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without surrounding whitespace (a QA answer may carry a space)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def assess_many(text: str, spans: Sequence[tuple[int, int]], lang: str) -> list[Assertion]:
    """Assertions of many concepts of one text; sentences and triggers are found once.

    Each span is (start, end) in Python string indices of `text`.
    """
    rules = load_rules(lang)
    for start, end in spans:
        if not (0 <= start <= end <= len(text)):
            raise MedkgError(f"span ({start}, {end}) is outside the text of {len(text)} characters")
    if not spans:
        return []
    sentences = split_sentences(text)
    triggers = [sentence_triggers(text, a, b, rules) for a, b in sentences]
    sentence_ends = [b for _, b in sentences]
    results = []
    for start, end in spans:
        start, end = _strip_span(text, start, end)
        fired = []
        # The sentences the span overlaps (a span that crosses a sentence boundary sees both).
        k = bisect.bisect_right(sentence_ends, start)
        while k < len(sentences) and sentences[k][0] < max(end, start + 1):
            fired.extend(t for t in triggers[k] if _applies(t, start, end))
            k += 1
        results.append(_assertion(text, fired))
    return results


def assess(text: str, start: int, end: int, lang: str) -> Assertion:
    """Assertion of the concept at text[start:end] (the whole document text is given; offsets are str indices)."""
    return assess_many(text, [(start, end)], lang)[0]
