"""Machine translation of multiple-choice items (MedQA, MedMCQA, ...) with any `Generator`, checked item by item.

The original research translated MedQA/MedMCQA into Italian and Spanish with an LLM. A translation is only
usable if the question still asks the same thing, so every reply is checked before it is accepted:

- the reply parses as ``{"question": ..., "options": {"A": ..., ...}}`` with the source's option labels;
- every number of the source (per field: question and each option) is in the translation, compared by value
  ("3.2" == "3,2", "2,300" == "2.300" == "2300"), and no number was invented;
- every unit attached to a number (mg, mmHg, %, mEq/L, /mm3, ...) appears as often as in the source;
- nothing is empty, and the question was actually translated (not copied, not in another language).

Problems are strings ``"<kind>: <where>: <detail>"`` so a run can count them by kind (`problem_kind`).
Rejected items keep their problems and the raw reply; nothing is dropped silently.
"""
from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from medkg.errors import MedkgError
from medkg.language import DETECTED, detect_language
from medkg.rag.generators import ChatMessage, GenerationConfig, Generator
from medkg.rag.mcq import MCQItem

PROMPT_VERSION = "mcq-translate-v1"  # recorded in every translated item: change it when the prompt changes

LANGUAGES = {"en": "English", "it": "Italian", "es": "Spanish", "fr": "French", "de": "German",
             "pt": "Portuguese", "ca": "Catalan", "nl": "Dutch", "ro": "Romanian", "pl": "Polish"}
_DECIMAL_POINT = {"en"}  # the others above write 3,5 for three and a half and 2.300 for two thousand three hundred


def language_name(code: str) -> str:
    """The language named in words for the prompt (models follow "Italian" better than "it")."""
    try:
        return LANGUAGES[code.lower()]
    except KeyError:
        raise MedkgError(f"unknown language code {code!r} (use one of {', '.join(LANGUAGES)})") from None


# ------------------------------------------------------------------------------------------------ the prompt

def source_json(item: MCQItem) -> str:
    return json.dumps({"question": item.question, "options": dict(item.options)}, ensure_ascii=False)


def translation_prompt(item: MCQItem, target_lang: str) -> list[ChatMessage]:
    """System + user messages asking for the whole item as one JSON object (one request per item keeps
    question and options consistent: the same term gets the same translation in both)."""
    source, target = LANGUAGES.get(item.lang, item.lang), language_name(target_lang)
    labels = [label for label, _ in item.options]
    shape = json.dumps({"question": f"<the question in {target}>",
                        "options": {label: f"<option {label} in {target}>" for label in labels}},
                       ensure_ascii=False)
    system = (f"You are a professional medical translator. You translate medical exam questions from {source} "
              f"into {target}: faithfully, completely, in the register of a {target} medical exam, "
              "without answering or commenting.")
    user = (f"Translate this multiple-choice question and every one of its options ({', '.join(labels)}) "
            f"into {target}.\n"
            "Rules:\n"
            "- Keep every number, unit, drug name and lab value unchanged (3.2 kg, 120/80 mmHg, 6.5%, 140 mEq/L); "
            f"a decimal comma is fine if {target} uses one. Do not add numbers.\n"
            "- Do not drop, merge, reorder or add options; keep the labels.\n"
            "- Reply with ONLY a JSON object, no other text, in this form:\n"
            f"{shape}\n\n"
            f"{source} original:\n{source_json(item)}")
    return [ChatMessage("system", system), ChatMessage("user", user)]


def token_budget(item: MCQItem, cap: int) -> int:
    """max_new_tokens for one item: about twice the source's tokens (~4 characters each in English; Italian and
    Spanish take more tokens than English, and the JSON adds quoting) plus a margin, within `cap`."""
    return min(cap, 2 * math.ceil(len(source_json(item)) / 4) + 64)


# ------------------------------------------------------------------------------------------- reading replies

def _balanced_objects(text: str):
    """Each substring that starts at a "{" and ends at its matching "}", braces inside strings ignored."""
    for start in (i for i, c in enumerate(text) if c == "{"):
        depth, in_string, escaped = 0, False, False
        for end in range(start, len(text)):
            c = text[end]
            if in_string:
                escaped, in_string = (not escaped and c == "\\"), in_string and (escaped or c != '"')
            elif c == '"':
                in_string = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    yield text[start:end + 1]
                    break


def _loads(candidate: str):
    try:
        return json.loads(candidate)
    except json.JSONDecodeError:
        pass
    try:  # the one slip small models make most: a trailing comma before } or ]
        return json.loads(re.sub(r",\s*([}\]])", r"\1", candidate))
    except json.JSONDecodeError:
        return None


