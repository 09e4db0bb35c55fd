"""The work dir a replay's notebooks run in: laid out as at export, writable as at export."""

from __future__ import annotations

import stat
from pathlib import Path

from repropack.crate.reader import open_package
from repropack.export import export_project
from repropack.replay.workdir import changed_in_place, prepare_work_dir
from tests.conftest import write_notebook

UPDATE_SCRIPT = (
    "# Keeps data/state.csv sorted by key, in place, and reports the total.\n"
    "with open('data/state.csv', 'r+') as fh:\n"
    "    header, *rows = fh.read().splitlines()\n"
    "    rows.sort()\n"
    "    fh.seek(0)\n"
    "    fh.write('\\n'.join([header, *rows]) + '\\n')\n"
    "    fh.truncate()\n"
    "total = sum(int(r.split(',')[1]) for r in rows)\n"
)


def _in_place_project(root: Path) -> Path:
    (root / "scripts").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "scripts" / "update.py").write_text(UPDATE_SCRIPT)
    (root / "data" / "state.csv").write_text("key,value\na,1\nb,2\n")
    (root / "repropack.toml").write_text('title = "in place"\nlicense = "MIT"\n')
    write_notebook(
        root / "analysis.ipynb",
        "%run scripts/update.py",
        "import os\nos.makedirs('results', exist_ok=True)\nopen('results/total.txt', 'w').write(f'{total}\\n')",
    )
    return root


def test_a_file_read_then_rewritten_in_place_stays_in_the_work_dir_while_new_outputs_are_set_aside(tmp_path):
    project = _in_place_project(tmp_path / "proj")
    export_project(project, tmp_path / "pkg", {})
    work = tmp_path / "work"
    work.mkdir()
    with open_package(tmp_path / "pkg") as opened:
        package = opened.package
        (run,) = package.runs
        # The export saw the script read the file and write it: an input and an output of one run.
        assert "data/state.csv" in run.inputs and "data/state.csv" in run.outputs
        assert changed_in_place(package) == {"data/state.csv"}
        prepare_work_dir(opened.root, package, {}, work)
    assert (work / "data/state.csv").read_text() == "key,value\na,1\nb,2\n"
    assert not (work / "results/total.txt").exists()  # made by the run: the replay must make it again
    assert (work / "scripts/update.py").is_file()


def test_a_file_made_by_one_notebook_and_rewritten_by_the_next_is_set_aside(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "repropack.toml").write_text('title = "two"\nlicense = "MIT"\n')
    write_notebook(project / "01_make.ipynb", "open('state.txt', 'w').write('1\\n')")
    write_notebook(
        project / "02_bump.ipynb", "n = int(open('state.txt').read())\nopen('state.txt', 'w').write(f'{n + 1}\\n')"
    )
    export_project(project, tmp_path / "pkg", {})
    with open_package(tmp_path / "pkg") as opened:
        second = opened.package.runs[1]
        assert "state.txt" in second.inputs and "state.txt" in second.outputs
        # The first run created it, so the replay must create it again: not a file changed in place.
        assert changed_in_place(opened.package) == set()


def test_every_copied_file_and_folder_is_writable_by_its_owner_whatever_the_umask(tmp_path):
    import os

    project = _in_place_project(tmp_path / "proj")
    export_project(project, tmp_path / "pkg", {})
    work = tmp_path / "work"
    work.mkdir()
    old = os.umask(0o277)  # a hardened host: new files would be read-only even for their owner
    try:
        with open_package(tmp_path / "pkg") as opened:
            prepare_work_dir(opened.root, opened.package, {}, work)
    finally:
        os.umask(old)
    modes = {p.relative_to(work).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [work, *work.rglob("*")]}
    assert modes["data/state.csv"] == 0o644 and modes["scripts/update.py"] == 0o644
    assert modes["."] == 0o755 and modes["data"] == 0o755
