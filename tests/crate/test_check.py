"""``repropack check`` on real exported packages, and on packages damaged on purpose.

Exporting runs a real kernel, so each package is exported once per module and
copied (``shutil.copytree``) into ``tmp_path`` by every test that changes it.
roc-validator takes seconds per crate, so the exact issue counts of the fresh
packages are measured once per module too (``measured``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from repropack.crate import profiles
from repropack.crate.check import check_files, check_package, check_schema
from repropack.crate.reader import open_package
from repropack.crate.versions import crate_version_of
from repropack.errors import BadInput
from repropack.export import export_project
from tests.conftest import isolate_user_dirs, make_project

METADATA = "ro-crate-metadata.json"
RUN_ID = "#run-1-analysis-ipynb"
WORKFLOW_RUN_CONTEXT = "https://w3id.org/ro/terms/workflow-run/context"
CLI = Path(sys.executable).parent / "repropack"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "claims-analysis"


# --- shared packages ---------------------------------------------------------------------


@dataclass(frozen=True)
class Exported:
    project: Path
    folder: Path  # exported with {} (RO-Crate 1.2, the default)
    zipped: Path  # exported with {}
    restricted: Path  # exported with data/*.csv restricted
    folder11: Path  # exported with {"crate_version": "1.1"}
    example: Path  # examples/claims-analysis exported with {} (a restricted register, git provenance)
    example11: Path  # the same with {"crate_version": "1.1"}


def export_as_1_1(project: Path, out: Path, mp: pytest.MonkeyPatch) -> None:
    """Export with crate_version 1.1."""
    export_project(project, out, {"crate_version": "1.1"})


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Exported:
    base = tmp_path_factory.mktemp("check-packages")
    with pytest.MonkeyPatch.context() as mp:  # the autouse isolation fixture is function-scoped
        isolate_user_dirs(mp, base / "home")  # no user config at all
        project = make_project(base / "study")
        example = base / "claims-analysis"
        shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns("outputs"))
        out = base / "out"
        out.mkdir()
        export_project(project, out / "pkg", {})
        export_project(project, out / "pkg.zip", {})
        export_project(project, out / "restricted", {"restrict": ("data/*.csv",)})
        export_as_1_1(project, out / "pkg11", mp)
        export_project(example, out / "example", {})
        export_as_1_1(example, out / "example11", mp)
    return Exported(
        project, out / "pkg", out / "pkg.zip", out / "restricted", out / "pkg11", out / "example", out / "example11"
    )


def _copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def _read_metadata(package: Path) -> dict:
    return json.loads((package / METADATA).read_text(encoding="utf-8"))


def _write_metadata(package: Path, metadata: dict) -> None:
    (package / METADATA).write_text(json.dumps(metadata, indent=2), encoding="utf-8")


def _entity(metadata: dict, entity_id: str) -> dict:
    return next(e for e in metadata["@graph"] if e["@id"] == entity_id)


def _edit_metadata(package: Path, edit: Callable[[dict], None]) -> dict:
    metadata = _read_metadata(package)
    edit(metadata)
    _write_metadata(package, metadata)
    return metadata


def _file_entities(package: Path) -> list[dict]:
    return [e for e in _read_metadata(package)["@graph"] if e["@type"] == "File"]


def _file_problems(package: Path):
    with open_package(package) as opened:
        return check_files(opened)


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- intact packages ----------------------------------------------------------------------


def test_fresh_folder_package_is_valid_and_every_file_is_checked(exported):
    before = _tree_bytes(exported.folder)
    report = check_package(exported.folder)
    assert report.problems == []
    assert report.valid
    payload = [p for p in before if p != METADATA]
    assert report.files_checked == len(payload) == len(_file_entities(exported.folder))
    assert _tree_bytes(exported.folder) == before  # checking changes nothing


def test_fresh_zip_package_is_valid_and_every_file_is_checked(exported):
    report = check_package(exported.zipped)
    assert report.problems == []
    with zipfile.ZipFile(exported.zipped) as zf:
        entries = [n for n in zf.namelist() if n != METADATA]
    assert report.files_checked == len(entries) >= 8


def test_restricted_files_are_described_but_not_counted(exported):
    report = check_package(exported.restricted)
    assert report.problems == []
    files = _file_entities(exported.restricted)
    restricted = [e for e in files if e.get("restricted")]
    assert [e["@id"] for e in restricted] == ["#restricted/data/input.csv"]
    assert report.files_checked == len(files) - 1


# --- damaged files -----------------------------------------------------------------------


def test_flipped_byte_in_an_output_is_a_hash_problem_naming_it(exported, tmp_path):
    pkg = _copy(exported.folder, tmp_path / "pkg")
    target = pkg / "outputs" / "counts.csv"
    data = bytearray(target.read_bytes())
    data[0] ^= 0x01
    target.write_bytes(bytes(data))
    report = check_package(pkg)
    assert not report.valid
    assert [p.kind for p in report.problems] == ["hash"]
    assert report.problems[0].message.startswith("outputs/counts.csv: sha256 ")
    assert report.as_dict()["valid"] is False


def test_truncated_file_is_a_size_problem(exported, tmp_path):
    pkg = _copy(exported.folder, tmp_path / "pkg")
    target = pkg / "data" / "input.csv"
    recorded = target.stat().st_size
    target.write_bytes(target.read_bytes()[:-4])
    problems, _ = _file_problems(pkg)
    assert [(p.kind, p.message) for p in problems] == [
        ("hash", f"data/input.csv: size {recorded - 4} differs from recorded {recorded}")
    ]


def test_deleted_described_file_is_missing(exported, tmp_path):
    pkg = _copy(exported.folder, tmp_path / "pkg")
    (pkg / "notes.md").unlink()
    problems, checked = _file_problems(pkg)
    assert [(p.kind, p.message) for p in problems] == [("hash", "notes.md: described but missing from the package")]
    assert checked == len(_file_entities(pkg)) - 1


def test_extra_undescribed_file_is_a_layout_problem(exported, tmp_path):
    pkg = _copy(exported.folder, tmp_path / "pkg")
    (pkg / "outputs" / "smuggled.bin").write_bytes(b"\x00extra")
    problems, _ = _file_problems(pkg)
    assert [(p.kind, p.message) for p in problems] == [
        ("layout", "outputs/smuggled.bin: file in the package is not described by its metadata")
    ]


def test_restricted_bytes_planted_back_are_a_layout_problem(exported, tmp_path):
    pkg = _copy(exported.restricted, tmp_path / "pkg")
    assert not (pkg / "data" / "input.csv").exists()
    (pkg / "data").mkdir(exist_ok=True)
    shutil.copyfile(exported.project / "data" / "input.csv", pkg / "data" / "input.csv")
    problems, _ = _file_problems(pkg)
    assert [(p.kind, p.message) for p in problems] == [
        ("layout", "data/input.csv: restricted file is present in the package")
    ]


# --- hostile metadata ----------------------------------------------------------------------


_opened_paths: list[str] | None = None


def _record_opens(event: str, args: tuple) -> None:
    if _opened_paths is not None and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _opened_paths.append(os.path.realpath(os.fsdecode(args[0])))


sys.addaudithook(_record_opens)  # audit hooks cannot be removed; it records only inside _recording_opens


def _recording_opens(action: Callable[[], object]) -> tuple[object, list[str]]:
    global _opened_paths
    _opened_paths = []
    try:
        result = action()
        return result, _opened_paths
    finally:
        _opened_paths = None


def test_forged_file_id_escaping_the_package_is_reported_and_not_read(exported, tmp_path):
    forged = "../../etc/passwd"
    pkg = _copy(exported.folder, tmp_path / "a" / "b" / "pkg")
    # Plant, where the forged id points, a file whose bytes match the record: reading it would pass.
    planted = (pkg / forged).resolve()
    assert planted.is_relative_to(tmp_path)
    planted.parent.mkdir(parents=True)
    planted.write_bytes((pkg / "notes.md").read_bytes())
    (pkg / "notes.md").unlink()
    _edit_metadata(pkg, lambda m: _entity(m, "notes.md").update({"@id": forged}))
    baseline = len(_file_entities(pkg))

    report, opened = _recording_opens(lambda: check_package(pkg))

    assert f"layout: {forged}: described path escapes the package" in [
        f"{p.kind}: {p.message}" for p in report.problems
    ]
    assert opened, "the audit hook saw no file opened at all"
    assert str(planted) not in opened
    assert report.files_checked == baseline - 1
    assert not [p for p in report.problems if p.kind == "hash"]


def _sha256_not_hex(m: dict) -> None:
    _entity(m, "notes.md")["sha256"] = "4a28fc25"


def _root_without_name(m: dict) -> None:
    del _entity(m, "./")["name"]


def _start_time_in_zulu(m: dict) -> None:
    _entity(m, RUN_ID)["startTime"] = "2024-05-01T12:00:00Z"


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (_sha256_not_hex, "/sha256"),
        (_root_without_name, "@graph"),
        (_start_time_in_zulu, "/startTime"),
    ],
)
def test_schema_violations_are_schema_problems(exported, edit, where):
    metadata = _read_metadata(exported.folder)
    assert check_schema(metadata) == []
    edit(metadata)
    problems = check_schema(metadata)
    assert problems
    assert {p.kind for p in problems} == {"schema"}
    assert any(where in p.message.split(":", 1)[0] for p in problems), problems


def _profile_problems(report) -> set[str]:
    return {p.message.split(":", 1)[0] for p in report.problems if p.kind == "profile"}


def test_missing_root_license_is_a_profile_problem(exported, tmp_path):
    pkg = _copy(exported.folder11, tmp_path / "pkg")
    _edit_metadata(pkg, lambda m: _entity(m, "./").pop("license"))
    report = check_package(pkg)
    assert _profile_problems(report) == {"REQUIRED ro-crate-1.1_8.3", "RECOMMENDED ro-crate-1.1_22.1"}
    assert [p.kind for p in report.problems] == ["profile", "profile"]


def test_action_without_instrument_is_a_required_profile_problem(exported, tmp_path):
    pkg = _copy(exported.folder11, tmp_path / "pkg")
    _edit_metadata(pkg, lambda m: _entity(m, RUN_ID).pop("instrument"))
    report = check_package(pkg)
    assert _profile_problems(report) == {"REQUIRED process-run-crate-0.5_1.1"}
    assert sorted(p.kind for p in report.problems) == ["profile", "schema"]


def test_offline_cache_miss_is_a_problem_not_a_pass(exported, monkeypatch):
    monkeypatch.delitem(profiles.BUNDLED_CONTEXTS, WORKFLOW_RUN_CONTEXT)
    issues = profiles.validate_profiles(exported.folder, ("ro-crate-1.1",))
    offline = [i for i in issues if i.check == "offline-context"]
    assert len(offline) == 1
    assert offline[0].severity == "REQUIRED"
    assert WORKFLOW_RUN_CONTEXT in offline[0].message


# --- RO-Crate versions: the exact validator counts, with no user config -------------------------


RO_CRATE_1_2_ADVICE = ["ro-crate-1.2_44.2", "ro-crate-1.2_89.0", "ro-crate-1.2_90.1", "ro-crate-1.2_93.0"]


def _checks(issues, profile: str, severity: str) -> list[str]:
    """The check ids of ``profile``'s issues of ``severity``, one per issue (repeats kept), sorted."""
    return sorted(i.check for i in issues if i.profile == profile and i.severity == severity)


