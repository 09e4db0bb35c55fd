"""Restricted data stays in (issue 12, item 4): no restricted line or value reaches a package or a record.

Export cases run the real console script on a real project whose ``data/register.csv`` is restricted:
a refusal is exit 2 with one last stderr line naming the packed file (and the cell) and the restricted
input, never the restricted text, and no package written. Replay cases run real containers: the
reviewer supplies the register, the notebook quotes it only at replay, and the restricted text is
nowhere in the record's files, the ``--json`` object or the terminal.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import make_project, write_notebook
from tests.hostile.clikit import repropack

RESTRICTED = "data/register.csv"
HEADER = "patient_id,full_name,birth_date,diagnosis,weight"
ADVICE = "a package must not carry restricted data: print or write summaries, not rows or identifiers"


def register_rows(seed: str) -> list[str]:
    """Twelve rows: an identifier and a name unique to each, two diagnoses six times each (categories)."""
    base = int(seed, 16) % 10**7
    return [
        f"P-{10**7 + base + i},Pat{seed[:4]}{i} Example,19{40 + i}-0{1 + i % 9}-1{i % 10},"
        f"{'positive' if i % 2 else 'negative'},{60 + i}.{i:03d}"
        for i in range(12)
    ]


@pytest.fixture
def study(tmp_path: Path) -> Path:
    project = make_project(tmp_path / "study")
    rows = register_rows(os.urandom(4).hex())
    (project / RESTRICTED).write_text("\n".join([HEADER, *rows]) + "\n")
    (project / "rows.json").write_text(json.dumps(rows))  # the test's own copy of the rows, excluded below
    return project


def rows_of(project: Path) -> list[str]:
    return json.loads((project / "rows.json").read_text())


def export(project: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    return repropack("export", str(project), "-o", str(out), "--restrict", RESTRICTED, "--exclude", "rows.json", *args)


def assert_refused(done: subprocess.CompletedProcess, message: str, secrets: list[str]) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1] == f"repropack: error: {message}; {ADVICE}"
    assert "Traceback" not in done.stderr
    for secret in secrets:
        assert secret not in done.stderr + done.stdout


def restricted_texts(project: Path) -> list[str]:
    """Every row, and each row's identifier and name: none may appear where restricted data must not."""
    rows = rows_of(project)
    return [*rows, *(row.split(",")[0] for row in rows), *(row.split(",")[1] for row in rows)]


# --- export: refused ---------------------------------------------------------------------------


def test_a_printed_row_is_refused_naming_the_cell(study, tmp_path, outside):
    write_notebook(
        study / "analysis.ipynb",
        "lines = open('data/register.csv').read().splitlines()",
        "print('first patient:', lines[1])",
    )
    outside.__post_init__()
    done = export(study, tmp_path / "pkg.zip")
    assert_refused(
        done, f"analysis.ipynb cell 2 holds a line of restricted input {RESTRICTED}", restricted_texts(study)
    )
    outside.assert_nothing_new(allowed=(study,))


def test_a_printed_identifier_is_refused_naming_the_cell(study, tmp_path, outside):
    write_notebook(
        study / "analysis.ipynb",
        "import csv\nrows = list(csv.DictReader(open('data/register.csv')))",
        "n = len(rows)",
        "print('oldest patient:', rows[0]['patient_id'])",
    )
    outside.__post_init__()
    done = export(study, tmp_path / "pkg.zip")
    assert_refused(
        done, f"analysis.ipynb cell 3 holds a value of restricted input {RESTRICTED}", restricted_texts(study)
    )
    outside.assert_nothing_new(allowed=(study,))


def test_a_row_shown_as_a_dict_is_refused(study, tmp_path, outside):
    write_notebook(
        study / "analysis.ipynb",
        "import csv\nrows = list(csv.DictReader(open('data/register.csv')))\nrows[4]",
    )
    outside.__post_init__()
    done = export(study, tmp_path / "pkg.zip")
    assert_refused(
        done, f"analysis.ipynb cell 1 holds a value of restricted input {RESTRICTED}", restricted_texts(study)
    )
    outside.assert_nothing_new(allowed=(study,))


@pytest.mark.slow
def test_a_dataframe_shown_by_a_cell_is_refused(study, tmp_path, outside):
    write_notebook(study / "analysis.ipynb", "import pandas as pd\ndf = pd.read_csv('data/register.csv')", "df.head(3)")
    outside.__post_init__()
    done = export(study, tmp_path / "pkg.zip")
    assert_refused(
        done, f"analysis.ipynb cell 2 holds a value of restricted input {RESTRICTED}", restricted_texts(study)
    )
    outside.assert_nothing_new(allowed=(study,))


