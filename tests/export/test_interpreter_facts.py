"""The kernel's interpreter asked directly (--no-execute): the same facts as a kernel, cached while still true."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from repropack.export.environ import recorded_variables
from repropack.export.execute import execute_notebook
from repropack.export.interpreter_facts import environment_reading, kernel_interpreter_facts
from tests.conftest import write_notebook


def _kernelspec(share: Path, name: str, argv: list[str]) -> None:
    folder = share / "jupyter" / "kernels" / name
    folder.mkdir(parents=True)
    (folder / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": name, "language": "python"}))


def _tiny_wheel(folder: Path, name: str, version: str) -> Path:
    """A pure-Python wheel built by hand: pip installs it offline with no build backend."""
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": "VALUE = 1\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},,\n" for path in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in {**files, f"{info}/RECORD": record}.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture
def venv_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real venv (no pip in it) and a kernelspec ``probe-venv`` launching its python with ipykernel_launcher."""
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env)
    share = tmp_path / "share"
    _kernelspec(
        share, "probe-venv", [str(env / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    )
    monkeypatch.setenv("JUPYTER_PATH", str(share / "jupyter"))
    return env


def _names(facts) -> dict[str, str]:
    return {d["name"].lower(): d["version"] for d in facts.distributions}


def test_no_execute_reading_records_what_the_kernel_reports(tmp_path: Path) -> None:
    write_notebook(tmp_path / "nb.ipynb", "x = 1")
    kernel = execute_notebook(
        tmp_path, "nb.ipynb", kernel="python3", timeout=60, allow_errors=True, execute_cells=False
    )
    direct = environment_reading(tmp_path, "nb.ipynb", kernel="python3")
    assert direct is not None
    assert direct.observation.interpreter == kernel.observation.interpreter
    assert direct.observation.marker_environment == kernel.observation.marker_environment
    assert direct.observation.distributions == kernel.observation.distributions
    assert recorded_variables(direct.observation.environment) == recorded_variables(kernel.observation.environment)
    assert direct.notebook.cells[0].source == "x = 1" and direct.errors == ()


def test_answer_is_cached_and_installing_a_package_invalidates_it(tmp_path: Path, venv_kernel: Path) -> None:
    cache = tmp_path / "cache"
    first = kernel_interpreter_facts("probe-venv", tmp_path, cache_dir=cache)
    assert first is not None and not first.cached
    assert first.interpreter["executable"] == str(venv_kernel / "bin" / "python")
    again = kernel_interpreter_facts("probe-venv", tmp_path, cache_dir=cache)
    assert again is not None and again.cached and again.distributions == first.distributions
    assert "tinypkg" not in _names(again)

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel = _tiny_wheel(wheels, "tinypkg", "1.0")
    python = str(venv_kernel / "bin" / "python")
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-index", "--no-deps"]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True)
    installed = kernel_interpreter_facts("probe-venv", tmp_path, cache_dir=cache)
    assert installed is not None and not installed.cached
    assert _names(installed)["tinypkg"] == "1.0"

    upgrade = _tiny_wheel(wheels, "tinypkg", "2.0")
    subprocess.run([*pip, "--upgrade", str(upgrade)], check=True, capture_output=True)
    upgraded = kernel_interpreter_facts("probe-venv", tmp_path, cache_dir=cache)
    assert upgraded is not None and not upgraded.cached and _names(upgraded)["tinypkg"] == "2.0"


def test_rewriting_metadata_in_place_invalidates_the_answer(tmp_path: Path, venv_kernel: Path) -> None:
    wheel = _tiny_wheel(tmp_path, "tinypkg", "1.0")
    pip = [sys.executable, "-m", "pip", "--python", str(venv_kernel / "bin" / "python"), "install", "-q", "--no-index"]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True)
    cache = tmp_path / "cache"
    assert kernel_interpreter_facts("probe-venv", tmp_path, cache_dir=cache) is not None
    (metadata,) = venv_kernel.glob("lib/python*/site-packages/tinypkg-1.0.dist-info/METADATA")
    with metadata.open("w") as out:  # same folder, same name: the folder's mtime does not move
        out.write("Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0.post1\n")
    rewritten = kernel_interpreter_facts("probe-venv", tmp_path, cache_dir=cache)
    assert rewritten is not None and not rewritten.cached and _names(rewritten)["tinypkg"] == "1.0.post1"


def _the_entry(cache: Path) -> Path:
    (entry,) = (cache / "interpreters").glob("*.json")
    return entry


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[" * 5000 + b"]" * 5000,
        b'{"format": 1, "key": NaN}',
        b'{"format": 1, "format": 1}',
        b'{"format": 1, "key": "x", "facts": {}, "watched": []}',
    ],
    ids=["empty", "text", "not-utf8", "deep", "nan", "duplicate-key", "wrong-key"],
)
def test_a_damaged_cache_entry_is_ignored(tmp_path: Path, venv_kernel: Path, damage: bytes) -> None:
    cache = tmp_path / "cache"
    truth = kernel_interpreter_facts("probe-venv", tmp_path, cache_dir=cache)
    _the_entry(cache).write_bytes(damage)
    answer = kernel_interpreter_facts("probe-venv", tmp_path, cache_dir=cache)
    assert answer is not None and not answer.cached and answer.distributions == truth.distributions
    assert kernel_interpreter_facts("probe-venv", tmp_path, cache_dir=cache).cached  # rewritten whole


def test_a_forged_entry_is_not_trusted(tmp_path: Path, venv_kernel: Path) -> None:
    """An entry with the right key but facts and stats someone else wrote: its stats no longer hold."""
    cache = tmp_path / "cache"
    truth = kernel_interpreter_facts("probe-venv", tmp_path, cache_dir=cache)
    entry = json.loads(_the_entry(cache).read_text())
    entry["facts"]["distributions"].append(
        {"name": "evil", "version": "6.6.6", "requires": [], "top_level_modules": [], "local": False, "source": None}
    )
    entry["watched"] = [[path, [1, 2, 3]] for path, _ in entry["watched"]]
    _the_entry(cache).write_text(json.dumps(entry))
    answer = kernel_interpreter_facts("probe-venv", tmp_path, cache_dir=cache)
    assert answer is not None and not answer.cached and "evil" not in _names(answer)
    assert answer.distributions == truth.distributions

    entry["watched"] = [[path, "not a stat"] for path, _ in entry["watched"]]  # malformed shape
    _the_entry(cache).write_text(json.dumps(entry))
    assert not kernel_interpreter_facts("probe-venv", tmp_path, cache_dir=cache).cached


def test_a_symlinked_cache_entry_is_not_followed(tmp_path: Path, venv_kernel: Path) -> None:
    cache = tmp_path / "cache"
    kernel_interpreter_facts("probe-venv", tmp_path, cache_dir=cache)
    entry = _the_entry(cache)
    planted = tmp_path / "planted.json"
    planted.write_bytes(entry.read_bytes())
    entry.unlink()
    entry.symlink_to(planted)
    assert not kernel_interpreter_facts("probe-venv", tmp_path, cache_dir=cache).cached


def test_a_kernelspec_that_is_not_a_plain_ipykernel_launch_is_left_to_the_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    share = tmp_path / "share"
    _kernelspec(share, "wrapped", ["/bin/sh", "-c", "exec python -m ipykernel_launcher -f {connection_file}"])
    monkeypatch.setenv("JUPYTER_PATH", str(share / "jupyter"))
    assert kernel_interpreter_facts("wrapped", tmp_path, cache_dir=tmp_path / "cache") is None
    assert not (tmp_path / "cache").exists()
