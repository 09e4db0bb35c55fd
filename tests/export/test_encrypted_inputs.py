"""``export --encrypt-to``: restricted inputs travel age-encrypted, still described by their plaintext.

The packages are exported once per module (a real kernel runs), as the CLI a researcher runs, from a
project whose restricted register holds a canary line among real rows; tests that damage a package copy it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from repropack.crate.check import check_files, check_package
from repropack.crate.reader import open_package
from repropack.encryption.age import decrypt_input, load_identity
from repropack.encryption.identities import make_identity
from repropack.errors import BadInput
from repropack.export import export_project
from repropack.export.encrypted_inputs import encrypt_restricted
from repropack.model import FileRecord, FileRole, layout
from tests.conftest import ANALYSIS_CELLS, isolate_user_dirs, make_project, write_notebook
from tests.hostile.clikit import assert_refused, repropack

REGISTER = "data/register.csv"
CIPHERTEXT = layout.encrypted_copy(REGISTER)
CANARY = "CANARY-4f1c9e" + "83d0b6a25e71c4f9"


@dataclass(frozen=True)
class Exported:
    project: Path
    folder: Path  # exported with --encrypt-to the reviewer, and the project's encrypt_to file (the team)
    zipped: Path  # the same, as a zip
    folder11: Path  # the same as RO-Crate 1.1, exported in process
    reviewer: Path  # the identity file of the --encrypt-to recipient
    team: Path  # the identity of the recipient in the project's recipients file
    outsider: Path  # an identity the package was not encrypted to
    logs: tuple[str, ...]  # stdout and stderr of the CLI exports
    env: dict[str, str]


def _register() -> bytes:
    rows = [
        "id,name,birth_date,diagnosis",
        f"1,{CANARY},1961-04-02,asthma",
        "2,Hanako Yamada,1975-11-30,type 2 diabetes",
        "3,Taro Suzuki,1982-07-14,hypertension",
    ]
    return ("\n".join(rows) + "\n").encode()


def _project(root: Path) -> Path:
    project = make_project(root)
    (project / REGISTER).write_bytes(_register())
    write_notebook(
        project / "analysis.ipynb",
        *ANALYSIS_CELLS,
        f"register = open('{REGISTER}').read().splitlines()\nprint('register rows:', len(register) - 1)",
    )
    return project


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Exported:
    base = tmp_path_factory.mktemp("encrypted")
    env = {"XDG_CONFIG_HOME": str(base / "config"), "REPROPACK_CACHE_DIR": str(base / "cache")}
    with pytest.MonkeyPatch.context() as mp:
        isolate_user_dirs(mp, base / "home")
        reviewer = make_identity(base / "ids", name="reviewer")
        team = make_identity(base / "ids", name="team")
        outsider = make_identity(base / "ids", name="outsider")
        project = _project(base / "study")
        (project / "keys").mkdir()
        (project / "keys" / "team.txt").write_text(f"# the study team\n{team.recipient}\n")
        text = (project / "repropack.toml").read_text()  # top-level keys must come before its tables
        (project / "repropack.toml").write_text(f'restrict = ["{REGISTER}"]\nencrypt_to = ["keys/team.txt"]\n{text}')
        logs = []
        for out in (base / "pkg", base / "pkg.zip"):
            done = repropack("export", project, "-o", out, "--encrypt-to", reviewer.recipient, env=env)
            assert done.returncode == 0, done.stderr
            logs += [done.stdout, done.stderr]
        export_project(project, base / "pkg11", {"crate_version": "1.1", "encrypt_to": (reviewer.recipient,)})
    return Exported(
        project,
        base / "pkg",
        base / "pkg.zip",
        base / "pkg11",
        reviewer.path,
        team.path,
        outsider.path,
        tuple(logs),
        env,
    )


def _record(package: Path, path: str = REGISTER) -> FileRecord:
    with open_package(package) as opened:
        return next(f for f in opened.package.files if f.path == path)


def _ciphertext(package: Path) -> bytes:
    if package.is_dir():
        return (package / CIPHERTEXT).read_bytes()
    with zipfile.ZipFile(package) as zf:
        return zf.read(CIPHERTEXT)


def _file_problems(package: Path) -> list[tuple[str, str]]:
    """What ``check`` says of the package's files and layout (without the validator: seconds each)."""
    with open_package(package) as opened:
        return [(p.kind, p.message) for p in check_files(opened)[0]]


