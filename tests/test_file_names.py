"""File names as researchers write them, through every command (issue 17).

Names that cannot travel are refused at export: exit 2, one line on stderr
naming the file, nothing at the output path. Every other name (spaces, a
literal ``%20``, ``#``, ``?``, quotes, brackets, accents, CJK, emoji, NFC or
NFD) survives export -> check -> replay in a real container -> verify-record,
byte for byte.
"""

from __future__ import annotations

import csv
import io
import json
import os
import posixpath
import tempfile
import unicodedata
from glob import escape as glob_escape
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from repropack.cli import main
from repropack.config import ReplaySettings
from repropack.crate.check import check_package
from repropack.crate.reader import open_package
from repropack.export import export_project
from repropack.fs import tree
from repropack.fs.names import collisions, name_problem
from repropack.model import OutputStatus, Verdict, layout
from repropack.record.signing import verify_record
from repropack.replay import replay_package
from tests.conftest import write_notebook
from tests.test_cli import repropack
from tests.test_gallery import _assert_reproduced, _assert_runtime_only_lock

# The project config of conftest.make_project: everything `check` recommends, so a valid package is valid.
PROJECT_CONFIG = (
    'title = "Study"\ndescription = "A small study."\nlicense = "MIT"\n'
    '[[authors]]\nname = "Ada Example"\norcid = "https://orcid.org/0000-0002-1825-0097"\n'
    'affiliation = { name = "Example Institute", url = "https://example.org" }\n'
    '[publisher]\nname = "Example Institute"\nurl = "https://example.org"\n'
)


# --- refused at export: one test per kind --------------------------------------------------------


def _assert_refused(project: Path, out: Path, shown_name: str, fragment: str, *, after_run: bool = False) -> None:
    done = repropack("export", str(project), "-o", str(out))
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    # Refused before any notebook runs: the error is all of stderr; after the runs, it ends their progress.
    (line,) = lines[-1:] if after_run else lines
    assert line.startswith(f"repropack: error: {shown_name}"), line
    assert fragment in line
    assert not os.path.lexists(out)
    assert not list(out.parent.glob(f".{out.name}*"))  # no staging sibling left either


def test_a_name_that_is_not_utf8_is_refused(project, tmp_path):
    with open(os.path.join(os.fsencode(project / "data"), b"caf\xe9.csv"), "wb") as fh:
        fh.write(b"x\n")
    _assert_refused(project, tmp_path / "pkg", "data/caf\\xe9.csv", "not valid UTF-8")


@pytest.mark.parametrize("char, shown", [("\n", "\\n"), ("\x1b", "\\x1b"), ("\x7f", "\\x7f"), ("\t", "\\t")])
def test_a_name_with_a_control_character_is_refused(project, tmp_path, char, shown):
    (project / "data" / f"line{char}break.csv").write_text("x\n")
    _assert_refused(project, tmp_path / "pkg", f"data/line{shown}break.csv", "control character")


def test_two_names_differing_only_by_case_are_refused(project, tmp_path):
    (project / "Notes.md").write_text("# other notes\n")
    _assert_refused(project, tmp_path / "pkg", "Notes.md and notes.md", "differ only by letter case")


def test_two_names_differing_only_by_normalisation_are_refused(project, tmp_path):
    nfc, nfd = unicodedata.normalize("NFC", "café.csv"), unicodedata.normalize("NFD", "café.csv")
    (project / "data" / nfc).write_text("composed\n")
    (project / "data" / nfd).write_text("decomposed\n")
    _assert_refused(project, tmp_path / "pkg", f"data/{nfd} and data/{nfc}", "two Unicode normalisations")


def test_a_folder_clash_by_case_is_refused_at_the_folder(project, tmp_path):
    (project / "Data").mkdir()
    (project / "Data" / "other.csv").write_text("x\n")
    _assert_refused(project, tmp_path / "pkg", "Data and data", "differ only by letter case")


def test_a_name_component_over_255_bytes_is_refused(project, tmp_path, monkeypatch):
    # Linux file systems cannot hold such a name (macOS can: 255 UTF-16 units), so the tree is made to report one.
    long_name = "data/" + "利用" * 43 + ".csv"  # 258 + 4 bytes in its last component
    real_scan = tree._scan

    def scan(root, exclude, ignore):
        found, folders = real_scan(root, exclude, ignore)
        return {**found, long_name: tree.FileState(2, 0, 0)}, folders

    monkeypatch.setattr(tree, "_scan", scan)
    out = tmp_path / "pkg"
    done = CliRunner().invoke(main, ["export", str(project), "-o", str(out)])
    assert done.exit_code == 2, done.output
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert (
        line
        == f"repropack: error: {long_name}: a name in this path is 262 bytes in UTF-8, over the 255 file systems allow; shorten it"
    )
    assert not os.path.lexists(out)