def parse_reply(text: str) -> tuple[dict | None, list[str]]:
    """``({"question": str, "options": {label: str}}, [])`` from a reply, or ``(None, problems)``.

    The reply may wrap the object in ```json fences or prose; the first balanced object that parses and has
    a question or options wins (an inner options object alone does not)."""
    for candidate in _balanced_objects(text):
        value = _loads(candidate)
        if isinstance(value, dict) and ("question" in value or "options" in value):
            return _shape(value)
    if "{" in text and not any(True for _ in _balanced_objects(text)):
        return None, ["bad reply: the JSON object is not closed (cut off?)"]
    return None, ["bad reply: no JSON object with question and options"]


def _shape(value: dict) -> tuple[dict | None, list[str]]:
    question, options = value.get("question"), value.get("options")
    if isinstance(options, list):  # ["...", "..."]: labelled by position, so the label check still counts them
        options = {chr(ord("A") + i): text for i, text in enumerate(options)}
    if not isinstance(question, str):
        return None, [f"bad reply: question is {type(question).__name__}, not text"]
    if not isinstance(options, dict):
        return None, [f"bad reply: options is {type(options).__name__}, not an object of label -> text"]
    labelled = {}
    for label, text in options.items():
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            text = str(text)
        if not isinstance(text, str):
            return None, [f"bad reply: option {label} is {type(text).__name__}, not text"]
        labelled[str(label).strip().rstrip(").:").upper()] = text.strip()  # "A)" / "a" -> "A"
    return {"question": question.strip(), "options": labelled}, []


# ------------------------------------------------------------------------------------------------ numbers

_NUMBER = r"\d+(?:[.,\u00a0\u202f\u2009]\d+)*"  # 2,300 / 3.5 / 1.234,5 / 2 300 with a no-break space
_NUMBER_RE = re.compile(_NUMBER)


def _key(value: Decimal) -> str:
    return format(value.normalize(), "f")


def number_values(token: str, decimal: str | None = None) -> frozenset[str]:
    """The values a written number can mean, as canonical strings. `decimal` is the writer's decimal mark
    ("." or ","); None means either, since a translation may use the target's convention or keep the
    source's: "2,300" is then 2300 or 2.3, and "3,2" only 3.2 (a group of thousands has three digits)."""
    token = re.sub(r"\s", "", token)  # 2 300 (French, no-break space) groups thousands
    marks = set(re.findall(r"[.,]", token))
    if not marks:
        return frozenset({_key(Decimal(token))})
    if len(marks) == 2:  # 1,234.5 or 1.234,5: the last mark is the decimal one
        point = token[max(token.rfind("."), token.rfind(","))]
        whole, _, fraction = token.rpartition(point)
        return frozenset({_key(Decimal(re.sub(r"[.,]", "", whole) + "." + fraction))})
    mark = marks.pop()
    parts = token.split(mark)
    readings = {}
    if 1 <= len(parts[0]) <= 3 and all(len(p) == 3 for p in parts[1:]):
        readings["group"] = _key(Decimal("".join(parts)))
    if len(parts) == 2:
        readings["decimal"] = _key(Decimal(parts[0] + "." + parts[1]))
    if decimal is not None:  # the writer's convention settles "2,300" when it allows that reading
        preferred = "decimal" if mark == decimal else "group"
        if preferred in readings:
            return frozenset({readings[preferred]})
    if readings:
        return frozenset(readings.values())
    return frozenset({"raw:" + token.replace(",", ".")})  # 1.2.3: compared as written


def _numbers(text: str, decimal: str | None) -> list[tuple[str, frozenset[str]]]:
    return [(m.group(), number_values(m.group(), decimal)) for m in _NUMBER_RE.finditer(text)]


def check_numbers(source: str, translation: str, where: str, source_lang: str = "en") -> list[str]:
    """Every number of `source` must be in `translation` (as often), and the translation adds none.

    The source is read with its language's decimal mark; the translation with either (see `number_values`).
    Matching is greedy, most constrained first: enough for the handful of numbers in one field."""
    wanted = _numbers(source, "." if source_lang in _DECIMAL_POINT else ",")
    found = _numbers(translation, None)
    used = [False] * len(found)
    problems = []
    for text, values in sorted(wanted, key=lambda pair: len(pair[1])):
        match = next((i for i, (_, got) in sorted(enumerate(found), key=lambda p: len(p[1][1]))
                      if not used[i] and values & got), None)
        if match is None:
            problems.append(f"number missing: {where}: {text}")
        else:
            used[match] = True
    problems += [f"number added: {where}: {text}" for (text, _), u in zip(found, used) if not u]
    return problems


