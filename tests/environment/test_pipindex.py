"""The index of whoever runs repropack, as their own pip reports it."""

from __future__ import annotations

import sys

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