def _every_byte(package: Path) -> list[bytes]:
    """Every file of a folder; for a zip its raw bytes and each member's decompressed bytes."""
    if package.is_dir():
        return [p.read_bytes() for p in package.rglob("*") if p.is_file()]
    with zipfile.ZipFile(package) as zf:
        return [package.read_bytes(), *(zf.read(name) for name in zf.namelist())]


# --- the canary -------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("form", ["folder", "zipped", "folder11"])
def test_the_canary_appears_nowhere_in_the_package(exported, form):
    package = getattr(exported, form)
    blobs = _every_byte(package)
    assert len(blobs) >= 9
    for needle in (CANARY.encode(), b"Hanako Yamada", b"1975-11-30"):
        assert not any(needle in blob for blob in blobs), needle
    if package.is_dir():
        assert not (package / REGISTER).exists()


@pytest.mark.slow
def test_the_canary_appears_in_no_output_of_the_export(exported):
    assert exported.logs and not any(CANARY in log or "Hanako" in log for log in exported.logs)


# --- what the package says ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("form", ["folder", "zipped", "folder11"])
def test_the_restricted_input_keeps_its_plaintext_hash_and_names_its_ciphertext(exported, form):
    package = getattr(exported, form)
    record = _record(package)
    plaintext = _register()
    assert (record.sha256, record.size, record.restricted) == (
        hashlib.sha256(plaintext).hexdigest(),
        len(plaintext),
        True,
    )
    assert record.role is FileRole.INPUT
    assert record.encrypted_copy == CIPHERTEXT == ".repropack/encrypted/data/register.csv.age"
    # --encrypt-to (or encrypt_to in process) adds the reviewer to the team of the project's recipients file.
    assert record.recipients == tuple(sorted(load_identity(p).recipient for p in (exported.reviewer, exported.team)))
    support = _record(package, CIPHERTEXT)
    ciphertext = _ciphertext(package)
    assert (support.role, support.restricted, support.encrypted_copy) == (FileRole.SUPPORT, False, None)
    assert (support.sha256, support.size) == (hashlib.sha256(ciphertext).hexdigest(), len(ciphertext))
    assert support.encoding_format == "application/x-age-encryption"


@pytest.mark.slow
def test_settings_record_the_recipients_themselves_not_the_file_that_named_them(exported):
    settings = json.loads((exported.folder / layout.SETTINGS).read_text())
    recipients = sorted(load_identity(p).recipient for p in (exported.reviewer, exported.team))
    assert settings["encrypt_to"]["value"] == recipients
    assert "team.txt" not in json.dumps(settings["encrypt_to"])


@pytest.mark.slow
@pytest.mark.parametrize("form", ["folder", "zipped", "folder11"])
def test_the_encrypted_package_passes_check_and_the_validator_offline(exported, form):
    report = check_package(getattr(exported, form))
    # Profile issues: none REQUIRED, and RECOMMENDED only as advice for facts nobody gave (crate.check).
    assert report.problems == []
    assert not [a for a in report.advice if "REQUIRED" in a.message]


# --- decrypting ---------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("form", "identity"), [("folder", "reviewer"), ("zipped", "team"), ("folder11", "reviewer")])
def test_each_recipient_decrypts_the_recorded_bytes(exported, form, identity):
    package = getattr(exported, form)
    record = _record(package)
    plaintext = decrypt_input(
        _ciphertext(package),
        load_identity(getattr(exported, identity)),
        path=record.path,
        recipients=record.recipients,
        sha256=record.sha256,
    )
    assert plaintext == _register() and hashlib.sha256(plaintext).hexdigest() == record.sha256