# -------------------------------------------------------------------------------------------------- units

# Canonical unit -> its spellings (matched case-insensitively, only right after a number, so "L" or "g" in
# words never count). Italian and Spanish spellings that mean the same unit share the canonical name.
_UNITS = {
    "mmHg": ["mmHg", "mm Hg", "mm di Hg", "mm de Hg"], "cmH2O": ["cmH2O", "cm H2O"],
    "mEq/L": ["mEq/L"], "mmol/L": ["mmol/L"], "µmol/L": ["µmol/L", "μmol/L", "umol/L"],
    "mg/dL": ["mg/dL"], "g/dL": ["g/dL"], "µg/dL": ["µg/dL", "μg/dL", "mcg/dL"], "mg/L": ["mg/L"], "g/L": ["g/L"],
    "ng/mL": ["ng/mL"], "pg/mL": ["pg/mL"], "mg/kg": ["mg/kg"], "U/L": ["U/L"], "IU/L": ["IU/L", "UI/L"],
    "mIU/mL": ["mIU/mL", "mUI/mL"], "mOsm/kg": ["mOsm/kg"], "mm/h": ["mm/h", "mm/hr"],
    "/mm3": ["/mm3", "/mm³"], "/µL": ["/µL", "/μL", "/uL"], "/min": ["/min"],
    "µg": ["µg", "μg", "mcg", "ug"], "mg": ["mg"], "ng": ["ng"], "pg": ["pg"], "kg": ["kg"], "g": ["g"],
    "lb": ["lb", "lbs"], "oz": ["oz"], "mL": ["mL"], "dL": ["dL"], "µL": ["µL", "μL"], "L": ["L"],
    "cm": ["cm"], "mm": ["mm"], "°C": ["°C", "° C", "ºC"], "°F": ["°F", "° F", "ºF"], "%": ["%"],
    "IU": ["IU", "UI"], "bpm": ["bpm"], "fL": ["fL"],
}
_CANONICAL = {spelling.lower(): unit for unit, spellings in _UNITS.items() for spelling in spellings}
_SPELLINGS = sorted(_CANONICAL, key=len, reverse=True)  # longest first: mg/dL before mg, mm Hg before mm
# "18/min", "90 beats/min", "respiri/min", "500 cells/mm3": a word before /min or /mm3 is part of the unit.
_UNIT_RE = re.compile(
    _NUMBER + r"\s?(?P<unit>(?:[^\W\d_]+(?=/(?:min|mm3|mm³|µL|μL|uL)\b))?(?:"
    + "|".join(re.escape(s) for s in _SPELLINGS) + r"))(?![^\W_])", re.IGNORECASE)


def units(text: str) -> Counter:
    """Canonical units written right after a number, with their counts."""
    found = Counter()
    for match in _UNIT_RE.finditer(text):
        unit = match.group("unit").lower()
        unit = "/" + unit.split("/", 1)[1] if re.match(r"[^\W\d_]+/(min|mm3|mm³|µl|μl|ul)$", unit) else unit
        found[_CANONICAL[unit]] += 1
    return found


def check_units(source: str, translation: str, where: str) -> list[str]:
    want, got = units(source), units(translation)
    return [f"unit mismatch: {where}: {unit} ×{want[unit]} in the source, ×{got[unit]} in the translation"
            for unit in sorted(want | got) if want[unit] != got[unit]]


# ------------------------------------------------------------------------------------------ the other checks

def check_labels(source: MCQItem, options: dict[str, str]) -> list[str]:
    want, got = [label for label, _ in source.options], list(options)
    if sorted(want) == sorted(got):  # the order of JSON keys does not matter: options are taken by label
        return []
    missing, extra = [l for l in want if l not in got], [l for l in got if l not in want]
    detail = "; ".join(filter(None, [f"missing {', '.join(missing)}" if missing else "",
                                     f"extra {', '.join(extra)}" if extra else ""]))
    return [f"option labels: got {', '.join(got) or 'none'} for the source's {', '.join(want)}: {detail}"]


def check_nonempty(question: str, options: dict[str, str]) -> list[str]:
    """No empty text; an option that is only its own label ("options": ["A", "B", ...]) is empty too."""
    problems = ["empty: question"] if not question.strip() else []
    return problems + [f"empty: option {label}" for label, text in options.items()
                       if text.strip().rstrip(").:").upper() in ("", label)]


