"""Tree walks never follow a symlink: links to files, folders, nowhere, or themselves are listed, not entered."""

from __future__ import annotations

import errno
import os
import signal
import socket
import stat
from pathlib import Path

import pytest

from repropack.fs.walk import (
    Entry,
    EntryKind,
    chown_tree,
    find_symlinks,
    ignore_errors,
    remove_symlinks,
    walk_tree,
)

FILE, DIR, SYMLINK, OTHER = EntryKind.FILE, EntryKind.DIR, EntryKind.SYMLINK, EntryKind.OTHER
HOSTILE = ["new\nline.txt", "ünïcødé ✓.csv", "-rf", "--help", " lead", "back\\slash"]


@pytest.fixture(autouse=True)
def no_hang():
    """A walk that opened a FIFO would block for ever: fail instead."""

    def timed_out(signum, frame):
        raise TimeoutError("the walk blocked: something was opened that must not be")

    previous = signal.signal(signal.SIGALRM, timed_out)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """What the links point to, outside the walked tree: a file, a folder with a file, a socket and a FIFO."""
    folder = tmp_path / "outside"
    (folder / "dir").mkdir(parents=True)
    (folder / "dir" / "secret.txt").write_bytes(b"outside folder")
    (folder / "shadow").write_bytes(b"root:*:19000:0:99999:7:::\n")
    os.mkfifo(folder / "fifo")  # opening it for reading would block
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "socket"))  # opening it as a file raises ENXIO
    yield folder
    server.close()


@pytest.fixture
def tree(tmp_path: Path, outside: Path) -> Path:
    root = tmp_path / "tree"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"a")
    (root / "sub" / "b.txt").write_bytes(b"b")
    (root / "sub" / "deeper" / "c.txt").write_bytes(b"c")
    os.mkfifo(root / "sub" / "pipe")
    (root / "to-file").symlink_to(outside / "shadow")
    (root / "sub" / "to-folder").symlink_to(outside / "dir", target_is_directory=True)
    (root / "sub" / "to-socket").symlink_to(outside / "socket")
    (root / "sub" / "to-fifo").symlink_to(outside / "fifo")
    (root / "dangling").symlink_to(root / "nowhere")
    (root / "loop-a").symlink_to("loop-b")
    (root / "loop-b").symlink_to("loop-a")
    (root / "self").symlink_to("self")
    (root / "sub" / "up").symlink_to("..", target_is_directory=True)  # a cycle if followed
    return root


LINKS = ["dangling", "loop-a", "loop-b", "self", "sub/to-fifo", "sub/to-folder", "sub/to-socket", "sub/up", "to-file"]


def _kinds(root: Path) -> dict[str, EntryKind]:
    return {entry.relpath: entry.kind for entry in walk_tree(root)}


def _unread(path: Path):
    """Make any later read of ``path`` visible: its atime is set before its mtime, so relatime updates it."""
    st = path.stat()
    os.utime(path, ns=(st.st_mtime_ns - 10**11, st.st_mtime_ns))
    return path.stat().st_atime_ns


def _reads_update_atime(tmp_path: Path) -> bool:
    canary = tmp_path / "canary"
    canary.write_bytes(b"x")
    before = _unread(canary)
    canary.read_bytes()
    return canary.stat().st_atime_ns != before


def test_walk_lists_every_entry_with_its_kind_and_never_enters_a_link(tree):
    assert _kinds(tree) == {
        "a.txt": FILE,
        "dangling": SYMLINK,
        "loop-a": SYMLINK,
        "loop-b": SYMLINK,
        "self": SYMLINK,
        "sub": DIR,
        "sub/b.txt": FILE,
        "sub/deeper": DIR,
        "sub/deeper/c.txt": FILE,
        "sub/pipe": OTHER,
        "sub/to-fifo": SYMLINK,
        "sub/to-folder": SYMLINK,
        "sub/to-socket": SYMLINK,
        "sub/up": SYMLINK,
        "to-file": SYMLINK,
    }


