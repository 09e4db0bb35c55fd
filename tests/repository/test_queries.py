"""The read side: a package and its versions as show, the web view and the JSON API see them."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest

from repropack.errors import BadInput
from repropack.repository.catalog.database import open_catalog
from repropack.repository.queries import Ref, as_json, package_view, resolve_ref
from tests.repository.catalog_rows import WHEN, SampleFile, SampleRun, SampleVersion, add_package, make_repository

FIRST = SampleVersion(
    title="Rainfall in Kyoto",
    files=(
        SampleFile("analysis.ipynb", b"{}", role="notebook"),
        SampleFile("data/rain.csv", b"a,b\n1,2\n", role="input"),
    ),
    keywords=("rain", "kyoto"),
    runs=(SampleRun("reproduced", "1" * 64),),
)
SECOND = SampleVersion(
    title="Rainfall in Kyoto, revised",
    files=(
        SampleFile("analysis.ipynb", b'{"v": 2}', role="notebook"),
        SampleFile("secret/ids.csv", b"ids", role="input", restricted=True),
    ),
    doi="10.1234/rain",
    runs=(
        SampleRun("not_reproduced", "3" * 64, cause="output differs", finished_at=WHEN + timedelta(hours=2)),
        SampleRun("reproduced", "2" * 64, finished_at=WHEN + timedelta(hours=1)),
    ),
    imported_at=WHEN + timedelta(days=1),
)


@pytest.fixture
def catalog(tmp_path: Path, catalog_url: str):
    """Two packages in a real SQLite file and on the real PostgreSQL test server, through the same code."""
    location = make_repository(tmp_path / "repo", catalog_url)
    add_package(location, "pkg-000000000001", FIRST, SECOND, dois=("10.5555/paper",))
    add_package(location, "pkg-000000000002", SampleVersion(title="Other", files=(SampleFile("x.txt", b"x"),)))
    catalog = open_catalog(location.catalog_url)
    yield catalog
    catalog.close()


@pytest.mark.parametrize(
    ("text", "ref"),
    [("pkg-3f9a1c2b7d4e", Ref("pkg-3f9a1c2b7d4e")), ("pkg-3f9a1c2b7d4e@12", Ref("pkg-3f9a1c2b7d4e", 12))],
)
def test_a_reference_names_a_package_and_optionally_a_version(text: str, ref: Ref) -> None:
    assert resolve_ref(text) == ref
    assert str(ref) == text


@pytest.mark.parametrize("text", ["", "@1", "pkg-1@", "pkg-1@0", "pkg-1@-1", "pkg-1@x", "../etc", "a b", "x" * 40])
def test_a_malformed_reference_is_one_line_naming_the_form(text: str) -> None:
    with pytest.raises(BadInput, match=r"not a package reference \(ID or ID@VERSION") as caught:
        resolve_ref(text)
    assert "\n" not in str(caught.value)


def test_the_latest_version_is_shown_with_every_version_listed(catalog) -> None:
    with catalog.session() as session:
        view = package_view(session, "pkg-000000000001")
    assert view.latest == 2 and view.version.number == 2
    assert [(v.number, v.title, v.verdict) for v in view.versions] == [
        (1, "Rainfall in Kyoto", "reproduced"),
        (2, "Rainfall in Kyoto, revised", "not_reproduced"),
    ]
    shown = view.version
    assert [(f.path, f.restricted) for f in shown.files] == [("analysis.ipynb", False), ("secret/ids.csv", True)]
    assert shown.file("secret/ids.csv").size == 3 and shown.file("secret/../secret/ids.csv") is None
    assert [r.record_sha256 for r in shown.runs] == ["2" * 64, "3" * 64]  # oldest first
    assert shown.runs[-1].cause == "output differs"
    assert view.dois == ("10.1234/rain", "10.5555/paper")
    assert [(a.name, a.identifier) for a in shown.authors] == [
        ("Ada Lovelace", "https://orcid.org/0000-0002-1825-0097")
    ]


def test_an_earlier_version_is_shown_when_asked_for(catalog) -> None:
    with catalog.session() as session:
        view = package_view(session, resolve_ref("pkg-000000000001@1"))
    assert view.version.number == 1 and view.latest == 2
    assert view.version.keywords == ("kyoto", "rain")
    assert view.version.file("data/rain.csv").role == "input"
    assert view.dois == ("10.5555/paper",)


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("pkg-00000000000f", "pkg-00000000000f: no such package in this repository"),
        ("pkg-000000000001@3", "pkg-000000000001@3: pkg-000000000001 has no version 3 (it has 1 to 2)"),
    ],
)
def test_an_unknown_package_or_version_is_one_line(catalog, ref: str, message: str) -> None:
    with catalog.session() as session, pytest.raises(BadInput) as caught:
        package_view(session, ref)
    assert str(caught.value) == message


def test_json_is_plain_values_with_utc_times(catalog) -> None:
    with catalog.session() as session:
        data = as_json(package_view(session, "pkg-000000000001"))
    assert json.loads(json.dumps(data)) == data
    assert data["version"]["imported_at"] == "2026-11-25T10:15:00Z"
    assert data["version"]["files"][1] == {
        "path": "secret/ids.csv",
        "size": 3,
        "sha256": hashlib.sha256(b"ids").hexdigest(),
        "role": "input",
        "encoding_format": "text/plain",
        "restricted": True,
    }
    assert data["dois"] == ["10.1234/rain", "10.5555/paper"]
    assert data["version"]["runs"][0]["verdict"] == "reproduced"
