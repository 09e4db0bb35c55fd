"""Atomic outputs: a destination is whole or untouched, and no temp sibling outlives a failure."""

from __future__ import annotations

import os
import stat
from contextlib import nullcontext
from pathlib import Path

import pytest

from repropack.errors import BadInput
from repropack.fs import atomic
from repropack.fs.atomic import (
    TEMP_MARKER,
    scratch_folder,
    staged_file,
    staged_folder,
    temp_sibling,
    temp_siblings,
    write_bytes_atomically,
)

HOSTILE_NAMES = ["new\nline.bin", "ünïcødé ✓.txt", "-rf", "--force", " leading space", "pkg[1]*?.zip"]


class Injected(Exception):
    """Raised inside a ``with`` body or by a patched call to simulate a failure."""


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _tree(root: Path) -> dict[str, bytes | None]:
    return {p.relative_to(root).as_posix(): None if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if TEMP_MARKER in p.name)


@pytest.fixture
def umask():
    """Set the process umask for one test: ``umask(0o077)``; the old one is restored after."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield os.umask
    os.umask(previous)


def _fail_replace_onto(monkeypatch: pytest.MonkeyPatch, destination: Path) -> list[tuple[Path, Path]]:
    """os.replace fails (disk full) when it would put something new at ``destination``; other renames work."""
    real_replace = os.replace
    calls: list[tuple[Path, Path]] = []

    def replace(src, dst):
        calls.append((Path(src), Path(dst)))
        if Path(dst) == destination and not Path(src).name.endswith("-old"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    return calls


# --- temp siblings -----------------------------------------------------------------------


def test_temp_sibling_is_a_hidden_name_beside_the_output(tmp_path):
    output = tmp_path / "pkg.zip"
    sibling = temp_sibling(output, "abcd")
    assert sibling == tmp_path / f".pkg.zip{TEMP_MARKER}abcd"
    assert temp_sibling(output) != temp_sibling(output)  # a fresh token each time


def test_temp_siblings_finds_leftovers_including_nested_ones_and_nothing_else(tmp_path):
    output = tmp_path / "pkg.zip"
    first = temp_sibling(output)
    nested = temp_sibling(first)  # e.g. the zip writer's partial file of the package writer's temp zip
    old = temp_sibling(output, "1234-old")
    for path in (first, nested, old):
        path.write_bytes(b"")
    for unrelated in ("pkg.zip", ".pkg.zip", ".pkg.zip2.repropack-tmp-x", ".other.repropack-tmp-x", "pkg.zip.partial"):
        (tmp_path / unrelated).write_bytes(b"")
    assert temp_siblings(output) == sorted([first, nested, old])


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_temp_siblings_of_hostile_names(tmp_path, name):
    output = tmp_path / name
    leftover = temp_sibling(output)
    leftover.mkdir()
    assert temp_siblings(output) == [leftover]


def test_temp_siblings_takes_the_name_literally_not_as_a_glob(tmp_path):
    output = tmp_path / "pkg[1]*?.zip"
    (tmp_path / f".pkg1a.zip{TEMP_MARKER}x").write_bytes(b"")  # what the glob .pkg[1]*?.zip.repropack-tmp-* matches
    assert temp_siblings(output) == []


def test_temp_siblings_of_an_output_in_a_missing_folder_is_empty(tmp_path):
    assert temp_siblings(tmp_path / "missing" / "pkg") == []


def test_layout_keeps_the_temp_sibling_names_importable():
    from repropack.model import layout

    assert layout.temp_sibling is temp_sibling
    assert layout.temp_siblings is temp_siblings


# --- write_bytes_atomically ----------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o000, 0o077])
@pytest.mark.parametrize("mode", [0o600, 0o644, 0o755])
def test_file_has_exactly_the_mode_whatever_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    path = tmp_path / "key"
    write_bytes_atomically(path, b"secret", mode=mode)
    assert path.read_bytes() == b"secret"
    assert _mode(path) == mode


@pytest.mark.parametrize("mask", [0o000, 0o077])
def test_private_bytes_never_sit_in_a_file_others_can_open(tmp_path, umask, monkeypatch, mask):
    umask(mask)
    path = tmp_path / "key"
    seen: list[int] = []
    real_fsync = os.fsync

    def fsync(fd):
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))  # the temp file's mode while it holds the bytes
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    write_bytes_atomically(path, b"secret", mode=0o600)
    assert seen == [0o600]


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_without_a_mode_the_umask_applies_as_for_open(tmp_path, umask, mask):
    umask(mask)
    path = tmp_path / "plain.txt"
    write_bytes_atomically(path, b"x")
    assert _mode(path) == 0o666 & ~mask


def test_replaces_an_existing_file(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"old")
    write_bytes_atomically(path, b"new", mode=0o600)
    assert path.read_bytes() == b"new"
    assert _leftovers(tmp_path) == []


def test_a_symlink_at_the_path_is_replaced_not_followed(tmp_path):
    target = tmp_path / "outside.txt"
    target.write_bytes(b"keep me")
    link = tmp_path / "inside" / "link"
    link.parent.mkdir()
    link.symlink_to(target)
    write_bytes_atomically(link, b"new")
    assert not link.is_symlink() and link.read_bytes() == b"new"
    assert target.read_bytes() == b"keep me"


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_file_names(tmp_path, name):
    write_bytes_atomically(tmp_path / name, b"data", mode=0o600)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    assert (tmp_path / name).read_bytes() == b"data"


@pytest.mark.parametrize("existing", [None, b"old bytes"])
@pytest.mark.parametrize("failure", ["replace", "interrupt-during-write"])
def test_a_failed_write_leaves_the_path_as_it_was_and_no_temp_file(tmp_path, monkeypatch, existing, failure):
    path = tmp_path / "f.txt"
    if existing is not None:
        path.write_bytes(existing)
    if failure == "replace":
        _fail_replace_onto(monkeypatch, path)
        expected: type[BaseException] = OSError
    else:

        def interrupted(fd):
            raise KeyboardInterrupt

        monkeypatch.setattr(os, "fsync", interrupted)
        expected = KeyboardInterrupt
    with pytest.raises(expected):
        write_bytes_atomically(path, b"new bytes", mode=0o600)
    monkeypatch.undo()
    assert (path.read_bytes() if path.exists() else None) == existing
    assert _leftovers(tmp_path) == []


def test_writing_into_a_missing_folder_fails_and_creates_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_bytes_atomically(tmp_path / "missing" / "f.txt", b"x")
    assert list(tmp_path.iterdir()) == []


# --- staged_folder -------------------------------------------------------------------------


def test_staged_folder_appears_whole_on_success(tmp_path):
    destination = tmp_path / "out"
    with staged_folder(destination) as staging:
        assert staging.parent == tmp_path and TEMP_MARKER in staging.name
        assert not destination.exists()  # nothing at the destination while building
        (staging / "sub").mkdir()
        (staging / "sub" / "a.txt").write_bytes(b"a")
    assert _tree(destination) == {"sub": None, "sub/a.txt": b"a"}
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [Injected, KeyboardInterrupt])
def test_staged_folder_failure_inside_the_with_leaves_nothing(tmp_path, error):
    destination = tmp_path / "out"
    with pytest.raises(error), staged_folder(destination) as staging:
        (staging / "half.txt").write_bytes(b"half")
        raise error
    assert list(tmp_path.iterdir()) == []


def test_staged_folder_failing_rename_leaves_nothing(tmp_path, monkeypatch):
    destination = tmp_path / "out"
    _fail_replace_onto(monkeypatch, destination)
    with pytest.raises(OSError, match="No space left"), staged_folder(destination) as staging:
        (staging / "a.txt").write_bytes(b"a")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["folder", "file", "dangling symlink"])
def test_staged_folder_refuses_an_existing_destination_before_building(tmp_path, kind):
    destination = tmp_path / "out"
    if kind == "folder":
        (destination / "old").mkdir(parents=True)
    elif kind == "file":
        destination.write_bytes(b"old")
    else:
        destination.symlink_to(tmp_path / "nowhere")
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(BadInput, match=r"out: already exists$"), staged_folder(destination):
        pytest.fail("the body must not run")
    assert sorted(os.listdir(tmp_path)) == before
    assert os.path.lexists(destination)


def test_staged_folder_says_what_the_caller_asks_when_refusing(tmp_path):
    destination = tmp_path / "rec"
    destination.mkdir()
    message = f"{destination}: record already exists; choose another --record path"
    with pytest.raises(BadInput) as caught, staged_folder(destination, exists_message=message):
        pass
    assert str(caught.value) == message


def test_staged_folder_refuses_a_destination_that_appeared_while_building(tmp_path):
    destination = tmp_path / "out"
    with pytest.raises(BadInput, match="already exists"), staged_folder(destination) as staging:
        (staging / "new.txt").write_bytes(b"new")
        destination.mkdir()  # someone else got there first; an empty folder would be silently renamed over
        (destination / "theirs.txt").write_bytes(b"theirs")
    assert _tree(destination) == {"theirs.txt": b"theirs"}
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", ["folder", "file", "symlink"])
def test_staged_folder_replace_swaps_in_the_new_folder(tmp_path, kind):
    destination = tmp_path / "out"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_bytes(b"keep")
    if kind == "folder":
        (destination / "stale").mkdir(parents=True)
        (destination / "stale" / "old.txt").write_bytes(b"old")
    elif kind == "file":
        destination.write_bytes(b"old")
    else:
        destination.symlink_to(outside, target_is_directory=True)
    with staged_folder(destination, replace=True) as staging:
        (staging / "new.txt").write_bytes(b"new")
    assert not destination.is_symlink()
    assert _tree(destination) == {"new.txt": b"new"}
    assert _tree(outside) == {"keep.txt": b"keep"}  # a replaced link's target is never touched
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [Injected, KeyboardInterrupt])
def test_staged_folder_replace_failing_inside_the_with_keeps_the_old_one(tmp_path, error):
    destination = tmp_path / "out"
    (destination / "old").mkdir(parents=True)
    (destination / "old" / "keep.txt").write_bytes(b"keep")
    before = _tree(destination)
    with pytest.raises(error), staged_folder(destination, replace=True) as staging:
        (staging / "half.txt").write_bytes(b"half")
        raise error
    assert _tree(destination) == before
    assert _leftovers(tmp_path) == []


def test_staged_folder_replace_with_a_failing_rename_restores_the_old_one(tmp_path, monkeypatch):
    destination = tmp_path / "out"
    (destination / "old").mkdir(parents=True)
    (destination / "old" / "keep.txt").write_bytes(b"keep")
    before = _tree(destination)
    calls = _fail_replace_onto(monkeypatch, destination)
    with pytest.raises(OSError, match="No space left"), staged_folder(destination, replace=True) as staging:
        (staging / "new.txt").write_bytes(b"new")
    monkeypatch.undo()
    assert [dst.name.endswith("-old") for _src, dst in calls] == [True, False, False]  # aside, new (fails), back
    assert _tree(destination) == before
    assert _leftovers(tmp_path) == []


def test_staged_folder_creates_parents_only_when_asked(tmp_path):
    destination = tmp_path / "a" / "b" / "rec"
    with pytest.raises(FileNotFoundError), staged_folder(destination):
        pass
    assert list(tmp_path.iterdir()) == []
    with staged_folder(destination, parents=True) as staging:
        (staging / "x").write_bytes(b"x")
    assert _tree(destination) == {"x": b"x"}


def test_staged_folder_mode(tmp_path, umask):
    umask(0o022)
    with staged_folder(tmp_path / "private", mode=0o700):
        pass
    with staged_folder(tmp_path / "shared"):
        pass
    assert _mode(tmp_path / "private") == 0o700
    assert _mode(tmp_path / "shared") == 0o755


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_staged_folder_hostile_names(tmp_path, name):
    with staged_folder(tmp_path / name) as staging:
        (staging / name).write_bytes(b"x")
    assert _tree(tmp_path / name) == {name: b"x"}
    assert sorted(os.listdir(tmp_path)) == [name]


# --- staged_file ---------------------------------------------------------------------------


def test_staged_file_yields_a_path_for_another_tool_to_create(tmp_path):
    destination = tmp_path / "pkg.zip"
    with staged_file(destination) as partial:
        assert partial.parent == tmp_path and not partial.exists()
        partial.write_bytes(b"zip bytes")
        assert not destination.exists()
    assert destination.read_bytes() == b"zip bytes"
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("existing", [None, b"old zip"])
@pytest.mark.parametrize("error", [Injected, KeyboardInterrupt])
def test_staged_file_failure_inside_the_with_leaves_the_destination_as_it_was(tmp_path, existing, error):
    destination = tmp_path / "pkg.zip"
    if existing is not None:
        destination.write_bytes(existing)
    with pytest.raises(error), staged_file(destination, replace=True) as partial:
        partial.write_bytes(b"half a zip")
        raise error
    assert (destination.read_bytes() if destination.exists() else None) == existing
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("existing", [None, b"old zip"])
def test_staged_file_failing_rename_leaves_the_destination_as_it_was(tmp_path, monkeypatch, existing):
    destination = tmp_path / "pkg.zip"
    if existing is not None:
        destination.write_bytes(existing)
    _fail_replace_onto(monkeypatch, destination)
    with pytest.raises(OSError, match="No space left"), staged_file(destination, replace=True) as partial:
        partial.write_bytes(b"new zip")
    monkeypatch.undo()
    assert (destination.read_bytes() if destination.exists() else None) == existing
    assert _leftovers(tmp_path) == []


def test_staged_file_replaces_a_file_in_one_rename(tmp_path, monkeypatch):
    destination = tmp_path / "pkg.zip"
    destination.write_bytes(b"old zip")
    calls = _fail_replace_onto(monkeypatch, tmp_path / "never")
    with staged_file(destination, replace=True) as partial:
        partial.write_bytes(b"new zip")
    assert calls == [(partial, destination)]  # readers never see the path missing
    assert destination.read_bytes() == b"new zip"


def test_staged_file_replace_over_a_folder(tmp_path):
    destination = tmp_path / "pkg.zip"
    (destination / "old").mkdir(parents=True)
    with staged_file(destination, replace=True) as partial:
        partial.write_bytes(b"zip")
    assert destination.read_bytes() == b"zip"
    assert _leftovers(tmp_path) == []


def test_staged_file_refuses_an_existing_destination_unless_replacing(tmp_path):
    destination = tmp_path / "pkg.zip"
    destination.write_bytes(b"old")
    with pytest.raises(BadInput, match="pass --force"), staged_file(destination, exists_message="pass --force"):
        pytest.fail("the body must not run")
    assert destination.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_staged_file_whose_tool_wrote_nothing_fails_and_leaves_nothing(tmp_path):
    with pytest.raises(FileNotFoundError), staged_file(tmp_path / "pkg.zip"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_staged_file_removes_a_folder_the_tool_left_on_failure(tmp_path):
    with pytest.raises(Injected), staged_file(tmp_path / "out") as partial:
        (partial / "deep").mkdir(parents=True)
        raise Injected
    assert list(tmp_path.iterdir()) == []


# --- scratch_folder ------------------------------------------------------------------------


@pytest.mark.parametrize("error", [None, Injected, KeyboardInterrupt])
def test_scratch_folder_is_a_temp_sibling_removed_whatever_happens(tmp_path, error):
    output = tmp_path / "pkg.zip"
    with pytest.raises(error) if error else nullcontext(), scratch_folder(output) as scratch:
        assert scratch in temp_siblings(output) and scratch.is_dir()
        (scratch / "deep").mkdir()
        (scratch / "deep" / "f").write_bytes(b"x")
        if error:
            raise error
    assert list(tmp_path.iterdir()) == []


def test_removal_never_follows_a_symlink_left_in_the_staging_folder(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_bytes(b"keep")
    with pytest.raises(Injected), staged_folder(tmp_path / "out") as staging:
        (staging / "link").symlink_to(outside, target_is_directory=True)
        raise Injected
    assert _tree(outside) == {"keep.txt": b"keep"}
    assert sorted(os.listdir(tmp_path)) == ["outside"]


def test_module_uses_os_replace_through_the_os_module():
    # The writer's and these tests' fault injection patch os.replace; a from-import would dodge it.
    assert "replace" not in vars(atomic)
