"""Search on both catalogs: full text over the indexed words, filters, latest versions, user text never syntax."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from repropack.errors import BadInput
from repropack.repository.catalog.database import Catalog, open_catalog, upgrade_catalog
from repropack.repository.catalog.search import SearchQuery, index_text, search
from repropack.repository.catalog.tables import (
    GovernedRunRow,
    KeywordRow,
    PackageRow,
    PersonRow,
    PublicationRow,
    VersionKeywordRow,
    VersionPersonRow,
    VersionRow,
)
from tests.repository.catalog_rows import newest_verdict
from tests.repository.conftest import postgres_database

WHEN = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
ADA = ("Ada Lovelace", "https://orcid.org/0000-0002-1825-0097")
KENJI = ("Kenji Satō", "")
PERCENT = ("100% Pure_Data", "")


@dataclass(frozen=True)
class Version:
    title: str
    description: str = ""
    authors: tuple[tuple[str, str], ...] = (ADA,)
    keywords: tuple[str, ...] = ()
    paths: tuple[str, ...] = ("analysis.ipynb",)
    doi: str | None = None
    runs: tuple[tuple[str, datetime | None], ...] = ()  # (verdict, finished_at)


@dataclass
class Rows:
    """Inserts packages through the tables, sharing people and keywords the way the importer does."""

    catalog: Catalog
    people: dict[tuple[str, str], int] = field(default_factory=dict)
    words: dict[str, int] = field(default_factory=dict)
    runs: int = 0

    def add(self, public_id: str, *versions: Version, linked: tuple[str, ...] = ()) -> None:
        with self.catalog.session(write=True) as session:
            package = PackageRow(public_id=public_id, key=f"id:{public_id}", created_at=WHEN)
            session.add(package)
            session.flush()
            previous = None
            for number, v in enumerate(versions, start=1):
                row = VersionRow(
                    package_id=package.id, number=number, previous_id=previous,
                    content_digest=f"{public_id}-{number}".ljust(64, "0"), format="repropack", title=v.title,
                    description=v.description, license="MIT", doi=v.doi, work_version=None, date_published=None,
                    tool_version="t", metadata_sha256="0" * 64, source_name="x.zip", file_count=len(v.paths),
                    total_bytes=0, imported_at=WHEN + timedelta(days=number),
                    search_text=index_text(v.title, v.description, [a[0] for a in v.authors], v.keywords, v.paths),
                    is_latest=number == len(versions), newest_verdict=newest_verdict(v.runs),
                )  # fmt: skip
                session.add(row)
                session.flush()
                previous = row.id
                for position, person in enumerate(v.authors):
                    session.add(VersionPersonRow(version_id=row.id, person_id=self._person(session, person),
                                                 role="author", position=position))  # fmt: skip
                for word in v.keywords:
                    session.add(VersionKeywordRow(version_id=row.id, keyword_id=self._keyword(session, word)))
                for verdict, finished in v.runs:
                    self.runs += 1
                    session.add(GovernedRunRow(version_id=row.id, verdict=verdict, cause=None, started_at=None,
                                               finished_at=finished, record_sha256=f"{self.runs:064d}", signer=None,
                                               signature_verified=True, source="import", imported_at=WHEN))  # fmt: skip
            for doi in linked:
                session.add(PublicationRow(package_id=package.id, doi=doi, linked_at=WHEN))

    def _person(self, session, person: tuple[str, str]) -> int:
        if person not in self.people:
            row = PersonRow(name=person[0], identifier=person[1])
            session.add(row)
            session.flush()
            self.people[person] = row.id
        return self.people[person]

    def _keyword(self, session, word: str) -> int:
        if word.casefold() not in self.words:
            row = KeywordRow(word=word.casefold())
            session.add(row)
            session.flush()
            self.words[word.casefold()] = row.id
        return self.words[word.casefold()]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def filled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    """Three packages, filled once per catalog for this module's read-only tests."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('search') / 'catalog.sqlite'}"
        else:
            url = stack.enter_context(postgres_database())
        upgrade_catalog(url)
        catalog = open_catalog(url)
        stack.callback(catalog.close)
        _fill(catalog)
        yield catalog


