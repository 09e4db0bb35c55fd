"""Secrets that reach a package by another way than a packed file's text: index URLs, the git remote,
the metadata and settings export writes itself (issue 12, item 9).

Each case runs the real console script. A refusal is exit 2 with one last stderr line naming the file
(and the JSON field of a file repropack writes) and the rule, never the secret, and nothing written.
Planted secrets are assembled from pieces, so secret scanners do not take this file for a leak.
"""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.conftest import git, make_project
from tests.hostile.clikit import repropack

ALNUM36 = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
GITHUB_TOKEN = "gh" + "p_" + ALNUM36
PASSWORD = "Hunter2-" + "correct-horse"
QUERY_TOKEN = "q8ZxLm3K" + "p2Vb7Nc4"


@pytest.fixture
def study(tmp_path: Path) -> Path:
    return make_project(tmp_path / "study")


def export(project: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    return repropack("export", str(project), "-o", str(out), "--no-execute", *args)


def assert_refused(done: subprocess.CompletedProcess, message: str, *secrets: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1] == f"repropack: error: refusing to pack a likely secret: {message}"
    for secret in secrets:
        assert secret not in done.stderr + done.stdout
    assert done.stdout == ""


def packed_text(package: Path) -> str:
    with zipfile.ZipFile(package) as archive:
        return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())


# --- index URLs in requirement and environment files ------------------------------------------------


def test_index_url_with_a_password_in_requirements_txt_is_refused(study, tmp_path, outside):
    (study / "requirements.txt").write_text(
        f"# private index\n--index-url https://analyst:{PASSWORD}@pypi.example.org/simple\n"
    )
    outside.__post_init__()
    out = tmp_path / "out.zip"

    done = export(study, out)

    assert_refused(
        done,
        "requirements.txt (rule index-url-credentials, line 2); pass --allow-secret requirements.txt if it is not one",
        PASSWORD,
    )
    assert not out.exists()
    outside.assert_nothing_new()


def test_extra_index_url_with_a_token_query_parameter_is_refused(study, tmp_path, outside):
    (study / "requirements.txt").write_text(
        f"--extra-index-url https://pypi.example.org/simple?access_token={QUERY_TOKEN}\nrequests\n"
    )
    outside.__post_init__()

    done = export(study, tmp_path / "out.zip")

    assert_refused(
        done,
        "requirements.txt (rule url-token-parameter, line 1); pass --allow-secret requirements.txt if it is not one",
        QUERY_TOKEN,
    )
    outside.assert_nothing_new()


def test_index_token_as_the_url_user_is_refused(study, tmp_path, outside):
    # pip, uv and GitLab's package registry take a token as the URL's user: https://<token>@host/simple.
    (study / "requirements.txt").write_text(f"-i https://{QUERY_TOKEN}@gitlab.example.org/api/v4/pypi/simple\n")
    outside.__post_init__()

    done = export(study, tmp_path / "out.zip")

    assert_refused(
        done,
        "requirements.txt (rule index-url-credentials, line 1); pass --allow-secret requirements.txt if it is not one",
        QUERY_TOKEN,
    )
    outside.assert_nothing_new()


def test_vcs_requirement_with_credentials_is_refused(study, tmp_path):
    (study / "requirements.txt").write_text(f"-e git+https://deploy:{PASSWORD}@git.example.org/lab/tools.git#egg=t\n")

    done = export(study, tmp_path / "out.zip")

    assert_refused(
        done,
        "requirements.txt (rule index-url-credentials, line 1); pass --allow-secret requirements.txt if it is not one",
        PASSWORD,
    )


def test_pip_conf_with_a_credential_index_url_is_refused(study, tmp_path):
    (study / "pip.conf").write_text(f"[global]\nindex-url = https://analyst:{PASSWORD}@pypi.example.org/simple\n")

    done = export(study, tmp_path / "out.zip")

    assert_refused(
        done, "pip.conf (rule index-url-credentials, line 2); pass --allow-secret pip.conf if it is not one", PASSWORD
    )


