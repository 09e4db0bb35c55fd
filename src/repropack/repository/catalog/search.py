"""Finding packages: full text over ``versions.search_text`` and filters by author, keyword, DOI and verdict.

Full text runs on the index the first migration made: SQLite's FTS5 table ``version_search`` (rowid =
``versions.id``, tokenizer unicode61 with diacritics removed) and, on PostgreSQL, the GIN index on the generated
column ``versions.search_vector`` (``to_tsvector('simple', search_text)``). The two engines split text into words differently (PostgreSQL's
parser keeps ``data/input.csv`` as one token, SQLite splits it), so what the catalog stores in
``search_text`` is already split and folded by ``index_text``: the same words on both engines, and the same
answers. A query's words are folded the same way and matched as plain words, never as query syntax.
"Latest only" and the verdict filter read ``versions.is_latest`` and ``versions.newest_verdict``, which the
catalog's writers keep (see ``catalog.latest``); on PostgreSQL a latest-only text search matches in the partial
GIN index ``ix_versions_latest_search`` (``WHERE is_latest``).

A caller may rely on: every word of ``SearchQuery.text`` must occur (AND), as a whole word, case and accents
ignored; filters narrow further; by default only the latest version of each package is a hit. With text, the
newest ``RANKED`` matching versions come first, best first by the engine's relevance (FTS5's bm25, PostgreSQL's
ts_rank), then any older matches newest first; without text, newest import first. The order is one total order,
so paging with ``offset`` neither repeats nor skips a hit.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    Select,
    any_,
    cast,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    union,
)
from sqlalchemy.orm import Session

from repropack.errors import BadInput
from repropack.model.results import Verdict
from repropack.repository.catalog.tables import (
    KeywordRow,
    PackageRow,
    PersonRow,
    PublicationRow,
    VersionKeywordRow,
    VersionPersonRow,
    VersionRow,
)

# A word is a run of letters and digits: what SQLite's unicode61 tokenizer and PostgreSQL's parser agree on.
_WORD = re.compile(r"[^\W_]+")
# PostgreSQL refuses a tsvector over 1 MiB; descriptions past this are indexed by their beginning.
MAX_INDEX_CHARS = 200_000
MAX_QUERY_WORDS = 32
MAX_LIMIT = 1000
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)", re.IGNORECASE)
_ORCID = re.compile(r"\d{4}-\d{4}-\d{4}-\d{3}[\dX]", re.IGNORECASE)
_SIMPLE = literal_column("'simple'::regconfig")
# PostgreSQL: to_tsvector('simple', search_text), kept by the migration in a generated column with a GIN index.
_SEARCH_VECTOR = literal_column("versions.search_vector")
_VERSION_SEARCH = table("version_search", column("rowid"), column("search_text"))
# PostgreSQL, for the search's own transaction. The best plan depends on the words and the filter's values (a
# word in every version or in a few, a verdict most runs have or few): psycopg prepares a statement run five
# times, and after five more PostgreSQL may keep one generic plan for any values, which took a search from 20 ms
# to 300. And JIT compiling a plan it guesses costly (a walk over many versions) took 200 ms to save a few.
_POSTGRESQL_SETTINGS = text(
    "SELECT set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true)"
)
# Text hits: the newest RANKED matching versions come first, ordered by relevance; older matches follow, newest
# first. Ranking every match of a word most packages have ("data", "csv") would cost a sort of the whole catalog.
RANKED = 200


@dataclass(frozen=True)
class SearchQuery:
    """What to look for; every part given (not None or empty) must hold; nothing given lists every package."""

    text: str | None = ""
    author: str | None = None  # part of a name (case ignored), or an identifier such as an ORCID, exactly
    keyword: str | None = None  # one keyword, exactly (case ignored)
    doi: str | None = None  # the version's own DOI or one linked to the package; bare, doi: or doi.org URL
    verdict: str | None = None  # the verdict of the version's newest governed run
    limit: int = 20
    offset: int = 0
    all_versions: bool = False  # every version that matches, not only the latest of each package


@dataclass(frozen=True)
class SearchHit:
    public_id: str
    version: int
    title: str
    authors: tuple[str, ...]  # in the order the package gives them
    keywords: tuple[str, ...]  # sorted
    doi: str | None  # the version's own
    linked_dois: tuple[str, ...]  # linked to the package with `repropack link`, sorted
    verdict: str | None  # of the version's newest governed run; None when never replayed
    score: float | None  # relevance, higher is better, within one search; None when not ranked (see RANKED)


def words_of(text: str) -> list[str]:
    """The searchable words of ``text``: runs of letters and digits without case or accents (``Hokkaidō`` ->
    ``hokkaido``); punctuation, quotes and query operators are only separators."""
    return [_folded(word) for word in _WORD.findall(unicodedata.normalize("NFKC", text))]


@functools.lru_cache(maxsize=1 << 16)
def _folded(word: str) -> str:
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def index_text(
    title: str, description: str, authors: Iterable[str], keywords: Iterable[str], paths: Iterable[str]
) -> str:
    """What a version's ``search_text`` holds: its words, split and folded the way ``search`` matches them."""
    parts = [title, description, *authors, *keywords, *paths]
    return " ".join(words_of(" ".join(parts)))[:MAX_INDEX_CHARS].rstrip()


