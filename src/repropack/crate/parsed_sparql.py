"""rdflib's SPARQL query processor, parsing each query text once per process instead of on every run.

pyshacl hands rdflib every SHACL-SPARQL constraint and target of roc-validator's profiles as text, and
rdflib parses a text (with pyparsing, slowly) every time it runs one: a few hundred parses per crate,
about 85% of the time a validation took. The parsed and translated query depends only on the text, the
base and the prefixes it is given, which together are the key of the memo here; rdflib evaluates a
translated query without changing it (that is what its ``prepareQuery`` is for), so every query answers
exactly as before.

Internals (written against rdflib 7.6.0, pyshacl 0.40.1, roc-validator 0.13.0): ``install`` replaces the
process-wide "sparql" query processor plugin, through rdflib's plugin registry, with rdflib's own
processor behind that memo; it then serves every rdflib query in the process, with the same answers.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from rdflib import plugin
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.processor import SPARQLProcessor
from rdflib.plugins.sparql.sparql import Query
from rdflib.query import Processor

#: Distinct query texts kept; the profiles repropack validates against have a few hundred.
MAX_QUERIES = 4096


@functools.lru_cache(maxsize=MAX_QUERIES)
def _translated(text: str, base: str | None, namespaces: tuple[tuple[str, Any], ...]) -> Query:
    # What SPARQLProcessor.query does with a text, once per key.
    return translateQuery(parseQuery(text), base, dict(namespaces))


class ReusingParsedQueries(SPARQLProcessor):
    """rdflib's SPARQL processor; a query text it has parsed before (same base, same prefixes) is not parsed again."""

    def query(  # type: ignore[override]  # the signature of SPARQLProcessor.query
        self,
        strOrQuery: str | Query,
        initBindings: Mapping[str, Any] | None = None,
        initNs: Mapping[str, Any] | None = None,
        base: str | None = None,
        DEBUG: bool = False,
    ) -> Mapping[str, Any]:
        if isinstance(strOrQuery, str):
            strOrQuery = _translated(strOrQuery, base, tuple(sorted((initNs or {}).items())))
        return super().query(strOrQuery, initBindings, initNs, base, DEBUG)


@functools.cache
def install() -> None:
    """Make ``ReusingParsedQueries`` the "sparql" processor of every rdflib graph in this process (idempotent)."""
    plugin.register("sparql", Processor, __name__, ReusingParsedQueries.__name__)


def cached_queries() -> int:
    """How many distinct query texts (with their base and prefixes) are kept parsed now."""
    return _translated.cache_info().currsize