@pytest.mark.slow
def test_a_dataframe_summary_is_no_false_alarm(study, tmp_path, outside):
    write_notebook(
        study / "analysis.ipynb",
        "import pandas as pd\ndf = pd.read_csv('data/register.csv')",
        "df.describe()",
        "df['diagnosis'].value_counts()",
        "df.groupby('diagnosis')['weight'].agg(['min', 'max', 'median'])",
    )
    outside.__post_init__()
    out = tmp_path / "pkg.zip"
    done = export(study, out)
    assert done.returncode == 0, done.stderr
    outside.assert_nothing_new(allowed=(study, out))


def test_a_derived_file_that_writes_a_row_verbatim_is_refused(study, tmp_path, outside):
    write_notebook(
        study / "analysis.ipynb",
        "import os\nos.makedirs('outputs', exist_ok=True)\n"
        "lines = open('data/register.csv').read().splitlines()\n"
        "open('outputs/extract.csv', 'w').write(lines[0] + '\\n' + lines[5] + '\\n')",
    )
    outside.__post_init__()
    done = export(study, tmp_path / "pkg.zip")
    assert_refused(done, f"outputs/extract.csv holds a line of restricted input {RESTRICTED}", restricted_texts(study))
    outside.assert_nothing_new(allowed=(study,))


def test_a_copy_under_another_name_is_refused(study, tmp_path, outside):
    (study / "backup").mkdir()
    (study / "backup" / "register.bak").write_bytes((study / RESTRICTED).read_bytes())
    outside.__post_init__()
    done = export(study, tmp_path / "pkg.zip")
    assert_refused(done, f"backup/register.bak is a copy of restricted input {RESTRICTED}", restricted_texts(study))
    outside.assert_nothing_new(allowed=(study,))


def test_a_hard_link_is_refused(study, tmp_path, outside):
    os.link(study / RESTRICTED, study / "data" / "register_link.txt")
    outside.__post_init__()
    done = export(study, tmp_path / "pkg.zip")
    assert_refused(
        done, f"data/register_link.txt is a hard link to restricted input {RESTRICTED}", restricted_texts(study)
    )
    outside.assert_nothing_new(allowed=(study,))


def test_a_copy_the_notebook_makes_is_refused(study, tmp_path, outside):
    write_notebook(
        study / "analysis.ipynb",
        "import os, shutil\nos.makedirs('outputs', exist_ok=True)\nshutil.copy('data/register.csv', 'outputs/x.dat')",
    )
    outside.__post_init__()
    done = export(study, tmp_path / "pkg.zip")
    assert_refused(done, f"outputs/x.dat is a copy of restricted input {RESTRICTED}", restricted_texts(study))
    outside.assert_nothing_new(allowed=(study,))


def test_a_row_escaped_in_a_json_output_is_refused(study, tmp_path, outside):
    # A free-text restricted file: its lines hold quotes, which JSON escapes (\"), so only the escaped form is there.
    (study / "data" / "interviews.txt").write_text('Participant 7 said "I was told in May" and left.\n')
    write_notebook(
        study / "analysis.ipynb",
        "import json, os\nos.makedirs('outputs', exist_ok=True)\n"
        "quote = open('data/interviews.txt').read().splitlines()[0]\n"
        "json.dump({'quote': quote}, open('outputs/quotes.json', 'w'))",
    )
    outside.__post_init__()
    done = export(study, tmp_path / "pkg.zip", "--restrict", "data/interviews.txt")
    assert_refused(
        done, "outputs/quotes.json holds a line of restricted input data/interviews.txt", ["I was told in May"]
    )
    outside.assert_nothing_new(allowed=(study,))


@pytest.mark.slow
def test_an_identifier_in_a_file_name_is_refused(study, tmp_path, outside):
    write_notebook(
        study / "analysis.ipynb",
        "import csv, os\nos.makedirs('outputs', exist_ok=True)\n"
        "for row in csv.DictReader(open('data/register.csv')):\n"
        "    open(f\"outputs/{row['patient_id']}.txt\", 'w').write('ok\\n')",
    )
    outside.__post_init__()
    done = export(study, tmp_path / "pkg.zip")
    first = sorted(row.split(",")[0] for row in rows_of(study))[0]
    assert_refused(done, f"the name outputs/{first}.txt holds a value of restricted input {RESTRICTED}", [])
    outside.assert_nothing_new(allowed=(study,))


