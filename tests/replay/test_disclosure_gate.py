"""Disclosure control at replay: the replayed outputs are checked under the package's recorded [disclosure]
rules (the replayer may make them stricter); a replay whose outputs fail is recorded, but the failing files
never reach the record, and no cell value does either. The verdict does not change.

Real replays on the local backend (one cached virtualenv for the module), of a project whose notebook
writes a count table with distinctive counts, so that a leak of one would be found by searching the record.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest

from repropack.config import ReplaySettings
from repropack.crate.profiles import validate_profiles
from repropack.errors import BadInput
from repropack.export import export_project
from repropack.model import Organization, OutputComparison, OutputStatus, Person, Verdict
from repropack.model.disclosure import DisclosureStatus
from repropack.record.opened import open_record, result_of
from repropack.record.signing import verify_record
from repropack.replay import replay_package
from repropack.replay.disclosure_gate import WITHHELD, ReplayedDisclosure, check_replayed
from repropack.resources import schema_path
from tests.conftest import isolate_user_dirs, make_project, write_notebook
from tests.hostile.clikit import repropack

SMALL = 86137  # below the replayer's --min-count 100000, above the package's min_count 100
LARGE = 120450
COUNTS = "outputs/counts.csv"
MEANS = "outputs/means.csv"
TOML_DISCLOSURE = '\n[disclosure]\nmin_count = 100\ncounts = ["n"]\n'
STRICT_DISCLOSURE = '\n[disclosure]\nmin_count = 100000\ncounts = ["n"]\n'
TABLE_CELL = (
    "import csv, os\nos.makedirs('outputs', exist_ok=True)\n"
    "with open('outputs/counts.csv', 'w', newline='') as fh:\n"
    "    w = csv.writer(fh)\n"
    "    w.writerow(['group', 'n'])\n"
    "    for group, n in ROWS: w.writerow([group, n])\n"
    "with open('outputs/means.csv', 'w', newline='') as fh:\n"
    "    fh.write('group,mean\\na,3.5\\nb,4.25\\n')"
)
OPERATOR = Person(
    "Rita Reviewer",
    Organization("Data Governance Office", "https://governance.example.org"),
    "https://orcid.org/0000-0001-5109-3700",
    "rita@governance.example.org",
)


def counts_project(root: Path, rows: list[tuple[str, int]], *, disclosure: str = TOML_DISCLOSURE) -> Path:
    """The conftest project whose notebook writes ``rows`` as a count table (column n) and a table of means."""
    make_project(root)
    (root / "analysis.ipynb").unlink()
    # Each count written as a sum, so that the notebook's source does not hold the value its table shows.
    written = ", ".join(f"({group!r}, {n - 1} + 1)" for group, n in rows)
    write_notebook(root / "analysis.ipynb", f"ROWS = [{written}]", TABLE_CELL)
    with open(root / "repropack.toml", "a", encoding="utf-8") as fh:
        fh.write(disclosure)
    return root


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """Packages exported once for the module, and the cache folder its local replays share."""
    base = tmp_path_factory.mktemp("replay-disclosure")
    with pytest.MonkeyPatch.context() as mp:
        isolate_user_dirs(mp, base / "home")
        rows = [("a", SMALL), ("b", LARGE)]
        packages = {
            "declared": export_project(counts_project(base / "declared", rows), base / "pkg", {}).output,
            "undeclared": export_project(
                counts_project(base / "undeclared", rows, disclosure=""), base / "pkg-undeclared", {}
            ).output,
            # exported with suppress: the package holds the table with SMALL masked (below 100000)
            "suppressed": export_project(
                counts_project(base / "suppressed", rows, disclosure=STRICT_DISCLOSURE),
                base / "pkg-suppressed",
                {"suppress": True},
            ).output,
        }
    return packages, base / "cache"


@pytest.fixture
def packages(shared, monkeypatch):
    packages, cache = shared
    monkeypatch.setenv("REPROPACK_CACHE_DIR", str(cache))
    return packages


def _local(package: Path, record: Path, **settings):
    return replay_package(package, ReplaySettings(backend="local", record=record, **settings))


def _graph(record: Path) -> dict[str, dict]:
    metadata = json.loads((record / "ro-crate-metadata.json").read_text(encoding="utf-8"))
    return {e["@id"]: e for e in metadata["@graph"]}


def _holds_count(text: str, value: int) -> bool:
    """Whether ``value`` appears as a number of its own (not inside a hash or a longer number)."""
    return re.search(rf"(?<![\w.]){value}(?![\w.])", text) is not None


def test_a_count_below_the_replayers_minimum_is_recorded_but_never_copied_into_the_record(packages, tmp_path):
    record = tmp_path / "record"
    result = _local(packages["declared"], record, disclosure={"min_count": 100000}, operator=OPERATOR)

    assert result.verdict is Verdict.REPRODUCED, (result.cause, result.outputs)  # the verdict is another question
    report = result.disclosure
    assert report is not None and report.status is DisclosureStatus.FAIL
    assert report.failing() == (COUNTS,)
    (finding,) = report.findings()
    assert (finding.path, finding.row, finding.column, finding.value, finding.detail) == (
        COUNTS,
        "a",
        "n",
        "",
        "a count below the minimum count",
    )  # the rule in general: no value, no number
    assert report.rules.min_count == 100000 and report.rules.counts == ("n",)
    # the failing table stays out of the record; the passing ones and the executed notebook are kept
    assert not (record / "replayed" / COUNTS).exists()
    assert (record / "replayed" / MEANS).is_file() and (record / "replayed/analysis.ipynb").is_file()
    assert COUNTS not in result.replayed
    assert f"{COUNTS}: failed disclosure control; never copied into a record" in result.not_kept
    (counts,) = [o for o in result.outputs if o.path == COUNTS]
    assert counts.detail == WITHHELD and counts.status is OutputStatus.IDENTICAL
    # no file of the record holds the small count; the large one (which passed) is not written either
    for name in ("result.json", "report.html", "ro-crate-metadata.json"):
        text = (record / name).read_text(encoding="utf-8")
        assert not _holds_count(text, SMALL), name
    written = [p for p in record.rglob("*") if p.is_file()]
    assert not any(_holds_count(p.read_text(encoding="utf-8", errors="replace"), SMALL) for p in written)

    # the record's metadata has the check as a failed AssessAction, over the files it keeps
    graph = _graph(record)
    check = graph["#disclosure-check-replay"]
    assert check["@type"] == "AssessAction"
    assert check["additionalType"] == {"@id": "https://w3id.org/shp#DisclosureCheck"}
    assert check["actionStatus"] == "http://schema.org/FailedActionStatus"
    objects = {o["@id"] for o in check["object"]}
    assert "replayed/outputs/means.csv" in objects and f"replayed/{COUNTS}" not in objects
    assert {"@id": "#disclosure-check-replay"} in graph["./"]["mentions"]
    # and the record is whole: signed, readable back, valid RO-Crate
    assert verify_record(record).valid
    assert result_of(open_record(record)).disclosure == report
    html = (record / "report.html").read_text(encoding="utf-8")
    assert 'id="disclosure"' in html and "Disclosure control" in html and "failed" in html
    issues = validate_profiles(record)
    assert [i for i in issues if i.severity == "REQUIRED" or i.profile == "process-run-crate-0.5"] == []
    # as every 1.2 record of a configured operator: no ROR id nor the organization's contact point; 44.2 names 1.1
    assert {i.check for i in issues} <= {"ro-crate-1.2_44.2", "ro-crate-1.2_89.0", "ro-crate-1.2_90.1"}


def test_a_passing_replay_keeps_every_output_and_records_a_completed_check(packages, tmp_path):
    record = tmp_path / "record"
    result = _local(packages["declared"], record)
    assert result.verdict is Verdict.REPRODUCED
    assert result.disclosure is not None and result.disclosure.status is DisclosureStatus.PASS
    assert result.disclosure.rules.min_count == 100
    assert (record / "replayed" / COUNTS).read_bytes() == f"group,n\r\na,{SMALL}\r\nb,{LARGE}\r\n".encode()
    check = _graph(record)["#disclosure-check-replay"]
    assert check["actionStatus"] == "http://schema.org/CompletedActionStatus"
    assert f"replayed/{COUNTS}" in {o["@id"] for o in check["object"]}
    assert verify_record(record).valid


def test_a_package_exported_with_suppress_is_masked_again_at_replay_and_reproduces(packages, tmp_path):
    package = packages["suppressed"]
    assert not _holds_count((package / COUNTS).read_text(), SMALL)  # export packed the masked copy
    record = tmp_path / "record"
    result = _local(package, record)
    # the replay's own table is masked the same way before comparing: masked against masked
    assert result.verdict is Verdict.REPRODUCED, (result.cause, result.outputs)
    assert {o.path: o.status for o in result.outputs}[COUNTS] is OutputStatus.IDENTICAL
    # the table as the sandbox wrote it failed; its masked copy passes, so that is what the record keeps
    assert set(result.disclosure.suppressed) == {COUNTS} and result.disclosure.failing() == (COUNTS,)
    assert COUNTS in result.replayed
    assert (record / "replayed" / COUNTS).read_bytes() == (package / COUNTS).read_bytes()
    assert not any(
        _holds_count(p.read_text(encoding="utf-8", errors="replace"), SMALL) for p in record.rglob("*") if p.is_file()
    )
    check = _graph(record)["#disclosure-check-replay"]
    assert check["actionStatus"] == "http://schema.org/CompletedActionStatus"
    assert check["name"] == "Disclosure check of the outputs: passed after suppression"


def test_without_rules_nothing_is_checked_and_nothing_changes(packages, tmp_path):
    record = tmp_path / "record"
    result = _local(packages["undeclared"], record)
    assert result.disclosure is None and result.as_dict()["disclosure"] is None
    assert (record / "replayed" / COUNTS).is_file()
    assert not any(i.startswith("#disclosure-check") for i in _graph(record))


def test_the_replayers_rules_alone_turn_the_check_on(packages, tmp_path):
    result = _local(packages["undeclared"], tmp_path / "record", disclosure={"min_count": 100000, "counts": ["n"]})
    assert result.disclosure.failing() == (COUNTS,)
    assert not (tmp_path / "record/replayed" / COUNTS).exists()


def test_bad_replayer_rules_are_refused_before_anything_runs(packages, tmp_path):
    with pytest.raises(BadInput, match="min_count"):
        _local(packages["declared"], tmp_path / "record", disclosure={"min_count": "ten"})
    assert not (tmp_path / "record").exists()


def test_the_cli_min_count_fails_the_check_not_the_verdict_and_json_has_it(packages, tmp_path):
    done = repropack(
        "replay",
        packages["declared"],
        "--backend",
        "local",
        "--min-count",
        "100000",
        "--record",
        tmp_path / "r",
        "--json",
    )
    assert done.returncode == 0, done.stderr  # reproduced: disclosure control is not the verdict
    printed = json.loads(done.stdout)
    jsonschema.validate(printed, json.loads(schema_path("replay-result.schema.json").read_text()))
    assert printed["disclosure"]["status"] == "fail"
    assert [f["path"] for f in printed["disclosure"]["files"] if f["status"] == "fail"] == [COUNTS]
    assert not _holds_count(done.stdout, SMALL) and not _holds_count(done.stderr, SMALL)

    text = repropack("replay", packages["declared"], "--backend", "local", "--min-count", "100000")
    assert text.returncode == 0, text.stderr
    assert f"disclosure control: failed — 1 cell (3 files checked); not copied into the record: {COUNTS}" in text.stderr
    refused = repropack("replay", packages["declared"], "--backend", "local", "--min-count", "0")
    assert refused.returncode == 2 and "--min-count" in refused.stderr


# --- the gate on its own, over a work dir as a sandbox could leave it --------------------------------------


def _work(tmp_path: Path, files: dict[str, bytes]) -> Path:
    work = tmp_path / "work"
    for path, data in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_bytes(data)
    return work


def _rules(**table):
    from repropack.disclosure.rules import rules_from_table

    return rules_from_table({"counts": ["n"], **table}, "test [disclosure]", None)


def test_suppress_masks_the_failing_cells_in_place_and_keeps_the_masked_copy(tmp_path):
    work = _work(tmp_path, {COUNTS: f"group,n\r\na,{LARGE}\r\nb,42\r\n".encode()})
    gate = check_replayed(work, [COUNTS], _rules(min_count=100), suppress=True)
    assert gate.withheld == ()  # the masked copy passes: it is what the record keeps, as export packed it
    # The file failed as the sandbox wrote it; what leaves is its masked copy, so the check as a whole passes.
    assert gate.report.failing() == (COUNTS,) and set(gate.report.suppressed) == {COUNTS}
    assert gate.report.status is DisclosureStatus.PASS
    assert [(c.row, c.column, c.value) for c in gate.report.suppressed[COUNTS]] == [("b", "n", "")]
    masked = (work / COUNTS).read_bytes()
    assert b"42" not in masked and str(LARGE).encode() in masked


def test_without_suppress_the_work_dir_is_left_as_the_sandbox_wrote_it(tmp_path):
    data = f"group,n\r\na,{LARGE}\r\nb,42\r\n".encode()
    work = _work(tmp_path, {COUNTS: data})
    gate = check_replayed(work, [COUNTS], _rules(min_count=100))
    assert gate.withheld == (COUNTS,) and not gate.report.suppressed
    assert (work / COUNTS).read_bytes() == data


def test_a_link_or_a_non_file_left_by_the_sandbox_fails_unread(tmp_path):
    secret = tmp_path / "elsewhere.csv"
    secret.write_text("group,n\na,3\n")
    work = _work(tmp_path, {MEANS: b"group,mean\na,1.5\n"})
    os.symlink(secret, work / COUNTS)
    (work / "outputs/folder.csv").mkdir()
    gate = check_replayed(work, [COUNTS, MEANS, "outputs/folder.csv", "../escape.csv"], _rules())
    assert gate.withheld == ("../escape.csv", COUNTS, "outputs/folder.csv")
    notes = {f.path: f.note for f in gate.report.files}
    assert notes[COUNTS].startswith("could not be checked (") and notes[COUNTS].endswith("); withheld")
    assert "not a regular file" in notes["outputs/folder.csv"]
    assert "not a package path" in notes["../escape.csv"]
    assert dict((f.path, f.status) for f in gate.report.files)[MEANS] is DisclosureStatus.PASS


def test_withhold_replaces_the_detail_and_drops_the_figure_of_a_withheld_output_only():
    gate = ReplayedDisclosure(None, ("outputs/fig.png",))
    outputs = [
        OutputComparison("outputs/fig.png", OutputStatus.DIFFERENT, "image", "3 pixels differ"),
        OutputComparison(MEANS, OutputStatus.DIFFERENT, "csv", "row a: 1.5 -> 1.6"),
    ]
    figures = {"outputs/fig.png": ("data:a", "data:b"), "outputs/other.png": ("data:c", "data:d")}
    shown, kept_figures = gate.withhold(outputs, figures)
    assert [(o.path, o.status, o.detail) for o in shown] == [
        ("outputs/fig.png", OutputStatus.DIFFERENT, WITHHELD),
        (MEANS, OutputStatus.DIFFERENT, "row a: 1.5 -> 1.6"),
    ]
    assert kept_figures == {"outputs/other.png": ("data:c", "data:d")}
    assert gate.not_kept == ("outputs/fig.png: failed disclosure control; never copied into a record",)
