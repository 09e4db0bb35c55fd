"""Reading hostile files: regular files only, never through links or FIFOs, within size and depth limits."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from repropack.fs.bounded import UnsafeData, loads_bounded, nesting_depth, read_json_file, read_regular_file


def test_reads_a_regular_file(tmp_path):
    (tmp_path / "r.json").write_text('{"ok": [1, 2]}')
    assert read_json_file(tmp_path / "r.json") == {"ok": [1, 2]}


def test_a_symlink_is_refused_unread(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text('{"password": "hunter2"}')
    (tmp_path / "r.json").symlink_to(secret)
    with pytest.raises(UnsafeData, match=r"^report: a symlink, not a regular file$"):
        read_regular_file(tmp_path / "r.json", what="report")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "r.json")  # nobody writes: a blocking open would hang forever
    with pytest.raises(UnsafeData, match=r"^r: a FIFO, not a regular file$"):
        read_regular_file(tmp_path / "r.json", what="r")


def test_a_folder_and_a_missing_file_are_refused(tmp_path):
    with pytest.raises(UnsafeData, match="a folder, not a regular file"):
        read_regular_file(tmp_path)
    with pytest.raises(UnsafeData, match="missing$"):
        read_regular_file(tmp_path / "absent")


def test_a_file_over_the_limit_is_refused(tmp_path):
    (tmp_path / "big").write_bytes(b"x" * 101)
    with pytest.raises(UnsafeData, match=r"101 bytes, more than the 100 allowed"):
        read_regular_file(tmp_path / "big", limit=100)
    assert read_regular_file(tmp_path / "big", limit=101) == b"x" * 101


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested deeper than the 64 levels allowed"),
        ("[" * 65 + "]" * 65, "nested deeper than the 64 levels allowed"),
        ('{"a": 1, "a": 2}', "the key 'a' appears twice in one object"),
        ("[NaN]", "NaN is not JSON"),
        ('{"a": Infinity}', "Infinity is not JSON"),
        ('{"a": ', "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_malformed_json_is_one_line_naming_the_reason(text, reason):
    with pytest.raises(UnsafeData) as caught:
        loads_bounded(text, what="settings.json")
    message = str(caught.value)
    assert message.startswith("settings.json: ") and reason in message and "\n" not in message


def test_depth_exactly_at_the_limit_is_accepted():
    assert nesting_depth(loads_bounded("[" * 64 + "]" * 64)) == 64


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)
    )
)
def test_any_json_value_within_the_limits_reads_back_equal(value):
    text = json.dumps(value)
    if nesting_depth(value) <= 64:
        assert loads_bounded(text) == value
    else:
        with pytest.raises(UnsafeData):
            loads_bounded(text)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_either_parse_or_raise_unsafe_data(data):
    try:
        loads_bounded(data)
    except UnsafeData as exc:
        assert "\n" not in str(exc)


def test_a_document_with_more_values_than_allowed_is_refused_before_parsing():
    from repropack.fs.bounded import value_count_bound

    assert value_count_bound('{"a": [1, 2, {"b": 3}]}') == 6  # 4 values and the object, and the list, at most
    assert value_count_bound(b"[]") == 2
    loads_bounded("[{}, {}]", max_values=5)
    with pytest.raises(UnsafeData, match="^doc: more than the 4 JSON values allowed$"):
        loads_bounded("[{}, {}]", max_values=4, what="doc")
