"""The age wrapper: recipients checked, inputs encrypted to them and decrypted only as the package describes."""

from __future__ import annotations

import hashlib
import os

import pytest

from repropack.encryption.age import (
    decrypt_input,
    encrypt,
    load_identity,
    new_identity,
    parse_recipient,
    recipients_from,
)
from repropack.errors import BadInput

PLAINTEXT = b"id,diagnosis\n1,CANARY-7d2a\n2,asthma\n"
SHA = hashlib.sha256(PLAINTEXT).hexdigest()


def _identity_file(tmp_path, name="me.age", mode=0o600):
    secret, recipient = new_identity()
    path = tmp_path / name
    path.write_text(f"# public key: {recipient}\n{secret}\n")
    path.chmod(mode)
    return path, recipient


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_a_recipient_is_returned_canonical_and_a_bad_one_is_refused_naming_where():
    _, recipient = new_identity()
    assert parse_recipient(f"  {recipient}\n", "here") == recipient
    with pytest.raises(BadInput) as not_age:
        parse_recipient("ssh-ed25519 AAAA", "repropack.toml")
    assert _one_line(not_age) == "repropack.toml: 'ssh-ed25519 AAAA' is not an age recipient (age1...)"
    broken = recipient[:-1] + ("q" if recipient[-1] != "q" else "p")  # the bech32 checksum no longer holds
    with pytest.raises(BadInput) as bad_checksum:
        parse_recipient(broken, "--encrypt-to")
    assert "is not a valid age X25519 recipient" in _one_line(bad_checksum)


def test_recipients_come_sorted_once_each_from_values_and_files(tmp_path):
    (_, first), (_, second) = new_identity(), new_identity()
    listing = tmp_path / "team.txt"
    listing.write_text(f"# the analysts\n{second}\n\n  {first}\n")
    assert recipients_from([first, str(listing)]) == tuple(sorted({first, second}))


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ([], "no recipient given"),
        (["nothing/here.txt"], "neither an age recipient (age1...) nor a file of recipients"),
        (["age1notarecipient"], "is not a valid age X25519 recipient"),
    ],
)
def test_recipients_that_are_not_are_refused(values, says):
    with pytest.raises(BadInput) as refused:
        recipients_from(values)
    assert says in _one_line(refused)


def test_a_recipients_file_with_a_bad_line_is_refused_naming_the_line(tmp_path):
    _, good = new_identity()
    listing = tmp_path / "team.txt"
    listing.write_text(f"{good}\nage1oops\n")
    with pytest.raises(BadInput) as refused:
        recipients_from([str(listing)])
    assert _one_line(refused).startswith(f"{listing}:2: ")


def test_the_right_identity_decrypts_to_the_recorded_bytes(tmp_path):
    path, recipient = _identity_file(tmp_path)
    _, other = new_identity()
    ciphertext = encrypt(PLAINTEXT, [other, recipient])
    assert PLAINTEXT not in ciphertext
    identity = load_identity(path)
    assert identity.recipient == recipient
    assert (
        decrypt_input(ciphertext, identity, path="data/x.csv", recipients=[other, recipient], sha256=SHA) == PLAINTEXT
    )


def test_an_identity_the_package_was_not_encrypted_to_is_refused_before_trying(tmp_path):
    path, _ = _identity_file(tmp_path)
    _, author = new_identity()
    ciphertext = encrypt(PLAINTEXT, [author])
    with pytest.raises(BadInput) as refused:
        decrypt_input(ciphertext, load_identity(path), path="data/x.csv", recipients=[author], sha256=SHA)
    assert _one_line(refused).startswith(f"data/x.csv: encrypted to {author}, not to your identity")


def test_recorded_recipients_that_lie_do_not_decrypt(tmp_path):
    path, recipient = _identity_file(tmp_path)
    _, author = new_identity()
    ciphertext = encrypt(PLAINTEXT, [author])  # the metadata claims the reviewer, the ciphertext says otherwise
    with pytest.raises(BadInput) as refused:
        decrypt_input(ciphertext, load_identity(path), path="data/x.csv", recipients=[recipient], sha256=SHA)
    assert "cannot be decrypted" in _one_line(refused)


@pytest.mark.parametrize("where", ["header", "body", "truncated"])
def test_a_tampered_ciphertext_is_refused(tmp_path, where):
    path, recipient = _identity_file(tmp_path)
    ciphertext = bytearray(encrypt(PLAINTEXT, [recipient]))
    if where == "truncated":
        ciphertext = ciphertext[:-5]
    else:
        at = 40 if where == "header" else len(ciphertext) - 3
        ciphertext[at] ^= 0x01
    with pytest.raises(BadInput) as refused:
        decrypt_input(bytes(ciphertext), load_identity(path), path="data/x.csv", recipients=[recipient], sha256=SHA)
    assert "tampered with" in _one_line(refused)


def test_a_plaintext_that_is_not_the_recorded_one_is_refused(tmp_path):
    path, recipient = _identity_file(tmp_path)
    swapped = encrypt(b"id,diagnosis\n1,something else\n", [recipient])  # a valid ciphertext of other bytes
    with pytest.raises(BadInput) as refused:
        decrypt_input(swapped, load_identity(path), path="data/x.csv", recipients=[recipient], sha256=SHA)
    assert _one_line(refused) == "data/x.csv: the decrypted input does not match the sha256 the package records"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_an_identity_readable_by_others_is_refused(tmp_path, mode):
    path, _ = _identity_file(tmp_path, mode=mode)
    with pytest.raises(BadInput) as refused:
        load_identity(path)
    assert _one_line(refused) == f"{path}: the identity is readable by others (mode {mode:o}); chmod 600 it"


def test_an_identity_that_is_a_link_or_not_an_identity_is_refused_without_echoing_it(tmp_path):
    path, _ = _identity_file(tmp_path)
    link = tmp_path / "link.age"
    link.symlink_to(path)
    with pytest.raises(BadInput, match="must be a regular file"):
        load_identity(link)
    garbage = tmp_path / "garbage.age"
    garbage.write_text("AGE-SECRET-KEY-1NOTREALLYASECRETBUTSTILLNOTTOBESHOWN\n")
    garbage.chmod(0o600)
    with pytest.raises(BadInput) as refused:
        load_identity(garbage)
    assert "NOTREALLY" not in _one_line(refused)
    with pytest.raises(BadInput, match="cannot read the identity"):
        load_identity(tmp_path / "missing.age")


def test_an_identity_never_shows_its_secret(tmp_path):
    path, recipient = _identity_file(tmp_path)
    identity = load_identity(path)
    secret = path.read_text().splitlines()[-1]
    assert secret not in repr(identity) and secret not in str(identity)
    assert recipient in repr(identity)
    assert os.stat(path).st_mode & 0o777 == 0o600