def test_walk_is_top_down_with_names_sorted_in_each_folder(tmp_path):
    for rel in ("b/x", "a-c", "a/z", "a/y/w", "A"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    order = [entry.relpath for entry in walk_tree(tmp_path)]
    assert order == ["A", "a", "a/y", "a/y/w", "a/z", "a-c", "b", "b/x"]


def test_entries_carry_the_full_path_and_name(tree):
    entry = next(e for e in walk_tree(tree) if e.relpath == "sub/deeper/c.txt")
    assert entry == Entry("sub/deeper/c.txt", FILE, tree / "sub" / "deeper" / "c.txt")
    assert entry.name == "c.txt"
    assert entry.path.read_bytes() == b"c"


def test_find_symlinks(tree):
    assert find_symlinks(tree) == LINKS


def test_nothing_outside_the_tree_is_read(tmp_path, tree, outside):
    if not _reads_update_atime(tmp_path):
        pytest.skip("this file system does not record reads")
    watched = [outside / "shadow", outside / "dir" / "secret.txt"]
    before = [_unread(path) for path in watched]
    list(walk_tree(tree))
    find_symlinks(tree)
    remove_symlinks(tree)
    assert [path.stat().st_atime_ns for path in watched] == before


def test_remove_symlinks_removes_them_unread_and_returns_their_targets(tree, outside):
    planted = remove_symlinks(tree)
    assert planted == {
        "dangling": str(tree / "nowhere"),
        "loop-a": "loop-b",
        "loop-b": "loop-a",
        "self": "self",
        "sub/to-fifo": str(outside / "fifo"),
        "sub/to-folder": str(outside / "dir"),
        "sub/to-socket": str(outside / "socket"),
        "sub/up": "..",
        "to-file": str(outside / "shadow"),
    }
    assert list(planted) == sorted(planted)
    assert find_symlinks(tree) == []
    assert _kinds(tree) == {
        "a.txt": FILE,
        "sub": DIR,
        "sub/b.txt": FILE,
        "sub/deeper": DIR,
        "sub/deeper/c.txt": FILE,
        "sub/pipe": OTHER,
    }
    # The targets are all still there, as they were.
    assert (outside / "shadow").read_bytes().startswith(b"root:")
    assert (outside / "dir" / "secret.txt").read_bytes() == b"outside folder"
    assert stat.S_ISSOCK((outside / "socket").lstat().st_mode)
    assert stat.S_ISFIFO((outside / "fifo").lstat().st_mode)


def test_remove_symlinks_in_a_tree_without_links_changes_nothing(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"f")
    assert remove_symlinks(tmp_path) == {}
    assert (tmp_path / "d" / "f").read_bytes() == b"f"


def test_the_root_is_taken_as_given_even_through_a_link(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "f").write_bytes(b"f")
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    assert _kinds(tmp_path / "alias") == {"f": FILE}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names(tmp_path, name):
    (tmp_path / name).mkdir()
    (tmp_path / name / name).write_bytes(b"x")
    (tmp_path / f"{name}.link").symlink_to(f"/{name}")
    assert _kinds(tmp_path) == {name: DIR, f"{name}/{name}": FILE, f"{name}.link": SYMLINK}
    assert remove_symlinks(tmp_path) == {f"{name}.link": f"/{name}"}
    assert sorted(os.listdir(tmp_path)) == [name]


def test_names_that_are_not_utf8(tmp_path):
    raw = os.fsencode(tmp_path) + b"/\xff\xfe"
    os.mkdir(raw)
    with open(raw + b"/f\x80", "wb") as stream:
        stream.write(b"x")
    os.symlink(b"/\xff", raw + b"/l\x81")
    expected = os.fsdecode(b"\xff\xfe")
    assert _kinds(tmp_path) == {
        expected: DIR,
        f"{expected}/{os.fsdecode(b'f' + bytes([0x80]))}": FILE,
        f"{expected}/{os.fsdecode(b'l' + bytes([0x81]))}": SYMLINK,
    }
    assert remove_symlinks(tmp_path) == {f"{expected}/{os.fsdecode(b'l' + bytes([0x81]))}": os.fsdecode(b"/\xff")}


def test_descend_prunes_folders(tree):
    kinds = {e.relpath: e.kind for e in walk_tree(tree, descend=lambda entry: entry.name != "deeper")}
    assert "sub/deeper" in kinds and "sub/deeper/c.txt" not in kinds
    assert "sub/b.txt" in kinds


def test_a_folder_swapped_for_a_link_mid_walk_is_refused_not_followed(tmp_path, outside):
    root = tmp_path / "tree"
    (root / "victim").mkdir(parents=True)
    (root / "victim" / "mine.txt").write_bytes(b"mine")

    def swap(entry: Entry) -> bool:
        # Between listing the root and opening "victim", a hostile process swaps it for a link.
        os.rename(entry.path, tmp_path / "moved")
        entry.path.symlink_to(outside / "dir", target_is_directory=True)
        return True

    with pytest.raises(OSError) as caught:
        list(walk_tree(root, descend=swap))
    assert caught.value.errno in (errno.ELOOP, errno.ENOTDIR)


def test_a_folder_swapped_for_a_link_is_skipped_with_ignore_errors(tmp_path, outside):
    root = tmp_path / "tree"
    (root / "victim").mkdir(parents=True)

    def swap(entry: Entry) -> bool:
        os.rename(entry.path, tmp_path / "moved")
        entry.path.symlink_to(outside / "dir", target_is_directory=True)
        return True

    assert [e.relpath for e in walk_tree(root, descend=swap, on_error=ignore_errors)] == ["victim"]


def _unlistable(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Opening a folder called ``name`` fails as if it were mode 000 (root would read it anyway)."""
    real_open = os.open

    def failing_open(path, flags, *args, **kwargs):
        if os.fsdecode(path).rpartition("/")[2] == name and flags & os.O_DIRECTORY:
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", failing_open)


def test_a_folder_that_cannot_be_listed_raises_by_default(tree, monkeypatch):
    _unlistable(monkeypatch, "deeper")
    with pytest.raises(PermissionError):
        list(walk_tree(tree))
    with pytest.raises(PermissionError):
        remove_symlinks(tree)


def test_on_error_is_told_which_folder_could_not_be_listed(tree, monkeypatch):
    _unlistable(monkeypatch, "deeper")
    failures: list[tuple[Path, int]] = []
    kinds = {e.relpath for e in walk_tree(tree, on_error=lambda path, error: failures.append((path, error.errno)))}
    assert failures == [(tree / "sub" / "deeper", errno.EACCES)]
    assert "sub/deeper" in kinds and "sub/deeper/c.txt" not in kinds and "sub/to-folder" in kinds
    assert {e.relpath for e in walk_tree(tree, on_error=ignore_errors)} == kinds


def test_a_root_that_cannot_be_listed(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(walk_tree(tmp_path / "missing"))
    failures = []
    assert list(walk_tree(tmp_path / "missing", on_error=lambda path, error: failures.append(path))) == []
    assert failures == [tmp_path / "missing"]


def test_no_descriptor_is_left_open(tree):
    before = len(os.listdir("/proc/self/fd"))
    list(walk_tree(tree))
    remove_symlinks(tree)
    walk = walk_tree(tree)
    next(walk), next(walk)  # abandoned half way
    walk.close()
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_tree_deeper_than_the_recursion_limit(tmp_path):
    depth = 1100  # os.walk (recursive before Python 3.12) and os.makedirs would hit RecursionError
    folders = [tmp_path]
    for _ in range(depth):
        folders.append(folders[-1] / "d")
        folders[-1].mkdir()
    try:
        assert len(list(walk_tree(tmp_path))) == depth
        assert remove_symlinks(tmp_path) == {}
    finally:
        for folder in reversed(folders[1:]):  # shutil.rmtree recurses too
            folder.rmdir()


# --- chown_tree ----------------------------------------------------------------------------


def _spy_chown(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, dict]]:
    real_chown = os.chown
    calls: list[tuple[object, dict]] = []

    def chown(path, uid, gid, **kwargs):
        calls.append((path, kwargs))
        return real_chown(path, uid, gid, **kwargs)

    monkeypatch.setattr(os, "chown", chown)
    return calls


def test_chown_tree_never_follows_a_link(tree, monkeypatch):
    calls = _spy_chown(monkeypatch)
    chown_tree(tree, os.getuid(), os.getgid())
    assert calls[0] == (tree, {})  # the root, as given
    names = [path for path, _kwargs in calls[1:]]
    assert sorted(names) == sorted(e.name for e in walk_tree(tree))
    assert all(kwargs.get("follow_symlinks") is False and "dir_fd" in kwargs for _path, kwargs in calls[1:])


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files away needs root")
def test_chown_tree_gives_the_tree_away_and_nothing_outside_it(tree, outside):
    outside_paths = [outside / "shadow", outside / "dir", outside / "dir" / "secret.txt", outside / "fifo"]
    owners = {path: (path.lstat().st_uid, path.lstat().st_gid) for path in outside_paths}
    chown_tree(tree, 1000, 1000)
    inside = [tree, *(entry.path for entry in walk_tree(tree))]
    assert {(path.lstat().st_uid, path.lstat().st_gid) for path in inside} == {(1000, 1000)}
    assert {path: (path.lstat().st_uid, path.lstat().st_gid) for path in outside_paths} == owners
