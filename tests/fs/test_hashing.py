from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from repropack.errors import BadInput
from repropack.fs import hashing as hashing_module
from repropack.fs.hashing import CACHE_DIR_ENV, HashCache, copy_and_hash, hash_files, sha256_file
from repropack.model import Digest


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def expected(data: bytes) -> Digest:
    return Digest(sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def overwrite_keeping_stat(path: Path, data: bytes) -> None:
    """Replace the bytes in place (same inode) and put back size and mtime_ns."""
    before = path.stat()
    assert len(data) == before.st_size
    with open(path, "r+b") as stream:
        stream.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )


@pytest.mark.parametrize("size", [0, 1, 4096, 4096 * 3, 4096 * 3 + 17])
def test_sha256_file_matches_hashlib(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = write(tmp_path / "f.bin", data)

    assert sha256_file(path, chunk_size=4096) == expected(data)


def test_sha256_file_reports_every_byte(tmp_path: Path) -> None:
    data = os.urandom(10_000)
    path = write(tmp_path / "f.bin", data)
    seen: list[int] = []

    sha256_file(path, chunk_size=4096, on_bytes=seen.append)

    assert seen == [4096, 4096, 10_000 - 8192]


def test_cache_returns_stored_digest_for_same_stat_only(tmp_path: Path) -> None:
    path = write(tmp_path / "f.txt", b"hello")
    st = path.stat()
    digest = expected(b"hello")
    cache = HashCache(tmp_path / "cache" / "hashes.sqlite")

    cache.store_many([(path, st, digest)])

    assert cache.lookup(path, st) == digest
    assert cache.lookup(tmp_path / "other.txt", st) is None
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert cache.lookup(path, path.stat()) is None
    with open(path, "ab") as stream:
        stream.write(b"!")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert cache.lookup(path, path.stat()) is None  # size differs
    # A new file renamed over the old one (as editors save) has another inode.
    replacement = write(tmp_path / "f.txt.new", b"hello")
    os.utime(replacement, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(replacement, path)
    assert path.stat().st_ino != st.st_ino
    assert cache.lookup(path, path.stat()) is None


def test_cache_persists_across_instances(tmp_path: Path) -> None:
    path = write(tmp_path / "f.txt", b"hello")
    db = tmp_path / "hashes.sqlite"
    first = HashCache(db)
    first.store_many([(path, path.stat(), expected(b"hello"))])
    first.close()

    assert HashCache(db).lookup(path, path.stat()) == expected(b"hello")


def test_cache_hit_reads_no_bytes(tmp_path: Path) -> None:
    path = write(tmp_path / "data.bin", b"A" * 5000)
    cache = HashCache(tmp_path / "hashes.sqlite")
    assert hash_files([path], cache=cache) == {path: expected(b"A" * 5000)}

    # Same size, mtime_ns and inode but other bytes: only a read could notice.
    overwrite_keeping_stat(path, b"B" * 5000)

    assert hash_files([path], cache=cache) == {path: expected(b"A" * 5000)}


def test_touched_file_is_rehashed(tmp_path: Path) -> None:
    path = write(tmp_path / "data.bin", b"A" * 5000)
    cache = HashCache(tmp_path / "hashes.sqlite")
    hash_files([path], cache=cache)

    overwrite_keeping_stat(path, b"B" * 5000)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))

    assert hash_files([path], cache=cache) == {path: expected(b"B" * 5000)}
    assert cache.lookup(path, path.stat()) == expected(b"B" * 5000)


def test_file_changed_while_hashing_is_not_cached(tmp_path: Path) -> None:
    path = write(tmp_path / "growing.log", b"x" * 100)
    st_before = path.stat()
    cache = HashCache(tmp_path / "hashes.sqlite")

    def append_once(_: int) -> None:
        if path.stat().st_size == 100:
            with open(path, "ab") as stream:
                stream.write(b"more")

    hash_files([path], cache=cache, on_bytes=append_once)

    assert path.stat().st_size == 104
    assert cache.lookup(path, st_before) is None
    assert cache.lookup(path, path.stat()) is None


def test_corrupt_cache_file_is_replaced(tmp_path: Path) -> None:
    db = tmp_path / "hashes.sqlite"
    db.write_bytes(b"this is not a sqlite database" * 100)
    path = write(tmp_path / "f.txt", b"hello")

    cache = HashCache(db)
    assert cache.lookup(path, path.stat()) is None
    cache.store_many([(path, path.stat(), expected(b"hello"))])
    cache.close()

    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM file_hashes").fetchone() == (1,)
    assert HashCache(db).lookup(path, path.stat()) == expected(b"hello")


