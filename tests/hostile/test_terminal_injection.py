"""Terminal injection: what a package, a notebook or a sandbox says reaches the terminal as inert text
(issue 12, item 8; "Output hygiene").

Every case runs the real console script with its output captured. A control character (C0, DEL, C1,
so every ANSI/OSC escape sequence) or a bidi override from the package is shown escaped
(``\\x1b]0;pwned\\x07``, ``\\u202e``), rich markup in it is shown as typed (``[bold]x[/bold]``) and an
emoji code stays a code; ``--json`` keeps the exact string (JSON escapes it itself).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ANALYSIS_CELLS, make_project, write_notebook
from tests.hostile.clikit import repropack

#: Retitles the terminal (OSC 0), turns text red (CSI SGR), bold in rich markup, and reverses the rest.
OSC = "\x1b]0;pwned\x07"
EVIL = OSC + "[bold]x[/bold]"
#: How the terminal shows ``EVIL``: every control character escaped, the markup as typed.
EVIL_SHOWN = r"\x1b]0;pwned\x07[bold]x[/bold]"


def assert_inert(done: subprocess.CompletedProcess) -> None:
    """No escape sequence, C1 control or bidi override reached either stream."""
    for stream in (done.stdout, done.stderr):
        assert "\x1b" not in stream and "\x07" not in stream
        assert not any(
            0x80 <= ord(c) <= 0x9F or c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069" for c in stream
        )


@pytest.fixture(scope="module")
def clean_package(tmp_path_factory) -> Path:
    """One honest package of the small study (exported once for the module, --no-execute)."""
    root = tmp_path_factory.mktemp("clean")
    project = make_project(root / "study")
    out = root / "study.crate.zip"
    home = root / "home"
    done = repropack(
        "export",
        str(project),
        "-o",
        str(out),
        "--no-execute",
        env={"XDG_CONFIG_HOME": str(home / "config"), "REPROPACK_CACHE_DIR": str(home / "cache")},
    )
    assert done.returncode == 0, done.stderr
    return out


def hostile_copy(
    clean: Path, out: Path, *, add: dict[str, bytes] | None = None, metadata: Callable[[dict], None] | None = None
) -> Path:
    """``clean`` with members added (names as given, byte for byte) and its metadata edited."""
    with zipfile.ZipFile(clean) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "ro-crate-metadata.json" and metadata is not None:
                document = json.loads(data)
                metadata(document)
                data = json.dumps(document).encode()
            target.writestr(info, data)
        for name, data in (add or {}).items():
            target.writestr(name, data)
    return out


def _root(document: dict) -> dict:
    return next(e for e in document["@graph"] if e["@id"] == "./")


# --- check and the one-line errors --------------------------------------------------------------------


def test_check_shows_a_member_name_with_an_osc_sequence_and_markup_literally(clean_package, tmp_path):
    package = hostile_copy(clean_package, tmp_path / "evil.zip", add={f"data/{EVIL}.csv": b"a,b\n"})

    done = repropack("check", str(package))

    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"layout: data/{EVIL_SHOWN}.csv: file in the package is not described by its metadata"
    ]
    assert_inert(done)


def test_check_shows_a_bidi_override_in_a_member_name_escaped(clean_package, tmp_path):
    # U+202E shows "exe.png" as "gnp.exe"... reversed: a reader would misread the name.
    package = hostile_copy(clean_package, tmp_path / "evil.zip", add={"\u202egnp.exe": b"MZ"})

    done = repropack("check", str(package))

    assert done.returncode == 1
    assert done.stdout.splitlines() == [r"layout: \u202egnp.exe: file in the package is not described by its metadata"]
    assert_inert(done)


def test_check_json_keeps_the_hostile_member_name_exact(clean_package, tmp_path):
    package = hostile_copy(clean_package, tmp_path / "evil.zip", add={f"data/{EVIL}.csv": b"a,b\n"})

    done = repropack("check", str(package), "--json")

    assert done.returncode == 1
    messages = [p["message"] for p in json.loads(done.stdout)["problems"]]
    assert messages == [f"data/{EVIL}.csv: file in the package is not described by its metadata"]
    assert "\x1b" not in done.stdout  # JSON escapes it: \u001b


def test_an_unsafe_member_name_is_one_escaped_error_line(clean_package, tmp_path):
    package = hostile_copy(clean_package, tmp_path / "evil.zip", add={f"../{EVIL}.csv": b"a,b\n"})

    done = repropack("check", str(package))

    assert done.returncode == 2
    assert done.stderr == f"repropack: error: unsafe zip {package}: member '../{EVIL_SHOWN}.csv': '..' in path\n"
    assert_inert(done)


def test_replay_refusing_a_hostile_member_says_so_on_one_escaped_line(clean_package, tmp_path, outside):
    package = hostile_copy(clean_package, tmp_path / "evil.zip", add={f"data/{EVIL}.csv": b"a,b\n"})
    outside.__post_init__()

    done = repropack("replay", str(package), "--record", str(tmp_path / "record"))

    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        f"repropack: error: {package}: package failed its integrity check: "
        f"data/{EVIL_SHOWN}.csv: file in the package is not described by its metadata"
    )
    assert_inert(done)
    outside.assert_nothing_new()


def test_an_error_naming_a_hostile_path_is_one_escaped_line(tmp_path):
    missing = tmp_path / f"{EVIL}\u202e.zip"

    done = repropack("inspect", str(missing))

    assert done.returncode == 2
    assert done.stderr == f"repropack: error: {tmp_path}/{EVIL_SHOWN}\\u202e.zip: no such package\n"
    assert_inert(done)


def test_a_usage_error_quoting_a_hostile_path_is_one_escaped_line(tmp_path):
    done = repropack("replay", str(tmp_path / "x.zip"), "--ca-bundle", f"c{EVIL}")

    assert done.returncode == 2
    assert done.stderr == (
        f"repropack: error: Invalid value for '--ca-bundle': File 'c{EVIL_SHOWN}' does not exist. "
        "(see 'repropack replay --help')\n"
    )
    assert_inert(done)


# --- inspect ------------------------------------------------------------------------------------------


def _hostile_title(document: dict) -> None:
    root = _root(document)
    root["name"] = f"{EVIL} \x9b31m:warning: \u2066study"
    root["description"] = f"first {OSC}line\n\x1b[2Jsecond [red]line[/red]\x7f"


def test_inspect_shows_a_hostile_title_and_description_literally(clean_package, tmp_path):
    package = hostile_copy(clean_package, tmp_path / "evil.zip", metadata=_hostile_title)

    done = repropack("inspect", str(package))

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == rf"{EVIL_SHOWN} \x9b31m:warning: \u2066study  ({package})"
    assert lines[1:3] == [r"first \x1b]0;pwned\x07line", r"\x1b[2Jsecond [red]line[/red]\x7f"]
    assert_inert(done)


def test_inspect_json_keeps_the_hostile_title_exact(clean_package, tmp_path):
    package = hostile_copy(clean_package, tmp_path / "evil.zip", metadata=_hostile_title)

    done = repropack("inspect", str(package), "--json")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["title"] == f"{EVIL} \x9b31m:warning: \u2066study"


def test_inspect_on_a_colour_terminal_still_shows_no_hostile_sequence(clean_package, tmp_path):
    # With colour forced, rich writes its own SGR sequences (ESC [ ... m) and nothing else.
    package = hostile_copy(clean_package, tmp_path / "evil.zip", metadata=_hostile_title)

    done = repropack("inspect", str(package), env={"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"})

    assert done.returncode == 0, done.stderr
    assert "\x1b[" in done.stdout  # colour is on
    visible = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout)
    assert "\x1b" not in visible and "\x07" not in visible and "\x9b" not in visible
    assert "\u26a0" not in visible  # :warning: stays a code, never an emoji
    assert visible.splitlines()[0] == rf"{EVIL_SHOWN} \x9b31m:warning: \u2066study  ({package})"


# --- replay: a notebook's own words in the verdict, the record, diff and verify-record -----------------

#: The notebook's error message: an OSC title, an SGR colour, markup, a bidi override.
NOTEBOOK_EVIL = "\\x1b]0;pwned\\x07\\x1b[31m[bold]boom[/bold]\\u202eevil"
NOTEBOOK_EVIL_SHOWN = r"\x1b]0;pwned\x07\x1b[31m[bold]boom[/bold]\u202eevil"


@pytest.fixture(scope="module")
def replayed_failure(tmp_path_factory, docker_engine) -> tuple[Path, subprocess.CompletedProcess]:
    """A package whose notebook raises a hostile error only at replay (H6_MARKER is set at export only)."""
    root = tmp_path_factory.mktemp("failing")
    project = make_project(root / "study")
    write_notebook(
        project / "analysis.ipynb",
        *ANALYSIS_CELLS,
        f'if not os.environ.get("H6_MARKER"):\n    raise RuntimeError("{NOTEBOOK_EVIL}")',
    )
    env = {"XDG_CONFIG_HOME": str(root / "home" / "config"), "REPROPACK_CACHE_DIR": str(root / "home" / "cache")}
    package = root / "study.crate.zip"
    exported = repropack("export", str(project), "-o", str(package), env={**env, "H6_MARKER": "1"})
    assert exported.returncode == 0, exported.stderr
    record = root / "record"
    return record, repropack("replay", str(package), "--record", str(record), env=env)


@pytest.mark.slow
def test_replay_shows_a_hostile_cell_error_escaped(replayed_failure):
    _, done = replayed_failure

    assert done.returncode == 3, done.stderr
    assert_inert(done)
    causes = [line for line in done.stderr.splitlines() if line.startswith("cause:")]
    assert causes == [f"cause: cell error: analysis.ipynb cell 6: RuntimeError: {NOTEBOOK_EVIL_SHOWN}"]


@pytest.mark.slow
def test_verify_record_names_a_planted_hostile_file_escaped(replayed_failure, tmp_path):
    record, _ = replayed_failure
    tampered = tmp_path / "record"
    shutil.copytree(record, tampered)
    (tampered / f"{OSC}[red]x\u202e.txt").write_text("planted")  # a file name cannot hold "/" of [/red]

    done = repropack("verify-record", str(tampered))

    assert done.returncode in (1, 2), done.stderr
    assert r"\x1b]0;pwned\x07[red]x\u202e.txt" in done.stdout + done.stderr
    assert_inert(done)


#: A line the notebook writes into an output file; it differs between export and replay.
OUTPUT_EVIL = "\\x1b]0;pwned\\x07[bold]row[/bold]\\u202e"
OUTPUT_EVIL_SHOWN = r"\x1b]0;pwned\x07[bold]row[/bold]\u202e"


@pytest.fixture(scope="module")
def replayed_difference(tmp_path_factory, docker_engine) -> tuple[Path, subprocess.CompletedProcess]:
    """A package whose output file holds hostile text and differs at replay."""
    root = tmp_path_factory.mktemp("differing")
    project = make_project(root / "study")
    write_notebook(
        project / "analysis.ipynb",
        *ANALYSIS_CELLS,
        "with open('outputs/evil.txt', 'w') as fh:\n"
        f"    fh.write('{OUTPUT_EVIL} ' + ('export' if os.environ.get('H6_MARKER') else 'replay') + '\\n')",
    )
    env = {"XDG_CONFIG_HOME": str(root / "home" / "config"), "REPROPACK_CACHE_DIR": str(root / "home" / "cache")}
    package = root / "study.crate.zip"
    exported = repropack("export", str(project), "-o", str(package), env={**env, "H6_MARKER": "1"})
    assert exported.returncode == 0, exported.stderr
    record = root / "record"
    return record, repropack("replay", str(package), "--record", str(record), env=env)


@pytest.mark.slow
def test_replay_shows_a_hostile_difference_escaped(replayed_difference):
    _, done = replayed_difference

    assert done.returncode == 1, done.stderr
    assert_inert(done)
    lines = [line.strip() for line in done.stderr.splitlines()]
    assert f"recorded: {OUTPUT_EVIL_SHOWN} export" in lines
    assert f"replayed: {OUTPUT_EVIL_SHOWN} replay" in lines


@pytest.mark.slow
def test_diff_shows_a_hostile_output_line_escaped(replayed_difference):
    record, _ = replayed_difference

    done = repropack("diff", str(record), "outputs/evil.txt")

    assert done.returncode == 1, done.stderr
    assert_inert(done)
    assert f"-{OUTPUT_EVIL_SHOWN} export" in done.stdout.splitlines()
    assert f"+{OUTPUT_EVIL_SHOWN} replay" in done.stdout.splitlines()


@pytest.mark.slow
def test_diff_json_keeps_the_hostile_output_line_exact(replayed_difference):
    record, _ = replayed_difference

    done = repropack("diff", str(record), "outputs/evil.txt", "--json")

    assert done.returncode == 1, done.stderr
    diff = json.loads(done.stdout)["outputs"][0]["diff"]
    assert "-\x1b]0;pwned\x07[bold]row[/bold]\u202e export" in diff


@pytest.mark.slow
def test_rejudge_shows_a_hostile_difference_escaped(replayed_difference):
    record, _ = replayed_difference

    done = repropack("rejudge", str(record), "--compare", "outputs/evil.txt=bytes")

    assert done.returncode == 1, done.stderr
    assert_inert(done)
    assert "outputs/evil.txt: different -> different (bytes)" in done.stderr


def test_export_warning_quoting_a_hostile_cell_error_is_escaped(tmp_path, outside):
    project = make_project(tmp_path / "study")
    write_notebook(project / "analysis.ipynb", f'raise RuntimeError("{NOTEBOOK_EVIL}")')
    outside.__post_init__()
    out = tmp_path / "out.zip"

    done = repropack("export", str(project), "-o", str(out), "--allow-errors")

    assert done.returncode == 0, done.stderr
    assert_inert(done)
    warning = next(line for line in done.stderr.splitlines() if line.startswith("warning: analysis.ipynb"))
    assert NOTEBOOK_EVIL_SHOWN in warning
    outside.assert_nothing_new(allowed=(out,))
