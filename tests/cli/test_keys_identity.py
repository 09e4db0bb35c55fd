"""``repropack keys identity`` and ``keys recipient``, run as the console script a user runs."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from repropack.encryption.age import load_identity
from tests.hostile.clikit import assert_refused, repropack

RECIPIENT = re.compile(r"age1[02-9ac-hj-np-z]{58}")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(tmp_path / "config"), "REPROPACK_CACHE_DIR": str(tmp_path / "cache")}


def test_identity_prints_its_recipient_and_writes_a_private_file_beside_the_signing_key(tmp_path, env):
    made = repropack("keys", "identity", env=env)
    signing = repropack("keys", "generate", env=env)

    assert made.returncode == 0, made.stderr
    assert RECIPIENT.fullmatch(made.stdout.strip()), made.stdout  # only the recipient: $(repropack keys identity)
    keys = tmp_path / "config" / "repropack" / "keys"
    assert f"identity {keys / 'repropack.age'}" in made.stderr
    assert stat.S_IMODE(os.stat(keys / "repropack.age").st_mode) == 0o600
    assert load_identity(keys / "repropack.age").recipient == made.stdout.strip()
    assert signing.returncode == 0 and sorted(os.listdir(keys)) == ["repropack.age", "repropack.key", "repropack.pub"]
    secret = (keys / "repropack.age").read_text().splitlines()[-1]
    assert secret.startswith("AGE-SECRET-KEY-1") and secret not in made.stdout + made.stderr


def test_recipient_prints_the_recipient_of_the_default_or_a_named_identity(tmp_path, env):
    default = repropack("keys", "identity", env=env).stdout.strip()
    named = repropack("keys", "identity", "--dir", tmp_path / "team", "--name", "office", env=env).stdout.strip()

    assert repropack("keys", "recipient", env=env).stdout.strip() == default
    shown = repropack("keys", "recipient", tmp_path / "team" / "office.age", env=env)
    assert shown.returncode == 0 and shown.stdout.strip() == named != default


def test_identity_refuses_to_replace_one_without_force(tmp_path, env):
    first = repropack("keys", "identity", "--dir", tmp_path / "keys", env=env)
    before = (tmp_path / "keys" / "repropack.age").read_bytes()
    again = repropack("keys", "identity", "--dir", tmp_path / "keys", env=env)

    assert_refused(
        again,
        f"{tmp_path / 'keys' / 'repropack.age'}: an identity already exists; pass --force to replace it",
    )
    assert again.stdout == ""
    assert (tmp_path / "keys" / "repropack.age").read_bytes() == before
    forced = repropack("keys", "identity", "--dir", tmp_path / "keys", "--force", env=env)
    assert forced.returncode == 0 and forced.stdout.strip() != first.stdout.strip()
    assert os.listdir(tmp_path / "keys") == ["repropack.age"]


def test_identity_refuses_a_name_that_is_a_path(tmp_path, env):
    done = repropack("keys", "identity", "--dir", tmp_path / "keys", "--name", "../evil", env=env)

    assert_refused(done, "invalid identity name '../evil': use a plain file name")
    assert not (tmp_path / "keys").exists() and not (tmp_path / "evil.age").exists()


def test_recipient_refuses_an_identity_readable_by_others(tmp_path, env):
    repropack("keys", "identity", "--dir", tmp_path / "keys", env=env)
    identity = tmp_path / "keys" / "repropack.age"
    identity.chmod(0o644)

    done = repropack("keys", "recipient", identity, env=env)

    assert_refused(done, f"{identity}: the identity is readable by others (mode 644); chmod 600 it")
    assert done.stdout == ""


def test_recipient_without_an_identity_says_how_to_make_one(tmp_path, env):
    done = repropack("keys", "recipient", env=env)

    assert_refused(done, "no age identity yet; make one with `repropack keys identity`")
    assert_refused(repropack("keys", "recipient", tmp_path / "nothing.age", env=env), "cannot read the identity")
