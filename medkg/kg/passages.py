"""Cut article text into sections and passages of roughly 100-200 words on sentence boundaries.

Offsets are character offsets into the article text, so a passage can always be found again in its source.
Sentence boundaries come from blingfire (language-agnostic, fast, returns offsets).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import blingfire

MIN_WORDS = 100
MAX_WORDS = 200
_HEADING = re.compile(r"^(={2,6})\s*(.+?)\s*\1\s*$")


@dataclass(frozen=True)
class Section:
    index: int
    title: str | None  # None for the lead, before the first heading
    level: int
    start: int
    end: int


@dataclass(frozen=True)
class PassageSpan:
    index: int  # position within the article
    section: int
    start: int
    end: int


def split_sections(text: str) -> list[Section]:
    """Sections start at ``== Heading ==`` lines; their span excludes the heading line itself."""
    sections: list[Section] = []
    title, level, start, offset = None, 1, 0, 0
    for line in text.splitlines(keepends=True):
        match = _HEADING.match(line.rstrip("\r\n"))
        if match:
            if text[start:offset].strip():
                sections.append(Section(len(sections), title, level, start, offset))
            title, level, start = match.group(2), len(match.group(1)), offset + len(line)
        offset += len(line)
    if text[start:].strip():
        sections.append(Section(len(sections), title, level, start, len(text)))
    return sections


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans in text[start:end], cut per line first so paragraph ends are always boundaries."""
    spans = []
    offset = start
    for line in text[start:end].splitlines(keepends=True):
        stripped = line.strip()
        if stripped:
            lead = offset + line.index(stripped[0])
            _, found = blingfire.text_to_sentences_and_offsets(stripped)
            # blingfire may normalise spacing; re-anchor each sentence in the original line by search.
            cursor = 0
            for s, e in found:
                piece = stripped[s:e]
                at = stripped.find(piece, cursor)
                if at < 0:
                    at, piece = s, stripped[s:e]
                spans.append((lead + at, lead + at + len(piece)))
                cursor = at + len(piece)
        offset += len(line)
    return spans


def _words(text: str, start: int, end: int) -> int:
    return len(text[start:end].split())


def split_passages(text: str, sections: list[Section] | None = None) -> list[PassageSpan]:
    """Greedy packing of whole sentences: flush at >= MIN_WORDS, never grow past MAX_WORDS by choice."""
    passages: list[PassageSpan] = []
    for section in sections if sections is not None else split_sections(text):
        current: list[tuple[int, int]] = []
        count = 0
        section_first = len(passages)
        for s, e in _sentences(text, section.start, section.end):
            n = _words(text, s, e)
            if current and count + n > MAX_WORDS:
                passages.append(PassageSpan(len(passages), section.index, current[0][0], current[-1][1]))
                current, count = [], 0
            current.append((s, e))
            count += n
            if count >= MIN_WORDS:
                passages.append(PassageSpan(len(passages), section.index, current[0][0], current[-1][1]))
                current, count = [], 0
        if current:
            last = passages[-1] if len(passages) > section_first else None
            # A short tail joins the previous passage of the same section when that stays within MAX_WORDS.
            if last and count < MIN_WORDS // 3 and _words(text, last.start, current[-1][1]) <= MAX_WORDS:
                passages[-1] = PassageSpan(last.index, last.section, last.start, current[-1][1])
            else:
                passages.append(PassageSpan(len(passages), section.index, current[0][0], current[-1][1]))
    return passages
