"""Package metadata from the project's own files: each source, their precedence, hostile files, and the goal:
a project with only a LICENSE and a CITATION.cff exports to a package ``repropack check`` calls valid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from repropack.config import resolve_settings
from repropack.crate.reader import open_package
from repropack.errors import BadInput
from repropack.export.project_metadata import (
    MAX_FILE_BYTES,
    FoundMetadata,
    missing_metadata,
    orcid_url,
    project_metadata,
)
from repropack.resources import schema_path
from tests.conftest import write_notebook

LICENSES = Path(__file__).parent / "data" / "licenses"
ADA_ORCID = "https://orcid.org/0000-0002-1825-0097"
GRACE_ORCID = "https://orcid.org/0000-0001-5109-3700"
CHARLES_ORCID = "https://orcid.org/0000-0003-1415-9269"
BAD_ORCID = "https://orcid.org/0000-0002-1825-0098"  # Ada's with the check digit off by one

CITATION = f"""\
cff-version: 1.2.0
message: "If you use this analysis, please cite it as below."
title: "Hospital readmission claims: a reproducible analysis"
abstract: "Notebooks that count 30-day readmissions in an anonymised claims register."
type: software
authors:
  - given-names: Ada
    family-names: Lovelace
    orcid: "{ADA_ORCID}"
    affiliation: "Analytical Engine Society"
    email: ada@example.org
  - given-names: Grace
    name-particle: van
    family-names: Hopper
    orcid: "{GRACE_ORCID}"
    affiliation: "Naval Computing Laboratory"
  - given-names: Charles
    family-names: Babbage
    orcid: "{CHARLES_ORCID}"
    affiliation: "Analytical Engine Society"
keywords:
  - readmission
  - health economics
  - claims data
