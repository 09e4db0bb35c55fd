from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from repropack.errors import BadInput
from repropack.record.keys import (
    default_key_dir,
    default_private_key,
    generate_key_pair,
    key_id,
    load_private_key,
    load_public_key,
)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_generate_writes_private_and_public_pem_files(tmp_path: Path) -> None:
    pair = generate_key_pair(tmp_path / "keys")

    assert pair.private_path == tmp_path / "keys" / "repropack.key"
    assert pair.public_path == tmp_path / "keys" / "repropack.pub"
    assert pair.private_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert pair.public_path.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    private_key = load_private_key(pair.private_path)
    assert raw_public(load_public_key(pair.public_path)) == raw_public(private_key.public_key())
    assert sorted(p.name for p in pair.private_path.parent.iterdir()) == ["repropack.key", "repropack.pub"]


def test_generate_uses_the_given_name(tmp_path: Path) -> None:
    pair = generate_key_pair(tmp_path, name="lab")

    assert (pair.private_path.name, pair.public_path.name) == ("lab.key", "lab.pub")


def test_generate_sets_permissions_even_under_a_restrictive_umask(tmp_path: Path) -> None:
    previous = os.umask(0o077)
    try:
        pair = generate_key_pair(tmp_path / "new" / "keys")
    finally:
        os.umask(previous)

    assert mode_of(pair.private_path) == 0o600
    assert mode_of(pair.public_path) == 0o644
    assert mode_of(tmp_path / "new" / "keys") == 0o700


def test_generate_makes_the_key_folder_0700_under_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0o000)
    try:
        pair = generate_key_pair(tmp_path / "keys")
    finally:
        os.umask(previous)

    assert mode_of(tmp_path / "keys") == 0o700
    assert mode_of(pair.private_path) == 0o600
    assert mode_of(pair.public_path) == 0o644


@pytest.mark.parametrize("existing", ["repropack.key", "repropack.pub"])
def test_generate_refuses_to_overwrite_an_existing_key_file(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).write_bytes(b"keep me")

    with pytest.raises(BadInput) as caught:
        generate_key_pair(tmp_path)

    assert str(tmp_path / existing) in str(caught.value)
    assert "pass --force" in str(caught.value)
    assert (tmp_path / existing).read_bytes() == b"keep me"
    assert [p.name for p in tmp_path.iterdir()] == [existing]


def test_generate_with_force_replaces_the_key(tmp_path: Path) -> None:
    first = generate_key_pair(tmp_path)

    second = generate_key_pair(tmp_path, force=True)

    assert second.key_id != first.key_id
    assert key_id(load_public_key(second.public_path)) == second.key_id
    assert key_id(load_private_key(second.private_path).public_key()) == second.key_id
    assert mode_of(second.private_path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repropack.key", "repropack.pub"]


@pytest.mark.parametrize("name", ["", ".", "..", "a/b"])
def test_generate_refuses_a_name_that_is_not_a_file_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(BadInput, match="invalid key name"):
        generate_key_pair(tmp_path, name=name)


def test_key_id_is_a_prefix_of_the_sha256_of_the_raw_public_key() -> None:
    public_key = Ed25519PrivateKey.generate().public_key()

    expected = "ed25519:" + hashlib.sha256(raw_public(public_key)).hexdigest()[:16]
    assert key_id(public_key) == expected


def test_default_key_dir_is_under_the_user_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))

    assert default_key_dir() == tmp_path / "config" / "repropack" / "keys"


def test_default_private_key_exists_only_after_generating_the_default_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert default_private_key() is None

    pair = generate_key_pair()

    assert pair.private_path == tmp_path / "config" / "repropack" / "keys" / "repropack.key"
    assert default_private_key() == pair.private_path


def test_load_public_key_derives_the_key_from_a_private_key_file(tmp_path: Path) -> None:
    pair = generate_key_pair(tmp_path)

    assert key_id(load_public_key(pair.private_path)) == pair.key_id


def test_load_private_key_refuses_garbage(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.key"
    garbage.write_bytes(b"not a key at all\n")

    with pytest.raises(BadInput, match=f"^{re.escape(str(garbage))}: not an Ed25519 private key$"):
        load_private_key(garbage)


def test_load_private_key_refuses_a_public_key(tmp_path: Path) -> None:
    pair = generate_key_pair(tmp_path)

    with pytest.raises(BadInput, match="not an Ed25519 private key"):
        load_private_key(pair.public_path)


def rsa_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_load_private_key_refuses_an_rsa_key(tmp_path: Path) -> None:
    rsa_file = tmp_path / "rsa.key"
    rsa_file.write_bytes(
        rsa_private_key().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )

    with pytest.raises(BadInput, match=f"^{re.escape(str(rsa_file))}: not an Ed25519 private key$"):
        load_private_key(rsa_file)
    with pytest.raises(BadInput, match="not an Ed25519 public or private key"):
        load_public_key(rsa_file)


def test_load_public_key_refuses_an_rsa_public_key(tmp_path: Path) -> None:
    rsa_file = tmp_path / "rsa.pub"
    rsa_file.write_bytes(
        rsa_private_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    with pytest.raises(BadInput, match="not an Ed25519 public or private key"):
        load_public_key(rsa_file)


def test_load_private_key_refuses_an_encrypted_key(tmp_path: Path) -> None:
    encrypted = tmp_path / "locked.key"
    encrypted.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )

    with pytest.raises(BadInput, match="not an Ed25519 private key"):
        load_private_key(encrypted)


def test_loading_a_missing_file_says_it_cannot_be_read(tmp_path: Path) -> None:
    missing = tmp_path / "absent.key"

    with pytest.raises(BadInput, match=f"^cannot read {re.escape(str(missing))}: "):
        load_private_key(missing)
    with pytest.raises(BadInput, match=f"^cannot read {re.escape(str(missing))}: "):
        load_public_key(missing)
