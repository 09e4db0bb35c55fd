"""``repropack cache list|prune``: usage errors, bad sizes and ages, one JSON object, the disk without an engine."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.hostile.clikit import assert_refused, repropack

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def test_prune_with_neither_limit_is_a_usage_error_naming_both():
    line = assert_refused(repropack("cache", "prune"), "--keep-size", "--older-than", code=2)
    assert "cache prune --help" in line
    assert_refused(repropack("cache", "prune", "--dry-run", "--json"), "--keep-size", "--older-than", code=2)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--keep-size", "lots"], "--keep-size: 'lots' is not a size"),
        (["--keep-size", "-5g"], "--keep-size: '-5g' is not a size"),
        (["--older-than", "30x"], "--older-than: '30x' is not an age"),
        (["--older-than", "30"], "--older-than: '30' is not an age"),
    ],
)
def test_a_bad_size_or_age_is_one_line_and_exit_2_with_nothing_removed(args, fragment):
    cache = Path(os.environ["REPROPACK_CACHE_DIR"])
    wheel = cache / "wheels" / ("a" * 64)
    wheel.parent.mkdir(parents=True)
    wheel.write_bytes(b"w")
    os.utime(wheel, (0, 0))
    age = [] if "--older-than" in args else ["--older-than", "1d"]  # else the old wheel would go
    assert_refused(repropack("cache", "prune", *args, *age, env=NO_ENGINE), fragment, code=2)
    assert wheel.exists()


def test_keep_size_without_an_engine_cannot_run():
    assert_refused(repropack("cache", "prune", "--keep-size", "1g", env=NO_ENGINE), "--keep-size", code=3)


def test_without_an_engine_list_and_prune_still_see_the_disk_and_print_one_json_object():
    cache = Path(os.environ["REPROPACK_CACHE_DIR"])
    old = cache / "wheels" / ("b" * 64)
    old.parent.mkdir(parents=True)
    old.write_bytes(b"x" * 300)
    os.utime(old, (time.time() - 40 * 86400,) * 2)
    fresh = cache / "wheels" / ("c" * 64)
    fresh.write_bytes(b"y" * 7)

    listed = repropack("cache", "list", "--json", env=NO_ENGINE)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)  # the whole of stdout: one object
    assert data["engine"] is None and "no Docker engine" in data["engine_error"] and data["images"] == []
    assert data["disk"]["caches"] == [{"name": "wheels", "size": 307, "files": 2}] and data["total"]["disk"] == 307

    pruned = repropack("cache", "prune", "--older-than", "30d", "--json", env=NO_ENGINE)
    assert pruned.returncode == 0, pruned.stderr
    result = json.loads(pruned.stdout)
    assert result["removed"] == [{"kind": "wheel", "name": "b" * 64, "size": 300}] and result["freed"] == 300
    assert not old.exists() and fresh.exists()

    text = repropack("cache", "list", env=NO_ENGINE)
    assert text.returncode == 0 and "images: not listed" in text.stderr and "wheels" in text.stdout


def test_the_help_shows_examples():
    for command in (["cache"], ["cache", "list"], ["cache", "prune"]):
        shown = repropack(*command, "--help")
        assert shown.returncode == 0 and "repropack cache" in shown.stdout and "Example" in shown.stdout


def test_list_against_the_engine_is_one_json_object(docker_engine):
    listed = repropack("cache", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert data["engine"] == "reachable" and data["engine_error"] is None
    assert all(image["tag"].startswith("repropack/env:") and image["size"] >= 0 for image in data["images"])