def _plain(text: str) -> str:
    return " ".join(text.lower().split())


def check_translated(source: MCQItem, question: str, target_lang: str) -> list[str]:
    """The question must differ from the source and read as the target language. Options may stay identical
    (IL-4, Southern blot, drug names); the question is long enough to tell the language offline."""
    if _plain(question) == _plain(source.question):
        return ["untranslated: question: a copy of the source"]
    if target_lang in DETECTED and len(question) >= 60:
        detected = detect_language(question)
        if detected != target_lang:
            return [f"wrong language: question: reads as {detected}, not {target_lang}"]
    return []


def check_translation(source: MCQItem, question: str, options: dict[str, str], target_lang: str) -> list[str]:
    """All checks of one parsed reply against its source; [] means accept."""
    problems = check_labels(source, options) + check_nonempty(question, options)
    problems += check_translated(source, question, target_lang)
    fields = [("question", source.question, question)]
    fields += [(f"option {label}", text, options[label]) for label, text in source.options if label in options]
    for where, original, translated in fields:
        problems += check_numbers(original, translated, where, source.lang)
        problems += check_units(original, translated, where)
    return problems


def problem_kind(problem: str) -> str:
    """"number missing: question: 3.2" -> "number missing" (for counting problems by kind)."""
    return problem.split(":", 1)[0]


# ----------------------------------------------------------------------------------------------- translating

@dataclass(frozen=True)
class TranslationResult:
    source: MCQItem
    translated: MCQItem | None  # None when rejected
    problems: list[str]
    raw_reply: str

    @property
    def accepted(self) -> bool:
        return self.translated is not None


def _translated_item(source: MCQItem, fields: dict, target_lang: str, generator: Generator) -> MCQItem:
    # metamap_phrases are English phrases of the source question: wrong for the translation, so not copied.
    metadata = {k: v for k, v in source.metadata.items() if k != "metamap_phrases"}
    metadata.update(source_lang=source.lang, source_dataset=source.dataset, translated_by=generator.name,
                    prompt_version=PROMPT_VERSION)
    return MCQItem(id=source.id, lang=target_lang, question=fields["question"],
                   options=tuple((label, fields["options"][label]) for label, _ in source.options),
                   answer=source.answer, dataset=f"{source.dataset}-{target_lang}",
                   subject=source.subject,  # a category key (step1, Anatomy), not prose: kept as is
                   explanation=None,  # not translated (MedMCQA's are long and unchecked): dropped, not left in English
                   metadata=metadata)


def translate_items(items: Sequence[MCQItem], generator: Generator, target_lang: str, *,
                    config: GenerationConfig = GenerationConfig(max_new_tokens=2048), batch_size: int = 8,
                    progress: Callable[[int], None] | None = None) -> list[TranslationResult]:
    """One checked translation per item, in input order. `config.max_new_tokens` is a cap: each batch gets
    what its longest source needs (`token_budget`), so short items do not pay for long ones.
    `progress(n)` is called with the number of items finished after each batch."""
    language_name(target_lang)  # an unknown code fails before any generation
    target_lang = target_lang.lower()
    results: list[TranslationResult | None] = [None] * len(items)
    todo = []
    for i, item in enumerate(items):
        if item.lang == target_lang:
            results[i] = TranslationResult(item, None, [f"already in {target_lang}"], "")
        else:
            todo.append(i)
    if progress and len(todo) < len(items):
        progress(len(items) - len(todo))
    todo.sort(key=lambda i: len(source_json(items[i])))  # similar lengths batch together: less padding
    for start in range(0, len(todo), batch_size):
        batch = todo[start:start + batch_size]
        budget = max(token_budget(items[i], config.max_new_tokens) for i in batch)
        replies = generator.generate([translation_prompt(items[i], target_lang) for i in batch],
                                     replace(config, max_new_tokens=budget))
        for i, reply in zip(batch, replies):
            results[i] = _judge(items[i], reply.text, reply.finish_reason, target_lang, generator)
        if progress:
            progress(len(batch))
    return results  # type: ignore[return-value]  (every slot is filled above)


def _judge(source: MCQItem, text: str, finish_reason: str, target_lang: str,
           generator: Generator) -> TranslationResult:
    fields, problems = parse_reply(text)
    if fields is not None:
        problems = check_translation(source, fields["question"], fields["options"], target_lang)
    if problems and finish_reason == "length":
        problems.append("cut off: the reply reached the token limit")
    if problems:
        return TranslationResult(source, None, problems, text)
    return TranslationResult(source, _translated_item(source, fields, target_lang, generator), [], text)
