"""A wheel packed from a distribution's installed files: what ``pip install .`` put on the kernel's path."""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from repropack.environment.localwheel import wheel_from_record
from repropack.errors import CannotRun


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _installed(site: Path, *, extra_rows: tuple[str, ...] = ()) -> Path:
    """A site folder as pip leaves it after installing a one-module distribution with a console script."""
    files = {
        "tally/__init__.py": b"def main():\n    print('tally 1')\n",
        "tally/data/codes.txt": b"A1\nB2\n",
        "tally/__pycache__/__init__.cpython-311.pyc": b"\x00compiled",
        "tally-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tally\nVersion: 1.0\n",
        "tally-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        "tally-1.0.dist-info/entry_points.txt": b"[console_scripts]\ntally = tally:main\n",
        "tally-1.0.dist-info/INSTALLER": b"pip\n",
        "tally-1.0.dist-info/REQUESTED": b"",
        "tally-1.0.dist-info/direct_url.json": b'{"dir_info": {}, "url": "file:///home/ada/study"}',
    }
    for path, data in files.items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_bytes(data)
    rows = [f"{p},{_digest(d)},{len(d)}" for p, d in files.items()]
    rows += ["../../bin/tally,sha256=x,10", "tally-1.0.dist-info/RECORD,,", *extra_rows]
    (site / "tally-1.0.dist-info/RECORD").write_text("\n".join(rows) + "\n")
    return site / "tally-1.0.dist-info/RECORD"


def test_the_wheel_holds_the_installed_modules_data_and_metadata_and_none_of_the_installers_files(tmp_path):
    wheel = wheel_from_record(_installed(tmp_path / "site"))
    assert wheel.filename == "tally-1.0-py3-none-any.whl"
    archive = zipfile.ZipFile(io.BytesIO(wheel.data))
    assert archive.namelist() == [
        "tally/__init__.py",
        "tally/data/codes.txt",
        "tally-1.0.dist-info/METADATA",
        "tally-1.0.dist-info/WHEEL",
        "tally-1.0.dist-info/entry_points.txt",
        "tally-1.0.dist-info/RECORD",
    ]
    record = archive.read("tally-1.0.dist-info/RECORD").decode().splitlines()
    module = archive.read("tally/__init__.py")
    assert module == b"def main():\n    print('tally 1')\n"
    assert record[0] == f"tally/__init__.py,{_digest(module)},{len(module)}"
    assert record[-1] == "tally-1.0.dist-info/RECORD,,"
    assert wheel.left_out == ()  # the console script is made again from entry_points.txt


def test_the_same_installation_gives_the_same_bytes(tmp_path):
    first = wheel_from_record(_installed(tmp_path / "a"))
    second = wheel_from_record(_installed(tmp_path / "b"))
    assert first.data == second.data and first.sha256 == second.sha256


def test_files_installed_outside_the_folder_that_no_installer_makes_again_are_named(tmp_path):
    wheel = wheel_from_record(_installed(tmp_path / "site", extra_rows=("../../share/tally/README,sha256=x,3",)))
    assert wheel.left_out == ("../../share/tally/README",)


def test_an_installation_missing_a_file_its_record_lists_cannot_be_packed(tmp_path):
    record = _installed(tmp_path / "site")
    (tmp_path / "site/tally/data/codes.txt").unlink()
    with pytest.raises(CannotRun, match="cannot read .*codes.txt, which the installed tally-1.0.dist-info lists"):
        wheel_from_record(record)


def test_pip_installs_the_wheel_with_its_console_script_and_data(tmp_path):
    wheel = wheel_from_record(_installed(tmp_path / "site"))
    (tmp_path / wheel.filename).write_bytes(wheel.data)
    target = tmp_path / "again"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(target)]
        + [str(tmp_path / wheel.filename)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (target / "tally/data/codes.txt").read_text() == "A1\nB2\n"
    ran = subprocess.run([str(target / "bin/tally")], capture_output=True, text=True, env={"PYTHONPATH": str(target)})
    assert ran.stdout == "tally 1\n"