@pytest.mark.slow
def test_another_identity_is_refused_in_one_line(exported):
    record = _record(exported.zipped)
    with pytest.raises(BadInput) as refused:
        decrypt_input(
            _ciphertext(exported.zipped),
            load_identity(exported.outsider),
            path=record.path,
            recipients=record.recipients,
            sha256=record.sha256,
        )
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"{REGISTER}: encrypted to ")
    assert "not to your identity" in message and CANARY not in message


@pytest.mark.slow
def test_a_tampered_ciphertext_is_refused_by_decryption_and_by_check(exported, tmp_path):
    package = tmp_path / "pkg"
    shutil.copytree(exported.folder, package)
    data = bytearray((package / CIPHERTEXT).read_bytes())
    data[-10] ^= 0x01
    (package / CIPHERTEXT).write_bytes(bytes(data))
    record = _record(package)
    with pytest.raises(BadInput, match="tampered with"):
        decrypt_input(
            bytes(data),
            load_identity(exported.reviewer),
            path=REGISTER,
            recipients=record.recipients,
            sha256=record.sha256,
        )
    messages = _file_problems(package)
    assert [kind for kind, message in messages if message.startswith(f"{CIPHERTEXT}: sha256 ")] == ["hash"]


# --- a package that lies about its ciphertext -----------------------------------------------------------


def _edit_entity(package: Path, entity_id: str, **changes) -> None:
    path = package / layout.METADATA
    meta = json.loads(path.read_text())
    for entity in meta["@graph"]:
        if entity["@id"] == entity_id:
            entity.update(changes)
    path.write_text(json.dumps(meta, indent=2))


@pytest.mark.slow
@pytest.mark.parametrize(
    "copy", ["data/input.csv", ".repropack/settings.json", ".repropack/encrypted/../../etc/passwd", "/etc/passwd"]
)
def test_an_encrypted_copy_outside_the_encrypted_folder_is_a_layout_problem(exported, tmp_path, copy):
    package = tmp_path / "pkg"
    shutil.copytree(exported.folder, package)
    _edit_entity(package, layout.entity_id(REGISTER, True), encryptedCopy={"@id": copy})
    with open_package(package) as opened:
        assert REGISTER not in {f.path for f in opened.package.files}  # never handed to a replay
    problems = _file_problems(package)
    assert ("layout", f"{REGISTER}: its encrypted copy {copy!r} is not a file of .repropack/encrypted/") in problems


@pytest.mark.slow
def test_an_encrypted_copy_naming_a_missing_file_is_a_layout_problem(exported, tmp_path):
    package = tmp_path / "pkg"
    shutil.copytree(exported.folder, package)
    (package / CIPHERTEXT).unlink()
    problems = _file_problems(package)
    assert ("layout", f"{REGISTER}: its encrypted copy {CIPHERTEXT} is not a described file of the package") in problems
    assert ("hash", f"{CIPHERTEXT}: described but missing from the package") in problems


@pytest.mark.slow
def test_an_encrypted_copy_on_a_file_that_is_not_restricted_is_a_layout_problem(exported, tmp_path):
    package = tmp_path / "pkg"
    shutil.copytree(exported.folder, package)
    _edit_entity(package, "data/input.csv", encryptedCopy={"@id": CIPHERTEXT})
    problems = _file_problems(package)
    assert ("layout", "data/input.csv: has an encryptedCopy but is not restricted") in problems


# --- inspect ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_inspect_shows_that_the_restricted_input_travels_encrypted_and_to_whom(exported):
    recipients = sorted(load_identity(p).recipient for p in (exported.reviewer, exported.team))
    shown = repropack("inspect", exported.zipped, env={**exported.env, "COLUMNS": "400"})
    as_json = repropack("inspect", exported.zipped, "--json", env=exported.env)

    assert shown.returncode == 0, shown.stderr
    assert f"{REGISTER} travels encrypted in {CIPHERTEXT} to: {', '.join(recipients)}" in shown.stdout
    (entry,) = json.loads(as_json.stdout)["restricted"]
    assert (entry["path"], entry["encrypted_copy"], entry["recipients"]) == (REGISTER, CIPHERTEXT, recipients)


