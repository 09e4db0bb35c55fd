"""``repropack init``'s file: what it writes round-trips through the settings reader, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from repropack.config import resolve_settings
from repropack.errors import BadInput
from repropack.export.project_config import (
    GivenMetadata,
    check_given,
    parse_author,
    parse_publisher,
    plan_init,
    refuse_overwrite,
    render,
    write_init,
)
from repropack.export.project_metadata import project_metadata
from repropack.model import Organization, Person
from tests.export.test_project_metadata import ADA_ORCID, CITATION, LICENSES


@pytest.fixture
def cited(tmp_path: Path) -> Path:
    project = tmp_path / "claims"
    project.mkdir()
    (project / "CITATION.cff").write_text(CITATION)
    (project / "LICENSE").write_text((LICENSES / "MIT").read_text())
    return project


def test_written_file_round_trips_through_the_settings_reader(cited):
    before = project_metadata(cited, resolve_settings({}, cited, user={}))
    plan = plan_init(cited, GivenMetadata({"publisher": Organization("Example Institute", "https://example.org")}))
    path = write_init(plan)
    assert path == cited / "repropack.toml"
    resolved = resolve_settings({}, cited, user={})
    s = resolved.values
    assert (s.title, s.description, s.license, s.version, s.doi) == (
        before.title,
        before.description,
        "MIT",
        "2.1.0",
        "10.5281/zenodo.1234567",
    )
    assert s.keywords == before.keywords
    assert dict(s.publisher) == {"name": "Example Institute", "url": "https://example.org"}
    after = project_metadata(cited, resolved)
    assert after.authors == before.authors
    assert set(after.sources.values()) == {"settings (project)"}


def test_each_value_names_its_source_in_a_comment(cited):
    text = render(plan_init(cited))
    assert 'license = "MIT"  # from LICENSE (text identified as MIT)' in text
    assert 'version = "2.1.0"  # from CITATION.cff' in text
    assert "# authors from CITATION.cff" in text


def test_missing_required_fields_are_commented_lines_to_fill_in(tmp_path):
    plan = plan_init(tmp_path)
    assert plan.missing == ("title", "license", "authors")
    text = render(plan)
    assert '# title = "…"  # missing: nothing in the project says it' in text
    assert '# license = "…"  # missing: nothing in the project says it' in text
    write_init(plan)
    assert resolve_settings({}, tmp_path, user={}).sources["title"] == "default"


def test_values_that_toml_must_escape_round_trip(tmp_path):
    awkward = 'He said "hi" \\ then\ttab, DEL\x7f, 日本語 and 🧪'
    plan = plan_init(
        tmp_path,
        GivenMetadata(
            {
                "title": awkward,
                "license": "MIT",
                "keywords": ('a "quoted" one', "b\\c"),
                "authors": (Person(awkward, Organization('O "Q"', "https://o.example")),),
            }
        ),
    )
    write_init(plan)
    s = resolve_settings({}, tmp_path, user={}).values
    assert s.title == awkward
    assert s.keywords == ('a "quoted" one', "b\\c")
    assert s.authors[0]["name"] == awkward
    assert s.authors[0]["affiliation"] == {"name": 'O "Q"', "url": "https://o.example"}


def test_flags_win_over_the_files(cited):
    plan = plan_init(cited, GivenMetadata({"title": "Typed", "license": "Apache-2.0"}))
    assert (plan.values["title"], plan.sources["title"]) == ("Typed", "the command line")
    assert plan.values["license"] == "Apache-2.0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ada Lovelace", Person("Ada Lovelace")),
        ("Ada Lovelace <0000-0002-1825-0097>", Person("Ada Lovelace", identifier=ADA_ORCID)),
        (
            f"Ada Lovelace <{ADA_ORCID}> <ada@example.org>",
            Person("Ada Lovelace", identifier=ADA_ORCID, email="ada@example.org"),
        ),
    ],
)
def test_parse_author(text, expected):
    assert parse_author(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<0000-0002-1825-0097>", "needs a name"),
        ("Ada <0000-0002-1825-0098>", "is not a valid ORCID"),
        ("Ada <javascript:alert(1)>", "is not a valid ORCID"),
    ],
)
def test_parse_author_refuses(text, message):
    with pytest.raises(BadInput, match=message):
        parse_author(text)


def test_parse_publisher():
    assert parse_publisher("Example Institute <https://example.org>") == Organization(
        "Example Institute", "https://example.org"
    )
    with pytest.raises(BadInput, match="is not an http"):
        parse_publisher("X <javascript:alert(1)>")


def test_given_license_and_doi_are_checked_strictly():
    assert check_given({"license": "mit", "doi": "https://doi.org/10.1234/x"}) == {"license": "MIT", "doi": "10.1234/x"}
    with pytest.raises(BadInput, match="'BSD' is not an SPDX license id"):
        check_given({"license": "BSD"})
    with pytest.raises(BadInput, match="is not a DOI"):
        check_given({"doi": "10.1234/<b>"})


def test_an_existing_file_is_kept_without_force(cited):
    (cited / "repropack.toml").write_text('title = "mine"\n')
    with pytest.raises(BadInput, match="already exists; pass --force"):
        refuse_overwrite(cited, force=False)
    refuse_overwrite(cited, force=True)  # only metadata: may be rewritten


def test_a_file_with_other_settings_is_never_overwritten(cited):
    (cited / "repropack.toml").write_text('title = "mine"\nrestrict = ["data/*.csv"]\n')
    with pytest.raises(BadInput, match=r"holds settings init does not write \(restrict\)"):
        refuse_overwrite(cited, force=True)


def test_a_tool_repropack_table_is_not_shadowed(cited):
    (cited / "pyproject.toml").write_text('[tool.repropack]\ntitle = "there"\n')
    with pytest.raises(BadInput, match=r"has \[tool.repropack\], which a repropack.toml would shadow"):
        refuse_overwrite(cited, force=True)
