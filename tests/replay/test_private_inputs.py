"""Encrypted restricted inputs at replay (replay/private_inputs.py): decrypted in memory with the reviewer's identity,
each wrong case one line (exit 2) before anything is built, never kept, and redacted like supplied plaintext.

The unit tests write the ciphertext themselves; the end-to-end cases export with the real ``--encrypt-to`` and
replay on the local backend (one virtualenv for the module)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from repropack.encryption.age import encrypt, new_identity
from repropack.errors import BadInput
from repropack.fs.restricted import RestrictedIndex
from repropack.model import FileRecord, FileRole, layout
from repropack.replay.keep_work import keep_work_dir
from repropack.replay.private_inputs import decrypt_private_inputs
from repropack.replay.redact import supplied_plaintext
from tests.conftest import isolate_user_dirs, make_project
from tests.hostile.clikit import assert_refused, repropack

SECRET = b"id,name,group\n1,Canary-7f3a9 Person,a\n2,Canary-8e2b1 Person,b\n3,Canary-1c4d2 Person,a\n"
PATH = "data/input.csv"


def _identity(folder: Path, name: str = "me.age") -> tuple[Path, str]:
    secret, recipient = new_identity()
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / name
    file.write_text(f"# test identity\n{secret}\n")
    file.chmod(0o600)
    return file, recipient


def _record(recipients: tuple[str, ...], data: bytes = SECRET, copy: str | None = None) -> FileRecord:
    return FileRecord(
        PATH,
        hashlib.sha256(data).hexdigest(),
        len(data),
        "text/csv",
        FileRole.INPUT,
        restricted=True,
        access_note="ask the data office",
        encrypted_copy=copy or layout.encrypted_copy(PATH),
        recipients=recipients,
    )


def _package(root: Path, ciphertext: bytes) -> Path:
    target = root / layout.encrypted_copy(PATH)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(ciphertext)
    return root


def test_the_right_identity_decrypts_in_memory(tmp_path: Path) -> None:
    key, me = _identity(tmp_path / "keys")
    root = _package(tmp_path / "pkg", encrypt(SECRET, [me]))
    private = decrypt_private_inputs(root, [_record((me,))], {}, None, key)
    assert private.plaintext == {PATH: SECRET}
    assert private.missing == () and private.as_files == ()
    assert "Canary" not in repr(private)


def test_without_an_identity_the_input_is_missing_and_the_line_says_identity(tmp_path: Path) -> None:
    _, me = _identity(tmp_path / "keys")
    root = _package(tmp_path / "pkg", encrypt(SECRET, [me]))
    private = decrypt_private_inputs(root, [_record((me,))], {}, None, None)
    assert private.plaintext == {}
    assert private.missing == (
        f"{PATH} is in the package encrypted to {me} (pass --identity FILE, an age identity it was encrypted "
        f"to, or --input {PATH}=FILE); access: ask the data office",
    )


def test_a_supplied_file_wins_and_the_identity_is_not_even_read(tmp_path: Path) -> None:
    _, me = _identity(tmp_path / "keys")
    root = _package(tmp_path / "pkg", encrypt(SECRET, [me]))
    supplied = tmp_path / "inputs" / PATH
    supplied.parent.mkdir(parents=True)
    supplied.write_bytes(SECRET)
    record = _record((me,))
    for inputs, inputs_dir in (({PATH: supplied}, None), ({}, tmp_path / "inputs")):
        private = decrypt_private_inputs(root, [record], inputs, inputs_dir, tmp_path / "no-such-identity")
        assert private.plaintext == {} and private.missing == () and private.as_files == (record,)


def test_an_unencrypted_restricted_input_is_left_to_be_supplied(tmp_path: Path) -> None:
    plain = FileRecord(PATH, "0" * 64, 3, "text/csv", FileRole.INPUT, restricted=True)
    private = decrypt_private_inputs(tmp_path, [plain], {}, None, tmp_path / "no-such-identity")
    assert private.as_files == (plain,) and private.plaintext == {} and private.missing == ()


@pytest.mark.parametrize("case", ["not-to-me", "other-key", "tampered", "hash", "outside", "link", "huge", "absent"])
def test_each_wrong_case_is_one_bad_input_line(tmp_path: Path, case: str) -> None:
    key, me = _identity(tmp_path / "keys")
    _, other = _identity(tmp_path / "keys", "other.age")
    ciphertext = encrypt(SECRET, [me])
    record = _record((me,))
    if case == "not-to-me":
        ciphertext, record = encrypt(SECRET, [other]), _record((other,))
        expected = f"{PATH}: encrypted to {other}, not to your identity {me}"
    elif case == "other-key":  # the recorded recipients lie: the ciphertext is for someone else
        ciphertext = encrypt(SECRET, [other])
        expected = f"{PATH}: the encrypted copy cannot be decrypted with {key}"
    elif case == "tampered":
        ciphertext = ciphertext[:-20] + bytes(b ^ 1 for b in ciphertext[-20:])
        expected = f"{PATH}: the encrypted copy cannot be decrypted with {key}"
    elif case == "hash":
        ciphertext = encrypt(SECRET.replace(b"7f3a9", b"00000"), [me])
        expected = f"{PATH}: the decrypted input does not match the sha256 the package records"
    elif case == "outside":
        record = _record((me,), copy="data/input.csv.age")
        expected = f"{PATH}: its encrypted copy 'data/input.csv.age' is not in the package's {layout.ENCRYPTED}/"
    elif case == "huge":
        ciphertext = ciphertext + b"\0" * (2 * 2**20)
        expected = f"{PATH}: its encrypted copy {layout.encrypted_copy(PATH)} is larger than"
    else:
        expected = f"{PATH}: its encrypted copy {layout.encrypted_copy(PATH)} cannot be read"
    root = _package(tmp_path / "pkg", ciphertext)
    if case == "link":
        target = root / layout.encrypted_copy(PATH)
        (root / "elsewhere.age").write_bytes(ciphertext)
        target.unlink()
        target.symlink_to(root / "elsewhere.age")
    if case == "absent":
        (root / layout.encrypted_copy(PATH)).unlink()
    with pytest.raises(BadInput) as refused:
        decrypt_private_inputs(root, [record], {}, None, key)
    message = str(refused.value)
    assert "\n" not in message and "Canary" not in message
    if case != "link":
        assert message.startswith(expected), message


def test_an_identity_others_can_read_is_refused(tmp_path: Path) -> None:
    key, me = _identity(tmp_path / "keys")
    key.chmod(0o644)
    root = _package(tmp_path / "pkg", encrypt(SECRET, [me]))
    with pytest.raises(BadInput, match="readable by others"):
        decrypt_private_inputs(root, [_record((me,))], {}, None, key)


def test_a_decrypted_input_is_never_kept_even_with_keep_restricted(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    (work / PATH).write_bytes(SECRET)  # as a hostile notebook could leave it behind under its own name
    kept = keep_work_dir(work, restricted={PATH}, keep_restricted=True, private={PATH})
    try:
        assert not (kept.work / PATH).exists()
        assert f"{PATH}: an input decrypted from the package; never kept" in kept.left_out
    finally:
        import shutil

        shutil.rmtree(kept.folder)


def test_decrypted_plaintext_is_sought_and_redacted_like_a_supplied_file(tmp_path: Path) -> None:
    found = supplied_plaintext([_record(("age1x",))], {}, None, {PATH: SECRET})
    assert found == {PATH: SECRET}
    index = RestrictedIndex.of(found)
    text = "cell error: KeyError: '1,Canary-7f3a9 Person,a'"
    assert "Canary" not in index.redact(text)
    assert index.same_bytes(hashlib.sha256(SECRET).hexdigest()) is not None
    assert index.find_bytes(b"xx 2,Canary-8e2b1 Person,b yy") is not None


# --- end to end: the real export --encrypt-to, replayed on the local backend --------------------------------


@pytest.fixture(scope="module")
def encrypted_package(tmp_path_factory):
    """A project whose data/input.csv is restricted and exported encrypted to one identity; a cache shared by the
    module's local replays; the identity and a stranger's."""
    base = tmp_path_factory.mktemp("encrypted-replay")
    with pytest.MonkeyPatch.context() as mp:
        isolate_user_dirs(mp, base / "home")
        project = make_project(base / "study")
        (project / PATH).write_bytes(SECRET)
        key, me = _identity(base / "keys")
        stranger, _ = _identity(base / "keys", "stranger.age")
        done = repropack(
            "export", project, "-o", base / "pkg", "--restrict", PATH, "--encrypt-to", me,
            env={"XDG_CONFIG_HOME": str(base / "home" / "config"), "REPROPACK_CACHE_DIR": str(base / "cache")},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    return base / "pkg", base / "cache", key, stranger


def _replay(package: Path, cache: Path, record: Path, *args: str | Path):
    return repropack(
        "replay", package, "--backend", "local", "--record", record, *args,
        env={"REPROPACK_CACHE_DIR": str(cache)},
    )  # fmt: skip


def test_the_package_carries_no_plaintext(encrypted_package) -> None:
    package, *_ = encrypted_package
    assert not (package / PATH).exists()
    assert (package / layout.encrypted_copy(PATH)).is_file()
    for file in package.rglob("*"):
        if file.is_file():
            assert b"Canary" not in file.read_bytes(), file


@pytest.mark.slow
def test_replay_with_the_right_identity_reproduces(encrypted_package, tmp_path: Path) -> None:
    package, cache, key, _ = encrypted_package
    done = _replay(package, cache, tmp_path / "record", "--identity", key)
    assert done.returncode == 0, done.stderr
    assert "Canary" not in done.stdout + done.stderr
    for file in (tmp_path / "record").rglob("*"):
        if file.is_file():
            assert b"Canary" not in file.read_bytes(), file


@pytest.mark.slow
def test_replay_without_an_identity_asks_for_it(encrypted_package, tmp_path: Path) -> None:
    package, cache, *_ = encrypted_package
    done = _replay(package, cache, tmp_path / "record", "--json")
    assert done.returncode == 3, done.stderr
    assert "--identity FILE" in done.stdout


@pytest.mark.parametrize("case", ["stranger", "tampered", "unreadable"])
def test_replay_with_a_wrong_identity_or_package_is_refused_before_anything(
    encrypted_package, tmp_path: Path, case: str
) -> None:
    package, cache, key, stranger = encrypted_package
    if case == "tampered":
        import shutil

        copy = tmp_path / "pkg"
        shutil.copytree(package, copy)
        ciphertext = copy / layout.encrypted_copy(PATH)
        data = bytearray(ciphertext.read_bytes())
        data[-5] ^= 1
        ciphertext.write_bytes(bytes(data))
        package = copy
    if case == "unreadable":
        os.chmod(key, 0o644)
    try:
        done = _replay(package, cache, tmp_path / "record", "--identity", stranger if case == "stranger" else key)
    finally:
        os.chmod(key, 0o600)
    fragment = {"stranger": "not to your identity", "tampered": "integrity", "unreadable": "readable by others"}
    assert_refused(done, fragment[case])
    assert not (tmp_path / "record").exists()


def test_docker_refuses_an_encrypted_input_at_the_top_level_before_building(docker_engine, tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        isolate_user_dirs(mp, tmp_path / "home")
        project = make_project(tmp_path / "study")
        (project / "register.csv").write_bytes(SECRET)
        key, me = _identity(tmp_path / "keys")
        env = {"XDG_CONFIG_HOME": str(tmp_path / "home" / "config"), "REPROPACK_CACHE_DIR": str(tmp_path / "cache")}
        exported = repropack(
            "export", project, "-o", tmp_path / "pkg", "--restrict", "register.csv", "--encrypt-to", me, env=env
        )
        assert exported.returncode == 0, exported.stderr
        images = {image.id for image in docker_engine.images.list()}
        done = repropack("replay", tmp_path / "pkg", "--identity", key, "--record", tmp_path / "record", env=env)
    assert_refused(done, "register.csv: an encrypted input at the top of the package")
    assert not (tmp_path / "record").exists()
    assert {image.id for image in docker_engine.images.list()} == images  # nothing was built first
