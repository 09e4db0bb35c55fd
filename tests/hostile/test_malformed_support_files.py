"""Malformed support files in a package, re-hashed so its integrity holds: each a one-line refusal, never a traceback.

A hostile package's settings.json, capture.json and lock are as easy to rewrite as any file, and their
sha256 and size in the metadata as easy to update (``forge_recorded_file``). The reader checks each
against the shape it takes values from: ``replay`` and ``inspect`` refuse with exit 2 and one stderr line
naming the file and what is wrong; ``check`` lists it as a problem and exits 2. Nothing is written anywhere.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from repropack.model import layout
from tests.conftest import forge_recorded_file, make_project
from tests.hostile.clikit import assert_refused, repropack


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One honest package folder of the sample project; each test changes a copy."""
    root = tmp_path_factory.mktemp("exported")
    home = {"XDG_CONFIG_HOME": str(root / "config"), "REPROPACK_CACHE_DIR": str(root / "cache")}
    done = repropack("export", make_project(root / "study"), "-o", root / "package", env=home)
    assert done.returncode == 0, done.stderr
    return root / "package"


@pytest.fixture
def package(exported: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "package"
    shutil.copytree(exported, copy)
    return copy


def settings_with(package: Path, **changes: object) -> bytes:
    """The package's settings.json with some entries replaced (a value of None removes the entry)."""
    settings = json.loads((package / layout.SETTINGS).read_text())
    for name, entry in changes.items():
        if entry is None:
            settings.pop(name, None)
        else:
            settings[name] = entry
    return json.dumps(settings).encode()


def capture_with(package: Path, **changes: object) -> bytes:
    capture = json.loads((package / layout.CAPTURE).read_text())
    capture.update(changes)
    return json.dumps(capture).encode()


DEEP = b"[" * 200_000 + b"]" * 200_000

SETTINGS_CASES = {
    "not-json": (lambda p: b"{not json", "settings.json: not JSON"),
    "not-utf8": (lambda p: b'{"timeout": "\xff"}', "settings.json: not UTF-8"),
    "not-an-object": (lambda p: b'["timeout", 5]', "settings.json: (root): ['timeout', 5] is not of type 'object'"),
    "timeout-abc": (
        lambda p: settings_with(p, timeout={"value": "abc", "source": "flag"}),
        "settings.json: timeout/value: 'abc' is not of type 'integer'",
    ),
    "timeout-zero": (
        lambda p: settings_with(p, timeout={"value": 0, "source": "flag"}),
        "settings.json: timeout/value: 0 is less than the minimum of 1",
    ),
    "timeout-true": (
        lambda p: settings_with(p, timeout={"value": True, "source": "flag"}),
        "settings.json: timeout/value: True is not of type 'integer'",
    ),
    "timeout-bare": (lambda p: settings_with(p, timeout=600), "settings.json: timeout: 600 is not of type 'object'"),
    "timeout-no-value": (
        lambda p: settings_with(p, timeout={"source": "flag"}),
        "settings.json: timeout: 'value' is a required property",
    ),
    "compare-not-a-mapping": (
        lambda p: settings_with(p, compare={"value": "fast", "source": "project"}),
        "settings.json: compare/value: 'fast' is not of type 'object'",
    ),
    "compare-entry-without-rule": (
        lambda p: settings_with(p, compare={"value": {"*.csv": {"rtol": 1}}, "source": "project"}),
        "settings.json: compare/value/*.csv: 'rule' is a required property",
    ),
    "base-image-a-number": (
        lambda p: settings_with(p, base_image={"value": 3, "source": "flag"}),
        "settings.json: base_image/value: 3 is not of type 'string'",
    ),
    "unknown-setting-not-an-entry": (
        lambda p: settings_with(p, future="x"),
        "settings.json: future: 'x' is not of type 'object'",
    ),
    "duplicate-key": (
        lambda p: b'{"timeout": {"value": 1}, "timeout": {"value": 2}}',
        "settings.json: the key 'timeout' appears twice in one object",
    ),
    "nested-200000-deep": (lambda p: DEEP, "settings.json: nested deeper than the 64 levels allowed"),
    "newline-in-a-key": (
        lambda p: settings_with(p, **{"a\nb": 1}),
        "settings.json: 'a\\nb': 1 is not of type 'object'",
    ),
}

CAPTURE_CASES = {
    "not-json": (lambda p: b"", "capture.json: not JSON"),
    "not-an-object": (lambda p: b"42", "capture.json: (root): 42 is not of type 'object'"),
    "empty-folders-a-number": (
        lambda p: capture_with(p, empty_folders=5),
        "capture.json: empty_folders: 5 is not of type 'array'",
    ),
    "empty-folder-a-number": (
        lambda p: capture_with(p, empty_folders=["ok", 1]),
        "capture.json: empty_folders/1: 1 is not of type 'string'",
    ),
    "unresolved-a-string": (
        lambda p: capture_with(p, unresolved_requirements="numpy"),
        "capture.json: unresolved_requirements: 'numpy' is not of type 'array'",
    ),
    "interpreter-a-string": (
        lambda p: capture_with(p, interpreter="cpython"),
        "capture.json: interpreter: 'cpython' is not of type 'object'",
    ),
    "python-version-a-number": (
        lambda p: capture_with(p, interpreter={"python_version": 3.11}),
        "capture.json: interpreter/python_version: 3.11 is not of type 'string'",
    ),
    "local-packages-a-string": (
        lambda p: capture_with(p, local_packages="."),
        "capture.json: local_packages: '.' is not of type 'array'",
    ),
    "local-package-without-name": (
        lambda p: capture_with(p, local_packages=[{"path": "."}]),
        "capture.json: local_packages/0: 'name' is a required property",
    ),
    "local-package-name-a-number": (
        lambda p: capture_with(p, local_packages=[{"name": 1, "path": "."}]),
        "capture.json: local_packages/0/name: 1 is not of type 'string'",
    ),
    "local-package-editable-a-string": (
        lambda p: capture_with(p, local_packages=[{"name": "a", "path": ".", "editable": "no"}]),
        "capture.json: local_packages/0/editable: 'no' is not of type 'boolean'",
    ),
    "local-package-wheel-a-list": (
        lambda p: capture_with(p, local_packages=[{"name": "a", "path": ".", "editable": False, "wheel": []}]),
        "capture.json: local_packages/0/wheel: [] is not of type 'string', 'null'",
    ),
    "nondeterministic-runs-a-string": (
        lambda p: capture_with(p, nondeterministic={"runs": "2"}),
        "capture.json: nondeterministic/runs: '2' is not of type 'integer'",
    ),
    "nondeterministic-output-path-a-number": (
        lambda p: capture_with(p, nondeterministic={"runs": 2, "outputs": [{"path": 3}]}),
        "capture.json: nondeterministic/outputs/0/path: 3 is not of type 'string'",
    ),
    "nondeterministic-cell-zero": (
        lambda p: capture_with(p, nondeterministic={"runs": 2, "outputs": [{"path": "a", "cells": [0]}]}),
        "capture.json: nondeterministic/outputs/0/cells/0: 0 is less than the minimum of 1",
    ),
    "environment-variable-a-number": (
        lambda p: capture_with(p, environment_variables={"TZ": 1}),
        "capture.json: environment_variables/TZ: 1 is not of type 'string'",
    ),
    "environment-variables-a-list": (
        lambda p: capture_with(p, environment_variables=["TZ=UTC"]),
        "capture.json: environment_variables: ['TZ=UTC'] is not of type 'object'",
    ),
    "nested-200000-deep": (lambda p: DEEP, "capture.json: nested deeper than the 64 levels allowed"),
}


def _forge(package: Path, path: str, build) -> None:
    forge_recorded_file(package, path, build(package))


@pytest.mark.parametrize("command", ["replay", "inspect"])
@pytest.mark.parametrize("case", SETTINGS_CASES, ids=str)
def test_a_malformed_settings_file_is_refused(package, outside, command, case):
    build, reason = SETTINGS_CASES[case]
    _forge(package, layout.SETTINGS, build)
    outside.__post_init__()

    done = repropack(command, package)

    assert_refused(done, f"{package}: ", reason)
    outside.assert_nothing_new()


@pytest.mark.parametrize("command", ["replay", "inspect"])
@pytest.mark.parametrize("case", CAPTURE_CASES, ids=str)
def test_a_malformed_capture_file_is_refused(package, outside, command, case):
    build, reason = CAPTURE_CASES[case]
    _forge(package, layout.CAPTURE, build)
    outside.__post_init__()

    done = repropack(command, package)

    assert_refused(done, f"{package}: ", reason)
    outside.assert_nothing_new()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "build", "reason"),
    [
        (layout.SETTINGS, SETTINGS_CASES["timeout-abc"][0], SETTINGS_CASES["timeout-abc"][1]),
        (layout.CAPTURE, CAPTURE_CASES["empty-folders-a-number"][0], CAPTURE_CASES["empty-folders-a-number"][1]),
    ],
    ids=["settings", "capture"],
)
def test_check_lists_a_malformed_support_file_as_hostile(package, outside, path, build, reason):
    _forge(package, path, build)
    outside.__post_init__()

    done = repropack("check", package)

    assert "Traceback" not in done.stderr
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"support: .repropack/{reason}" in done.stdout.splitlines()
    outside.assert_nothing_new()