def _fill(catalog: Catalog) -> None:
    rows = Rows(catalog)
    rows.add(
        "pkg-rain",
        Version("Rainfall in Kyoto", "Daily gauges.", keywords=("rain", "Kyoto"), paths=("data/input.csv",),
                runs=(("reproduced", WHEN),)),
        Version("Rainfall in Kyoto, revised", "Daily gauges, corrected.", authors=(ADA, KENJI),
                keywords=("rain", "Kyoto"), paths=("data/input.csv", "outputs/counts_by-group.csv"), doi="10.1234/Rain.2",
                runs=(("not_reproduced", WHEN + timedelta(hours=2)), ("reproduced", WHEN + timedelta(hours=1)),
                      ("failed", None))),
        linked=("10.5555/paper.1",),
    )  # fmt: skip
    rows.add("pkg-snow", Version("Snowfall in Hokkaidō", "Near the coast, NEAR OR AND NOT.", authors=(KENJI,),
                                 keywords=("snow",), runs=(("failed", WHEN),)))  # fmt: skip
    rows.add("pkg-odd", Version("Claims: what 100% means", authors=(PERCENT,), keywords=("claims",)))


def found(catalog: Catalog, **query) -> list[tuple[str, int]]:
    with catalog.session() as session:
        return [(hit.public_id, hit.version) for hit in search(session, SearchQuery(**query))]


def test_words_from_title_description_authors_keywords_and_file_names_are_found(filled: Catalog) -> None:
    assert found(filled, text="rainfall") == [("pkg-rain", 2)]
    assert found(filled, text="corrected") == [("pkg-rain", 2)]
    assert found(filled, text="lovelace") == [("pkg-rain", 2)]
    assert found(filled, text="snow") == [("pkg-snow", 1)]
    # a file name's parts, on both engines alike (PostgreSQL's own parser would keep "data/input.csv" whole)
    assert found(filled, text="input") == [("pkg-rain", 2)]
    assert found(filled, text="group") == [("pkg-rain", 2)]
    assert found(filled, text="counts_by-group.csv") == [("pkg-rain", 2)]


def test_every_word_must_occur_as_a_whole_word_case_and_accents_ignored(filled: Catalog) -> None:
    assert found(filled, text="rainfall kyoto") == [("pkg-rain", 2)]
    assert found(filled, text="rainfall hokkaido") == []
    assert found(filled, text="HOKKAIDO") == found(filled, text="Hokkaidō") == [("pkg-snow", 1)]
    assert sorted(found(filled, text="sato")) == [("pkg-rain", 2), ("pkg-snow", 1)]
    assert found(filled, text="rain") == [("pkg-rain", 2)]  # a keyword
    assert found(filled, text="rai") == found(filled, text="rainfal") == []


EVERYTHING = [("pkg-odd", 1), ("pkg-snow", 1), ("pkg-rain", 2)]
RAIN = [("pkg-rain", 2)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [('"', EVERYTHING), ('""', EVERYTHING), ("*", EVERYTHING), ("(", EVERYTHING), ("\x00", EVERYTHING),
     ('"rainfall', RAIN), ("rainfall*", RAIN), ("rainf*", []), ("rainfall:*", RAIN), ("^rainfall", RAIN),
     ("-kyoto rainfall", RAIN), ("rainfall -kyoto", RAIN), ("rainfall & !kyoto", RAIN), ("rainfall <-> kyoto", RAIN),
     ("rainfall | snowfall", []), ("rainfall OR snowfall", []), ("NEAR(rainfall kyoto)", []), ("AND rainfall", []),
     ("title:rainfall", []), ("{rainfall}", RAIN), ("rainfall'", RAIN), ("rainfall\\", RAIN), ("rainfall%", RAIN),
     ("\x00rainfall", RAIN), ("rain\u0301fall", RAIN)],
)  # fmt: skip
def test_user_text_is_never_query_syntax(filled: Catalog, text: str, expected: list) -> None:
    """FTS5's quotes, stars, NEAR, -, column filters and tsquery's & ! | <-> :* are separators: the words decide."""
    assert found(filled, text=text) == expected