def test_cache_creates_parent_folders(tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "hashes.sqlite"
    path = write(tmp_path / "f.txt", b"hello")

    HashCache(db).store_many([(path, path.stat(), expected(b"hello"))])

    assert db.is_file()


def test_default_cache_honours_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cachedir"))

    cache = HashCache.default()

    assert cache.db_path == tmp_path / "cachedir" / "hashes.sqlite"
    assert cache.db_path.is_file()


def _store_in_own_process(db: str, files: list[str]) -> None:
    cache = HashCache(Path(db))
    for name in files:
        path = Path(name)
        cache.store_many([(path, path.stat(), Digest(sha256=name, size=path.stat().st_size))])
    cache.close()


@pytest.mark.parametrize("round_", range(3))  # a new cache file each round: creation races too
def test_processes_can_share_one_cache(tmp_path: Path, round_: int) -> None:
    db = tmp_path / "hashes.sqlite"
    groups = [[str(write(tmp_path / f"p{proc}" / f"{i}.txt", b"x")) for i in range(20)] for proc in range(6)]

    with ProcessPoolExecutor(max_workers=len(groups)) as pool:
        for done in [pool.submit(_store_in_own_process, str(db), files) for files in groups]:
            done.result()

    cache = HashCache(db)
    for files in groups:
        for name in files:
            assert cache.lookup(Path(name), Path(name).stat()) == Digest(sha256=name, size=1)


def test_cache_opened_while_another_process_writes_still_persists(tmp_path: Path) -> None:
    db = tmp_path / "hashes.sqlite"
    writer = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE unrelated (x)")
    writer.execute("BEGIN IMMEDIATE")  # what another exporter holds mid-store
    commit_later = threading.Timer(0.3, writer.execute, ["COMMIT"])
    commit_later.start()
    path = write(tmp_path / "f.txt", b"hello")

    cache = HashCache(db)
    cache.store_many([(path, path.stat(), expected(b"hello"))])
    cache.close()
    commit_later.join()
    writer.close()

    assert HashCache(db).lookup(path, path.stat()) == expected(b"hello")


def test_missing_file_is_bad_input(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"

    with pytest.raises(BadInput, match=rf"^cannot read {missing}: No such file"):
        hash_files([write(tmp_path / "ok.txt", b"ok"), missing])


def test_directory_is_bad_input_and_good_files_stay_cached(tmp_path: Path) -> None:
    good = write(tmp_path / "ok.txt", b"ok")
    folder = tmp_path / "folder"
    folder.mkdir()
    cache = HashCache(tmp_path / "hashes.sqlite")

    with pytest.raises(BadInput, match=rf"^cannot read {folder}: Is a directory"):
        hash_files([good, folder], cache=cache, workers=1)

    assert cache.lookup(good, good.stat()) == expected(b"ok")


def test_parallel_results_equal_serial_ones(tmp_path: Path) -> None:
    contents = {
        write(tmp_path / f"d{i % 3}" / f"f{i}.bin", os.urandom(size)): size
        for i, size in enumerate([0, 1, 100, 65_536, 3 << 20, 1 << 20, 12_345, 7, 2 << 20] * 3)
    }
    paths = list(contents)

    serial = hash_files(paths, workers=1)
    parallel = hash_files(paths, workers=4)

    assert parallel == serial
    assert serial == {path: sha256_file(path) for path in paths}
    assert list(parallel) != [] and set(parallel) == set(paths)


def test_progress_adds_up_to_total_size_with_and_without_cache(tmp_path: Path) -> None:
    paths = [write(tmp_path / f"f{i}.bin", os.urandom(i * 300_000)) for i in range(6)]
    total = sum(path.stat().st_size for path in paths)
    cache = HashCache(tmp_path / "hashes.sqlite")

    for _ in range(2):  # first run hashes, second is all cache hits
        seen: list[int] = []
        hash_files(paths, cache=cache, workers=2, on_bytes=seen.append)
        assert sum(seen) == total


def test_duplicate_paths_are_hashed_once(tmp_path: Path) -> None:
    path = write(tmp_path / "f.txt", b"hello")
    seen: list[int] = []

    assert hash_files([path, path], on_bytes=seen.append) == {path: expected(b"hello")}
    assert sum(seen) == 5


# --- copy_and_hash: each file read once, copied as it is hashed --------------------------------------------


def _listed(path: Path):
    from repropack.fs.tree import FileState

    st = path.stat()
    return FileState(st.st_size, st.st_mtime_ns, st.st_ino)


@pytest.mark.parametrize("workers", [1, 3])
def test_copy_and_hash_gives_hashlib_digests_and_identical_copies(tmp_path: Path, workers: int) -> None:
    contents = {f"d/{size}.bin": os.urandom(size) for size in (0, 1, 65_537, (1 << 20) + 3, 3 << 20)}
    sources = {write(tmp_path / "src" / rel, data): rel for rel, data in contents.items()}
    files = {src: (tmp_path / "dst" / rel, _listed(src)) for src, rel in sources.items()}
    cache = HashCache(tmp_path / "cache.sqlite")
    seen: list[int] = []
    digests = copy_and_hash(files, cache=cache, workers=workers, on_bytes=seen.append)
    assert list(digests) == list(files)
    for src, rel in sources.items():
        assert digests[src] == expected(contents[rel])
        assert (tmp_path / "dst" / rel).read_bytes() == contents[rel]
        assert cache.lookup(src, src.stat()) == digests[src]  # fresh digests of unchanged files are cached
    assert sum(seen) == sum(len(d) for d in contents.values())


def test_copy_and_hash_with_a_warm_cache_copies_without_hashing(tmp_path: Path, monkeypatch) -> None:
    data = os.urandom(200_000)
    src = write(tmp_path / "src.bin", data)
    cache = HashCache(tmp_path / "cache.sqlite")
    hash_files([src], cache=cache)
    want = expected(data)
    monkeypatch.setattr(hashing_module.hashlib, "sha256", None)  # fault injection: hashing now would fail
    digests = copy_and_hash({src: (tmp_path / "out" / "dst.bin", _listed(src))}, cache=cache)
    monkeypatch.undo()
    assert digests[src] == want
    assert (tmp_path / "out" / "dst.bin").read_bytes() == data


def test_copy_and_hash_refuses_a_file_changed_since_it_was_listed(tmp_path: Path) -> None:
    src = write(tmp_path / "src.txt", b"first\n")
    listed = _listed(src)
    with open(src, "ab") as stream:
        stream.write(b"more\n")
    with pytest.raises(BadInput, match=r"^data/src.txt: the file changed while it was being packaged; export again$"):
        copy_and_hash({src: (tmp_path / "dst.txt", listed)}, label=lambda _: "data/src.txt")


def test_copy_and_hash_refuses_a_file_changed_while_it_was_copied(tmp_path: Path, monkeypatch) -> None:
    src = write(tmp_path / "src.bin", os.urandom(3 << 20))
    listed = _listed(src)

    class Sha:  # fault injection: a writer appends to the file while its first chunk is hashed
        def __init__(self):
            self._inner = hashlib.new("sha256")
            self._appended = False

        def update(self, data):
            if not self._appended:
                with open(src, "ab") as stream:
                    stream.write(b"x")
                self._appended = True
            self._inner.update(data)

        def hexdigest(self):
            return self._inner.hexdigest()

    monkeypatch.setattr(hashing_module.hashlib, "sha256", Sha)
    cache = HashCache(tmp_path / "cache.sqlite")
    with pytest.raises(BadInput, match="the file changed while it was being packaged"):
        copy_and_hash({src: (tmp_path / "dst.bin", listed)}, cache=cache)
    assert cache.lookup(src, src.stat()) is None


def test_copy_and_hash_links_a_previous_copy_the_cache_vouches_for(tmp_path: Path) -> None:
    data = os.urandom(100_000)
    src = write(tmp_path / "src.bin", data)
    old = write(tmp_path / "old" / "src.bin", data)
    cache = HashCache(tmp_path / "cache.sqlite")
    hash_files([src, old], cache=cache)
    dst = tmp_path / "new" / "src.bin"
    copy_and_hash({src: (dst, _listed(src))}, cache=cache, previous={src: old})
    assert dst.stat().st_ino == old.stat().st_ino and dst.read_bytes() == data


def test_copy_and_hash_copies_when_the_previous_file_differs_or_is_shared(tmp_path: Path) -> None:
    data = os.urandom(100_000)
    src = write(tmp_path / "src.bin", data)
    cache = HashCache(tmp_path / "cache.sqlite")
    stale = write(tmp_path / "old" / "stale.bin", os.urandom(100_000))  # another content
    shared = write(tmp_path / "old" / "shared.bin", data)
    os.link(shared, tmp_path / "someone-elses-link")  # nlink 2: linking would tie the package to it
    hash_files([src, stale, shared], cache=cache)
    for previous in (stale, shared, tmp_path / "old" / "missing.bin"):
        dst = tmp_path / "new" / previous.name
        copy_and_hash({src: (dst, _listed(src))}, cache=cache, previous={src: previous})
        assert dst.stat().st_nlink == 1 and dst.read_bytes() == data


def test_a_few_small_files_are_hashed_in_the_calling_thread_and_many_bytes_in_workers(tmp_path: Path) -> None:
    small = [write(tmp_path / f"s{i}.txt", b"x" * i) for i in range(1, 12)]
    big = [write(tmp_path / f"b{i}.bin", os.urandom(3 << 20)) for i in range(2)]

    for paths, in_caller in ((small, True), (big, False)):
        threads: set[int] = set()
        digests = hash_files(paths, workers=2, on_bytes=lambda _n, seen=threads: seen.add(threading.get_ident()))
        assert digests == {path: sha256_file(path) for path in paths}
        assert (threads == {threading.get_ident()}) is in_caller
