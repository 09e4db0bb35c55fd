"""The suite's own pieces can fail: the watch sees a stray file, the listener sees a contact."""

from __future__ import annotations

import urllib.request

import pytest


def test_the_watch_names_a_file_written_outside_the_allowed_path(tmp_path, outside):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "ok").write_text("x")
    (tmp_path / "stray").write_text("x")
    assert outside.new_entries(allowed=(tmp_path / "out",)) == [str(tmp_path / "stray")]
    with pytest.raises(AssertionError):
        outside.assert_nothing_new(allowed=(tmp_path / "out",))


def test_the_listener_records_a_contact(listener):
    assert listener.contacts == []
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(listener.url + "/simple/", timeout=5)
    assert len(listener.contacts) == 1