def test_operators_are_plain_words_that_must_occur(filled: Catalog) -> None:
    assert found(filled, text="rainfall -kyoto") == [("pkg-rain", 2)]  # not "without kyoto"
    assert found(filled, text="NEAR OR AND NOT") == [("pkg-snow", 1)]  # words of its description
    assert found(filled, text="rainfall OR snowfall") == []  # OR is a word pkg-rain lacks, not a union
    assert found(filled, text="100%") == [("pkg-odd", 1)]


def test_only_the_latest_version_unless_all_versions(filled: Catalog) -> None:
    assert found(filled, text="gauges") == [("pkg-rain", 2)]
    assert sorted(found(filled, text="gauges", all_versions=True)) == [("pkg-rain", 1), ("pkg-rain", 2)]
    assert found(filled, text="daily gauges", author="kenji", all_versions=True) == [("pkg-rain", 2)]


def test_no_text_lists_every_package_newest_first_and_pages(filled: Catalog) -> None:
    assert found(filled) == [("pkg-odd", 1), ("pkg-snow", 1), ("pkg-rain", 2)]
    assert found(filled, limit=2) == [("pkg-odd", 1), ("pkg-snow", 1)]
    assert found(filled, limit=2, offset=2) == [("pkg-rain", 2)]
    assert found(filled, offset=3) == []


def test_author_by_part_of_a_name_or_by_identifier(filled: Catalog) -> None:
    assert found(filled, author="LOVELACE") == [("pkg-rain", 2)]
    assert found(filled, author="ada love") == [("pkg-rain", 2)]
    assert found(filled, author="0000-0002-1825-0097") == [("pkg-rain", 2)]
    assert found(filled, author="https://orcid.org/0000-0002-1825-0097") == [("pkg-rain", 2)]
    assert found(filled, author="0000-0002") == []  # identifiers match whole
    assert found(filled, author="kenji", all_versions=True) == [("pkg-snow", 1), ("pkg-rain", 2)]


def test_like_wildcards_in_an_author_are_literal(filled: Catalog) -> None:
    assert found(filled, author="100% pure_") == [("pkg-odd", 1)]
    assert found(filled, author="%") == [("pkg-odd", 1)]
    assert found(filled, author="_") == [("pkg-odd", 1)]
    assert found(filled, author="a_a") == []


def test_keyword_is_exact_with_case_ignored(filled: Catalog) -> None:
    assert found(filled, keyword="KYOTO") == [("pkg-rain", 2)]
    assert found(filled, keyword="kyo") == []
    assert found(filled, keyword="snow", text="hokkaido") == [("pkg-snow", 1)]
    assert found(filled, keyword="snow", text="kyoto") == []


def test_doi_of_the_version_or_linked_in_any_form(filled: Catalog) -> None:
    for doi in ("10.1234/Rain.2", "10.1234/rain.2", "doi:10.1234/RAIN.2", "https://doi.org/10.1234/rain.2"):
        assert found(filled, doi=doi) == [("pkg-rain", 2)], doi
    assert found(filled, doi="10.5555/paper.1") == [("pkg-rain", 2)]
    assert sorted(found(filled, doi="10.5555/PAPER.1", all_versions=True)) == [("pkg-rain", 1), ("pkg-rain", 2)]
    assert found(filled, doi="10.1234/rain") == []