# --- nothing to encrypt, bad recipients ----------------------------------------------------------------


@pytest.mark.slow
def test_encrypt_to_without_a_restricted_input_warns_and_encrypts_nothing(project, tmp_path):
    recipient = make_identity(tmp_path / "ids").recipient
    result = export_project(project, tmp_path / "pkg", {"encrypt_to": (recipient,)})
    assert any("no file is restricted" in w and "nothing was encrypted" in w for w in result.warnings)
    assert not (tmp_path / "pkg" / layout.ENCRYPTED).exists()
    assert not [f for f in result.package.files if f.encrypted_copy or f.path.startswith(layout.ENCRYPTED)]


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("age1notarecipient", "'age1notarecipient' is not a valid age X25519 recipient"),
        ("no/such/recipients.txt", "--encrypt-to no/such/recipients.txt: neither an age recipient"),
    ],
)
def test_an_invalid_recipient_is_refused_before_anything_runs(tmp_path, given, says):
    project = _project(tmp_path / "study")
    out = tmp_path / "pkg.zip"
    done = repropack("export", project, "-o", out, "--restrict", REGISTER, "--encrypt-to", given, cwd=tmp_path)

    assert_refused(done, says)
    assert not out.exists() and sorted(os.listdir(tmp_path)) == ["study"]
    assert CANARY not in done.stdout + done.stderr


def test_an_invalid_recipient_in_the_project_config_is_refused(tmp_path):
    project = _project(tmp_path / "study")
    text = (project / "repropack.toml").read_text()
    (project / "repropack.toml").write_text(f'encrypt_to = ["keys/missing.txt"]\n{text}')
    with pytest.raises(BadInput) as refused:
        export_project(project, tmp_path / "pkg", {"restrict": (REGISTER,)})
    assert f"{project / 'keys/missing.txt'}: neither an age recipient" in str(refused.value)
    assert not (tmp_path / "pkg").exists()


# --- the plaintext encrypted is the one described ---------------------------------------------------


def _restricted_record(data: bytes) -> FileRecord:
    return FileRecord(REGISTER, hashlib.sha256(data).hexdigest(), len(data), "text/csv", FileRole.INPUT, True, "held")


def test_a_restricted_input_changed_since_it_was_hashed_is_refused(tmp_path):
    recipient = make_identity(tmp_path / "ids").recipient
    (tmp_path / "data").mkdir()
    record = _restricted_record(_register())
    (tmp_path / REGISTER).write_bytes(_register().replace(b"asthma", b"asthmb"))  # same size, other bytes
    with pytest.raises(BadInput) as changed:
        encrypt_restricted(tmp_path, [record], [recipient])
    assert str(changed.value) == f"{REGISTER}: the restricted input changed while the export ran; nothing was written"
    (tmp_path / REGISTER).write_bytes(_register() + b"4,late,2000-01-01,flu\n")  # grown
    with pytest.raises(BadInput, match="cannot encrypt the restricted input"):
        encrypt_restricted(tmp_path, [record], [recipient])


def test_a_restricted_input_replaced_by_a_link_is_refused(tmp_path):
    recipient = make_identity(tmp_path / "ids").recipient
    (tmp_path / "data").mkdir()
    (tmp_path / "elsewhere.csv").write_bytes(_register())
    (tmp_path / REGISTER).symlink_to(tmp_path / "elsewhere.csv")
    with pytest.raises(BadInput, match="a symlink, not a regular file"):
        encrypt_restricted(tmp_path, [_restricted_record(_register())], [recipient])


def test_without_recipients_nothing_changes(tmp_path):
    records = [_restricted_record(_register())]
    encrypted = encrypt_restricted(tmp_path, records, ())  # the file is not even read
    assert (encrypted.records, encrypted.ciphertexts, encrypted.notes) == (tuple(records), {}, ())