def search(session: Session, query: SearchQuery) -> list[SearchHit]:
    """The hits for ``query``, at most ``query.limit`` from ``query.offset``; BadInput (one line) for a bad query."""
    _check(query)
    words = words_of(query.text or "")
    if len(words) > MAX_QUERY_WORDS:
        raise BadInput(f"search text has {len(words)} words; at most {MAX_QUERY_WORDS} are searched")
    sqlite = session.get_bind().dialect.name == "sqlite"
    if not sqlite:
        session.execute(_POSTGRESQL_SETTINGS)
    matching = select(VersionRow.id).where(*_filters(query, sqlite=sqlite))
    if not words:
        page = session.scalars(matching.order_by(VersionRow.id.desc()).limit(query.limit).offset(query.offset))
        return _hits(session, [(version_id, None) for version_id in page])
    match = " ".join(f'"{word}"' for word in words)  # FTS5: each word a quoted phrase, so no operator is syntax
    if sqlite:
        newest_first = (
            matching.join(_VERSION_SEARCH, _VERSION_SEARCH.c.rowid == VersionRow.id)
            .where(literal_column("version_search").op("MATCH")(match))
            .order_by(_VERSION_SEARCH.c.rowid.desc())  # FTS5 walks its index backwards: no sort, stops at LIMIT
        )
    else:
        wanted = func.plainto_tsquery(_SIMPLE, " ".join(words))
        newest_first = matching.where(_SEARCH_VECTOR.op("@@")(wanted)).order_by(VersionRow.id.desc())
    found: list[tuple[int, float | None]] = []
    if query.offset < RANKED:
        window = list(session.scalars(newest_first.limit(RANKED)))
        scores = _scores_fts5(session, match, window) if sqlite else _scores_tsquery(session, words, window)
        ranked = sorted(window, key=lambda version_id: (-scores.get(version_id, 0.0), -version_id))
        found = [
            (version_id, scores.get(version_id, 0.0))
            for version_id in ranked[query.offset : query.offset + query.limit]
        ]
        if len(window) < RANKED:
            return _hits(session, found)
    if len(found) < query.limit:
        older = newest_first.limit(query.limit - len(found)).offset(max(query.offset, RANKED))
        found += [(version_id, None) for version_id in session.scalars(older)]
    return _hits(session, found)


def _check(query: SearchQuery) -> None:
    if not 1 <= query.limit <= MAX_LIMIT:
        raise BadInput(f"search limit {query.limit}: must be 1 to {MAX_LIMIT}")
    if query.offset < 0:
        raise BadInput(f"search offset {query.offset}: must be 0 or more")
    verdicts = [v.value for v in Verdict]
    if query.verdict and query.verdict not in verdicts:
        raise BadInput(f"verdict {query.verdict!r}: not one of {', '.join(verdicts)}")


def _scores_fts5(session: Session, match: str, window: list[int]) -> dict[int, float]:
    """bm25 (negated: higher is better) of the versions in ``window``, which are the newest matches."""
    if not window:
        return {}
    bm25 = func.bm25(literal_column("version_search"))
    rows = session.execute(
        select(_VERSION_SEARCH.c.rowid, bm25).where(
            literal_column("version_search").op("MATCH")(match), _VERSION_SEARCH.c.rowid >= min(window)
        )
    )
    wanted = set(window)
    return {version_id: -score for version_id, score in rows if version_id in wanted}


def _scores_tsquery(session: Session, words: list[str], window: list[int]) -> dict[int, float]:
    if not window:
        return {}
    rank = func.ts_rank(_SEARCH_VECTOR, func.plainto_tsquery(_SIMPLE, " ".join(words)))
    rows = session.execute(select(VersionRow.id, rank).where(VersionRow.id.in_(window)))
    return {version_id: score for version_id, score in rows}