def test_verdict_is_the_newest_governed_run(filled: Catalog) -> None:
    # pkg-rain@2: not_reproduced finished last; the unfinished "failed" run counts as older than any finished one
    assert found(filled, verdict="not_reproduced") == [("pkg-rain", 2)]
    assert found(filled, verdict="reproduced") == []
    assert found(filled, verdict="reproduced", all_versions=True) == [("pkg-rain", 1)]
    assert found(filled, verdict="failed") == [("pkg-snow", 1)]
    with pytest.raises(BadInput, match="verdict 'passed': not one of reproduced, not_reproduced, failed"):
        found(filled, verdict="passed")


def test_a_hit_carries_what_a_listing_shows(filled: Catalog) -> None:
    with filled.session() as session:
        (hit,) = search(session, SearchQuery(text="kyoto"))
        (bare,) = search(session, SearchQuery(keyword="snow"))
    assert hit.title == "Rainfall in Kyoto, revised"
    assert hit.authors == ("Ada Lovelace", "Kenji Satō")
    assert hit.keywords == ("kyoto", "rain")
    assert hit.doi == "10.1234/Rain.2" and hit.linked_dois == ("10.5555/paper.1",)
    assert hit.verdict == "not_reproduced"
    assert hit.score is not None and hit.score > 0
    assert bare.score is None and bare.verdict == "failed" and bare.linked_dois == ()


def test_more_occurrences_rank_first(catalog: Catalog) -> None:
    rows = Rows(catalog)
    rows.add("pkg-once", Version("Tide tables", "Harbour readings of many kinds and other things entirely."))
    rows.add("pkg-often", Version("Tide tide tide", "Tide gauges."))
    rows.add("pkg-none", Version("Wind"))
    assert found(catalog, text="tide") == [("pkg-often", 1), ("pkg-once", 1)]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (SearchQuery(limit=0), "search limit 0: must be 1 to 1000"),
        (SearchQuery(limit=1001), "search limit 1001: must be 1 to 1000"),
        (SearchQuery(offset=-1), "search offset -1: must be 0 or more"),
        (SearchQuery(text="w " * 33), "search text has 33 words; at most 32 are searched"),
    ],
)
def test_a_bad_query_is_one_line(filled: Catalog, query: SearchQuery, message: str) -> None:
    with filled.session() as session, pytest.raises(BadInput, match=message):
        search(session, query)


def test_index_text_is_the_folded_words() -> None:
    assert index_text("Snowfall in Hokkaidō", "Near-the coast.", ["Kenji Satō"], ["Snow"], ["data/input.csv"]) == (
        "snowfall in hokkaido near the coast kenji sato snow data input csv"
    )


def test_pages_beyond_the_ranked_window_neither_repeat_nor_skip(catalog: Catalog, monkeypatch) -> None:
    rows = Rows(catalog)
    for n, title in enumerate(["Tide", "Tide tide tide", "Tide and wind", "Tide tide", "Wind", "Tide in Kobe"]):
        rows.add(f"pkg-{n}", Version(title))
    monkeypatch.setattr("repropack.repository.catalog.search.RANKED", 3)
    whole = found(catalog, text="tide", limit=10)
    # the 3 newest matches (pkg-5, pkg-3, pkg-2) ranked best first, then the older ones newest first
    assert whole[:3] == [("pkg-3", 1), ("pkg-5", 1), ("pkg-2", 1)]  # equal relevance: newest first
    assert whole[3:] == [("pkg-1", 1), ("pkg-0", 1)]
    assert [hit for offset in range(6) for hit in found(catalog, text="tide", limit=1, offset=offset)] == whole
    assert found(catalog, text="tide", limit=2, offset=2) == whole[2:4]
    with catalog.session() as session:
        scores = [hit.score for hit in search(session, SearchQuery(text="tide"))]
    assert all(score is not None for score in scores[:3]) and scores[3:] == [None, None]


def test_empty_parts_of_a_query_are_not_given(filled: Catalog) -> None:
    assert found(filled, text=None, author="", keyword="", doi="", verdict="") == EVERYTHING


