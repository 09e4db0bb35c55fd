"""The identity file: beside the signing key, 0600 from birth, whole or absent, never silently replaced."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest

from repropack.encryption import identities
from repropack.encryption.age import decrypt_input, encrypt, load_identity
from repropack.encryption.identities import default_identity_path, make_identity, read_identity
from repropack.errors import BadInput, CannotRun
from repropack.record.keys import default_key_dir, generate_key_pair


def test_the_identity_lives_beside_the_signing_key_readable_by_its_owner_only():
    old = os.umask(0o000)  # the most permissive umask: the modes must not depend on it
    try:
        made = make_identity()
    finally:
        os.umask(old)
    assert made.path == default_key_dir() / "repropack.age" == default_identity_path()
    assert generate_key_pair().private_path.parent == made.path.parent
    assert stat.S_IMODE(os.stat(made.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(made.path.parent).st_mode) == 0o700
    assert load_identity(made.path).recipient == made.recipient == read_identity().recipient
    assert made.recipient.startswith("age1")
    assert made.path.read_text().startswith("# created: ")
    assert sorted(os.listdir(made.path.parent)) == ["repropack.age", "repropack.key", "repropack.pub"]


def test_the_identity_decrypts_what_is_encrypted_to_its_recipient(tmp_path):
    made = make_identity(tmp_path / "keys", name="office")
    assert made.path == tmp_path / "keys" / "office.age"
    ciphertext = encrypt(b"secret rows\n", [made.recipient])
    identity = read_identity(made.path)
    sha = hashlib.sha256(b"secret rows\n").hexdigest()
    assert decrypt_input(ciphertext, identity, path="x", recipients=[made.recipient], sha256=sha) == b"secret rows\n"


def test_an_existing_identity_is_not_replaced_without_force(tmp_path):
    first = make_identity(tmp_path)
    before = first.path.read_bytes()
    with pytest.raises(BadInput) as refused:
        make_identity(tmp_path)
    assert str(refused.value) == (
        f"{first.path}: an identity already exists; pass --force to replace it, or --name another"
    )
    assert first.path.read_bytes() == before
    again = make_identity(tmp_path, force=True)
    assert again.recipient != first.recipient and again.path.read_bytes() != before
    assert stat.S_IMODE(os.stat(again.path).st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["repropack.age"]  # no temp file left either way


def test_a_dangling_link_counts_as_an_existing_identity(tmp_path):
    (tmp_path / "repropack.age").symlink_to(tmp_path / "elsewhere.age")
    with pytest.raises(BadInput, match="an identity already exists"):
        make_identity(tmp_path)
    assert not (tmp_path / "elsewhere.age").exists()


def test_an_identity_made_meanwhile_by_another_process_is_not_overwritten(tmp_path, monkeypatch):
    # Fault injection: the other process's file appears after the existence check, before the link.
    rival = tmp_path / "repropack.age"
    real_link = os.link

    def racing_link(source, target):
        rival.write_text("the other process's identity\n")
        return real_link(source, target)

    monkeypatch.setattr(identities.os, "link", racing_link)
    with pytest.raises(BadInput, match="an identity already exists"):
        make_identity(tmp_path)
    assert rival.read_text() == "the other process's identity\n"
    assert sorted(os.listdir(tmp_path)) == ["repropack.age"]


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    def full_disk(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(identities.os, "link", full_disk)
    with pytest.raises(CannotRun) as failed:
        make_identity(tmp_path)
    assert str(failed.value) == f"cannot write the identity in {tmp_path}: No space left on device"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["", ".", "..", "../evil", "a/b", "a\\b"])
def test_a_name_that_is_a_path_is_refused(tmp_path, name):
    with pytest.raises(BadInput, match="invalid identity name"):
        make_identity(tmp_path, name=name)
    assert os.listdir(tmp_path) == []


def test_reading_the_default_identity_before_it_exists_says_how_to_make_one():
    with pytest.raises(BadInput) as refused:
        read_identity()
    assert str(refused.value) == (
        f"{default_identity_path()}: no age identity yet; make one with `repropack keys identity`"
    )


def test_an_identity_made_readable_by_others_is_refused_on_load(tmp_path):
    made = make_identity(tmp_path)
    made.path.chmod(0o644)
    with pytest.raises(BadInput, match="readable by others"):
        read_identity(made.path)