@pytest.fixture(scope="module")
def measured(exported) -> dict[str, list]:
    """roc-validator's issues for each fresh package: its own profiles, and ro-crate-1.1 for the 1.2 ones."""
    also_1_1 = ("ro-crate-1.2", "process-run-crate-0.5", "ro-crate-1.1")
    return {
        "folder": profiles.validate_profiles(exported.folder, also_1_1),
        "example": profiles.validate_profiles(exported.example, also_1_1),
        "folder11": profiles.validate_profiles(exported.folder11),
        "example11": profiles.validate_profiles(exported.example11),
    }


@pytest.mark.parametrize(
    ("package", "version"), [("folder", "1.2"), ("example", "1.2"), ("folder11", "1.1"), ("example11", "1.1")]
)
def test_export_writes_ro_crate_1_2_by_default_and_1_1_when_chosen(exported, package, version):
    path = getattr(exported, package)
    assert crate_version_of(_read_metadata(path)) == version
    assert profiles.profiles_for(path) == (f"ro-crate-{version}", "process-run-crate-0.5")
    assert check_schema(_read_metadata(path)) == []


@pytest.mark.parametrize("package", ["folder", "example"])
def test_1_2_package_has_only_the_recommendations_of_facts_nobody_gave(measured, package):
    issues = measured[package]
    assert _checks(issues, "ro-crate-1.2", "REQUIRED") == []
    # 44.2: the descriptor also names 1.1 (crate.versions); 89.0 ROR id, 90.1 and 93.0 contact points: not given.
    assert _checks(issues, "ro-crate-1.2", "RECOMMENDED") == RO_CRATE_1_2_ADVICE
    assert _checks(issues, "process-run-crate-0.5", "REQUIRED") == []
    assert _checks(issues, "process-run-crate-0.5", "RECOMMENDED") == []
    assert not [i for i in issues if i.check == "offline-context"]


