"""A verdict that explains itself, on real replays in real containers, through the real command line.

One module-scoped set of replays of small stdlib projects (they share one image):
a package with a restricted input and a forged result (one count changed, every
hash recomputed), and a package whose recorded run had cell errors
(``--allow-errors``). The tests read what the terminal showed, the signed record
(which keeps the replayed outputs), ``repropack diff`` and ``repropack rejudge``.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from repropack.resources import schema_path
from tests.conftest import ANALYSIS_CELLS, forge_recorded_file, isolate_user_dirs, make_project, write_notebook
from tests.test_cli import repropack

pytestmark = pytest.mark.usefixtures("docker_engine")

RESTRICTED = "data/input.csv"
FORGED_CSV = b"group,n\r\na,2\r\nb,7\r\n"  # the run writes b,1
ERROR_CELLS = (*ANALYSIS_CELLS, "1 / 0", "print('after the error')", "{}['missing']")


@dataclass(frozen=True)
class Replayed:
    package: Path
    record: Path
    stderr: str  # what `repropack replay` showed in the terminal
    restricted_bytes: bytes = b""


@pytest.fixture(scope="module")
def replays(docker_engine, tmp_path_factory) -> dict[str, Replayed]:
    base = tmp_path_factory.mktemp("replayed-outputs")
    out: dict[str, Replayed] = {}
    with pytest.MonkeyPatch.context() as mp:  # the autouse isolation fixture is function-scoped
        isolate_user_dirs(mp, base / "home")

        forged = make_project(base / "forged-study")
        # The notebook touches its restricted input too: the replay "produces" it, and it must still stay out.
        write_notebook(forged / "analysis.ipynb", *ANALYSIS_CELLS, "os.utime('data/input.csv')")
        done = repropack("export", str(forged), "-o", str(base / "forged-pkg"), "--restrict", RESTRICTED)
        assert done.returncode == 0, done.stderr
        forge_recorded_file(base / "forged-pkg", "outputs/counts.csv", FORGED_CSV)
        supplied = forged / RESTRICTED
        done = repropack(
            "replay",
            str(base / "forged-pkg"),
            "--input",
            f"{RESTRICTED}={supplied}",
            "--record",
            str(base / "forged-rec"),
        )
        assert done.returncode == 1, done.stderr
        out["forged"] = Replayed(base / "forged-pkg", base / "forged-rec", done.stderr, supplied.read_bytes())

        errors = make_project(base / "errors-study")
        write_notebook(errors / "analysis.ipynb", *ERROR_CELLS)
        exported = repropack("export", str(errors), "-o", str(base / "errors-pkg"), "--allow-errors")
        assert exported.returncode == 0, exported.stderr
        done = repropack("replay", str(base / "errors-pkg"), "--record", str(base / "errors-rec"))
        assert done.returncode == 0, done.stderr
        out["errors"] = Replayed(base / "errors-pkg", base / "errors-rec", done.stderr)
        out["errors-export"] = Replayed(base / "errors-pkg", base / "errors-rec", exported.stderr)

        as_json = repropack("replay", str(base / "errors-pkg"), "--record", str(base / "errors-rec-json"), "--json")
        assert as_json.returncode == 0, as_json.stderr
        out["errors-json"] = Replayed(base / "errors-pkg", base / "errors-rec-json", as_json.stdout)
    return out


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _page_text(record: Path) -> str:
    page = (record / "report.html").read_text(encoding="utf-8")
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    return _one_line(html.unescape(re.sub(r"<[^>]+>", " ", page)))


# --- the terminal ----------------------------------------------------------------------------------


def test_the_terminal_labels_recorded_and_replayed_and_says_how_many_outputs_differ(replays):
    shown = replays["forged"].stderr
    record = replays["forged"].record
    assert "outputs/counts.csv  different (csv)\n  row 2, column 'n' (1 cell differs)\n" in shown
    assert "    recorded: '7'\n    replayed: '1'\n" in shown
    assert "1 of 2 outputs differ; 1 unexpected file" in shown
    assert f"record: {record}\n" in shown and f"report: {record / 'report.html'}\n" in shown
    assert f"in full: repropack diff {record} [PATH]" in shown


def test_replay_json_gives_the_report_path_and_it_is_the_records_report(replays):
    printed = json.loads(replays["errors-json"].stderr)  # stdout of `replay --json`
    record = replays["errors-json"].record
    assert printed["report"] == str(record / "report.html")
    assert (record / "report.html").is_file()
    assert json.loads((record / "result.json").read_text())["report"] == printed["report"]


def test_micro_python_drift_is_information_and_the_base_image_is_named_with_why(replays):
    shown = _one_line(replays["errors"].stderr)
    assert re.search(r"drift \(info\): Python 3\.11\.\d+ \(recorded 3\.11\.\d+\): another micro version", shown)
    assert "drift (warning)" not in shown
    assert "base image: repropack/base:bookworm-py3.11 (its Python 3.11 is the recorded Python's minor version" in shown


# --- cell errors the recorded run had -------------------------------------------------------------


def test_export_warns_that_the_recorded_run_has_cell_errors_naming_them(replays):
    warned = _one_line(replays["errors-export"].stderr)
    assert (
        "analysis.ipynb: the recorded run has 2 cell errors (--allow-errors): "
        "cell 6: ZeroDivisionError: division by zero; cell 8: KeyError: 'missing'" in warned
    )


def test_replay_says_the_recorded_errors_were_reproduced_in_the_terminal_the_report_and_the_result(replays):
    assert "reproduced: the recorded run had 2 cell errors, reproduced identically" in _one_line(
        replays["errors"].stderr
    )
    page = _page_text(replays["errors"].record)
    assert "reproduced: the recorded run had 2 cell errors, reproduced identically" in page
    assert "cell 6: ZeroDivisionError: division by zero" in page
    saved = json.loads((replays["errors"].record / "result.json").read_text())
    assert saved["recorded_errors"] == {
        "analysis.ipynb": ["cell 6: ZeroDivisionError: division by zero", "cell 8: KeyError: 'missing'"]
    }


# --- the record keeps the replayed outputs --------------------------------------------------------


def _entities(record: Path) -> dict[str, dict]:
    return {e["@id"]: e for e in json.loads((record / "ro-crate-metadata.json").read_text())["@graph"]}


def test_the_record_keeps_each_replayed_output_described_hashed_and_signed(replays):
    record = replays["forged"].record
    kept = record / "replayed"
    assert sorted(p.relative_to(kept).as_posix() for p in kept.rglob("*") if p.is_file()) == [
        "analysis.ipynb",
        "outputs/counts.csv",
    ]
    assert (kept / "outputs/counts.csv").read_bytes().replace(b"\r\n", b"\n") == b"group,n\na,2\nb,1\n"
    entities = _entities(record)
    signed = json.loads((record / "signature.json").read_text())["files"]
    for path, media in (("analysis.ipynb", "application/x-ipynb+json"), ("outputs/counts.csv", "text/csv")):
        entity, data = entities[f"replayed/{path}"], (kept / path).read_bytes()
        assert entity["@type"] == "File" and entity["encodingFormat"] == media and path in entity["description"]
        assert entity["contentSize"] == str(len(data)) and entity["sha256"] == hashlib.sha256(data).hexdigest()
        assert signed[f"replayed/{path}"] == entity["sha256"]
        assert {"@id": f"replayed/{path}"} in entities["#replay"]["result"]
    saved = json.loads((record / "result.json").read_text())
    assert saved["replayed"] == {
        "folder": "replayed",
        "files": ["analysis.ipynb", "outputs/counts.csv"],
        "not_kept": [],
    }
    assert repropack("verify-record", str(record)).returncode == 0
    assert 'href="replayed/outputs/counts.csv"' in (record / "report.html").read_text()


def test_the_restricted_input_is_never_in_the_record_even_when_the_run_touched_it(replays):
    record, secret = replays["forged"].record, replays["forged"].restricted_bytes
    assert secret and b"1,a\n2,b\n3,a" in secret
    assert not (record / "replayed" / RESTRICTED).exists()
    for file in record.rglob("*"):
        if file.is_file():
            assert b"1,a\n2,b\n3,a" not in file.read_bytes(), file
    saved = json.loads((record / "result.json").read_text())
    assert RESTRICTED in {o["path"] for o in saved["outputs"]}  # the run did produce it
    assert RESTRICTED not in saved["replayed"]["files"]


def test_a_changed_kept_output_is_caught_by_verify_record_and_refused_by_diff(replays, tmp_path):
    copy = tmp_path / "record"
    shutil.copytree(replays["forged"].record, copy)
    kept = copy / "replayed" / "outputs" / "counts.csv"
    kept.write_bytes(kept.read_bytes().replace(b"b,1", b"b,7"))  # the reviewer would now see a "match"
    verified = repropack("verify-record", str(copy))
    assert verified.returncode == 1
    assert "replayed/outputs/counts.csv: sha256 differs from the signed value" in verified.stdout
    refused = repropack("diff", str(copy), "--package", str(replays["forged"].package))
    assert refused.returncode == 2
    assert "the record failed verification" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert repropack("rejudge", str(copy), "--compare", "*.csv=csv:atol=10").returncode == 2


# --- repropack diff -------------------------------------------------------------------------------


def test_diff_shows_the_forged_output_in_full_with_each_side_named(replays):
    forged = replays["forged"]
    done = repropack("diff", str(forged.record))
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "=== outputs/counts.csv: different (csv)"
    assert lines[1] == "the replay said: row 2, column 'n': '7' != '1' (1 cell differs)"
    assert f"recorded (in the package): {forged.package}/outputs/counts.csv" in lines
    assert f"replayed (kept in the record): {forged.record}/replayed/outputs/counts.csv" in lines
    assert f"--- recorded: {forged.package}/outputs/counts.csv" in lines
    hunk = lines.index("@@ -1,3 +1,3 @@")
    assert lines[hunk + 1 :] == [" group,n", " a,2", "-b,7", "+b,1"]


def test_diff_of_a_notebook_compares_cells_and_calls_an_equivalent_one_unchanged(replays):
    done = repropack("diff", str(replays["forged"].record), "analysis.ipynb", "--json")
    assert done.returncode == 0, done.stderr
    (shown,) = json.loads(done.stdout)["outputs"]
    assert shown["status"] == "equivalent" and shown["differs"] is False
    assert shown["diff"][-1] == "the cells show the same sources and outputs; only execution counts or metadata differ"


def test_diff_of_an_unknown_output_is_refused_naming_the_outputs(replays):
    done = repropack("diff", str(replays["forged"].record), "outputs/nope.csv")
    assert done.returncode == 2 and done.stdout == ""
    assert "outputs/nope.csv: not an output of the replay" in done.stderr
    assert "analysis.ipynb, data/input.csv, outputs/counts.csv" in done.stderr


def test_diff_finds_a_moved_package_with_package_and_refuses_another_one(replays, tmp_path):
    forged = replays["forged"]
    moved = tmp_path / "moved-pkg"
    forged.package.rename(moved)
    try:
        lost = repropack("diff", str(forged.record))
        assert lost.returncode == 2
        assert "no longer there; pass --package PKG where it is now" in lost.stderr
        found = repropack("diff", str(forged.record), "outputs/counts.csv", "--package", str(moved))
        assert found.returncode == 1 and "+b,1" in found.stdout.splitlines()
    finally:
        moved.rename(forged.package)
    other = repropack("diff", str(forged.record), "--package", str(replays["errors"].package))
    assert other.returncode == 2
    assert f"not the package {forged.record.name} replayed: its metadata sha256 is" in other.stderr


# --- repropack rejudge ----------------------------------------------------------------------------


def test_rejudge_under_a_tolerance_says_reproduced_without_rewriting_the_record(replays):
    record = replays["forged"].record
    before = {p: p.read_bytes() for p in record.rglob("*") if p.is_file()}
    done = repropack("rejudge", str(record), "--compare", "outputs/*.csv=csv:atol=10")
    assert done.returncode == 0, done.stderr
    shown = _one_line(done.stderr)
    assert "outputs/counts.csv: different -> equivalent (csv): 1 numeric cell differs by at most 6" in shown
    assert "was not reproduced, now reproduced" in shown
    assert f"the signed record {record} is unchanged" in shown
    assert {p: p.read_bytes() for p in record.rglob("*") if p.is_file()} == before
    strict = repropack("rejudge", str(record), "--compare", "outputs/*.csv=csv:atol=1", "--json")
    assert strict.returncode == 1
    assert json.loads(strict.stdout)["verdict"] == "not_reproduced"


def test_rejudge_record_is_a_new_signed_record_naming_the_one_it_re_judges(replays, tmp_path):
    old = replays["forged"].record
    new = tmp_path / "rejudged"
    done = repropack("rejudge", str(old), "--compare", "outputs/*.csv=csv:atol=10", "--record", str(new), "--json")
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    schema = json.loads(schema_path("replay-result.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(printed)
    assert printed["verdict"] == "reproduced" and printed["record"] == str(new)
    assert printed["rejudged_from"]["record"] == str(old) and printed["rejudged_from"]["verdict"] == "not_reproduced"
    assert printed["rejudged_from"]["compare"] == ["outputs/*.csv=csv:atol=10"]
    assert json.loads((new / "result.json").read_text()) == printed
    assert repropack("verify-record", str(new)).returncode == 0
    entities = _entities(new)
    rejudged = entities["#rejudged-record"]
    assert rejudged["sha256"] == hashlib.sha256((old / "signature.json").read_bytes()).hexdigest()
    assert entities["./"]["isBasedOn"] == {"@id": "#rejudged-record"}
    assert {"@id": "#rejudged-record"} in entities["#replay"]["object"]
    assert (new / "replayed" / "outputs" / "counts.csv").read_bytes() == (
        old / "replayed/outputs/counts.csv"
    ).read_bytes()
    page = _page_text(new)
    assert f"A re-judgement of the signed record {old}" in page and "0 of 2 outputs differ" in page
    # the new record is a record like any other: diff reads it
    assert repropack("diff", str(new), "outputs/counts.csv").returncode == 1


def test_rejudge_needs_a_rule_and_a_replay_that_compared_something(replays, tmp_path):
    missing = repropack("rejudge", str(replays["forged"].record))
    assert missing.returncode == 2 and "Missing option '--compare'" in missing.stderr
    bad = repropack("rejudge", str(replays["forged"].record), "--compare", "outputs/*.csv")
    assert bad.returncode == 2 and "expected GLOB=RULE" in bad.stderr
    failed = repropack("replay", str(replays["forged"].package), "--record", str(tmp_path / "failed"))
    assert failed.returncode == 3, failed.stderr  # the restricted input was not supplied: nothing ran
    refused = repropack("rejudge", str(tmp_path / "failed"), "--compare", "*.csv=csv:atol=10")
    assert refused.returncode == 2
    assert "no output was compared, so there is nothing to re-judge" in refused.stderr


def test_diff_of_a_reproduced_replay_says_nothing_differs_and_exits_0(replays):
    done = repropack("diff", str(replays["errors"].record))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and "no output of this replay differs from the recorded one" in done.stderr


def test_diff_reads_the_package_zipped_and_names_the_file_inside_the_zip(replays, tmp_path):
    import zipfile

    forged = replays["forged"]
    zipped = tmp_path / "study.crate.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        for file in sorted(forged.package.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(forged.package).as_posix())
    done = repropack("diff", str(forged.record), "outputs/counts.csv", "--package", str(zipped))
    assert done.returncode == 1, done.stderr
    assert f"--- recorded: outputs/counts.csv in {zipped}" in done.stdout.splitlines()
    assert "+b,1" in done.stdout.splitlines()
