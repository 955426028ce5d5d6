"""What a reader may need beyond its file: names resolved against the graph, and notes for the load report.

Some sources name their targets only by label (Wikidata relation dumps, DO's Manchester-syntax axioms). A
reader resolves such a label through `ReadContext.resolve` (backed by the graph loaded so far) and records
every label it could not resolve with `unresolved`; the loader turns those tallies into report notes, so
nothing is guessed and nothing is dropped silently.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

# (label, preferred IRI prefix(es) or None, synonyms=bool) -> concept IRI or None
Resolve = Callable[..., str | None]


@dataclass
class ReadContext:
    resolve_label: Resolve | None = None
    notes: list[str] = field(default_factory=list)
    _unresolved: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    _resolved: Counter = field(default_factory=Counter)

    def resolve(self, what: str, label: str, prefer: str | tuple[str, ...] | None = None, *,
                synonyms: bool = True) -> str | None:
        """The one concept this label names, or None (counted as unresolved under `what`)."""
        found = self.resolve_label(label, prefer, synonyms=synonyms) if self.resolve_label else None
        if found is None:
            self._unresolved[what][label] += 1
        else:
            self._resolved[what] += 1
        return found

    def unresolved(self, what: str, label: str) -> None:
        self._unresolved[what][label] += 1

    def note(self, message: str) -> None:
        self.notes.append(message)

    def summary(self) -> list[str]:
        """The notes, then one line per kind of unresolved reference with a few examples."""
        lines = list(self.notes)
        for what, labels in sorted(self._unresolved.items()):
            resolved = self._resolved[what]
            examples = ", ".join(repr(label) for label, _ in labels.most_common(3))
            lines.append(f"{sum(labels.values()):,} {what} reference(s) not found in the graph "
                         f"({len(labels):,} distinct, e.g. {examples}; {resolved:,} resolved); left out, not guessed")
        return lines
