"""``admit`` on real exported packages (folder, zip, restricted, with a DOI, as bags and as an RDM project):
what it admits and says about them, and the intact packages that validation or the policy refuses (exit 1).

Packages are exported once per module with ``--no-execute`` (no kernel) and copied by tests that change them.
The hostile corpus (exit 2) is in ``tests/repository/hostile/``.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from repropack.config import OpeningLimits
from repropack.crate.bagit_bag import write_bag
from repropack.crate.rdm_project import write_rdm_project
from repropack.crate.reader import open_package
from repropack.errors import BadInput, CheckFailed
from repropack.export import export_project
from repropack.repository.admission import admit
from repropack.repository.policy import Policy
from tests.conftest import isolate_user_dirs, make_project
from tests.repository.hostile.corpus import describe, read_metadata, write_metadata, zip_folder

LIMITS = OpeningLimits()
NO_PROFILES = Policy(profiles="off")
METADATA = "ro-crate-metadata.json"


@dataclass(frozen=True)
class Exported:
    folder: Path
    zipped: Path
    restricted: Path
    with_doi: Path


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Exported:
    base = tmp_path_factory.mktemp("admission-packages")
    with pytest.MonkeyPatch.context() as mp:  # the autouse isolation fixture is function-scoped
        isolate_user_dirs(mp, base / "home")
        project = make_project(base / "study")
        export_project(project, base / "pkg", {"execute": False})
        export_project(project, base / "pkg.zip", {"execute": False})
        export_project(project, base / "restricted", {"execute": False, "restrict": ("data/*.csv",)})
        export_project(project, base / "doi", {"execute": False, "doi": "10.1234/study.1"})
    return Exported(base / "pkg", base / "pkg.zip", base / "restricted", base / "doi")


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """Admission's temp folders go here, so a test sees any it left behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(folder))
    return folder


