"""Export's disclosure gate on real small projects: refused, masked with --suppress, passed, left alone."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from repropack.crate.check import check_package
from repropack.crate.profiles import validate_profiles
from repropack.errors import BadInput, CheckFailed
from repropack.export import export_project
from repropack.export.disclosure_gate import DisclosureRefused
from repropack.model import layout
from tests.conftest import write_notebook

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "claims-analysis"
TABLE = "outputs/table.csv"
HEADER = ("group", "n", "age")
SMALL_CELL = [("a", 12, 40), ("b", 3, 41), ("c", 25, 39)]  # n = 3 is below 10
ALL_LARGE = [("a", 12, 4), ("b", 30, 2), ("c", 25, 1)]  # small numbers only in the undeclared column
METADATA = (
    'title = "Study"\ndescription = "A small study."\nlicense = "MIT"\n'
    '[[authors]]\nname = "Ada Example"\norcid = "https://orcid.org/0000-0002-1825-0097"\n'
    'affiliation = { name = "Example Institute", url = "https://example.org" }\n'
    '[publisher]\nname = "Example Institute"\nurl = "https://example.org"\n'
)
DECLARED = '[disclosure]\nmin_count = 10\ncounts = ["n"]\n'
ACRO_FAIL = {
    "version": "0.4.5",
    "results": {
        "output_0": {
            "uid": "output_0",
            "status": "fail",
            "type": "table",
            "files": [{"name": "table.csv", "sdc": {}}],
            "summary": "fail; threshold: 1 cells may need suppressing",
        }
    },
}


def _project(root: Path, rows, *, disclosure: str = DECLARED, cells: tuple[str, ...] = ()) -> Path:
    """A stdlib-only project whose notebook writes ``rows`` to outputs/table.csv, then runs ``cells``."""
    write = (
        "import csv, os\nos.makedirs('outputs', exist_ok=True)\n"
        f"with open({TABLE!r}, 'w', newline='') as fh:\n"
        f"    w = csv.writer(fh)\n    w.writerow({list(HEADER)!r})\n    w.writerows({[list(r) for r in rows]!r})"
    )
    write_notebook(root / "analysis.ipynb", write, *cells)
    (root / "requirements.txt").write_text("# nothing needed\n")
    (root / "repropack.toml").write_text(METADATA + disclosure)
    return root


def _metadata(package: Path) -> dict[str, dict]:
    document = json.loads((package / layout.METADATA).read_text(encoding="utf-8"))
    return {e["@id"]: e for e in document["@graph"]}


def _check_action(package: Path) -> tuple[dict, dict]:
    graph = _metadata(package)
    action = graph["#disclosure-check-export"]
    return action, json.loads(graph[action["result"]["@id"]]["value"])


def _settings(package: Path) -> dict:
    return json.loads((package / layout.SETTINGS).read_text(encoding="utf-8"))


def _nothing_written(out: Path) -> bool:
    return not any(p.name.startswith(out.name) for p in out.parent.iterdir())


def repropack(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("repropack")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "repropack"]
    return subprocess.run([*command, *args], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})


@pytest.mark.slow
def test_a_count_below_k_is_refused_at_export_with_the_cell_listed_and_nothing_written(tmp_path):
    project = _project(tmp_path / "study", SMALL_CELL)
    out = tmp_path / "out" / "study.crate.zip"
    out.parent.mkdir()
    done = repropack("export", str(project), "-o", str(out))
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    lines = lines[next(i for i, line in enumerate(lines) if line.startswith("repropack: error:")) :]  # after progress
    assert lines[0] == (
        "repropack: error: 1 output fails disclosure control; nothing was written "
        "(pass --suppress to pack masked copies)"
    )
    assert len(lines) == 2
    assert lines[1].startswith(f"  {TABLE}: row b, column n: value 3: threshold")
    assert _nothing_written(out)


@pytest.mark.slow
def test_min_count_replaces_the_projects_and_is_recorded_as_a_flag(tmp_path):
    project = _project(tmp_path / "study", SMALL_CELL, disclosure='[disclosure]\nmin_count = 2\ncounts = ["n"]\n')
    out = tmp_path / "out"
    out.mkdir()
    refused = repropack("export", str(project), "-o", str(out / "a"), "--min-count", "10")
    assert refused.returncode == 1, refused.stderr
    assert f"{TABLE}: row b, column n: value 3: threshold" in refused.stderr
    assert _nothing_written(out / "a")
    done = repropack("export", str(project), "-o", str(out / "b"), "--min-count", "3")
    assert done.returncode == 0, done.stderr
    assert _settings(out / "b")["disclosure"] == {"value": {"min_count": 3, "counts": ["n"]}, "source": "flag"}
    assert _check_action(out / "b")[0]["actionStatus"] == "http://schema.org/CompletedActionStatus"
    bad = repropack("export", str(project), "-o", str(out / "c"), "--min-count", "0")
    assert bad.returncode == 2 and _nothing_written(out / "c")


@pytest.mark.slow
def test_suppress_packs_a_masked_copy_and_records_which_cells_and_why(tmp_path):
    project = _project(tmp_path / "study", SMALL_CELL)
    out = tmp_path / "package"
    result = export_project(project, out, {"suppress": True})

    packed = (out / TABLE).read_bytes()
    assert packed == b"group,n,age\r\na,12,40\r\nb,,41\r\nc,25,39\r\n"  # the cell emptied, nothing else changed
    assert (project / TABLE).read_bytes() == b"group,n,age\r\na,12,40\r\nb,3,41\r\nc,25,39\r\n"  # unchanged
    record = next(f for f in result.package.files if f.path == TABLE)
    assert (record.sha256, record.size) == (hashlib.sha256(packed).hexdigest(), len(packed))
    assert record.role.value == "output"
    assert check_package(out).problems == []  # every hash is the packed (masked) bytes'

    settings = _settings(out)
    assert settings["suppress"] == {"value": True, "source": "flag"}
    assert settings["disclosure"]["value"] == {"min_count": 10, "counts": ["n"]}

    action, found = _check_action(out)
    assert action["@type"] == "AssessAction"
    assert action["additionalType"] == {"@id": "https://w3id.org/shp#DisclosureCheck"}
    assert action["name"] == "Disclosure check of the outputs: passed after suppression"
    assert action["actionStatus"] == "http://schema.org/CompletedActionStatus"
    assert {"@id": TABLE} in action["object"]
    assert found["suppressed"] == {TABLE: [{"table": "", "row": "b", "column": "n", "rule": "threshold"}]}
    assert any("masked" in w and TABLE in w for w in result.warnings)

    # The official validator: the action adds nothing beyond the facts nobody gave (a ROR id, contact points).
    issues = validate_profiles(out)
    assert not [i for i in issues if i.severity == "REQUIRED"]
    assert {i.check for i in issues} <= {
        "ro-crate-1.2_44.2",
        "ro-crate-1.2_89.0",
        "ro-crate-1.2_90.1",
        "ro-crate-1.2_93.0",
    }


@pytest.mark.slow
def test_a_passing_table_goes_through_and_counts_in_undeclared_columns_are_not_flagged(tmp_path):
    project = _project(tmp_path / "study", ALL_LARGE)
    out = tmp_path / "package"
    result = export_project(project, out, {})
    assert (out / TABLE).read_bytes() == (project / TABLE).read_bytes()  # "age" holds 4, 2, 1: not a count column
    action, found = _check_action(out)
    assert action["name"] == "Disclosure check of the outputs: passed"
    assert action["actionStatus"] == "http://schema.org/CompletedActionStatus"
    assert found["suppressed"] == {} and all(f["status"] == "pass" for f in found["files"])
    assert not [w for w in result.warnings if "disclosure" in w]


@pytest.mark.slow
@pytest.mark.parametrize("suppress", [False, True])
def test_an_acro_results_json_with_a_fail_blocks_export_even_with_suppress(tmp_path, suppress):
    acro = f"import json\njson.dump({ACRO_FAIL!r}, open('outputs/results.json', 'w'))"
    project = _project(tmp_path / "study", ALL_LARGE, cells=(acro,))
    out = tmp_path / "package.zip"
    with pytest.raises(DisclosureRefused) as refused:
        export_project(project, out, {"suppress": suppress})
    assert isinstance(refused.value, CheckFailed) and refused.value.exit_code == 1
    assert any(line.startswith(f"{TABLE}: ") and ": acro" in line for line in refused.value.lines)
    assert _nothing_written(out)


@pytest.mark.slow
def test_a_figure_does_not_block_but_waits_for_a_persons_review(tmp_path):
    figure = "open('outputs/plot.png', 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + bytes(64))"
    project = _project(tmp_path / "study", ALL_LARGE, cells=(figure,))
    out = tmp_path / "package"
    result = export_project(project, out, {})
    assert (out / "outputs" / "plot.png").is_file()
    assert any("need review by a person" in w and "outputs/plot.png" in w for w in result.warnings)
    action, _ = _check_action(out)
    assert action["name"] == "Disclosure check of the outputs: pending review"
    assert action["actionStatus"] == "http://schema.org/PotentialActionStatus"


@pytest.mark.slow
def test_a_small_count_shown_as_a_table_in_the_notebook_is_checked_and_masked_there(tmp_path):
    shown = (
        "from IPython.display import HTML\n"
        "HTML('<table><thead><tr><th>group</th><th>n</th></tr></thead>"
        "<tbody><tr><th>a</th><td>12</td></tr><tr><th>b</th><td>4</td></tr></tbody></table>')"
    )
    project = _project(tmp_path / "study", ALL_LARGE, cells=(shown,))
    with pytest.raises(DisclosureRefused) as refused:
        export_project(project, tmp_path / "refused", {})
    (line,) = refused.value.lines
    assert line.startswith("analysis.ipynb, ") and "row b, column n: value 4: threshold" in line
    out = tmp_path / "package"
    export_project(project, out, {"suppress": True})
    cells = json.loads((out / "analysis.ipynb").read_text(encoding="utf-8"))["cells"]
    outputs = json.dumps([o for c in cells for o in c.get("outputs", ())])  # the cell's source is the test's own
    assert "withheld by disclosure control" in outputs
    assert "<td>4</td>" not in outputs and "<td>12</td>" in outputs


def test_a_bad_disclosure_table_is_refused_before_any_notebook_runs(tmp_path):
    project = _project(tmp_path / "study", ALL_LARGE, disclosure="[disclosure]\nmin_count = 0\n")
    out = tmp_path / "package"
    with pytest.raises(BadInput, match="min_count"):
        export_project(project, out, {})
    assert not (project / TABLE).exists()  # the notebook never ran
    assert _nothing_written(out)


@pytest.mark.slow
def test_without_disclosure_declared_nothing_changes_and_no_disclosure_module_loads(tmp_path):
    project = _project(tmp_path / "study", SMALL_CELL, disclosure="")
    out = tmp_path / "package"
    script = (
        "import sys\nfrom pathlib import Path\nfrom repropack.export import export_project\n"
        f"export_project(Path({str(project)!r}), Path({str(out)!r}), {{}})\n"
        "print(sorted(m for m in sys.modules if m.startswith('repropack.disclosure')))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    graph = _metadata(out)
    assert not [e for e in graph.values() if e.get("@type") == "AssessAction"]
    assert (out / TABLE).read_bytes() == (project / TABLE).read_bytes()  # the small count is packed as it is


@pytest.mark.slow
def test_the_example_with_disclosure_declared_exports_its_self_masked_table(tmp_path):
    project = shutil.copytree(EXAMPLE, tmp_path / "claims-analysis", ignore=shutil.ignore_patterns("outputs"))
    config = project / "repropack.toml"
    text = config.read_text(encoding="utf-8")
    if "[disclosure]" not in text:
        text += '\n[disclosure]\nmin_count = 10\ncounts = ["outputs/counts_by_ageband_disease.csv:*"]\n'
        config.write_text(text, encoding="utf-8")
    out = tmp_path / "claims.crate.zip"
    result = export_project(project, out, {})
    table = "outputs/counts_by_ageband_disease.csv"
    with zipfile.ZipFile(out) as z:
        assert z.read(table) == (project / table).read_bytes()  # nothing to mask: the notebook masked its own
        graph = {e["@id"]: e for e in json.loads(z.read(layout.METADATA))["@graph"]}
    action = graph["#disclosure-check-export"]
    found = json.loads(graph[action["result"]["@id"]]["value"])
    by_path = {f["path"]: f for f in found["files"]}
    assert by_path[table]["status"] == "pass" and by_path[table]["tables"] == 1
    assert found["suppressed"] == {}
    # The bar chart is a figure: a person reviews it before release, so the check waits for them.
    assert by_path["outputs/counts_by_ageband_disease.png"]["status"] == "review"
    assert action["actionStatus"] == "http://schema.org/PotentialActionStatus"
    assert any("counts_by_ageband_disease.png" in w for w in result.warnings)


@pytest.mark.slow
def test_suppress_refuses_a_mask_that_a_total_gives_back(tmp_path):
    with_total = [("a", 12, 40), ("b", 3, 41), ("Total", 15, 81)]  # b's 3 = Total - a once masked
    project = _project(tmp_path / "study", with_total)
    out = tmp_path / "package"
    with pytest.raises(DisclosureRefused) as refused:
        export_project(project, out, {"suppress": True})
    assert "even with the failing cells masked" in refused.value.headline
    assert any(line.startswith(f"{TABLE}: row b, column n:") for line in refused.value.lines)
    assert _nothing_written(out)
