"""``repropack init``: prompts on a terminal, flags otherwise, --json, and what it refuses (exit 2, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from repropack.cli.main import main, run
from repropack.config import resolve_settings
from tests.export.test_project_metadata import ADA_ORCID, CITATION, LICENSES

ORCID = ADA_ORCID.removeprefix("https://orcid.org/")


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """The console entry as installed (usage errors -> one line, exit 2)."""
    monkeypatch.setattr("sys.argv", ["repropack", *args])
    with pytest.raises(SystemExit) as exited:
        run()
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def test_init_writes_what_the_project_says_and_json_summarises_it(tmp_path):
    (tmp_path / "CITATION.cff").write_text(CITATION)
    (tmp_path / "LICENSE").write_text((LICENSES / "MIT").read_text())
    done = invoke("init", str(tmp_path), "--json")
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["missing"] == []
    assert summary["fields"]["license"] == "LICENSE (text identified as MIT)"
    assert summary["config"] == str(tmp_path / "repropack.toml")
    assert resolve_settings({}, tmp_path, user={}).values.license == "MIT"


def test_init_prompts_for_what_is_missing(tmp_path):
    answers = "\n".join(["My study", "BSD", "MIT", f"Ada Lovelace <{ORCID}>", "Grace Hopper", "", ""])
    done = invoke("init", str(tmp_path), "--interactive", input=answers)
    assert done.exit_code == 0, done.output
    assert "'BSD' is not an SPDX license id" in done.output  # asked again
    s = resolve_settings({}, tmp_path, user={}).values
    assert (s.title, s.license) == ("My study", "MIT")
    assert [a["name"] for a in s.authors] == ["Ada Lovelace", "Grace Hopper"]
    assert s.authors[0]["orcid"] == ADA_ORCID
    assert 'title = "My study"  # from the prompt' in (tmp_path / "repropack.toml").read_text()


def test_without_a_terminal_init_writes_what_it_has_lists_the_rest_and_exits_0(tmp_path):
    done = invoke("init", str(tmp_path), "--title", "T", "--json")
    assert done.exit_code == 0
    assert json.loads(done.stdout)["missing"] == ["license", "authors"]
    assert resolve_settings({}, tmp_path, user={}).values.title == "T"
    plain = invoke("init", str(tmp_path), "--title", "T", "--force")
    assert "missing: license, authors" in " ".join(plain.stderr.split())


def test_flags_give_every_field(tmp_path):
    done = invoke(
        "init",
        str(tmp_path),
        "--title",
        "T",
        "--license",
        "apache-2.0",
        "--author",
        f"Ada Lovelace <{ORCID}> <ada@example.org>",
        "--keyword",
        "k1",
        "--keyword",
        "k2",
        "--work-version",
        "1.0",
        "--doi",
        "https://doi.org/10.5281/zenodo.99",
        "--publisher",
        "Example Institute <https://example.org>",
    )
    assert done.exit_code == 0, done.output
    s = resolve_settings({}, tmp_path, user={}).values
    assert (s.license, s.keywords, s.version, s.doi) == ("Apache-2.0", ("k1", "k2"), "1.0", "10.5281/zenodo.99")
    assert s.authors[0] == {"name": "Ada Lovelace", "orcid": ADA_ORCID, "email": "ada@example.org"}
    assert s.publisher["url"] == "https://example.org"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--license", "BSD"], "repropack: error: --license: 'BSD' is not an SPDX license id"),
        (["--author", "Ada <0000-0002-1825-0098>"], "is not a valid ORCID (wrong form or check digit)"),
        (["--doi", "10.5281/<script>"], "repropack: error: --doi: '10.5281/<script>' is not a DOI (10.NNNN/...)"),
        (["--publisher", "X <javascript:alert(1)>"], "is not an http(s) URL"),
    ],
)
def test_bad_flags_are_one_line_exit_2_and_nothing_written(monkeypatch, capsys, tmp_path, args, message):
    code, out, err = run_cli(monkeypatch, capsys, "init", str(tmp_path), *args)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert out == ""
    assert not (tmp_path / "repropack.toml").exists()


def test_an_existing_repropack_toml_is_not_overwritten_without_force(monkeypatch, capsys, tmp_path):
    (tmp_path / "repropack.toml").write_text('title = "mine"\n')
    code, _, err = run_cli(monkeypatch, capsys, "init", str(tmp_path), "--title", "other")
    assert code == 2
    assert err.strip() == f"repropack: error: {tmp_path / 'repropack.toml'}: already exists; pass --force to rewrite it"
    assert (tmp_path / "repropack.toml").read_text() == 'title = "mine"\n'
    code, _, _ = run_cli(monkeypatch, capsys, "init", str(tmp_path), "--title", "other", "--force")
    assert code == 0
    assert resolve_settings({}, tmp_path, user={}).values.title == "other"


def test_a_project_that_is_not_a_folder_is_a_usage_error(monkeypatch, capsys, tmp_path):
    code, _, err = run_cli(monkeypatch, capsys, "init", str(tmp_path / "nope"))
    assert code == 2
    assert "not a folder" in err
    assert not (tmp_path / "nope").exists()


def test_a_hostile_citation_is_a_warning_and_init_still_writes(tmp_path):
    (tmp_path / "CITATION.cff").write_text("a: &a [1]\ntitle: *a\n")
    done = invoke("init", str(tmp_path), "--title", "T")
    assert done.exit_code == 0
    assert "CITATION.cff: not YAML we read: uses a YAML alias" in " ".join(done.stderr.split())
    assert Path(tmp_path / "repropack.toml").is_file()