def test_a_backslash_in_a_name_is_refused(project, tmp_path):
    (project / "data" / "a\\b.csv").write_text("x\n")
    _assert_refused(project, tmp_path / "pkg", "data/a\\b.csv", "backslash")


def test_a_first_name_like_a_windows_drive_is_refused(project, tmp_path):
    (project / "C:data.csv").write_text("x\n")
    _assert_refused(project, tmp_path / "pkg", "C:data.csv", "Windows drive")


def test_a_name_a_notebook_writes_is_refused_after_the_run_and_nothing_is_written(project, tmp_path):
    write_notebook(project / "analysis.ipynb", "open('out\\x01put.csv', 'w').write('x')")
    _assert_refused(project, tmp_path / "pkg", "out\\x01put.csv", "control character (U+0001)", after_run=True)


# --- everything else travels: a property over generated names ------------------------------------

# Characters researchers put in names: URI-special ASCII, accents (composed and decomposed), CJK, emoji,
# and a literal "%20". No letter of the suffixes below, so a folder never has a file's name.
_PIECES = [
    *"aZ09 _-~%#?+&=,;!$@'\"[](){}",
    "é",
    "e\u0301",  # é decomposed (NFD), as macOS writes it
    "ü",
    "Å",
    "ñ",
    "デ",
    "ー",
    "タ",
    "日",
    "曜",
    "📊",
    "🚲",
    "%20",
]
_stem = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=6).map("".join)
# Hidden folders are skipped by export by design: a leading "." only for files.
_folder = _stem.filter(lambda s: not s.startswith("."))
_file_stem = st.tuples(st.sampled_from(["", "-", "."]), _stem).map("".join)


def _path(suffix: str, min_depth: int = 0) -> st.SearchStrategy[str]:
    return st.builds(
        lambda folders, stem: "/".join([*folders, stem + suffix]),
        st.lists(_folder, min_size=min_depth, max_size=3),
        _file_stem,
    )


def _notebook_cells(notebook: str, inputs: list[str], outputs: list[str], restricted: str) -> tuple[str, ...]:
    """Read every input and the restricted one, write every output (the restricted text never goes into one),
    all by paths relative to the notebook's folder (its cwd)."""
    here = posixpath.dirname(notebook) or "."
    rel = [posixpath.relpath(p, here) for p in inputs], [posixpath.relpath(p, here) for p in outputs]
    return (
        f"import os\ninputs = {rel[0]!r}\noutputs = {rel[1]!r}\nrestricted = {posixpath.relpath(restricted, here)!r}",
        "text = ''.join(open(p, encoding='utf-8').read() for p in inputs)\n"
        "text += str(len(open(restricted, encoding='utf-8').read()))",
        "for out in outputs:\n"
        "    os.makedirs(os.path.dirname(out) or '.', exist_ok=True)\n"
        "    with open(out, 'w', encoding='utf-8') as fh:\n"
        "        fh.write(text + out + '\\n')",
        "print(len(text), len(outputs))",
    )


@pytest.mark.slow
@pytest.mark.usefixtures("docker_engine")
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    notebook=_path(".ipynb"),
    inputs=st.lists(_path(".csv"), min_size=1, max_size=2),
    outputs=st.lists(_path(".csv"), min_size=1, max_size=2),
    restricted=_path(".dat", min_depth=1),
    zipped=st.booleans(),
)
def test_generated_names_survive_export_check_replay_and_verify(
    tmp_path, notebook, inputs, outputs, restricted, zipped
):
    every = [notebook, *inputs, *outputs, restricted, "repropack.toml"]
    assume(len(set(every)) == len(every) and not collisions(every))
    assume(all(name_problem(p) is None for p in every))
    base = Path(tempfile.mkdtemp(dir=tmp_path))
    project = base / "project"
    project.mkdir()
    (project / "repropack.toml").write_text(PROJECT_CONFIG)
    for i, path in enumerate([*inputs, restricted]):
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(f"row {i}: {path}\n", encoding="utf-8")
    write_notebook(project / notebook, *_notebook_cells(notebook, inputs, outputs, restricted))

    package = base / ("pkg.zip" if zipped else "pkg")
    export = export_project(project, package, {"restrict": (glob_escape(restricted),)})
    recorded = {f.path: f for f in export.package.files}
    assert {notebook, *inputs, *outputs, restricted} <= recorded.keys()
    assert recorded[restricted].restricted

    with open_package(package) as opened:  # the reader decodes every id back to the exact path
        read = {f.path: f for f in opened.package.files}
        ids = {e["@id"] for e in opened.metadata["@graph"] if isinstance(e, dict)}
    assert read.keys() == recorded.keys()
    assert {layout.entity_id(p, p == restricted) for p in read} <= ids
    (run,) = opened.package.runs
    assert (run.notebook, set(run.inputs), set(run.outputs)) == (notebook, {*inputs, restricted}, set(outputs))

    report = check_package(package)
    assert report.valid, [p.message for p in report.problems]

    result = replay_package(package, ReplaySettings(record=base / "record", inputs_dir=project))
    statuses = _assert_reproduced(result)
    assert all(statuses[p] is OutputStatus.IDENTICAL for p in outputs), statuses
    assert verify_record(result.record).valid


