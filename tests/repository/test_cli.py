"""The repository commands as an operator runs them: exit codes, one-line errors, ``--json`` alone on stdout."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.repository.builders import packages, signed_record
from tests.repository.cli_runner import fast_repository, repropack

__all__ = ["packages"]  # fixtures


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return fast_repository(tmp_path / "repo")


def _one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("repropack: error: "), result.stderr
    return lines[0]


@pytest.mark.slow  # a dozen commands, each a new process
def test_init_import_search_show_checkout_link_check(tmp_path, packages):
    root = tmp_path / "repo"
    made = repropack("repository", "init", "--repository", root, "--json")
    assert made.returncode == 0 and json.loads(made.stdout)["repository"] == str(root)
    (root / "policy.toml").write_text('profiles = "off"\n')

    imported = repropack("import", packages.zip, "--repository", root, "--json")
    assert imported.returncode == 0, imported.stderr
    outcome = json.loads(imported.stdout)["imports"][0]  # stdout is the JSON object and nothing else
    assert (outcome["outcome"], outcome["version"]) == ("imported", 1)
    ref = outcome["id"]

    again = repropack("import", packages.folder, "--repository", root)
    assert again.returncode == 0 and again.stdout == ""
    assert "unchanged" in again.stderr and "nothing changed" in again.stderr

    found = json.loads(repropack("search", "study", "--repository", root, "--json").stdout)
    assert [hit["public_id"] for hit in found["hits"]] == [ref]

    shown = json.loads(repropack("show", f"{ref}@1", "--repository", root, "--json").stdout)
    assert shown["public_id"] == ref and shown["version"]["title"] == "Study"

    out = tmp_path / "again.crate.zip"
    checked_out = repropack("checkout", ref, "-o", out, "--repository", root, "--json")
    assert json.loads(checked_out.stdout)["same_as_imported"] is True
    assert out.read_bytes() == packages.zip.read_bytes()

    linked = repropack("link", ref, "--doi", "doi:10.1234/journal.5678", "--repository", root, "--json")
    assert json.loads(linked.stdout) == {"id": ref, "doi": "10.1234/journal.5678", "outcome": "linked"}
    by_doi = json.loads(repropack("search", "--doi", "10.1234/journal.5678", "--repository", root, "--json").stdout)
    assert [hit["public_id"] for hit in by_doi["hits"]] == [ref]
    assert "10.1234/journal.5678" in repropack("show", ref, "--repository", root).stdout

    check = repropack("repository", "check", "--repository", root, "--json")
    assert check.returncode == 0 and json.loads(check.stdout)["ok"] is True


def test_the_repository_may_be_named_by_the_environment(repo, packages):
    result = repropack("import", packages.folder, "--json", REPROPACK_REPOSITORY=str(repo))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["imports"][0]["outcome"] == "imported"
    # Every output says which settings it used and where each came from.
    assert summary["settings"]["repository"] == {"value": str(repo), "source": "REPROPACK_REPOSITORY"}
    assert summary["settings"]["catalog"]["source"] == "default"
    assert summary["settings"]["policy"]["value"] == str(repo / "policy.toml")


@pytest.mark.slow
def test_errors_are_one_line_with_the_conventional_exit_code(repo, tmp_path, packages):
    not_a_repository = repropack("search", "x", "--repository", tmp_path)
    assert not_a_repository.returncode == 2
    assert "not a repropack repository" in _one_error_line(not_a_repository)

    unknown = repropack("show", "pkg-000000000000", "--repository", repo)
    assert unknown.returncode == 2 and "no such package" in _one_error_line(unknown)

    bad_ref = repropack("checkout", "x@y", "-o", tmp_path / "o", "--repository", repo)
    assert bad_ref.returncode == 2 and "not a package reference" in _one_error_line(bad_ref)

    imported = json.loads(repropack("import", packages.folder, "--repository", repo, "--json").stdout)
    ref = imported["imports"][0]["id"]
    bad_doi = repropack("link", ref, "--doi", "10.12/x", "--repository", repo)
    assert bad_doi.returncode == 2 and "not a DOI" in _one_error_line(bad_doi)

    taken = repropack("checkout", ref, "-o", tmp_path, "--repository", repo)
    assert taken.returncode == 2 and "already exists" in _one_error_line(taken)

    missing = repropack("import", tmp_path / "nothing-here.zip", "--repository", repo, "--json")
    assert missing.returncode == 2 and "no such package" in _one_error_line(missing)
    assert json.loads(missing.stdout)["refused"][0]["exit_code"] == 2


def test_several_packages_each_import_and_the_worst_exit_code_wins(repo, packages, tmp_path):
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    result = repropack(
        "import", packages.folder, tmp_path / "junk.zip", packages.second, "--repository", repo, "--json"
    )
    assert result.returncode == 2
    summary = json.loads(result.stdout)
    assert [o["outcome"] for o in summary["imports"]] == ["imported", "new-version"]
    assert [r["source"] for r in summary["refused"]] == [str(tmp_path / "junk.zip")]


def test_a_damaged_store_fails_the_check_listing_each_problem(repo, packages):
    imported = json.loads(repropack("import", packages.folder, "--repository", repo, "--json").stdout)
    assert imported["imports"][0]["files_stored"] > 2
    blobs = sorted(p for p in (repo / "blobs").rglob("*") if p.is_file())
    for blob in blobs[:2]:
        blob.unlink()
    result = repropack("repository", "check", "--repository", repo)
    assert result.returncode == 1
    assert len(result.stdout.strip().splitlines()) == 2
    assert all("missing from the store" in line for line in result.stdout.splitlines())


@pytest.mark.parametrize(
    "command", [("import",), ("search",), ("show",), ("checkout",), ("link",), ("repository", "init"), ("export-bag",)]
)
def test_help_teaches_with_examples(command):
    result = repropack(*command, "--help")
    assert result.returncode == 0
    assert "Example" in result.stdout or command == ("repository", "init")
    assert "--repository" in result.stdout


def test_records_import_as_runs_refused_when_tampered_or_of_an_unknown_package(repo, packages, tmp_path):
    assert repropack("import", packages.folder, "--repository", repo).returncode == 0
    metadata_sha256 = hashlib.sha256((packages.folder / "ro-crate-metadata.json").read_bytes()).hexdigest()
    record = signed_record(tmp_path / "record", metadata_sha256, tmp_path / "keys")

    joined = repropack("import", record, "--repository", repo, "--json")
    assert joined.returncode == 0, joined.stderr
    assert json.loads(joined.stdout)["imports"][0]["verdict"] == "not_reproduced"
    assert "unchanged" in repropack("import", record, "--repository", repo).stderr

    unknown = repropack("import", signed_record(tmp_path / "r2", "b" * 64, tmp_path / "k2"), "--repository", repo)
    assert unknown.returncode == 1 and "does not hold" in _one_error_line(unknown)

    tampered = signed_record(tmp_path / "r3", metadata_sha256, tmp_path / "k3")
    (tampered / "result.json").write_text(
        (tampered / "result.json").read_text().replace("not_reproduced", "reproduced")
    )
    refused = repropack("import", tampered, "--repository", repo)
    assert refused.returncode == 2 and "failed verification" in _one_error_line(refused)


def test_a_postgresql_catalog_through_the_same_commands(tmp_path, packages, postgres_url):
    root = tmp_path / "repo"
    made = repropack("repository", "init", "--repository", root, "--catalog", postgres_url, "--json")
    assert made.returncode == 0, made.stderr
    assert "catalog.sqlite" not in {p.name for p in root.iterdir()}
    (root / "policy.toml").write_text('profiles = "off"\n')
    imported = json.loads(repropack("import", packages.zip, "--repository", root, "--json").stdout)
    assert imported["imports"][0]["outcome"] == "imported"
    assert imported["settings"]["catalog"]["source"] == "repository.toml"
    assert "postgresql" in imported["settings"]["catalog"]["value"]
    assert repropack("repository", "check", "--repository", root).returncode == 0


def test_hostile_text_in_a_package_is_shown_escaped_never_interpreted(repo, packages, tmp_path):
    hostile = Path(shutil.copytree(packages.folder, tmp_path / "hostile"))
    metadata = json.loads((hostile / "ro-crate-metadata.json").read_text())
    title = "[red]Study[/red] \x1b]0;pwned\x07"
    next(e for e in metadata["@graph"] if e["@id"] == "./")["name"] = title
    (hostile / "ro-crate-metadata.json").write_text(json.dumps(metadata, indent=2))
    imported = repropack("import", hostile, "--repository", repo, "--json")
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["imports"][0]["title"] == title  # JSON escapes it itself

    shown = repropack("show", json.loads(imported.stdout)["imports"][0]["id"], "--repository", repo)
    assert "\x1b" not in shown.stdout and "\\x1b]0;pwned\\x07" in shown.stdout
    assert "[red]Study[/red]" in shown.stdout  # literally, not as markup