def test_the_newest_run_decides_also_on_ties_and_when_none_finished(catalog: Catalog) -> None:
    """Equal finish times and unfinished runs fall back to the run recorded last (the larger id)."""
    rows = Rows(catalog)
    rows.add("pkg-tie", Version("Tie", runs=(("failed", WHEN), ("reproduced", WHEN))))
    rows.add("pkg-open", Version("Open", runs=(("reproduced", None), ("failed", None))))
    rows.add("pkg-late", Version("Late", runs=(("failed", WHEN + timedelta(hours=1)), ("reproduced", WHEN))))
    rows.add("pkg-never", Version("Never"))
    assert found(catalog, verdict="reproduced") == [("pkg-tie", 1)]
    assert found(catalog, verdict="failed") == [("pkg-late", 1), ("pkg-open", 1)]
    assert found(catalog, text="late", verdict="failed") == [("pkg-late", 1)]
    assert found(catalog, text="tie", verdict="failed") == []
    with catalog.session() as session:
        shown = {hit.public_id: hit.verdict for hit in search(session, SearchQuery())}
    assert shown == {"pkg-tie": "reproduced", "pkg-open": "failed", "pkg-late": "failed", "pkg-never": None}


def test_part_of_a_name_can_be_found_through_the_trigram_index(postgres_url: str) -> None:
    """PostgreSQL: the author filter's ILIKE (escapes and all) is one the migration's trigram index answers."""
    upgrade_catalog(postgres_url)
    catalog = open_catalog(postgres_url)
    try:
        Rows(catalog).add("pkg-odd", Version("Claims", authors=(PERCENT,)))
        with catalog.session() as session:
            session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(session.scalars(text("EXPLAIN SELECT id FROM people WHERE name ILIKE :p ESCAPE '\\'"),
                                             {"p": "%100\\% pure\\_%"}))  # fmt: skip
            assert "ix_people_name_trgm" in plan
            assert [hit.public_id for hit in search(session, SearchQuery(author="100% pure_"))] == ["pkg-odd"]
    finally:
        catalog.close()


def test_a_role_that_may_not_create_extensions_still_gets_a_catalog_that_finds_authors(postgres_url: str) -> None:
    """pg_trgm is an optimisation: refused to the migrating role, the migration goes on and search is the same."""
    role = f"catalog_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(make_url(postgres_url).set(drivername="postgresql").render_as_string(False),
                         autocommit=True) as admin:  # fmt: skip
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        # May create tables in the schema, not extensions in the database.
        admin.execute(f'GRANT USAGE, CREATE ON SCHEMA public TO "{role}"')
        try:
            as_role = make_url(postgres_url).set(username=role).render_as_string(hide_password=False)
            upgrade_catalog(as_role)
            catalog = open_catalog(as_role)
            try:
                Rows(catalog).add("pkg-rain", Version("Rainfall"))
                assert found(catalog, author="lovelace") == [("pkg-rain", 1)]
                with catalog.session() as session:
                    indexes = set(session.scalars(text("SELECT indexname FROM pg_indexes WHERE tablename = 'people'")))
                assert "ix_people_name_trgm" not in indexes and "ix_people_identifier" in indexes
            finally:
                catalog.close()
        finally:
            admin.execute(f'DROP OWNED BY "{role}"')  # its tables, here; roles outlive databases
            admin.execute(f'DROP ROLE "{role}"')


def test_postgresql_plans_each_search_for_its_values_within_its_own_transaction(postgres_url: str) -> None:
    """No generic plan kept for a prepared search (one word fits every value badly), no JIT; other work unchanged."""
    upgrade_catalog(postgres_url)
    catalog = open_catalog(postgres_url)
    try:
        with catalog.session() as session:
            search(session, SearchQuery(text="rainfall", verdict="failed"))
            assert session.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
            assert session.scalar(text("SHOW jit")) == "off"
        with catalog.session() as session:
            assert session.scalar(text("SHOW plan_cache_mode")) == "auto"
    finally:
        catalog.close()