# --- a gallery case: a Japanese project, as a researcher there names it ----------------------------

NOTEBOOK = "第4章 自転車の曜日別利用.ipynb"
DATA = "データ 2024/利用 回数.csv"
RESULT = "結果/曜日別 集計.csv"

BIKE_CELLS = (
    "# MD 曜日別の自転車利用回数を集計する",
    "import csv, collections, os\n"
    f"rows = list(csv.DictReader(open({DATA!r}, encoding='utf-8')))\n"
    "totals = collections.Counter()\n"
    "for r in rows:\n"
    "    totals[r['曜日']] += int(r['回数'])",
    f"os.makedirs({posixpath.dirname(RESULT)!r}, exist_ok=True)\n"
    f"with open({RESULT!r}, 'w', newline='', encoding='utf-8') as fh:\n"
    "    w = csv.writer(fh)\n"
    "    w.writerow(['曜日', '合計'])\n"
    "    for day in ['月', '火', '水', '木', '金', '土', '日']:\n"
    "        w.writerow([day, totals[day]])",
    "print(sum(totals.values()))",
)


@pytest.mark.usefixtures("docker_engine")
def test_japanese_notebook_and_folder_names_reproduce_and_inspect_shows_them_decoded(tmp_path):
    project = tmp_path / "自転車 研究"
    project.mkdir()
    (project / "repropack.toml").write_text(PROJECT_CONFIG)
    (project / DATA).parent.mkdir()
    days = ["月", "火", "水", "木", "金", "土", "日"]
    data = io.StringIO()
    writer = csv.writer(data, lineterminator="\n")
    writer.writerow(["日付", "曜日", "回数"])
    for i in range(21):
        writer.writerow([f"2024-04-{i + 1:02d}", days[i % 7], 10 + 3 * i])
    (project / DATA).write_text(data.getvalue(), encoding="utf-8")
    write_notebook(project / NOTEBOOK, *BIKE_CELLS)

    package = tmp_path / "自転車.crate.zip"
    export = export_project(project, package, {})
    roles = {f.path: f.role.value for f in export.package.files}
    assert (roles[NOTEBOOK], roles[DATA], roles[RESULT]) == ("notebook", "input", "output")
    with open_package(package) as opened:
        _assert_runtime_only_lock(opened.root)
        ids = {e["@id"] for e in opened.metadata["@graph"]}
    # The ids: spaces percent-encoded, Japanese native UTF-8 (RO-Crate 1.2), so check has nothing to say.
    assert {"第4章%20自転車の曜日別利用.ipynb", "データ%202024/利用%20回数.csv", "結果/曜日別%20集計.csv"} <= ids
    assert check_package(package).valid

    result = replay_package(package, ReplaySettings(record=tmp_path / "記録"))
    statuses = _assert_reproduced(result)
    assert statuses[RESULT] is OutputStatus.IDENTICAL
    assert statuses[NOTEBOOK] in (OutputStatus.IDENTICAL, OutputStatus.EQUIVALENT)
    assert result.verdict is Verdict.REPRODUCED
    assert verify_record(result.record).valid
    assert RESULT in (result.record / "report.html").read_text(encoding="utf-8")

    inspected = repropack("inspect", str(package), "--json")
    assert inspected.returncode == 0, inspected.stderr
    described = json.loads(inspected.stdout)
    assert described["notebooks"] == [NOTEBOOK]
    assert {DATA, RESULT, NOTEBOOK} <= {f["path"] for f in described["files"]}
    (run,) = described["runs"]
    assert run["notebook"] == NOTEBOOK and DATA in run["inputs"] and RESULT in run["outputs"]
    table = repropack("inspect", str(package))
    assert table.returncode == 0, table.stderr
    assert NOTEBOOK in table.stdout and DATA in table.stdout and RESULT in table.stdout