def left_behind(folder: Path) -> list[str]:
    """What admission left in ``folder``: nothing, bar roc-validator's cache of the bundled contexts, which
    ``crate.profiles`` keeps for the whole process (removed at exit) so that later validations are fast."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("repropack-validator-"))


def copied(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(source, target)
    return target


def root_of(metadata: dict) -> dict:
    return next(e for e in metadata["@graph"] if e["@id"] == "./")


def digest_of(lines: list[tuple[str, str]]) -> str:
    return hashlib.sha256("".join(sorted(f"{p}\0{h}\n" for p, h in lines)).encode()).hexdigest()


# --- what is admitted ---------------------------------------------------------------------------------


def test_a_package_folder_is_admitted_in_place_with_true_hashes_and_the_catalog_facts(exported, private_tmp):
    with admit(exported.folder, Policy(), LIMITS) as admitted:
        assert admitted.format == "repropack"
        assert admitted.root == exported.folder
        paths = [f.path for f in admitted.files]
        assert paths == sorted(paths)
        on_disk = sorted(p.relative_to(exported.folder).as_posix() for p in exported.folder.rglob("*") if p.is_file())
        assert paths == on_disk  # every stored file, the metadata included
        for file in admitted.files:
            data = (exported.folder / file.path).read_bytes()
            assert (file.size, file.sha256) == (len(data), hashlib.sha256(data).hexdigest())
        roles = {f.path: f.role for f in admitted.files}
        assert roles[METADATA] == "metadata"
        assert roles["analysis.ipynb"] == "notebook"
        assert roles[".repropack/Dockerfile"] == "support"
        assert admitted.content_digest == digest_of([(f.path, f.sha256) for f in admitted.files])
        assert admitted.metadata_sha256 == hashlib.sha256((exported.folder / METADATA).read_bytes()).hexdigest()
        assert (admitted.source_sha256, admitted.zip_date_time) == (None, None)
        facts = admitted.facts
        assert (facts.title, facts.description, facts.license, facts.doi) == ("Study", "A small study.", "MIT", None)
        assert [a.name for a in facts.authors] == ["Ada Example"]
        assert facts.key == "name:study|https://orcid.org/0000-0002-1825-0097"
        assert facts.date_published is not None and facts.tool_version
        # RECOMMENDED profile issues are findings, one line each, not refusals.
        assert any(f.startswith("RECOMMENDED ") for f in admitted.findings)
        assert all("\n" not in f for f in admitted.findings)
    assert left_behind(private_tmp) == []


def test_the_zip_of_a_package_is_admitted_from_a_temp_copy_with_the_same_content_digest(exported, private_tmp):
    with admit(exported.folder, NO_PROFILES, LIMITS) as from_folder:
        folder_digest, folder_files = from_folder.content_digest, from_folder.files
    with admit(zip_folder(exported.folder, private_tmp.parent / "same.zip"), NO_PROFILES, LIMITS) as admitted:
        assert admitted.content_digest == folder_digest
        assert admitted.files == folder_files
    with admit(exported.zipped, NO_PROFILES, LIMITS) as admitted:
        root = admitted.root
        assert root.is_relative_to(private_tmp)
        assert admitted.content_digest == digest_of([(f.path, f.sha256) for f in admitted.files])
        assert admitted.source_sha256 == hashlib.sha256(exported.zipped.read_bytes()).hexdigest()
        with zipfile.ZipFile(exported.zipped) as archive:
            assert admitted.zip_date_time == archive.infolist()[0].date_time
    assert not root.exists()
    assert left_behind(private_tmp) == []


def test_the_temp_copy_is_removed_when_the_caller_fails_too(exported, private_tmp):
    with pytest.raises(RuntimeError), admit(exported.zipped, NO_PROFILES, LIMITS):
        raise RuntimeError("the importer failed")
    assert left_behind(private_tmp) == []


def test_restricted_files_are_described_without_bytes_and_outside_the_content_digest(exported):
    with admit(exported.restricted, NO_PROFILES, LIMITS) as admitted:
        restricted = [f for f in admitted.files if f.restricted]
        assert [f.path for f in restricted] == ["data/input.csv"]
        assert not (admitted.root / "data" / "input.csv").exists()
        stored = [(f.path, f.sha256) for f in admitted.files if not f.restricted]
        assert admitted.content_digest == digest_of(stored)


def test_the_key_is_the_doi_when_there_is_one_then_the_root_identifier(exported, tmp_path):
    with admit(exported.with_doi, NO_PROFILES, LIMITS) as admitted:
        assert (admitted.facts.doi, admitted.facts.key) == ("10.1234/study.1", "doi:10.1234/study.1")
    package = copied(exported.folder, tmp_path)
    metadata = read_metadata(package)
    root_of(metadata)["identifier"] = "https://example.org/works/42"
    write_metadata(package, metadata)
    with admit(package, NO_PROFILES, LIMITS) as admitted:
        assert admitted.facts.key == "id:https://example.org/works/42"


def test_the_packages_own_wheels_are_not_nested_archives(exported, tmp_path):
    package = copied(exported.folder, tmp_path)
    wheel = io.BytesIO()
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("tool/__init__.py", "")
    describe(package, ".repropack/wheelhouse/tool-1.0-py3-none-any.whl", wheel.getvalue())
    with admit(package, NO_PROFILES, LIMITS) as admitted:
        assert ".repropack/wheelhouse/tool-1.0-py3-none-any.whl" in [f.path for f in admitted.files]


def test_a_policy_that_allows_archives_admits_one(exported, tmp_path):
    package = copied(exported.folder, tmp_path)
    describe(package, "data/table.xlsx", b"PK\x03\x04" + bytes(40))
    with pytest.raises(BadInput, match="data/table.xlsx: a nested zip archive"), admit(package, NO_PROFILES, LIMITS):
        pass
    with admit(package, Policy(profiles="off", allow_archives=True), LIMITS) as admitted:
        assert "data/table.xlsx" in [f.path for f in admitted.files]


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"PK\x05\x06" + bytes(18), "zip"),
        (b"\x1f\x8b\x08\x00", "gzip"),
        (b"BZh91AY&SY", "bzip2"),
        (b"\xfd7zXZ\x00\x00", "xz"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "7z"),
        (b"\x28\xb5\x2f\xfd\x00", "zstd"),
        (b"Rar!\x1a\x07\x00", "rar"),
        (bytes(257) + b"ustar\x0000", "tar"),
    ],
)
def test_nested_archives_are_found_by_their_bytes(exported, tmp_path, head, kind):
    package = copied(exported.folder, tmp_path)
    describe(package, "data/table.csv", head + bytes(16))
    with pytest.raises(BadInput, match=f"data/table.csv: a nested {kind} archive"), admit(package, NO_PROFILES, LIMITS):
        pass


@pytest.mark.parametrize("fmt", ["rocrate", "weko"])
def test_a_bag_of_a_package_is_admitted_as_the_package_inside(exported, tmp_path, fmt):
    bag = write_bag(exported.folder, tmp_path / "bag", layout=fmt, external_identifier=None)
    with admit(exported.folder, NO_PROFILES, LIMITS) as original:
        digest = original.content_digest
    with admit(bag, NO_PROFILES, LIMITS) as admitted:
        assert admitted.format == ("weko" if fmt == "weko" else "bagit")
        assert admitted.root == bag / "data"
        assert admitted.content_digest == digest
        assert admitted.facts.title == "Study"


def test_a_zipped_bag_is_admitted_from_the_folder_it_was_zipped_with(exported, tmp_path):
    holder = tmp_path / "holder"
    write_bag(exported.folder, holder / "study-bag", layout="rocrate", external_identifier=None)
    with admit(zip_folder(holder, tmp_path / "study-bag.zip"), NO_PROFILES, LIMITS) as admitted:
        assert admitted.format == "bagit"
        assert admitted.root.name == "data"
        assert admitted.zip_date_time is None  # only a repropack zip is re-made with its entries' timestamp


def test_a_bag_whose_payload_was_tampered_is_refused(exported, tmp_path):
    bag = write_bag(exported.folder, tmp_path / "bag", layout="rocrate", external_identifier=None)
    (bag / "data" / "notes.md").write_text("# NOTES\n")
    with pytest.raises(BadInput, match="notes.md"), admit(bag, NO_PROFILES, LIMITS):
        pass


def test_an_rdm_project_zip_is_admitted_with_its_facts_and_verified_files(exported, tmp_path):
    with open_package(exported.folder) as opened:
        project_zip = write_rdm_project(opened, tmp_path / ".rdm-project-study.zip")
    with admit(project_zip, NO_PROFILES, LIMITS) as admitted:
        assert admitted.format == "rdm"
        assert admitted.facts.title == "Study"
        assert [a.name for a in admitted.facts.authors] == ["Ada Example"]
        assert admitted.source_sha256 == hashlib.sha256(project_zip.read_bytes()).hexdigest()
        for file in admitted.files:
            data = (admitted.root / file.path).read_bytes()
            assert (file.size, file.sha256) == (len(data), hashlib.sha256(data).hexdigest())
        assert "root/osfstorage/data/input.csv" in [f.path for f in admitted.files]


def test_an_rdm_project_zip_with_an_undescribed_entry_is_refused(exported, tmp_path):
    with open_package(exported.folder) as opened:
        project_zip = write_rdm_project(opened, tmp_path / ".rdm-project-study.zip")
    with zipfile.ZipFile(project_zip, "a") as archive:
        archive.writestr("root/osfstorage/smuggled.txt", "not in the crate")
    with (
        pytest.raises(BadInput, match=r"rdm-project-study.zip: RDM project entry .*smuggled.txt"),
        admit(project_zip, NO_PROFILES, LIMITS),
    ):
        pass


# --- intact, but refused (exit 1) ---------------------------------------------------------------------


def test_a_required_profile_issue_is_refused_unless_profiles_are_off(exported, tmp_path):
    package = copied(exported.folder, tmp_path)
    metadata = read_metadata(package)
    del root_of(metadata)["license"]  # RO-Crate: the root MUST have a license; our schema does not say so
    write_metadata(package, metadata)

    with pytest.raises(CheckFailed) as refused, admit(package, Policy(require_license=False), LIMITS):
        pass
    message = str(refused.value)
    assert f"{METADATA}: REQUIRED ro-crate-1.2_13.3: The Root Data Entity MUST have a `license`" in message
    assert "\n" not in message and refused.value.exit_code == 1

    with admit(package, Policy(profiles="off", require_license=False), LIMITS) as admitted:
        assert admitted.facts.license is None


def test_a_package_without_a_license_is_refused_by_the_default_policy(exported, tmp_path):
    package = copied(exported.folder, tmp_path)
    metadata = read_metadata(package)
    del root_of(metadata)["license"]
    write_metadata(package, metadata)
    with (
        pytest.raises(
            CheckFailed, match=r"copy: ro-crate-metadata.json: names no license; policy.toml require_license$"
        ),
        admit(package, NO_PROFILES, LIMITS),
    ):
        pass


def test_a_package_without_an_author_is_refused_by_the_default_policy(exported, tmp_path):
    package = copied(exported.folder, tmp_path)
    metadata = read_metadata(package)
    del root_of(metadata)["author"]
    write_metadata(package, metadata)
    with (
        pytest.raises(CheckFailed, match="names no author; policy.toml require_author"),
        admit(package, NO_PROFILES, LIMITS),
    ):
        pass
    with admit(package, Policy(profiles="off", require_author=False), LIMITS) as admitted:
        assert admitted.facts.authors == ()
        assert admitted.facts.key == "name:study|"


@pytest.mark.parametrize(
    "allowed",
    [("*.ipynb", "*.csv", "*.toml", "requirements.txt"), ("application/*", "text/csv", "text/plain")],
)
def test_a_file_type_the_policy_does_not_allow_is_refused_naming_the_file(exported, allowed):
    policy = Policy(profiles="off", allowed_file_types=allowed)
    with pytest.raises(CheckFailed) as refused, admit(exported.folder, policy, LIMITS):
        pass
    assert str(refused.value).endswith("notes.md: file type not allowed by policy.toml allowed_file_types")
    assert refused.value.exit_code == 1


def test_repropacks_own_files_are_not_the_file_type_policys_to_refuse(exported):
    policy = Policy(profiles="off", allowed_file_types=("*.ipynb", "*.csv", "*.md", "*.toml", "*.txt"))
    with admit(exported.folder, policy, LIMITS) as admitted:
        assert ".repropack/Dockerfile" in [f.path for f in admitted.files]


def test_a_schema_problem_is_refused_as_invalid_not_hostile(exported, tmp_path):
    package = copied(exported.folder, tmp_path)
    metadata = read_metadata(package)
    del root_of(metadata)["name"]
    write_metadata(package, metadata)
    with pytest.raises(CheckFailed, match=f"{METADATA}: @graph"), admit(package, NO_PROFILES, LIMITS):
        pass


# --- the policy's limits, on folders and zips -----------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        (Policy(max_entries=5), "more than 5 entries (policy.toml max_entries)"),
        (Policy(max_file_bytes=100), "bytes, over policy.toml max_file_bytes"),
        (Policy(max_package_bytes=1000), "files total over 1000 bytes (policy.toml max_package_bytes)"),
    ],
)
def test_a_folder_past_the_policys_limits_is_refused_as_hostile(exported, policy, fragment):
    with (
        pytest.raises(BadInput, match=fragment.replace("(", r"\(").replace(")", r"\)")),
        admit(exported.folder, policy, LIMITS),
    ):
        pass


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        (Policy(max_entries=5), "members, over the limit of 5"),
        (Policy(max_file_bytes=100), "bytes, over the limit of 100"),
        (Policy(max_package_bytes=1000), "bytes in total (the max_package_bytes limit)"),
    ],
)
def test_a_zip_past_the_policys_limits_is_refused_as_hostile(exported, policy, fragment):
    with (
        pytest.raises(BadInput, match=fragment.replace("(", r"\(").replace(")", r"\)")),
        admit(exported.zipped, policy, LIMITS),
    ):
        pass