def test_uv_toml_index_with_a_token_user_is_refused(study, tmp_path):
    (study / "uv.toml").write_text(f'[[index]]\nname = "lab"\nurl = "https://{QUERY_TOKEN}@pypi.example.org/simple"\n')

    done = export(study, tmp_path / "out.zip")

    assert_refused(
        done, "uv.toml (rule index-url-credentials, line 3); pass --allow-secret uv.toml if it is not one", QUERY_TOKEN
    )


def test_conda_environment_pip_index_with_a_password_is_refused(study, tmp_path):
    (study / "requirements.txt").unlink()
    (study / "environment.yml").write_text(
        "dependencies:\n  - python=3.11\n  - pip:\n"
        f"    - --extra-index-url https://analyst:{PASSWORD}@pypi.example.org/simple\n"
    )

    done = export(study, tmp_path / "out.zip")

    assert_refused(
        done,
        "environment.yml (rule index-url-credentials, line 4); pass --allow-secret environment.yml if it is not one",
        PASSWORD,
    )


def test_an_excluded_requirements_file_is_still_scanned_as_the_copy_export_packs(study, tmp_path, outside):
    # The package carries a copy of every environment file (.repropack/env/...), excluded or not:
    # the copy is scanned and reported under the project path the user knows.
    (study / "requirements.txt").write_text(f"--index-url https://analyst:{PASSWORD}@pypi.example.org/simple\n")
    outside.__post_init__()
    out = tmp_path / "out.zip"

    done = export(study, out, "--exclude", "requirements.txt")

    assert_refused(
        done,
        "requirements.txt (rule index-url-credentials, line 1); pass --allow-secret requirements.txt if it is not one",
        PASSWORD,
    )
    assert not out.exists()
    outside.assert_nothing_new()


def test_a_placeholder_index_credential_is_not_a_secret(study, tmp_path):
    # pip expands ${VAR} in requirement files: the way to keep the credential out of the project.
    (study / "requirements.txt").write_text("--index-url https://${PIP_USER}:${PIP_PASSWORD}@pypi.example.org/simple\n")

    done = export(study, tmp_path / "out.zip")

    assert done.returncode == 0, done.stderr


# --- the git remote ----------------------------------------------------------------------------------


def _repository(project: Path, remote: str) -> None:
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "study")
    git(project, "remote", "add", "origin", remote)


def _code_repository(package: Path) -> str:
    with zipfile.ZipFile(package) as archive:
        graph = json.loads(archive.read("ro-crate-metadata.json"))["@graph"]
    return next(e["codeRepository"] for e in graph if "codeRepository" in e)


def test_a_token_in_the_git_remote_user_part_is_stripped(study, tmp_path):
    _repository(study, f"https://analyst:{GITHUB_TOKEN}@github.com/lab/study.git")
    out = tmp_path / "out.zip"

    done = export(study, out)

    assert done.returncode == 0, done.stderr
    assert _code_repository(out) == "https://github.com/lab/study.git"
    assert GITHUB_TOKEN not in packed_text(out)


def test_a_token_query_parameter_of_the_git_remote_is_stripped(study, tmp_path):
    _repository(study, f"https://git.example.org/lab/study.git?private_token={QUERY_TOKEN}&ref=main")
    out = tmp_path / "out.zip"

    done = export(study, out)

    assert done.returncode == 0, done.stderr
    assert _code_repository(out) == "https://git.example.org/lab/study.git?ref=main"
    assert QUERY_TOKEN not in packed_text(out)