@pytest.mark.parametrize("package", ["folder", "example"])
def test_1_2_package_is_also_a_valid_1_1_crate_as_its_descriptor_says(measured, package):
    assert [i for i in measured[package] if i.profile == "ro-crate-1.1"] == []


@pytest.mark.parametrize("package", ["folder11", "example11"])
def test_1_1_package_has_no_required_or_recommended_issue(measured, package):
    assert Counter((i.profile, i.severity) for i in measured[package]) == Counter()


def test_check_names_the_setting_that_supplies_each_missing_fact(exported):
    report = check_package(exported.example)
    assert report.problems == []
    assert report.valid
    advice = {a.check: a.setting for a in report.advice}
    assert sorted(advice) == RO_CRATE_1_2_ADVICE
    assert "Example Institute of Health Data" in advice["ro-crate-1.2_89.0"]
    assert "publisher.ror" in advice["ro-crate-1.2_89.0"] and "repropack.toml" in advice["ro-crate-1.2_89.0"]
    assert "publisher.email" in advice["ro-crate-1.2_90.1"]
    assert "authors[].email" in advice["ro-crate-1.2_93.0"]
    assert advice["ro-crate-1.2_44.2"].startswith("nothing to set: the descriptor also names RO-Crate 1.1")
    as_json = report.as_dict()
    assert as_json["valid"] is True
    assert [a["check"] for a in as_json["advice"]] == [a.check for a in report.advice]


