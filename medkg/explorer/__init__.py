"""The evidence explorer: `medkg kg serve` also answers a few HTML pages beside its SPARQL endpoint.

A home page with a search box, a SPARQL editor whose examples are the saved queries, a page per concept
(names per language, definitions, hierarchy, cross-references, matches, Wikipedia passages and annotated
documents, each with its source) and a page per annotated document. Server-rendered (Jinja2, autoescaped),
one small stylesheet and script served from the package: works offline, no build step.

It sits above `kg` (its queries) and `extract` (how annotations are stored): `kg` knows it only through the
server's `Pages` protocol.
"""
from medkg.explorer.app import Explorer

__all__ = ["Explorer"]