def test_a_token_under_another_name_in_the_git_remote_is_refused(study, tmp_path, outside):
    # Not a parameter name the stripper knows, but a token shape the metadata scan knows.
    _repository(study, f"https://git.example.org/lab/study.git?t={GITHUB_TOKEN}")
    outside.__post_init__()
    out = tmp_path / "out.zip"

    done = export(study, out)

    assert done.returncode == 2, done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith("repropack: error: refusing to pack a likely secret: ro-crate-metadata.json, field /@graph/")
    assert "/codeRepository (rule github-token, line 1); pass --allow-secret ro-crate-metadata.json#/@graph/" in last
    assert GITHUB_TOKEN not in done.stderr
    assert not out.exists()
    outside.assert_nothing_new()


# --- metadata and settings -----------------------------------------------------------------------------


def _user_config(text: str) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "repropack" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text)


def test_a_secret_in_the_description_from_the_user_config_is_refused(study, tmp_path, outside):
    # The user config is never packed, so no file scan sees it; its values reach the metadata.
    (study / "repropack.toml").write_text('title = "Study"\nlicense = "MIT"\n')
    _user_config(f'description = "Study. Data API token: {GITHUB_TOKEN}"\n')
    outside.__post_init__()
    out = tmp_path / "out.zip"

    done = export(study, out)

    assert_refused(
        done,
        "ro-crate-metadata.json, field /@graph/0/description (rule github-token, line 1); "
        "pass --allow-secret ro-crate-metadata.json#/@graph/0/description if it is not one",
        GITHUB_TOKEN,
    )
    assert not out.exists()
    outside.assert_nothing_new()


def test_a_secret_in_the_description_of_an_excluded_repropack_toml_is_refused(study, tmp_path):
    text = (study / "repropack.toml").read_text().replace("A small study.", f"key {GITHUB_TOKEN}")
    (study / "repropack.toml").write_text(text)

    done = export(study, tmp_path / "out.zip", "--exclude", "repropack.toml")

    assert_refused(
        done,
        "ro-crate-metadata.json, field /@graph/0/description (rule github-token, line 1); "
        "pass --allow-secret ro-crate-metadata.json#/@graph/0/description if it is not one",
        GITHUB_TOKEN,
    )


def test_a_secret_in_a_setting_value_is_refused_in_settings_json(study, tmp_path, outside):
    # The restricted-file note reaches both the metadata and settings.json: with the metadata
    # allowed as a whole, settings.json is still scanned, and named by its own field.
    _user_config(f'restrict_note = "ask the data office; portal https://data.example.org/?token={QUERY_TOKEN}"\n')
    outside.__post_init__()
    out = tmp_path / "out.zip"

    done = export(study, out, "--restrict", "data/input.csv", "--allow-secret", "ro-crate-metadata.json")

    assert_refused(
        done,
        ".repropack/settings.json, field /restrict_note/value (rule url-token-parameter, line 1); "
        "pass --allow-secret .repropack/settings.json#/restrict_note/value if it is not one",
        QUERY_TOKEN,
    )
    assert not out.exists()
    outside.assert_nothing_new()


def test_a_field_cleared_with_allow_secret_is_packed(study, tmp_path):
    (study / "repropack.toml").write_text('title = "Study"\nlicense = "MIT"\n')
    # Not a real credential: a documented example key, cleared by the user field by field.
    _user_config(f'description = "Example key for the tutorial: {GITHUB_TOKEN}"\n')
    out = tmp_path / "out.zip"

    done = export(
        study,
        out,
        "--allow-secret",
        "ro-crate-metadata.json#/@graph/0/description",
        "--allow-secret",
        ".repropack/settings.json#/description/value",
    )

    assert done.returncode == 0, done.stderr
    assert GITHUB_TOKEN in packed_text(out)


def test_a_recorded_environment_variable_holding_a_token_is_refused(study, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_API", GITHUB_TOKEN)

    done = export(study, tmp_path / "out.zip", "--env", "LAB_API")

    assert_refused(
        done,
        ".repropack/capture.json (rule github-token, line 1); pass --allow-secret .repropack/capture.json if it is not one",
        GITHUB_TOKEN,
    )