def test_a_support_file_over_the_size_limit_is_refused_unread(package, outside):
    with (package / layout.SETTINGS).open("wb") as sparse:
        sparse.truncate(40 * 2**20)  # takes no disk; its size alone refuses it
    outside.__post_init__()

    done = repropack("replay", package)

    assert_refused(done, "settings.json: 41943040 bytes, more than the 33554432 allowed")
    outside.assert_nothing_new()


def test_a_support_file_that_is_a_fifo_is_refused_without_waiting(package, outside):
    (package / layout.CAPTURE).unlink()
    os.mkfifo(package / layout.CAPTURE)
    outside.__post_init__()

    done = repropack("inspect", package, timeout=60)

    assert_refused(done, "capture.json: a FIFO, not a regular file")
    outside.assert_nothing_new()


def test_a_support_file_that_is_a_symlink_is_refused_unfollowed(package, outside):
    (package / layout.SETTINGS).unlink()
    (package / layout.SETTINGS).symlink_to("/etc/passwd")
    outside.__post_init__()

    done = repropack("replay", package)

    assert_refused(done, "package failed its integrity check: .repropack/settings.json: symlink in the package")
    outside.assert_nothing_new()


def test_a_lock_that_is_not_utf8_is_refused(package, outside):
    forge_recorded_file(package, layout.LOCK, b"numpy==1.26.4  # \xff\n")
    outside.__post_init__()

    done = repropack("inspect", package)

    assert_refused(done, "requirements.lock.txt", "not UTF-8")
    outside.assert_nothing_new()


def test_a_lock_the_strict_parser_refuses_is_routed_to_a_one_line_refusal(package, outside):
    forge_recorded_file(package, layout.LOCK, b"--index-url http://127.0.0.1:9/simple\nnumpy==1.26.4\n")
    outside.__post_init__()

    for command in ("replay", "inspect"):
        done = repropack(command, package)
        assert_refused(done, f"{package}: ", "requirements.lock.txt")
    outside.assert_nothing_new()


def test_a_dockerfile_that_is_not_utf8_is_refused(package, outside):
    forge_recorded_file(package, layout.DOCKERFILE, b"FROM scratch\n# \xff\n")
    outside.__post_init__()

    done = repropack("inspect", package)

    assert_refused(done, "Dockerfile: not UTF-8")
    outside.assert_nothing_new()