def test_check_of_a_1_1_package_has_neither_problems_nor_advice(exported):
    report = check_package(exported.example11)
    assert (report.problems, report.advice) == ([], [])


def test_a_1_3_crate_is_checked_against_ro_crate_1_3_offline(exported, tmp_path):
    pkg = _copy(exported.folder, tmp_path / "pkg")

    def to_1_3(m: dict) -> None:
        m["@context"][0] = "https://w3id.org/ro/crate/1.3/context"
        _entity(m, METADATA)["conformsTo"] = [
            {"@id": "https://w3id.org/ro/crate/1.3"},
            {"@id": "https://w3id.org/ro/crate/1.1"},
        ]

    _edit_metadata(pkg, to_1_3)
    assert profiles.profiles_for(pkg) == ("ro-crate-1.3", "process-run-crate-0.5")
    report = check_package(pkg)
    assert report.problems == []
    assert {a.check for a in report.advice} == {
        "ro-crate-1.3_8.2",
        "ro-crate-1.2_89.0",
        "ro-crate-1.2_90.1",
        "ro-crate-1.2_93.0",
    }


def test_an_unsupported_crate_version_is_bad_input(exported, tmp_path):
    pkg = _copy(exported.folder, tmp_path / "pkg")
    _edit_metadata(pkg, lambda m: _entity(m, METADATA).update({"conformsTo": {"@id": "https://w3id.org/ro/crate/1.0"}}))
    _edit_metadata(pkg, lambda m: m["@context"].__setitem__(0, "https://w3id.org/ro/crate/1.0/context"))
    with pytest.raises(BadInput, match="unsupported RO-Crate version"):
        check_package(pkg)


@pytest.mark.parametrize("url", sorted(profiles.BUNDLED_CONTEXTS))
def test_every_bundled_context_is_the_one_its_url_names(url):
    from repropack.resources import schema_path

    document = json.loads(schema_path(f"contexts/{profiles.BUNDLED_CONTEXTS[url]}").read_text(encoding="utf-8"))
    assert "@context" in document
    if url.startswith("https://w3id.org/ro/crate/"):
        assert document["@id"] == url


def test_1_2_package_missing_its_license_is_a_required_profile_problem(exported, tmp_path):
    pkg = _copy(exported.folder, tmp_path / "pkg")
    _edit_metadata(pkg, lambda m: _entity(m, "./").pop("license"))
    report = check_package(pkg)
    problems = _profile_problems(report)
    assert "REQUIRED ro-crate-1.1_8.3" in problems  # Process Run Crate's inherited 1.1 check
    assert any(p.startswith("REQUIRED ro-crate-1.2_") for p in problems), problems