version: 2.1.0
doi: 10.5281/zenodo.1234567
date-released: 2024-05-01
repository-code: "https://example.org/claims"
"""


def found(project: Path, flags: dict | None = None) -> FoundMetadata:
    return project_metadata(project, resolve_settings(flags or {}, project, user={}))


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    project = tmp_path / "study"
    project.mkdir()
    return project


# --- each source ----------------------------------------------------------------------------------


def test_citation_cff_gives_every_field(bare):
    (bare / "CITATION.cff").write_text(CITATION)
    meta = found(bare)
    assert meta.title == "Hospital readmission claims: a reproducible analysis"
    assert meta.description.startswith("Notebooks that count")
    assert [p.name for p in meta.authors] == ["Ada Lovelace", "Grace van Hopper", "Charles Babbage"]
    assert [p.identifier for p in meta.authors] == [ADA_ORCID, GRACE_ORCID, CHARLES_ORCID]
    assert meta.authors[0].email == "ada@example.org"
    assert meta.authors[1].affiliation.name == "Naval Computing Laboratory"
    assert meta.keywords == ("readmission", "health economics", "claims data")
    assert (meta.version, meta.doi) == ("2.1.0", "10.5281/zenodo.1234567")
    assert meta.license is None
    assert set(meta.sources.values()) == {"CITATION.cff"}
    assert meta.notes == ()


def test_citation_cff_that_breaks_the_schema_is_noted_and_its_valid_fields_used(bare):
    (bare / "CITATION.cff").write_text("cff-version: 1.2.0\ntitle: Study\nauthors: []\n")  # no message, no author
    meta = found(bare)
    assert meta.title == "Study"
    (note,) = meta.notes
    assert note.startswith("CITATION.cff: not valid CFF 1.2.0 at ")


def test_codemeta_gives_authors_with_affiliation_urls(bare):
    (bare / "codemeta.json").write_text(
        json.dumps(
            {
                "@context": "https://w3id.org/codemeta/3.0",
                "@type": "SoftwareSourceCode",
                "name": "claims",
                "description": "<p>Counts &amp; rates.</p>",
                "license": "https://spdx.org/licenses/Apache-2.0",
                "version": "0.4.0",
                "identifier": "https://doi.org/10.5281/zenodo.42",
                "keywords": "claims, readmission",
                "author": [
                    {
                        "@type": "Person",
                        "@id": ADA_ORCID,
                        "givenName": "Ada",
                        "familyName": "Lovelace",
                        "affiliation": {"@type": "Organization", "name": "AES", "url": "https://aes.example.org"},
                    }
                ],
            }
        )
    )
    meta = found(bare)
    assert (meta.title, meta.description, meta.license, meta.version) == (
        "claims",
        "Counts & rates.",
        "Apache-2.0",
        "0.4.0",
    )
    assert meta.doi == "10.5281/zenodo.42"
    assert meta.keywords == ("claims", "readmission")
    (ada,) = meta.authors
    assert (ada.name, ada.identifier, ada.affiliation.url) == ("Ada Lovelace", ADA_ORCID, "https://aes.example.org")
    assert meta.sources["authors"] == "codemeta.json"


def test_zenodo_json_turns_family_given_names_round(bare):
    (bare / ".zenodo.json").write_text(
        json.dumps(
            {
                "title": "Claims",
                "creators": [{"name": "Lovelace, Ada", "orcid": "0000-0002-1825-0097", "affiliation": "AES"}],
                "license": {"id": "cc-by-4.0"},
                "doi": "doi:10.5281/zenodo.7",
            }
        )
    )
    meta = found(bare)
    assert [(p.name, p.identifier, p.affiliation.name) for p in meta.authors] == [("Ada Lovelace", ADA_ORCID, "AES")]
    assert (meta.license, meta.doi) == ("CC-BY-4.0", "10.5281/zenodo.7")


@pytest.mark.parametrize(
    ("license_line", "expected"),
    [
        ('license = "MIT"', "MIT"),  # PEP 639
        ('license = "apache-2.0"', "Apache-2.0"),  # spelt canonically
        ('license = {text = "BSD-3-Clause"}', "BSD-3-Clause"),
    ],
)
def test_pyproject_project_table(bare, license_line, expected):
    (bare / "pyproject.toml").write_text(
        f'[project]\nname = "claims"\nversion = "1.0"\ndescription = "Claims."\n{license_line}\n'
        'keywords = ["a"]\nauthors = [{name = "Ada Lovelace", email = "ada@example.org"}, {email = "x@example.org"}]\n'
    )
    meta = found(bare)
    assert (meta.title, meta.version, meta.description, meta.license) == ("claims", "1.0", "Claims.", expected)
    assert [(p.name, p.email) for p in meta.authors] == [("Ada Lovelace", "ada@example.org")]
    assert meta.notes == ("pyproject.toml [project] authors[2]: has no name; left out",)


def test_pyproject_license_file_and_text_are_identified_by_their_text(bare):
    (bare / "LICENSES").mkdir()
    (bare / "LICENSES" / "mine.txt").write_text((LICENSES / "BSD-2-Clause").read_text())
    (bare / "pyproject.toml").write_text('[project]\nname = "x"\nlicense = {file = "LICENSES/mine.txt"}\n')
    meta = found(bare)
    assert meta.license == "BSD-2-Clause"
    assert meta.sources["license"] == (
        "pyproject.toml [project] license.file: LICENSES/mine.txt (text identified as BSD-2-Clause)"
    )
    text = json.dumps((LICENSES / "MIT").read_text())
    (bare / "pyproject.toml").write_text(f'[project]\nname = "x"\nlicense = {{text = {text}}}\n')
    assert found(bare).license == "MIT"


def test_pyproject_license_file_outside_the_project_is_not_read(bare, tmp_path):
    (tmp_path / "secret").write_text((LICENSES / "MIT").read_text())
    (bare / "pyproject.toml").write_text('[project]\nname = "x"\nlicense = {file = "../secret"}\n')
    meta = found(bare)
    assert meta.license is None
    assert meta.notes == (
        "pyproject.toml [project] license.file: '../secret' is not a path inside the project; not read",
    )


def test_pyproject_dynamic_version_is_not_taken(bare):
    (bare / "pyproject.toml").write_text('[project]\nname = "x"\ndynamic = ["version"]\nversion = "9"\n')
    assert found(bare).version is None


def test_setup_cfg_metadata(bare):
    (bare / "setup.cfg").write_text(
        "[metadata]\nname = claims\nversion = attr: claims.__version__\nauthor = Ada Lovelace\n"
        "author_email = ada@example.org\nlicense = MIT\nkeywords = claims, readmission\n"
    )
    meta = found(bare)
    assert (meta.title, meta.version, meta.license, meta.keywords) == ("claims", None, "MIT", ("claims", "readmission"))
    assert [(p.name, p.email) for p in meta.authors] == [("Ada Lovelace", "ada@example.org")]
    assert meta.sources["license"] == "setup.cfg [metadata]"


def test_setup_py_literals_are_read_and_it_is_never_run(bare, tmp_path):
    marker = tmp_path / "ran"
    (bare / "setup.py").write_text(
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('setup.py was executed')\n"
        "from setuptools import setup\n"
        "VERSION = open('VERSION').read()\n"
        f"setup(name='claims', version=VERSION, author='Ada Lovelace', license='GPL-3.0-or-later',\n"
        f"      description=pathlib.Path({str(marker)!r}).write_text('x'), keywords=['claims'])\n"
    )
    meta = found(bare)
    assert not marker.exists()
    assert (meta.title, meta.version, meta.license, meta.keywords) == ("claims", None, "GPL-3.0-or-later", ("claims",))
    assert meta.description is None  # a call, not a literal
    assert meta.sources["title"] == "setup.py"


def test_legacy_license_names_that_are_not_spdx_ids_are_noted(bare):
    (bare / "setup.cfg").write_text("[metadata]\nname = x\nlicense = BSD License\n")
    meta = found(bare)
    assert meta.license is None
    assert meta.notes == ("setup.cfg [metadata] license: 'BSD License' is not an SPDX license id; left out",)


def test_license_file_is_identified_and_named_as_the_source(bare):
    (bare / "LICENSE.md").write_text((LICENSES / "Apache-2.0").read_text())
    meta = found(bare)
    assert meta.license == "Apache-2.0"
    assert meta.sources["license"] == "LICENSE.md (text identified as Apache-2.0)"


def test_unknown_license_text_is_a_note_not_a_guess(bare):
    (bare / "COPYING").write_text((LICENSES / "MIT").read_text() + "\nThe Software shall be used for Good, not Evil.\n")
    meta = found(bare)
    assert meta.license is None
    assert meta.notes == (
        'COPYING: text not recognised as a known SPDX license; add `license = "…"` to repropack.toml',
    )


# --- precedence -----------------------------------------------------------------------------------


def test_settings_then_citation_then_codemeta_then_pyproject_then_license_file(bare):
    (bare / "LICENSE").write_text((LICENSES / "MIT").read_text())
    (bare / "pyproject.toml").write_text('[project]\nname = "py-name"\nversion = "3.0"\nkeywords = ["py"]\n')
    (bare / "codemeta.json").write_text(json.dumps({"name": "codemeta-name", "version": "2.0", "description": "CM."}))
    (bare / "CITATION.cff").write_text("cff-version: 1.2.0\nmessage: m\ntitle: CFF title\nauthors:\n  - name: Team\n")
    (bare / "repropack.toml").write_text('title = "Settings title"\n')
    meta = found(bare)
    assert (meta.title, meta.description, meta.version, meta.keywords, meta.license) == (
        "Settings title",
        "CM.",
        "2.0",
        ("py",),
        "MIT",
    )
    assert meta.sources == {
        "title": "settings (project)",
        "authors": "CITATION.cff",
        "description": "codemeta.json",
        "version": "codemeta.json",
        "keywords": "pyproject.toml [project]",
        "license": "LICENSE (text identified as MIT)",
    }


def test_a_flag_is_a_setting_and_wins(bare):
    (bare / "CITATION.cff").write_text(CITATION)
    meta = found(bare, {"title": "From the flag"})
    assert (meta.title, meta.sources["title"]) == ("From the flag", "settings (flag)")


def test_settings_authors_replace_the_files_authors_and_keep_their_affiliation_urls(bare):
    (bare / "CITATION.cff").write_text(CITATION)
    (bare / "repropack.toml").write_text(
        f'[[authors]]\nname = "Ada"\norcid = "{ADA_ORCID}"\naffiliation = {{name = "AES", url = "https://aes.example"}}\n'
    )
    (ada,) = found(bare).authors
    assert (ada.name, ada.identifier, ada.affiliation.url) == ("Ada", ADA_ORCID, "https://aes.example")


# --- identifiers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("0000-0002-1825-0097", ADA_ORCID),
        ("http://orcid.org/0000-0002-1825-0097", ADA_ORCID),
        ("https://orcid.org/0000-0002-1694-233x", "https://orcid.org/0000-0002-1694-233X"),  # X as check digit
        (BAD_ORCID, None),
        ("https://orcid.org/0000-0002-1825", None),
        ("javascript:alert(1)//0000-0002-1825-0097", None),
    ],
)
def test_orcid_checksum_and_form(given, expected):
    assert orcid_url(given) == expected


def test_a_bad_orcid_is_a_note_and_the_person_gets_a_local_id(bare):
    (bare / "CITATION.cff").write_text(CITATION.replace(GRACE_ORCID, BAD_ORCID))
    meta = found(bare)
    assert meta.authors[1].identifier is None
    assert any("authors[2].orcid" in n and "not a valid ORCID" in n for n in meta.notes)


def test_a_javascript_orcid_in_the_settings_is_a_note_not_an_id(bare):
    (bare / "repropack.toml").write_text('[[authors]]\nname = "Mallory"\norcid = "javascript:alert(document.domain)"\n')
    meta = found(bare)
    assert meta.authors[0].identifier is None
    assert meta.notes == (
        "setting authors[1].orcid: 'javascript:alert(document.domain)' is neither an ORCID nor an http(s) URL; "
        "the person gets a local id",
    )


@pytest.mark.parametrize(
    "doi",
    [
        '10.5281/zenodo.1"><script>alert(1)</script>',
        "10.5281/zenodo 1234",
        "javascript:alert(1)",
        "https://evil.example/10.5281/zenodo.1",
    ],
)
def test_a_doi_with_markup_or_no_doi_at_all_is_left_out(bare, doi):
    (bare / ".zenodo.json").write_text(json.dumps({"title": "t", "doi": doi}))
    meta = found(bare)
    assert meta.doi is None
    (note,) = meta.notes
    assert note.startswith(".zenodo.json doi: ") and note.endswith("is not a DOI (10.NNNN/...); left out")


# --- hostile files --------------------------------------------------------------------------------


BILLION_LAUGHS = """\
cff-version: 1.2.0
message: m
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
title: *i
"""


def test_a_yaml_bomb_is_refused_without_expanding_it(bare):
    (bare / "CITATION.cff").write_text(BILLION_LAUGHS)
    meta = found(bare)
    assert meta.title is None
    assert meta.notes == ("CITATION.cff: not YAML we read: uses a YAML alias (line 4), which is refused; not read",)


def test_yaml_that_runs_python_is_refused(bare, tmp_path):
    (bare / "CITATION.cff").write_text(f"title: !!python/object/apply:os.system ['touch {tmp_path}/ran']\n")
    meta = found(bare)
    assert not (tmp_path / "ran").exists()
    assert meta.title is None and meta.notes[0].startswith("CITATION.cff: not YAML we read: ")


def test_a_huge_codemeta_json_is_not_read(bare):
    (bare / "codemeta.json").write_text('{"name": "x", "description": "' + "a" * (MAX_FILE_BYTES + 1) + '"}')
    meta = found(bare)
    assert meta.title is None
    (note,) = meta.notes
    size = (bare / "codemeta.json").stat().st_size
    assert note == f"codemeta.json: {size} bytes, more than the {MAX_FILE_BYTES} allowed; not read"


def test_deeply_nested_codemeta_json_is_not_read(bare):
    (bare / "codemeta.json").write_text("[" * 10_000 + "]" * 10_000)
    (note,) = found(bare).notes
    assert note.startswith("codemeta.json: ") and note.endswith("; not read")


def test_a_symlinked_citation_is_not_followed(bare, tmp_path):
    (tmp_path / "elsewhere.cff").write_text(CITATION)
    (bare / "CITATION.cff").symlink_to(tmp_path / "elsewhere.cff")
    meta = found(bare)
    assert meta.title is None
    assert meta.notes == ("CITATION.cff: a symlink, not a regular file; not read",)


@pytest.mark.parametrize(
    ("name", "content", "note"),
    [
        (
            "codemeta.json",
            '{"name": ["not", "a", "string"]}',
            "codemeta.json name: must be a string, not a list; left out",
        ),
        ("codemeta.json", '{"author": "Ada"}', "codemeta.json author: must be a list, not a string; left out"),
        (".zenodo.json", '["a list"]', ".zenodo.json: must hold a JSON object, not a list; not read"),
        (
            "pyproject.toml",
            "[project]\nname = 3\n",
            "pyproject.toml [project] name: must be a string, not a number; left out",
        ),
        ("pyproject.toml", "project = 1\n", "pyproject.toml [project]: must be a table; not read"),
        ("pyproject.toml", '[project]\nkeywords = "a"\nauthors = [1]\n', None),
        ("CITATION.cff", "cff-version: 1.2.0\nmessage: m\nkeywords: {a: 1}\n", None),
        (
            "codemeta.json",
            '{"name": "x", "name": "y"}',
            "codemeta.json: the key 'name' appears twice in one object; not read",
        ),
    ],
)
def test_wrong_types_are_one_clear_note_not_a_traceback(bare, name, content, note):
    (bare / name).write_text(content)
    meta = found(bare)
    if note is not None:
        assert note in meta.notes
    else:
        assert meta.notes and all(n.startswith(name) for n in meta.notes)
    assert all("\n" not in n and "Traceback" not in n for n in meta.notes)


def test_a_title_with_control_characters_is_left_out(bare):
    (bare / "codemeta.json").write_text(json.dumps({"name": "claims\x1b[31m red"}))
    meta = found(bare)
    assert meta.title is None
    assert meta.notes == ("codemeta.json name: holds control characters; left out",)


def test_a_setup_py_that_does_not_parse_is_a_note(bare):
    (bare / "setup.py").write_text("setup(name='x'\n")
    assert found(bare).notes == ("setup.py: not Python we parse (SyntaxError); not read",)


def test_settings_with_a_nameless_author_stay_an_error(bare):
    (bare / "repropack.toml").write_text('[[authors]]\norcid = "x"\n')
    with pytest.raises(BadInput, match=r"authors\[1\]: needs a name"):
        found(bare)


# --- what is still missing ------------------------------------------------------------------------


def test_missing_metadata_names_the_line_to_add(bare):
    warnings = missing_metadata(found(bare))
    assert any(w.startswith("no license found: RO-Crate requires one") and 'license = "SPDX-ID"' in w for w in warnings)
    assert (
        'no author found: add authors = [{name = "…", orcid = "https://orcid.org/…", '
        'affiliation = {name = "…", url = "https://…"}}] to repropack.toml or a CITATION.cff'
    ) in warnings
    assert any(w.startswith("no title found: ") for w in warnings)
    assert any(
        w.startswith("no publisher set") and 'publisher = {name = "…", url = "https://…"}' in w for w in warnings
    )


def test_missing_metadata_names_each_author_without_orcid(bare):
    (bare / "CITATION.cff").write_text(CITATION.replace(f'    orcid: "{CHARLES_ORCID}"\n', ""))
    warnings = missing_metadata(found(bare))
    assert [w for w in warnings if "ORCID" in w] == [
        "author 'Charles Babbage' has no ORCID, which RO-Crate 1.2 recommends: add orcid: to their CITATION.cff "
        'entry, or orcid = "https://orcid.org/…" to their [[authors]] entry in repropack.toml'
    ]


def test_missing_metadata_names_each_affiliation_without_url_once(bare):
    (bare / "CITATION.cff").write_text(CITATION)
    warnings = missing_metadata(found(bare))
    assert [w for w in warnings if "has no url" in w] == [
        f'affiliation {name!r} has no url, which RO-Crate recommends: add affiliation = {{name = "{name}", '
        'url = "https://…"} to the [[authors]] entries in repropack.toml (repropack init writes them)'
        for name in ("Analytical Engine Society", "Naval Computing Laboratory")
    ]


def test_the_bundled_cff_schema_is_cff_1_2_0():
    schema = json.loads(schema_path("cff-1.2.0.schema.json").read_text(encoding="utf-8"))
    assert schema["$id"] == "https://citation-file-format.github.io/1.2.0/schema.json"


# --- the goal: LICENSE + CITATION.cff, no repropack.toml, a valid package ----------------------------


def _repropack(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("repropack")
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, env={**os.environ, "COLUMNS": "300"}, check=False
    )


#: What check still advises for such a project: facts CITATION.cff 1.2.0 cannot carry (an affiliation is a
#: bare name there: no url, ROR or contact; no publisher) and the descriptor's deliberate 1.1 (crate.versions).
FACTS_CFF_CANNOT_CARRY = {
    "ro-crate-1.2_44.2",
    "ro-crate-1.2_56.1",
    "ro-crate-1.1_22.3",
    "ro-crate-1.2_86.2",
    "ro-crate-1.1_31.2",
    "ro-crate-1.2_89.0",
    "ro-crate-1.2_90.1",
}


@pytest.fixture(scope="module")
def cited_package(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess, subprocess.CompletedProcess]:
    base = tmp_path_factory.mktemp("cited")
    project = base / "claims"
    write_notebook(project / "analysis.ipynb", "print('counted')")
    (project / "LICENSE").write_text((LICENSES / "MIT").read_text())
    (project / "CITATION.cff").write_text(CITATION)
    out = base / "claims.crate.zip"
    exported = _repropack("export", str(project), "-o", str(out), "--no-execute", "--json")
    checked = _repropack("check", str(out), "--json")
    return out, exported, checked


def test_a_project_with_license_and_citation_exports_to_a_valid_package(cited_package):
    out, exported, checked = cited_package
    assert exported.returncode == 0, exported.stderr
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    assert report["valid"] is True
    assert report["problems"] == []  # 0 REQUIRED and 0 RECOMMENDED issues
    assert {a["check"] for a in report["advice"]} == FACTS_CFF_CANNOT_CARRY
    with zipfile.ZipFile(out) as z:
        graph = {e["@id"]: e for e in json.loads(z.read("ro-crate-metadata.json"))["@graph"]}
        settings = json.loads(z.read(".repropack/settings.json"))
    root = graph["./"]
    assert root["name"] == "Hospital readmission claims: a reproducible analysis"
    assert root["license"] == {"@id": "https://spdx.org/licenses/MIT"}
    assert root["version"] == "2.1.0"
    assert root["cite-as"] == "https://doi.org/10.5281/zenodo.1234567"
    assert graph[root["identifier"]["@id"]]["value"] == "doi:10.5281/zenodo.1234567"
    assert root["keywords"] == ["readmission", "health economics", "claims data"]
    assert [a["@id"] for a in root["author"][:2]] == [ADA_ORCID, GRACE_ORCID]
    assert graph[ADA_ORCID]["affiliation"] == {"@id": "#org-analytical-engine-society"}
    assert graph["#org-analytical-engine-society"]["@type"] == "Organization"
    assert settings["metadata_sources"]["value"]["license"] == "LICENSE (text identified as MIT)"
    assert settings["metadata_sources"]["value"]["authors"] == "CITATION.cff"
    with open_package(out) as package:  # and the reader gives them back
        read = package.package.metadata
    assert (read.version, read.doi, read.license) == ("2.1.0", "10.5281/zenodo.1234567", "MIT")


def test_export_warns_with_the_line_that_adds_what_check_advises(cited_package):
    _, exported, _ = cited_package
    stderr = " ".join(exported.stderr.split())
    assert 'add publisher = {name = "…", url = "https://…"} to repropack.toml' in stderr
    assert 'add affiliation = {name = "Naval Computing Laboratory", url = "https://…"}' in stderr
    assert "no license" not in stderr and "no author" not in stderr