def _filters(query: SearchQuery, *, sqlite: bool) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if not query.all_versions:
        # The bare column, not "= true": PostgreSQL then sees that ix_versions_latest_search's WHERE holds.
        conditions.append(VersionRow.is_latest)
    if query.verdict:
        conditions.append(VersionRow.newest_verdict == query.verdict)
    if query.author:
        conditions.append(VersionRow.id.in_(versions_by_author(query.author, sqlite=sqlite)))
    if query.keyword:
        conditions.append(
            VersionRow.id.in_(
                select(VersionKeywordRow.version_id)
                .join(KeywordRow, KeywordRow.id == VersionKeywordRow.keyword_id)
                .where(KeywordRow.word == query.keyword.strip().casefold())
            )
        )
    if query.doi:
        doi = _DOI_PREFIX.sub("", query.doi.strip()).lower()
        # A union of two index lookups (lower(doi) is indexed in both tables); an OR of the two would scan.
        own = select(VersionRow.id).where(func.lower(VersionRow.doi) == doi)
        linked = (
            select(VersionRow.id)
            .join(PublicationRow, PublicationRow.package_id == VersionRow.package_id)
            .where(func.lower(PublicationRow.doi) == doi)
        )
        conditions.append(VersionRow.id.in_(union(own, linked)))
    return conditions


def versions_by_author(author: str, *, sqlite: bool) -> Select:
    """Versions with an author whose name contains ``author`` or whose identifier is ``author``."""
    wanted = author.strip()
    identifiers = {wanted}
    if _ORCID.fullmatch(wanted):
        identifiers.add(f"https://orcid.org/{wanted.upper()}")
    pattern = "%" + re.sub(r"([\\%_])", r"\\\1", wanted) + "%"
    # People first (names by a scan on SQLite, by the trigram index on PostgreSQL; identifiers by their index),
    # then their versions through the index on person_id: the other way round, SQLite walks every author row.
    named = or_(PersonRow.name.ilike(pattern, escape="\\"), PersonRow.identifier.in_(identifiers))
    if sqlite:
        people = VersionPersonRow.person_id.in_(select(PersonRow.id).where(named))
    else:
        # PostgreSQL: the people as one array, found before the rest. Joined as a subquery, it guessed how many
        # people a part of a name matches, and for a few hundred chose to read all 350,000 author rows.
        found = cast(select(func.array_agg(PersonRow.id)).where(named).scalar_subquery(), ARRAY(Integer))
        people = VersionPersonRow.person_id == any_(found)  # the cast makes it = ANY(array), not ANY(subquery)
    return select(VersionPersonRow.version_id).where(VersionPersonRow.role == "author", people)


def _hits(session: Session, found: list[tuple[int, float | None]]) -> list[SearchHit]:
    """The hits for the version ids ``found``, in that order: a few queries for the whole page, not per hit."""
    if not found:
        return []
    ids = [version_id for version_id, _ in found]
    versions = {
        row.id: row
        for row in session.execute(
            select(
                VersionRow.id,
                VersionRow.number,
                VersionRow.title,
                VersionRow.doi,
                VersionRow.package_id,
                VersionRow.newest_verdict,
                PackageRow.public_id,
            )
            .join(PackageRow, PackageRow.id == VersionRow.package_id)
            .where(VersionRow.id.in_(ids))
        )
    }
    authors: dict[int, list[str]] = defaultdict(list)
    for version_id, name in session.execute(
        select(VersionPersonRow.version_id, PersonRow.name)
        .join(PersonRow, PersonRow.id == VersionPersonRow.person_id)
        .where(VersionPersonRow.version_id.in_(ids), VersionPersonRow.role == "author")
        .order_by(VersionPersonRow.version_id, VersionPersonRow.position)
    ):
        authors[version_id].append(name)
    keywords: dict[int, list[str]] = defaultdict(list)
    for version_id, word in session.execute(
        select(VersionKeywordRow.version_id, KeywordRow.word)
        .join(KeywordRow, KeywordRow.id == VersionKeywordRow.keyword_id)
        .where(VersionKeywordRow.version_id.in_(ids))
        .order_by(VersionKeywordRow.version_id, KeywordRow.word)
    ):
        keywords[version_id].append(word)
    package_ids = {row.package_id for row in versions.values()}
    linked: dict[int, list[str]] = defaultdict(list)
    for package_id, doi in session.execute(
        select(PublicationRow.package_id, PublicationRow.doi)
        .where(PublicationRow.package_id.in_(package_ids))
        .order_by(PublicationRow.package_id, PublicationRow.doi)
    ):
        linked[package_id].append(doi)
    return [
        SearchHit(
            public_id=versions[version_id].public_id,
            version=versions[version_id].number,
            title=versions[version_id].title,
            authors=tuple(authors[version_id]),
            keywords=tuple(keywords[version_id]),
            doi=versions[version_id].doi,
            linked_dois=tuple(linked[versions[version_id].package_id]),
            verdict=versions[version_id].newest_verdict,
            score=None if score is None else float(score),
        )
        for version_id, score in found
    ]
