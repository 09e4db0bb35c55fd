"""What a record keeps of a replay's outputs: regular files only, links never followed, restricted files never, a cap."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from repropack.replay.kept import keep_outputs


@pytest.fixture
def work(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    (work / "outputs").mkdir(parents=True)
    (work / "outputs" / "counts.csv").write_text("group,n\na,2\n")
    (work / "analysis.ipynb").write_text("{}")
    return work


def test_outputs_are_copied_at_their_package_paths(work, tmp_path):
    kept = keep_outputs(work, ["outputs/counts.csv", "analysis.ipynb"], tmp_path / "kept")
    assert kept.files == ("analysis.ipynb", "outputs/counts.csv")
    assert kept.not_kept == ()
    assert (tmp_path / "kept" / "outputs" / "counts.csv").read_text() == "group,n\na,2\n"


def test_a_symlink_is_never_followed(work, tmp_path):
    secret = tmp_path / "host-secret.txt"
    secret.write_text("HOST-ONLY")
    os.symlink(secret, work / "outputs" / "link.csv")
    kept = keep_outputs(work, ["outputs/link.csv"], tmp_path / "kept")
    assert kept.files == ()
    assert kept.not_kept == ("outputs/link.csv: a symbolic link; never followed",)
    assert not (tmp_path / "kept" / "outputs" / "link.csv").exists()


def test_a_linked_folder_on_the_way_is_never_walked(work, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data.csv").write_text("HOST-ONLY")
    os.symlink(outside, work / "linked")
    kept = keep_outputs(work, ["linked/data.csv"], tmp_path / "kept")
    assert kept.files == ()
    assert kept.not_kept == ("linked/data.csv: linked/ is a symbolic link; never followed",)


def test_a_fifo_is_refused_without_waiting_for_a_writer(work, tmp_path):
    os.mkfifo(work / "outputs" / "pipe.csv")
    result = {}
    thread = threading.Thread(
        target=lambda: result.update(kept=keep_outputs(work, ["outputs/pipe.csv"], tmp_path / "kept"))
    )
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), "keep_outputs blocked opening a fifo"
    assert result["kept"].not_kept == ("outputs/pipe.csv: not a regular file",)


def test_a_restricted_file_is_never_copied_even_when_the_run_rewrote_it(work, tmp_path):
    (work / "data").mkdir()
    (work / "data" / "claims.csv").write_text("patient,diagnosis\n1,x\n")
    kept = keep_outputs(work, ["data/claims.csv", "outputs/counts.csv"], tmp_path / "kept", never={"data/claims.csv"})
    assert kept.files == ("outputs/counts.csv",)
    assert kept.not_kept == ("data/claims.csv: restricted; never copied into a record",)
    assert not (tmp_path / "kept" / "data").exists()


def test_outputs_past_the_limit_are_named_with_their_size_and_the_limit(work, tmp_path):
    (work / "outputs" / "big.bin").write_bytes(b"x" * 3 * 2**20)
    kept = keep_outputs(
        work, ["outputs/big.bin", "outputs/counts.csv", "analysis.ipynb"], tmp_path / "kept", limit=2**21
    )
    assert kept.files == ("analysis.ipynb", "outputs/counts.csv")
    assert kept.not_kept == ("outputs/big.bin: 3.0 MiB would pass the record's limit of 2.0 MiB of replayed outputs",)


def test_a_missing_or_unsafe_path_is_named_not_raised(work, tmp_path):
    kept = keep_outputs(work, ["outputs/gone.csv", "../escape.csv", "/etc/passwd"], tmp_path / "kept")
    assert kept.files == ()
    assert sorted(kept.not_kept) == [
        "../escape.csv: not a package path",
        "/etc/passwd: not a package path",
        "outputs/gone.csv: No such file or directory",
    ]
