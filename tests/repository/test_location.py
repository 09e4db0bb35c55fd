"""Where a repository is: the flag, then REPROPACK_REPOSITORY, then the user data folder; and its marker."""

from __future__ import annotations

from pathlib import Path

import pytest

from repropack.errors import BadInput
from repropack.repository.location import REPOSITORY_ENV, choose_root, marker_text, open_location, sqlite_url


def test_the_flag_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REPOSITORY_ENV, str(tmp_path / "env"))
    assert choose_root(tmp_path / "flag") == (tmp_path / "flag", "--repository")
    assert choose_root(None) == (tmp_path / "env", REPOSITORY_ENV)
    monkeypatch.delenv(REPOSITORY_ENV)
    assert choose_root(None, {"repository": {"path": str(tmp_path / "cfg")}})[0] == tmp_path / "cfg"
    root, source = choose_root(None, {})
    assert source == "default" and root.name == "repository"


def test_a_user_config_path_that_is_not_text_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REPOSITORY_ENV, raising=False)
    with pytest.raises(BadInput, match=r"\[repository\]: 'path' must be a folder name"):
        choose_root(None, {"repository": {"path": 3}})


def test_a_folder_without_a_marker_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="not a repropack repository .*repropack repository init"):
        open_location(tmp_path)


def test_the_marker_records_a_catalog_url_only_when_it_is_not_the_default(tmp_path: Path) -> None:
    (tmp_path / "repository.toml").write_text(marker_text(None))
    assert open_location(tmp_path).catalog_url == sqlite_url(tmp_path)
    url = 'postgresql+psycopg://u:p"w@db/x'
    (tmp_path / "repository.toml").write_text(marker_text(url))
    assert open_location(tmp_path).catalog_url == url
    assert open_location(tmp_path, "sqlite:///other.db").catalog_url == "sqlite:///other.db"


@pytest.mark.parametrize("text", ["format = 2\n", "format = [\n", "format = 1\ncatalog = 3\n"])
def test_a_marker_of_another_format_or_broken_is_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "repository.toml").write_text(text)
    with pytest.raises(BadInput, match="repository.toml"):
        open_location(tmp_path)
