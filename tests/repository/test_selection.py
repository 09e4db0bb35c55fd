"""select_versions: each criterion of a policy's selection, alone and together, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from repropack.model import layout
from repropack.model.governance import Selection
from repropack.repository.opened import Repository
from repropack.repository.selection import SelectedVersion, select_versions
from tests.repository.catalog_rows import WHEN, SampleFile, SampleRun, SampleVersion, add_package, make_repository

DAY = 24 * 3600
NOW = WHEN + timedelta(days=10)
OLD_BASE = "repropack/base:bookworm-py3.10"
NEW_BASE = "repropack/base:bookworm-py3.11"


def _settings(base: str) -> SampleFile:
    data = json.dumps({"base_image": {"value": base, "source": "default"}}).encode()
    return SampleFile(layout.SETTINGS, data, encoding_format="application/json")


def _version(title: str, *runs: SampleRun, **fields) -> SampleVersion:
    files = fields.pop("files", (SampleFile("analysis.ipynb", title.encode()),))
    return SampleVersion(title=title, files=files, runs=runs, **fields)


@pytest.fixture
def repository(tmp_path, catalog_url):
    """Five packages: a fresh import never replayed, one reproduced long ago, one failed yesterday, one with two
    versions (v1 reproduced, v2 never replayed), one whose package recorded the old base image."""
    location = make_repository(tmp_path / "repo", catalog_url)
    long_ago = SampleRun("reproduced", "a" * 64, finished_at=WHEN, base_image=NEW_BASE)
    yesterday = SampleRun("failed", "b" * 64, cause="cell error", finished_at=NOW - timedelta(days=1))
    add_package(location, "pkg-fresh", _version("Fresh", keywords=("rainfall",), imported_at=NOW - timedelta(hours=2)))
    add_package(location, "pkg-old", _version("Old", long_ago, keywords=("soil", "rainfall")))
    add_package(
        location,
        "pkg-failing",
        _version("Failing", yesterday, authors=(("Grace Hopper", "https://orcid.org/0000-0001-2345-6789"),)),
    )
    add_package(
        location,
        "pkg-two",
        _version("Two, first", SampleRun("reproduced", "c" * 64, base_image=OLD_BASE)),
        _version("Two, second", imported_at=NOW - timedelta(days=3)),
    )
    add_package(location, "pkg-based", _version("Based", files=(_settings(OLD_BASE),)))
    with Repository.open(location.root) as opened:
        yield opened


def _ids(selected: list[SelectedVersion]) -> list[str]:
    return [f"{s.public_id}@{s.version}" for s in selected]


def test_an_empty_selection_gives_every_newest_version_in_order(repository):
    selected = select_versions(repository, Selection(), NOW)
    assert _ids(selected) == ["pkg-based@1", "pkg-failing@1", "pkg-fresh@1", "pkg-old@1", "pkg-two@2"]
    two = selected[-1]
    assert (two.title, len(two.content_digest)) == ("Two, second", 64)
    assert isinstance(two.version_id, int)


def test_every_version_when_not_only_the_newest(repository):
    assert "pkg-two@1" in _ids(select_versions(repository, Selection(latest_only=False), NOW))


def test_by_ids(repository):
    assert _ids(select_versions(repository, Selection(ids=("pkg-old", "pkg-two", "pkg-unknown")), NOW)) == [
        "pkg-old@1",
        "pkg-two@2",
    ]


def test_by_keywords_any_of_them_casefolded(repository):
    assert _ids(select_versions(repository, Selection(keywords=("RainFall",)), NOW)) == ["pkg-fresh@1", "pkg-old@1"]
    assert _ids(select_versions(repository, Selection(keywords=("soil", "absent")), NOW)) == ["pkg-old@1"]


def test_by_authors_a_name_part_or_an_orcid(repository):
    assert _ids(select_versions(repository, Selection(authors=("Hopper",)), NOW)) == ["pkg-failing@1"]
    assert _ids(select_versions(repository, Selection(authors=("0000-0001-2345-6789",)), NOW)) == ["pkg-failing@1"]
    everyone = select_versions(repository, Selection(authors=("Hopper", "Lovelace")), NOW)
    assert len(everyone) == 5


def test_by_last_verdict_with_never_for_the_unreplayed(repository):
    assert _ids(select_versions(repository, Selection(last_verdict=("failed",)), NOW)) == ["pkg-failing@1"]
    assert _ids(select_versions(repository, Selection(last_verdict=("never",)), NOW)) == [
        "pkg-based@1",
        "pkg-fresh@1",
        "pkg-two@2",
    ]


def test_not_replayed_for_keeps_the_never_replayed_and_the_long_ago(repository):
    selected = _ids(select_versions(repository, Selection(not_replayed_for=7 * DAY), NOW))
    assert selected == ["pkg-based@1", "pkg-fresh@1", "pkg-old@1", "pkg-two@2"]  # pkg-failing ran yesterday
    assert "pkg-failing@1" in _ids(select_versions(repository, Selection(not_replayed_for=3600), NOW))


def test_imported_within(repository):
    assert _ids(select_versions(repository, Selection(imported_within=DAY), NOW)) == ["pkg-fresh@1"]
    assert _ids(select_versions(repository, Selection(imported_within=4 * DAY), NOW)) == ["pkg-fresh@1", "pkg-two@2"]


def test_base_image_of_the_newest_run_or_else_the_package_settings(repository):
    assert _ids(select_versions(repository, Selection(base_image=NEW_BASE), NOW)) == ["pkg-old@1"]
    assert _ids(select_versions(repository, Selection(base_image=OLD_BASE), NOW)) == ["pkg-based@1"]
    every = _ids(select_versions(repository, Selection(base_image=OLD_BASE, latest_only=False), NOW))
    assert every == ["pkg-based@1", "pkg-two@1"]


def test_criteria_combine_as_and(repository):
    selection = Selection(keywords=("rainfall",), last_verdict=("never",), imported_within=DAY)
    assert _ids(select_versions(repository, selection, NOW)) == ["pkg-fresh@1"]
    assert select_versions(repository, Selection(ids=("pkg-old",), last_verdict=("failed",)), NOW) == []


def test_a_now_without_zone_is_taken_as_utc(repository):
    naive = NOW.replace(tzinfo=None)
    assert select_versions(repository, Selection(imported_within=DAY), naive) == select_versions(
        repository, Selection(imported_within=DAY), NOW
    )


def test_a_hostile_settings_file_records_no_base_image(tmp_path):
    location = make_repository(tmp_path / "repo")
    hostile = SampleFile(layout.SETTINGS, b"\xff not json {", encoding_format="application/json")
    huge = SampleFile(layout.SETTINGS, json.dumps({"base_image": OLD_BASE, "pad": "x" * (1 << 20)}).encode())
    add_package(location, "pkg-garbled", _version("Garbled", files=(hostile,)))
    add_package(location, "pkg-huge", _version("Huge", files=(huge,)))
    with Repository.open(location.root) as opened:
        assert select_versions(opened, Selection(base_image=OLD_BASE), NOW) == []
        assert len(select_versions(opened, Selection(), NOW)) == 2
