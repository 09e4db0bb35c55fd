"""Replays in real containers: verdicts, causes, tampering, and hostile notebooks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from repropack.config import ReplaySettings, resolve_replay_settings
from repropack.errors import BadInput
from repropack.export import export_project
from repropack.model import CauseKind, OutputStatus, Verdict
from repropack.record.signing import verify_record
from repropack.replay import replay_package
from repropack.sandbox import SandboxLimits
from tests.conftest import forge_recorded_file, write_notebook

pytestmark = pytest.mark.usefixtures("docker_engine")


def _export(project: Path, out: Path, **flags) -> Path:
    export_project(project, out, flags)
    return out


def _replay(package: Path, **options):
    return replay_package(package, ReplaySettings(**options))


def test_small_project_reproduces_in_a_container_with_no_network(project, tmp_path):
    package = _export(project, tmp_path / "pkg")
    result = _replay(package)
    assert result.verdict is Verdict.REPRODUCED, result.cause
    statuses = {o.path: o.status for o in result.outputs}
    assert statuses["outputs/counts.csv"] is OutputStatus.IDENTICAL
    assert statuses["analysis.ipynb"] in (OutputStatus.IDENTICAL, OutputStatus.EQUIVALENT)
    assert result.limits["network"] is False
    assert result.backend["backend"] == "docker"


def test_second_replay_reuses_the_image(project, tmp_path):
    package = _export(project, tmp_path / "pkg")
    first = _replay(package)
    second = _replay(package)
    assert second.image == first.image
    assert second.image_reused is True
    assert second.timings["build"] < 5


def test_forged_result_is_not_reproduced_with_a_diff_naming_the_change(project, tmp_path):
    package = _export(project, tmp_path / "pkg")
    forge_recorded_file(package, "outputs/counts.csv", b"group,n\r\na,2\r\nb,7\r\n")
    result = _replay(package)
    assert result.verdict is Verdict.NOT_REPRODUCED
    (counts,) = [o for o in result.outputs if o.path == "outputs/counts.csv"]
    assert counts.status is OutputStatus.DIFFERENT
    assert "7" in counts.detail and "1" in counts.detail


def test_flipped_byte_stops_at_integrity(project, tmp_path):
    package = _export(project, tmp_path / "pkg")
    data = bytearray((package / "outputs/counts.csv").read_bytes())
    data[-3] ^= 0x01
    (package / "outputs/counts.csv").write_bytes(bytes(data))
    with pytest.raises(BadInput, match="integrity check: outputs/counts.csv"):
        _replay(package)


def test_notebook_reaching_for_the_network_fails_with_network_needed(project, tmp_path):
    write_notebook(
        project / "analysis.ipynb",
        "import urllib.request\nurllib.request.urlopen('http://pypi.org', timeout=5).read(10)",
    )
    # At export time the network may or may not answer; package the notebook as it is.
    package = _export(project, tmp_path / "pkg", execute=False)
    result = _replay(package)
    assert result.verdict is Verdict.FAILED
    assert result.cause.kind is CauseKind.NETWORK_NEEDED, result.cause


def test_module_missing_from_the_package_fails_with_missing_module(project, tmp_path):
    (project / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    write_notebook(project / "analysis.ipynb", "import helpers\nprint(helpers.double(21))")
    package = _export(project, tmp_path / "pkg", exclude=("helpers.py",))
    result = _replay(package)
    assert result.verdict is Verdict.FAILED
    assert result.cause.kind is CauseKind.MISSING_MODULE
    assert "helpers" in result.cause.detail


def test_restricted_input_must_be_supplied_and_match(project, tmp_path):
    package = _export(project, tmp_path / "pkg", restrict=("data/*.csv",))
    missing = _replay(package)
    assert missing.verdict is Verdict.FAILED and missing.cause.kind is CauseKind.MISSING_INPUT
    assert "data/input.csv not supplied" in missing.cause.detail
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id,group\n")
    mismatched = _replay(package, inputs={"data/input.csv": wrong})
    assert "does not match the recorded sha256" in mismatched.cause.detail
    supplied = _replay(package, inputs_dir=project)
    assert supplied.verdict is Verdict.REPRODUCED, supplied.cause


STOCHASTIC_FIGURE = (
    "import random, struct, zlib\n"
    "w = h = 40\n"
    "rows = []\n"
    "for y in range(h):\n"
    "    row = bytearray([0])\n"
    "    for x in range(w):\n"
    "        v = 255 if random.random() < 0.02 else 128\n"
    "        row += bytes([v, v, v])\n"
    "    rows.append(bytes(row))\n"
    "def chunk(kind, data):\n"
    "    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))\n"
    "png = b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))\n"
    "png += chunk(b'IDAT', zlib.compress(b''.join(rows))) + chunk(b'IEND', b'')\n"
    "with open('figure.png', 'wb') as fh:\n"
    "    fh.write(png)"
)


def test_stochastic_figure_is_equivalent_under_a_declared_tolerance_and_different_without(project, tmp_path):
    write_notebook(project / "analysis.ipynb", STOCHASTIC_FIGURE)
    with (project / "repropack.toml").open("a") as fh:
        fh.write('\n[compare]\n"figure.png" = { rule = "image", threshold = 0.1 }\n')
    package = _export(project, tmp_path / "pkg")
    tolerated = _replay(package)
    (figure,) = [o for o in tolerated.outputs if o.path == "figure.png"]
    assert figure.status is OutputStatus.EQUIVALENT, figure.detail
    assert tolerated.verdict is Verdict.REPRODUCED
    strict = _replay(package, compare=("figure.png=image:threshold=0",))
    (figure,) = [o for o in strict.outputs if o.path == "figure.png"]
    assert figure.status is OutputStatus.DIFFERENT
    assert strict.verdict is Verdict.NOT_REPRODUCED


def test_record_is_signed_valid_and_tampering_is_caught(project, tmp_path):
    package = _export(project, tmp_path / "pkg")
    key_dir = tmp_path / "keys"
    from repropack.record.keys import generate_key_pair

    pair = generate_key_pair(key_dir)
    result = _replay(package, record=tmp_path / "record", key=pair.private_path, report=tmp_path / "r.html")
    assert verify_record(result.record, pair.public_path).valid
    assert (tmp_path / "r.html").read_text().count("reproduced") >= 1
    saved = json.loads((result.record / "result.json").read_text())
    assert saved["verdict"] == "reproduced"
    saved["verdict"] = "reproduced "
    (result.record / "result.json").write_text(json.dumps(saved))
    tampered = verify_record(result.record, pair.public_path)
    assert not tampered.valid
    assert any("result.json" in p for p in tampered.problems)


@pytest.mark.parametrize("crate_version", ["1.1", "1.2"])
def test_record_is_a_valid_process_run_crate_when_the_operator_is_configured(
    project, tmp_path, monkeypatch, crate_version
):
    from repropack.crate.profiles import validate_profiles
    from repropack.record.keys import generate_key_pair

    config = tmp_path / "config.toml"
    config.write_text(
        f'[replay]\ncrate_version = "{crate_version}"\n'
        '[replay.operator]\nname = "Rita Reviewer"\norcid = "https://orcid.org/0000-0001-5109-3700"\n'
        'email = "rita@governance.example.org"\n'
        'affiliation = { name = "Data Governance Office", url = "https://governance.example.org" }\n'
    )
    monkeypatch.setenv("REPROPACK_CONFIG", str(config))
    package = _export(project, tmp_path / "pkg")
    pair = generate_key_pair(tmp_path / "keys")
    resolved = resolve_replay_settings({"record": tmp_path / "record", "key": pair.private_path})
    result = replay_package(package, resolved.values, sources=resolved.sources)
    issues = validate_profiles(result.record)
    if crate_version == "1.1":
        assert issues == []
    else:  # a ROR id and the organization's contact point are not configured; 44.2 is the 1.1 listing
        assert [i for i in issues if i.severity == "REQUIRED" or i.profile == "process-run-crate-0.5"] == []
        assert {i.check for i in issues} <= {"ro-crate-1.2_44.2", "ro-crate-1.2_89.0", "ro-crate-1.2_90.1"}


def test_missing_base_image_names_the_command_that_builds_it(project, tmp_path):
    from repropack.errors import CannotRun

    package = _export(project, tmp_path / "pkg")
    with pytest.raises(CannotRun, match="repropack base build --tag repropack/base:does-not-exist"):
        _replay(package, base_image="repropack/base:does-not-exist")


def test_ca_bundle_is_used_in_the_build_stage_only(docker_engine, project, tmp_path):
    package = _export(project, tmp_path / "pkg")
    ca = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")
    result = _replay(package, ca_bundle=ca)
    image = docker_engine.images.get(result.image)
    history = " ".join(entry.get("CreatedBy", "") for entry in image.history())
    assert "ca-bundle" not in history
    listing = docker_engine.containers.run(result.image, ["ls", "-la", "/opt/repropack"], remove=True).decode()
    assert "ca-bundle" not in listing and "venv" in listing


# --- hostile notebooks stay contained ----------------------------------------------------------


@pytest.mark.parametrize(
    "source, kinds",
    [
        ("open('/etc/repropack-was-here', 'w').write('x')", {CauseKind.CELL_ERROR}),
        ("open('../escaped.txt', 'w').write('x')", {CauseKind.CELL_ERROR}),
        ("import socket\ns = socket.create_connection(('1.1.1.1', 53), timeout=3)", {CauseKind.NETWORK_NEEDED}),
        (
            "import os\nwhile True:\n    os.fork()",
            {CauseKind.KERNEL_DIED, CauseKind.CELL_ERROR, CauseKind.TIMEOUT, CauseKind.OUT_OF_MEMORY},
        ),
        (
            "blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 2**20))",
            {CauseKind.OUT_OF_MEMORY, CauseKind.KERNEL_DIED},
        ),
    ],
    ids=["write-outside-root", "write-above-workdir", "open-socket", "fork-bomb", "memory-hog"],
)
def test_hostile_notebook_ends_with_a_classified_failure_and_the_host_untouched(project, tmp_path, source, kinds):
    write_notebook(project / "analysis.ipynb", source)
    package = _export(project, tmp_path / "pkg", execute=False)
    result = _replay(package, limits=SandboxLimits(timeout=90, memory="256m", pids=64))
    assert result.verdict is Verdict.FAILED
    assert result.cause.kind in kinds, result.cause
    assert not Path("/etc/repropack-was-here").exists()
    assert not list(tmp_path.rglob("escaped.txt"))


@pytest.mark.slow
def test_offline_replay_builds_from_the_wheelhouse_with_no_network(project, tmp_path):
    package = _export(project, tmp_path / "pkg", wheelhouse=True)
    result = _replay(package, offline=True)
    assert result.verdict is Verdict.REPRODUCED, result.cause
    assert result.image_reused is False or result.image


def test_cli_exit_codes_follow_the_verdict(project, tmp_path):
    package = _export(project, tmp_path / "pkg")
    exe = str(Path(sys.executable).with_name("repropack"))
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    ok = subprocess.run(
        [exe, "replay", str(package), "--json", "--record", str(tmp_path / "rec")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["verdict"] == "reproduced"
    forge_recorded_file(package, "outputs/counts.csv", b"group,n\r\na,9\r\n")
    bad = subprocess.run(
        [exe, "replay", str(package), "--json", "--record", str(tmp_path / "rec2")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["verdict"] == "not_reproduced"
    shutil.rmtree(tmp_path / "rec")


def test_local_package_installed_editable_from_the_project_is_put_on_the_path_at_replay(project, tmp_path, monkeypatch):
    # The project is "pip install -e ."-ed into the kernel's environment: simulated with a
    # dist-info (direct_url.json pointing at the project) on PYTHONPATH, so the system
    # interpreter stays untouched.
    (project / "src" / "mylib").mkdir(parents=True)
    (project / "src" / "mylib" / "__init__.py").write_text("def answer():\n    return 42\n")
    (project / "pyproject.toml").write_text('[project]\nname = "mylib"\nversion = "0.1"\n')
    site = tmp_path / "site"
    info = site / "mylib-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mylib\nVersion: 0.1\n")
    (info / "top_level.txt").write_text("mylib\n")
    (info / "direct_url.json").write_text(
        json.dumps({"url": project.resolve().as_uri(), "dir_info": {"editable": True}})
    )
    monkeypatch.setenv("PYTHONPATH", f"{site}:{project / 'src'}")
    write_notebook(project / "analysis.ipynb", "import mylib\nprint(mylib.answer())")
    package = _export(project, tmp_path / "pkg")
    monkeypatch.delenv("PYTHONPATH")
    lock = (package / ".repropack/requirements.lock.txt").read_text()
    assert "# mylib==0.1 (installed from a local path; not pinned)" in lock
    assert json.loads((package / ".repropack/capture.json").read_text())["local_packages"] == [
        {"name": "mylib", "path": "."}
    ]
    result = _replay(package)
    assert result.verdict is Verdict.REPRODUCED, result.cause


def test_symlink_planted_by_a_notebook_is_never_followed_on_the_host(project, tmp_path):
    secret = tmp_path / "host-secret.txt"
    secret.write_text("HOST-ONLY-" + "x" * 20)
    package = _export(project, tmp_path / "pkg")
    write_notebook(
        package / "analysis.ipynb",
        "import os\nos.makedirs('outputs', exist_ok=True)\n"
        f"os.symlink({str(secret)!r}, 'outputs/counts.csv')\nos.symlink('/etc', 'outputs/etc')",
    )
    forge_recorded_file(package, "analysis.ipynb", (package / "analysis.ipynb").read_bytes())
    result = _replay(package)
    statuses = {o.path: (o.status, o.rule) for o in result.outputs}
    assert statuses["outputs/counts.csv"] == (OutputStatus.DIFFERENT, "symlink")
    assert statuses["outputs/etc"] == (OutputStatus.UNEXPECTED, "symlink")
    assert result.verdict is Verdict.NOT_REPRODUCED
    assert "HOST-ONLY" not in json.dumps(result.as_dict())


def test_replay_runs_from_plain_python_without_the_command_line(project, tmp_path):
    """The pipeline takes typed settings: no click, no user config, a record written where asked."""
    package = _export(project, tmp_path / "pkg")
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from repropack.config import ReplaySettings\n"
        "from repropack.model import Person\n"
        "from repropack.replay import replay_package\n"
        f"settings = ReplaySettings(record=Path({str(tmp_path / 'rec')!r}), operator=Person('Py Thon'))\n"
        f"result = replay_package(Path({str(package)!r}), settings)\n"
        "assert 'click' not in sys.modules, 'the CLI was imported'\n"
        "print(result.verdict.value, result.record)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["reproduced", str(tmp_path / "rec")]
    metadata = json.loads((tmp_path / "rec" / "ro-crate-metadata.json").read_text())
    assert any(e.get("name") == "Py Thon" for e in metadata["@graph"])
