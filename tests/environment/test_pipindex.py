"""The index of whoever runs repropack, as their own pip reports it."""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import pytest

from repropack.environment import pipindex
from repropack.environment.indexcache import FILENAME
from repropack.environment.pipindex import PipIndex, _parse_config_list, configured_index, shown


def test_pip_environment_variables_are_the_index(monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.example.org/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "https://extra.example.org/simple file:///opt/local/simple")
    index = configured_index(sys.executable)  # the real pip, asked
    assert index.index_url == "https://mirror.example.org/simple"
    assert index.extra_index_urls == ("https://extra.example.org/simple",)  # a file: index names this host's disk
    assert index.build_args() == {
        "REPROPACK_INDEX_URL": "https://mirror.example.org/simple",
        "REPROPACK_EXTRA_INDEX_URL": "https://extra.example.org/simple",
    }


def test_environment_wins_over_install_over_global():
    settings = _parse_config_list(
        "global.index-url='https://g.example/simple'\ninstall.index-url='https://i.example/simple'\n"
    )
    assert settings["install.index-url"] == "https://i.example/simple"


def test_no_setting_is_pip_default_and_no_build_argument():
    index = PipIndex()
    assert index.urls == ("https://pypi.org/simple",)
    assert index.build_args() == {}


def test_a_python_without_pip_gives_pip_default():
    assert configured_index("/nonexistent/python") == PipIndex()


def test_shown_strips_user_password_and_query():
    assert shown("https://user:pw@idx.example.org:8443/simple/?token=x") == "https://idx.example.org:8443/simple/"


@pytest.fixture
def counted_python(tmp_path: Path) -> tuple[str, Path]:
    """A python that logs each start (to see whether pip was asked) and runs the real one."""
    log = tmp_path / "starts.log"
    wrapper = tmp_path / "bin" / "python"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper), log


def _asked_anew(python: str) -> PipIndex:
    pipindex._ANSWERS.clear()  # as a new process would start: only the user cache is left
    return configured_index(python)


def _starts(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_the_answer_is_kept_until_a_pip_config_file_changes(counted_python, monkeypatch):
    python, log = counted_python
    user_config = Path(os.environ["XDG_CONFIG_HOME"]) / "pip" / "pip.conf"  # isolated per test
    assert _asked_anew(python).index_url is None
    assert _starts(log) == 2  # pip config list, and pip config debug for the files it reads
    assert _asked_anew(python).index_url is None
    assert _starts(log) == 2  # from the cache: pip not started
    user_config.parent.mkdir(parents=True)
    user_config.write_text("[global]\nindex-url = https://first.example.org/simple\n")  # a file pip reads appears
    assert _asked_anew(python).index_url == "https://first.example.org/simple"
    user_config.write_text("[install]\nindex-url = https://second.example.org/simple\n")
    os.utime(user_config, ns=(1, 1))
    assert _asked_anew(python).index_url == "https://second.example.org/simple"
    assert _starts(log) == 6
    monkeypatch.setenv("PIP_INDEX_URL", "https://env.example.org/simple")
    assert _asked_anew(python).index_url == "https://env.example.org/simple"


def test_an_index_url_with_credentials_is_never_written_to_the_cache(counted_python, monkeypatch):
    python, log = counted_python
    monkeypatch.setenv("PIP_INDEX_URL", "https://user:s3cret-token@idx.example.org/simple")
    assert _asked_anew(python).index_url == "https://user:s3cret-token@idx.example.org/simple"
    assert _asked_anew(python).index_url == "https://user:s3cret-token@idx.example.org/simple"
    assert _starts(log) == 4  # asked each time
    cache_file = Path(os.environ["REPROPACK_CACHE_DIR"]) / FILENAME
    assert b"s3cret-token" not in cache_file.read_bytes()


@pytest.mark.parametrize(
    "planted",
    [
        "not json",
        '{"files": [], "index_url": null, "extra_index_urls": []}',
        '{"files": [["/nonexistent/pip.conf", false, null, null]], "index_url": "file:///x", "extra_index_urls": []}',
        '{"files": [["/nonexistent/pip.conf", false, null, null]], "index_url": "https://u:p@h/s", '
        '"extra_index_urls": []}',
        '{"files": [["/nonexistent/pip.conf", false, null, null]], "index_url": 3, "extra_index_urls": []}',
    ],
)
def test_a_malformed_cached_answer_is_asked_again(counted_python, planted):
    python, log = counted_python
    assert _asked_anew(python).index_url is None
    cache_file = Path(os.environ["REPROPACK_CACHE_DIR"]) / FILENAME
    with sqlite3.connect(cache_file) as db:
        db.execute("UPDATE pip_config SET answer = ?", (planted,))
    assert _asked_anew(python).index_url is None
    assert _starts(log) == 4