def test_export_writes_the_crate_version_setting(exported, tmp_path):
    export_project(exported.project, tmp_path / "pkg", {"crate_version": "1.1", "execute": False})
    assert crate_version_of(_read_metadata(tmp_path / "pkg")) == "1.1"


# --- the command line ---------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def cli_check_with_unbundled_context(exported, tmp_path_factory) -> subprocess.CompletedProcess:
    """``repropack check --json`` on a package whose @context names a context repropack does not bundle.

    That makes roc-validator log a warning, which it would print on stdout at
    interpreter exit if repropack did not drain its log.
    """
    pkg = _copy(exported.folder, tmp_path_factory.mktemp("unbundled") / "pkg")
    _edit_metadata(pkg, lambda m: m["@context"].insert(2, "https://example.org/not-bundled-context"))
    return _cli("check", "--json", str(pkg))


def test_check_json_prints_exactly_one_object_even_when_the_validator_logs(cli_check_with_unbundled_context):
    done = cli_check_with_unbundled_context
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)  # raises on anything but one JSON document
    assert isinstance(report, dict)
    assert report["valid"] is False
    assert report["files_checked"] >= 8
    assert any("offline-context" in p["message"] for p in report["problems"])
    assert "Log Report" not in done.stdout + done.stderr


def _folder_without_metadata(tmp_path: Path) -> Path:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "notes.md").write_text("x")
    return tmp_path / "p"


def _garbage_zip(tmp_path: Path) -> Path:
    path = tmp_path / "p.zip"
    path.write_bytes(os.urandom(64) + b"not a zip archive")
    return path


def _zip_of_garbage(tmp_path: Path) -> Path:
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("junk.bin", os.urandom(32))
    return path


def _zip_with_garbage_metadata(tmp_path: Path) -> Path:
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(METADATA, b"\x89PNG garbage \xff\xfe")
    return path


def _metadata_not_json(tmp_path: Path) -> Path:
    folder = _folder_without_metadata(tmp_path)
    (folder / METADATA).write_text('{"@context": [}')
    return folder


def _metadata_without_graph(tmp_path: Path) -> Path:
    folder = _folder_without_metadata(tmp_path)
    (folder / METADATA).write_text('["a JSON list, not a crate"]')
    return folder


NOT_A_PACKAGE = [
    _folder_without_metadata,
    _garbage_zip,
    _zip_of_garbage,
    _zip_with_garbage_metadata,
    _metadata_not_json,
    _metadata_without_graph,
]


@pytest.mark.parametrize("make", NOT_A_PACKAGE, ids=lambda f: f.__name__.strip("_"))
def test_not_a_package_is_bad_input(tmp_path, make):
    with pytest.raises(BadInput):
        check_package(make(tmp_path))


@pytest.mark.parametrize(
    "make",
    [_folder_without_metadata, _garbage_zip, _zip_with_garbage_metadata, _metadata_not_json],
    ids=lambda f: f.__name__.strip("_"),
)
def test_not_a_package_exits_2_with_one_stderr_line(tmp_path, make):
    done = _cli("check", "--json", str(make(tmp_path)))
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("repropack: error: "), done.stderr


# --- known bugs (strict xfail: they start failing once the bug is fixed) -------------------------------


def test_symlink_leaving_a_folder_package_is_a_layout_problem(exported, tmp_path):
    pkg = _copy(exported.folder, tmp_path / "pkg")
    shutil.move(pkg / "data", tmp_path / "elsewhere")
    (pkg / "data").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    problems, _ = _file_problems(pkg)
    assert any(p.kind == "layout" and p.message.startswith("data/input.csv") for p in problems)


def test_non_numeric_content_size_is_reported_not_a_crash(exported, tmp_path):
    pkg = _copy(exported.folder, tmp_path / "pkg")
    _edit_metadata(pkg, lambda m: _entity(m, "notes.md").update({"contentSize": "eight"}))
    try:
        problems, _ = _file_problems(pkg)
    except BadInput:
        return
    assert any(p.message.startswith("notes.md") for p in problems)


def test_each_profile_problem_is_reported_once(cli_check_with_unbundled_context):
    problems = json.loads(cli_check_with_unbundled_context.stdout)["problems"]
    checks = [p["message"].split(":", 1)[0] for p in problems if p["kind"] == "profile"]
    assert checks
    assert len(checks) == len(set(checks)), checks


def test_no_execute_export_passes_check(exported, tmp_path):
    out = tmp_path / "pkg.zip"
    export_project(exported.project, out, {"execute": False})
    assert check_package(out).problems == []
