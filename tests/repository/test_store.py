"""The local blob store: verified on the way in, atomic, shared, and never led out of its folder by a name."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from repropack.errors import BadInput, CannotRun
from repropack.repository.store import STORES, LocalStore, check_digest


def _file(path: Path, data: bytes) -> tuple[Path, str]:
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "repo" / "blobs", tmp_path / "repo" / "tmp")


def test_put_stores_once_read_only_and_reads_back(store: LocalStore, tmp_path: Path) -> None:
    source, digest = _file(tmp_path / "a.csv", b"x,y\n1,2\n")
    assert store.put(source, digest, 8) is True
    assert store.put(source, digest, 8) is False  # the same content is held once
    blob = store.path_of(digest)
    assert blob == store.root / "sha256" / digest[:2] / digest
    assert blob.stat().st_mode & 0o777 == 0o444
    with store.open(digest) as reader:
        assert reader.read() == b"x,y\n1,2\n"
    assert list(store.blobs()) == [digest]
    assert store.verify(digest) is None
    assert os.listdir(store.staging) == []


def test_put_refuses_bytes_that_do_not_match_and_stores_nothing(store: LocalStore, tmp_path: Path) -> None:
    source, digest = _file(tmp_path / "a.csv", b"honest")
    source.write_bytes(b"changed")
    with pytest.raises(BadInput, match="changed while being stored"):
        store.put(source, digest, 6)
    assert not store.has(digest)
    assert list(store.blobs()) == []
    assert os.listdir(store.staging) == []


def test_put_refuses_a_longer_file_without_reading_past_the_size(store: LocalStore, tmp_path: Path) -> None:
    source, digest = _file(tmp_path / "a.bin", b"abc")
    with pytest.raises(BadInput):
        store.put(source, digest, 2)


def test_verify_names_a_blob_whose_bytes_rotted_or_went_missing(store: LocalStore, tmp_path: Path) -> None:
    source, digest = _file(tmp_path / "a.txt", b"abc")
    store.put(source, digest, 3)
    blob = store.path_of(digest)
    blob.chmod(0o644)
    blob.write_bytes(b"abd")
    assert "hash to" in (store.verify(digest) or "")
    blob.unlink()
    assert "missing" in (store.verify(digest) or "")
    with pytest.raises(CannotRun, match="missing from the store"):
        store.open(digest)


@pytest.mark.parametrize("name", ["../../etc/passwd", "ab", "A" * 64, "0" * 63 + "/", ""])
def test_a_name_that_is_not_a_digest_never_becomes_a_path(store: LocalStore, name: str) -> None:
    with pytest.raises(ValueError, match="not a sha256"):
        store.path_of(name)
    with pytest.raises(ValueError):
        check_digest(name)


def test_sweep_removes_only_dead_writers_staging_files(store: LocalStore) -> None:
    store.staging.mkdir(parents=True)
    from repropack.fs.stale import owner_token, this_host

    dead = store.staging / f"{this_host()}.999999999.1.abcdef"
    alive = store.staging / f"{owner_token()}.abcdef"
    foreign = store.staging / "not-ours"
    for path in (dead, alive, foreign):
        path.write_bytes(b"partial")
    assert store.sweep_staging() == [dead]
    assert sorted(os.listdir(store.staging)) == sorted([alive.name, foreign.name])


def test_the_local_store_is_registered() -> None:
    assert STORES.get("local") is LocalStore


def test_put_many_stores_a_batch_and_leaves_nothing_staged(store: LocalStore, tmp_path: Path) -> None:
    one, two = _file(tmp_path / "one", b"one"), _file(tmp_path / "two", b"two!")
    store.put(*one, 3)
    sizes: list[int] = []

    written = store.put_many([(*one, 3), (*two, 4), (*two, 4)], on_stored=sizes.append)

    assert written == [False, True, False]  # held already, new, the same content twice in one batch
    assert sizes == [3, 4, 4]
    assert sorted(store.blobs()) == sorted([one[1], two[1]]) and store.verify(two[1]) is None
    assert os.listdir(store.staging) == []


def test_put_many_refusing_one_item_stores_none_of_the_batch(store: LocalStore, tmp_path: Path) -> None:
    good, (liar, digest) = _file(tmp_path / "good", b"good"), _file(tmp_path / "liar", b"honest")
    liar.write_bytes(b"lying!")

    with pytest.raises(BadInput, match="changed while being stored"):
        store.put_many([(*good, 4), (liar, digest, 6)])

    assert list(store.blobs()) == []  # the good one was staged, not yet durable: removed with the rest
    assert os.listdir(store.staging) == []


def test_put_many_without_syncfs_fsyncs_each_file_and_folder(store: LocalStore, tmp_path: Path, monkeypatch) -> None:
    import repropack.repository.store as store_module

    monkeypatch.setattr(store_module, "_SYNCFS", None)  # as on a system without syncfs(2)
    synced: list[Path] = []
    real_fsync = store_module._fsync
    monkeypatch.setattr(store_module, "_fsync", lambda path: (synced.append(path), real_fsync(path)))
    source, digest = _file(tmp_path / "one", b"one")

    assert store.put_many([(source, digest, 3)]) == [True]

    blob = store.path_of(digest)
    assert store.verify(digest) is None
    assert synced[0].parent == store.staging  # the bytes, before the rename
    assert {blob.parent, blob.parent.parent, store.root} <= set(synced[1:])  # each folder the rename changed