def test_an_identifier_hard_coded_in_a_cell_is_refused(study, tmp_path, outside):
    patient = rows_of(study)[3].split(",")[0]
    write_notebook(
        study / "analysis.ipynb",
        "import csv\nrows = list(csv.DictReader(open('data/register.csv')))",
        f"chosen = [r for r in rows if r['patient_id'] == {patient!r}]\nlen(chosen)",
    )
    outside.__post_init__()
    done = export(study, tmp_path / "pkg.zip", "--no-execute")
    assert_refused(done, f"analysis.ipynb cell 2 holds a value of restricted input {RESTRICTED}", [patient])
    outside.assert_nothing_new(allowed=(study,))


# --- export: no false alarm ----------------------------------------------------------------------


def test_short_and_common_values_and_column_names_are_no_false_alarm(study, tmp_path, outside):
    """Column names, categories (six rows each), short values, counts and summaries are not restricted."""
    write_notebook(
        study / "analysis.ipynb",
        "import csv, collections, os, statistics\n"
        "rows = list(csv.DictReader(open('data/register.csv')))\n"
        "print(list(rows[0]))  # the column names\n"
        "by = collections.Counter(r['diagnosis'] for r in rows)\n"
        "print(dict(by))\n"
        "print('weight range', min(r['weight'] for r in rows), max(r['weight'] for r in rows))\n"
        "print('median weight', statistics.median(float(r['weight']) for r in rows))",
        "os.makedirs('outputs', exist_ok=True)\n"
        "with open('outputs/by_diagnosis.csv', 'w') as fh:\n"
        "    fh.write('diagnosis,patients\\n')\n"
        "    for k, v in sorted(by.items()): fh.write(f'{k},{v}\\n')\n"
        "print(open('data/register.csv').read().splitlines()[0])  # the header line",
    )
    outside.__post_init__()
    out = tmp_path / "pkg.zip"
    done = export(study, out, "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["restricted"] == [RESTRICTED]
    assert "outputs/by_diagnosis.csv" in summary["outputs"]
    for text in restricted_texts(study):
        assert text.encode() not in out.read_bytes()
    outside.assert_nothing_new(allowed=(study, out))


@pytest.mark.slow
def test_a_binary_restricted_input_is_known_by_hash_and_said_so(study, tmp_path, outside):
    (study / "data" / "scan.bin").write_bytes(b"\0\1\2" * 1000 + os.urandom(64))
    outside.__post_init__()
    done = export(study, tmp_path / "pkg.zip", "--restrict", "data/scan.bin", "--json")
    assert done.returncode == 0, done.stderr
    assert (
        "restricted input data/scan.bin has no text lines or values to look for: copies and hard links of it "
        "are refused, its contents are not sought elsewhere"
    ) in json.loads(done.stdout)["warnings"]
    (study / "scan_copy.raw").write_bytes((study / "data" / "scan.bin").read_bytes())
    (tmp_path / "pkg.zip").unlink()
    outside.__post_init__()
    refused = export(study, tmp_path / "pkg.zip", "--restrict", "data/scan.bin")
    assert_refused(refused, "scan_copy.raw is a copy of restricted input data/scan.bin", [])
    outside.assert_nothing_new(allowed=(study,))


# --- replay: what the sandbox quotes is redacted ---------------------------------------------------

# The notebook quotes the register only where ``validated.flag`` is missing: the researcher's project has it,
# the package does not (it is excluded), so the export is clean and the replay, given the register, is not.
NOT_VALIDATED = "import os\nvalidated = os.path.exists('validated.flag')"
READ_ROWS = "lines = open('data/register.csv').read().splitlines()"
REDACTED = f"[restricted: {RESTRICTED}]"


def replayable(project: Path, tmp_path: Path, *cells: str) -> Path:
    """The project exported with ``cells`` as its notebook (refusal-free: the flag is there), as a folder."""
    (project / "validated.flag").write_text("checked\n")
    write_notebook(project / "analysis.ipynb", READ_ROWS, NOT_VALIDATED, *cells)
    out = tmp_path / "pkg"
    done = export(project, out, "--exclude", "validated.flag")
    assert done.returncode == 0, done.stderr
    return out


def replay(project: Path, package: Path, record: Path, *args: str, json_: bool = True) -> subprocess.CompletedProcess:
    supplied = f"{RESTRICTED}={project / RESTRICTED}"
    return repropack("replay", str(package), "--input", supplied, "--record", str(record), *args, *(["--json"] * json_))


def assert_nowhere(texts: list[str], done: subprocess.CompletedProcess, record: Path) -> None:
    """No restricted text on stdout, stderr, or in any byte of any file of the record."""
    assert "Traceback" not in done.stderr
    files = [p for p in record.rglob("*") if p.is_file()]
    assert files
    for text in texts:
        assert text not in done.stdout + done.stderr
        for file in files:
            assert text.encode() not in file.read_bytes(), file


@pytest.mark.slow
@pytest.mark.usefixtures("docker_engine")
def test_a_row_in_the_failure_cause_is_redacted_everywhere(study, tmp_path, outside):
    package = replayable(
        study, tmp_path, "if not validated:\n    raise ValueError(f'row failed validation: {lines[3]}')"
    )
    record = tmp_path / "record"
    outside.__post_init__()
    done = replay(study, package, record)
    assert done.returncode == 3, done.stderr
    result = json.loads(done.stdout)
    assert result["cause"] == f"cell error: analysis.ipynb cell 3: ValueError: row failed validation: {REDACTED}"
    shown = replay(study, package, tmp_path / "record2", "--report", str(tmp_path / "report.html"), json_=False)
    assert shown.returncode == 3
    assert f"row failed validation: {REDACTED}" in shown.stderr  # the terminal shows the cause, redacted
    assert_nowhere(restricted_texts(study), shown, tmp_path / "record2")
    assert not any(text in (tmp_path / "report.html").read_text() for text in restricted_texts(study))
    # The executed notebook holds the traceback: it is not kept in the record.
    assert (
        f"analysis.ipynb: holds a line of restricted input {RESTRICTED}; never copied into a record"
        in (result["replayed"]["not_kept"])
    )
    assert_nowhere(restricted_texts(study), done, record)
    outside.assert_nothing_new(allowed=(record, tmp_path / "record2", tmp_path / "report.html"))


@pytest.mark.slow
@pytest.mark.usefixtures("docker_engine")
def test_a_row_in_a_diff_excerpt_is_redacted_and_the_output_not_kept(study, tmp_path, outside):
    package = replayable(
        study,
        tmp_path,
        "import os\nos.makedirs('outputs', exist_ok=True)\n"
        "with open('outputs/summary.txt', 'w') as fh:\n"
        "    fh.write(f'patients: {len(lines) - 1}\\n')\n"
        "    if not validated: fh.write(lines[2] + '\\n')",
    )
    record = tmp_path / "record"
    outside.__post_init__()
    done = replay(study, package, record)
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    (summary,) = [o for o in result["outputs"] if o["path"] == "outputs/summary.txt"]
    assert summary["status"] == "different"
    assert REDACTED in summary["detail"]
    assert "outputs/summary.txt" not in result["replayed"]["files"]
    assert (
        f"outputs/summary.txt: holds a line of restricted input {RESTRICTED}; never copied into a record"
        in (result["replayed"]["not_kept"])
    )
    assert_nowhere(restricted_texts(study), done, record)
    outside.assert_nothing_new(allowed=(record,))


@pytest.mark.slow
@pytest.mark.usefixtures("docker_engine")
def test_a_row_in_the_sandbox_log_tail_is_redacted(study, tmp_path, outside):
    package = replayable(
        study,
        tmp_path,
        "import os, time\nif not validated:\n"
        "    os.write(2, ('bad row ' + lines[4] + '\\n').encode())\n"
        "    os.write(1, ('bad row ' + lines[4] + '\\n').encode())\n"
        "    time.sleep(2)  # the engine's log has both lines before the kernel dies\n"
        "    os._exit(1)",
    )
    record = tmp_path / "record"
    outside.__post_init__()
    done = replay(study, package, record)
    assert done.returncode == 3, done.stderr
    assert json.loads(done.stdout)["cause"] == "kernel died: analysis.ipynb: cell 3: Kernel died"
    # The report shows the sandbox log's last lines: what the kernel wrote there, redacted.
    assert f"bad row {REDACTED}\nbad row {REDACTED}\n</pre>" in (record / "report.html").read_text()
    assert_nowhere(restricted_texts(study), done, record)
    outside.assert_nothing_new(allowed=(record,))


@pytest.mark.slow
@pytest.mark.usefixtures("docker_engine")
def test_an_output_that_is_a_copy_of_the_restricted_input_is_not_kept(study, tmp_path, outside):
    package = replayable(
        study,
        tmp_path,
        "import os, shutil\nos.makedirs('outputs', exist_ok=True)\n"
        "if validated: open('outputs/extract.dat', 'w').write('nothing to extract\\n')\n"
        "else: shutil.copy('data/register.csv', 'outputs/extract.dat')",
    )
    record = tmp_path / "record"
    outside.__post_init__()
    done = replay(study, package, record)
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert "outputs/extract.dat" not in result["replayed"]["files"]
    assert (
        f"outputs/extract.dat: is a copy of restricted input {RESTRICTED}; never copied into a record"
        in (result["replayed"]["not_kept"])
    )
    assert_nowhere(restricted_texts(study), done, record)
    outside.assert_nothing_new(allowed=(record,))
