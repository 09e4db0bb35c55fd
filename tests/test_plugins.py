"""One registry type for every extension point, and third-party plugins found through entry points.

The unit tests use registries of their own (a unique entry-point group each) and
distributions written straight into a folder on ``sys.path``. The end-to-end tests
build a real third-party distribution, install it with ``pip install --target``
into a folder of the test (never into the shared virtualenv) and run the real CLI
with that folder on PYTHONPATH.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from repropack.errors import BadInput, CannotRun
from repropack.plugins import NameTaken, Registry
from tests.conftest import forge_recorded_file

# --- distributions, written as installed or built and installed by pip ---------------------------


def write_installed(target: Path, dist: str, files: dict[str, str], entry_points: str) -> None:
    """What ``pip install --target`` leaves: the modules, and a dist-info folder with the entry points."""
    for path, text in files.items():
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_text(textwrap.dedent(text), encoding="utf-8")
    info = target / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points), encoding="utf-8")
    (info / "RECORD").write_text("", encoding="utf-8")


# A PEP 517 backend kept in the source tree: pip builds the wheel with it offline, without
# setuptools' wheel or any other build tool from the network.
IN_TREE_BACKEND = """
import base64, hashlib, json, pathlib, zipfile

ROOT = pathlib.Path(__file__).parent
DIST = json.loads((ROOT / "dist.json").read_text())
STEM = f"{DIST['name'].replace('-', '_')}-{DIST['version']}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    info = f"{STEM}.dist-info"
    files = {p.relative_to(ROOT).as_posix(): p.read_bytes() for p in (ROOT / DIST["package"]).rglob("*.py")}
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\\nName: {DIST['name']}\\nVersion: {DIST['version']}\\n".encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\\nGenerator: in-tree\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    files[f"{info}/entry_points.txt"] = (ROOT / "entry_points.txt").read_bytes()
    name = f"{STEM}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(pathlib.Path(wheel_directory) / name, "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
        wheel.writestr(f"{info}/RECORD", "\\n".join([*record, f"{info}/RECORD,,"]) + "\\n")
    return name
"""


def pip_install(tmp: Path, dist: str, package: str, files: dict[str, str], entry_points: str) -> Path:
    """Build ``dist`` from a source folder and install it with pip into a folder of its own; returns that folder."""
    source, target = tmp / f"{dist}-src", tmp / f"{dist}-installed"
    (source / package).mkdir(parents=True)
    (source / "pyproject.toml").write_text(
        f'[build-system]\nrequires = []\nbuild-backend = "in_tree_backend"\nbackend-path = ["."]\n\n'
        f'[project]\nname = "{dist}"\nversion = "1.0"\n'
    )
    (source / "in_tree_backend.py").write_text(IN_TREE_BACKEND)
    (source / "dist.json").write_text(json.dumps({"name": dist, "version": "1.0", "package": package}))
    (source / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for path, text in files.items():
        (source / package / path).write_text(textwrap.dedent(text), encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-index", "--no-deps"]
        + ["--no-build-isolation", "--target", str(target), str(source)],
        check=True,
        capture_output=True,
    )
    return target


# --- the Registry type --------------------------------------------------------------------------


class Gear:
    name = "gear"


class Cog:
    name = "cog"


def test_register_get_and_names_in_registration_order() -> None:
    widgets: Registry[type] = Registry(kind="widget")

    assert widgets.register(Gear) is Gear
    decorated = widgets.register(Cog)

    assert decorated is Cog
    assert widgets.get("gear") is Gear and widgets.get("cog") is Cog
    assert widgets.names() == ["gear", "cog"]
    assert widgets.problems() == []


def test_unknown_name_is_bad_input_naming_the_kind_and_the_known_names_sorted() -> None:
    widgets: Registry[type] = Registry(kind="widget")
    widgets.register(Gear)
    widgets.register(Cog)

    with pytest.raises(BadInput, match=r"^unknown widget 'spring' \(known: cog, gear\)$"):
        widgets.get("spring")


def test_a_second_object_under_a_taken_name_is_refused_naming_both() -> None:
    widgets: Registry[type] = Registry(kind="widget")
    widgets.register(Gear)

    class OtherGear:
        name = "gear"

    with pytest.raises(ValueError, match=r"a widget named 'gear' is already registered: tests\.test_plugins\.Gear"):
        widgets.register(OtherGear)
    with pytest.raises(NameTaken, match=r"refusing tests\.test_plugins\..*OtherGear"):
        widgets.register(OtherGear)
    assert widgets.get("gear") is Gear


def test_registering_the_same_object_twice_does_nothing() -> None:
    widgets: Registry[type] = Registry(kind="widget")
    widgets.register(Gear)
    widgets.register(Cog)

    assert widgets.register(Gear) is Gear
    assert widgets.names() == ["gear", "cog"]


def test_an_object_without_a_string_name_is_refused() -> None:
    widgets: Registry[type] = Registry(kind="widget")

    with pytest.raises(TypeError, match="a widget needs a non-empty string 'name' attribute"):
        widgets.register(type("Nameless", (), {}))
    with pytest.raises(TypeError):
        widgets.register(type("Numbered", (), {"name": 3}))


@pytest.fixture
def unique(monkeypatch, tmp_path) -> str:
    """A prefix for module names and entry-point groups no other test uses; tmp_path/site is on sys.path."""
    prefix = f"plug{uuid.uuid4().hex[:8]}"
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    (tmp_path / "site").mkdir()
    yield prefix
    for name in [name for name in sys.modules if name.startswith(prefix)]:
        del sys.modules[name]


def test_built_in_modules_are_imported_on_first_lookup_only(tmp_path, unique) -> None:
    write_installed(
        tmp_path / "site",
        f"{unique}-home",
        {
            f"{unique}_home.py": f"""
                from repropack.plugins import Registry
                WIDGETS = Registry(kind="widget", built_in=("{unique}_springs", "{unique}_gears"))
            """,
            f"{unique}_gears.py": f"""
                from {unique}_home import WIDGETS
                @WIDGETS.register
                class Gear:
                    name = "gear"
            """,
            f"{unique}_springs.py": f"""
                from {unique}_home import WIDGETS
                @WIDGETS.register
                class Spring:
                    name = "spring"
            """,
        },
        "",
    )
    home = __import__(f"{unique}_home")

    assert f"{unique}_gears" not in sys.modules and f"{unique}_springs" not in sys.modules
    assert home.WIDGETS.names() == ["spring", "gear"]  # built-ins in declared order
    assert f"{unique}_gears" in sys.modules


def test_importing_the_real_registries_imports_no_extension(tmp_path) -> None:
    probe = """
        import sys
        from repropack.sandbox import BACKENDS
        from repropack.compare.rules import RULES
        from repropack.record.formats import REPORT_FORMATS
        lazy = ("docker", "repropack.sandbox.docker.backend", "repropack.compare.csv_rule", "jinja2")
        before = [name for name in lazy if name in sys.modules]
        names = [BACKENDS.names(), RULES.names(), REPORT_FORMATS.names()]
        problems = BACKENDS.problems() + RULES.problems() + REPORT_FORMATS.problems()
        after = [name for name in lazy if name in sys.modules]
        print(repr((before, sorted(names[0]), sorted(names[1]), names[2], problems, after)))
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(probe)], capture_output=True, text=True, check=True)

    before, backends, rules, formats, problems, after = eval(done.stdout)
    assert before == []
    assert backends == ["docker", "local"]
    assert rules == ["bytes", "csv", "image", "json", "notebook", "text"]
    assert formats == ["html", "json"]
    # pyproject.toml also declares the built-ins as entry points: registering them again is a no-op.
    assert problems == []
    assert after[:3] == ["docker", "repropack.sandbox.docker.backend", "repropack.compare.csv_rule"]


def test_repropack_help_does_not_import_the_docker_sdk() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "repropack", "--help"], capture_output=True, text=True, check=True
    )

    assert "replay" in done.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line]
    assert "click" in imported  # -X importtime did report
    assert [name for name in imported if name.split(".")[0] == "docker" or "sandbox.docker" in name] == []


@pytest.fixture
def widgets_with_plugins(tmp_path, unique):
    """A registry with one built-in (gear) and a distribution declaring five entry points in its group."""
    group = f"repropack.test-{unique}"
    write_installed(
        tmp_path / "site",
        f"{unique}-home",
        {
            f"{unique}_home.py": f"""
                from repropack.plugins import Registry
                WIDGETS = Registry(kind="widget", group="{group}", built_in=("{unique}_gears",))
            """,
            f"{unique}_gears.py": f"""
                from {unique}_home import WIDGETS
                @WIDGETS.register
                class Gear:
                    name = "gear"
            """,
        },
        "",
    )
    write_installed(
        tmp_path / "site",
        f"{unique}-plugin",
        {
            f"{unique}_plugin/__init__.py": """
                class Sprocket:
                    name = "sprocket"
                class FakeGear:
                    name = "gear"
                nameless = object()
            """,
            f"{unique}_plugin/cogs.py": f"""
                from {unique}_home import WIDGETS
                @WIDGETS.register
                class Cog:
                    name = "cog"
            """,
        },
        f"""
            [{group}]
            sprocket = {unique}_plugin:Sprocket
            cog = {unique}_plugin.cogs
            gear = {unique}_plugin:FakeGear
            gear-again = {unique}_gears:Gear
            broken = {unique}_missing:Widget
            nameless = {unique}_plugin:nameless
        """,
    )
    return __import__(f"{unique}_home").WIDGETS


def test_entry_points_are_loaded_on_first_lookup_after_the_built_ins(widgets_with_plugins, unique, caplog) -> None:
    widgets = widgets_with_plugins
    assert f"{unique}_plugin" not in sys.modules

    with caplog.at_level(logging.WARNING, logger="repropack.plugins"):
        names = widgets.names()

    # Built-ins first; then entry points by entry-point name: broken, cog, gear, gear-again, nameless, sprocket.
    assert names == ["gear", "cog", "sprocket"]
    plugin = sys.modules[f"{unique}_plugin"]
    assert widgets.get("sprocket") is plugin.Sprocket  # an entry point naming the class
    assert widgets.get("cog") is sys.modules[f"{unique}_plugin.cogs"].Cog  # one naming a module that registers
    assert widgets.get("gear") is sys.modules[f"{unique}_gears"].Gear  # the built-in kept its name


def test_a_plugin_taking_a_built_in_name_is_refused_with_a_one_line_warning(
    widgets_with_plugins, unique, caplog
) -> None:
    with caplog.at_level(logging.WARNING, logger="repropack.plugins"):
        widgets_with_plugins.names()
        widgets_with_plugins.load_entry_points()  # once per process: no second warning
        widgets_with_plugins.get("gear")

    (warning,) = [record.getMessage() for record in caplog.records]
    assert "\n" not in warning
    assert warning.startswith("repropack: warning: widget plugin refused: entry point 'gear = ")
    assert f"({widgets_with_plugins.group}, from {unique}-plugin 1.0)" in warning  # names the distribution
    assert "a widget named 'gear' is already registered" in warning and "refusing" in warning
    assert "gear-again" not in warning  # the same object again is no clash


def test_a_broken_entry_point_fails_only_when_its_name_is_asked_for(widgets_with_plugins, unique) -> None:
    widgets = widgets_with_plugins

    assert "broken" not in widgets.names() and "nameless" not in widgets.names()
    with pytest.raises(
        CannotRun, match=rf"^widget 'broken' is unavailable: entry point 'broken = {unique}_missing:Widget'"
    ):
        widgets.get("broken")
    with pytest.raises(CannotRun, match="ModuleNotFoundError: No module named"):
        widgets.get("broken")
    with pytest.raises(CannotRun, match=r"widget 'nameless' is unavailable: .* is not a widget: .*'name' attribute"):
        widgets.get("nameless")
    with pytest.raises(BadInput, match=r"unknown widget 'spring' \(known: cog, gear, sprocket\)"):
        widgets.get("spring")
    problems = widgets.problems()
    assert len(problems) == 3 and all("\n" not in line for line in problems)
    assert [line.split(" ", 2)[1] for line in problems] == ["'broken'", "plugin", "'nameless'"]


def test_a_registry_without_a_group_reads_no_entry_points() -> None:
    widgets: Registry[type] = Registry(kind="widget", group=None)
    widgets.load_entry_points()
    widgets.register(Gear)

    assert widgets.names() == ["gear"]


# --- a third-party distribution, through the real CLI --------------------------------------------

QUIET_PLUGIN = {
    "__init__.py": '''
        """A third party's backend: repropack's local virtualenv under another name."""
        from repropack.sandbox.local import LocalBackend

        class QuietLocalBackend(LocalBackend):
            name = "quiet-local"
    ''',
    "rules.py": '''
        """A third party's comparison rule: text compared case-insensitively."""
        from repropack.compare.rules import ComparisonRule, RuleOutcome

        class IgnoreCaseRule(ComparisonRule):
            name = "ignore-case"
            default_globs = ()

            def compare(self, recorded, produced):
                old = recorded.read_text(encoding="utf-8").casefold().splitlines()
                new = produced.read_text(encoding="utf-8").casefold().splitlines()
                if old == new:
                    return RuleOutcome(equal=True, detail="same text ignoring case")
                return RuleOutcome(equal=False, detail="text differs, even ignoring case")
    ''',
}
QUIET_ENTRY_POINTS = """
    [repropack.backends]
    quiet-local = repropack_quiet_plugin:QuietLocalBackend

    [repropack.rules]
    ignore-case = repropack_quiet_plugin.rules:IgnoreCaseRule
"""


@pytest.fixture
def quiet_plugin(tmp_path) -> Path:
    return pip_install(tmp_path, "repropack-quiet-plugin", "repropack_quiet_plugin", QUIET_PLUGIN, QUIET_ENTRY_POINTS)


def repropack(*args: str, plugins: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("PYTHONPATH", None)
    if plugins is not None:
        env["PYTHONPATH"] = str(plugins)
    exe = Path(sys.executable).with_name("repropack")  # the console script, as users run it
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "repropack"]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env)


def test_pip_installed_the_plugin_into_its_own_folder_only(quiet_plugin) -> None:
    assert (quiet_plugin / "repropack_quiet_plugin" / "rules.py").is_file()
    (info,) = quiet_plugin.glob("repropack_quiet_plugin-1.0.dist-info")
    assert "quiet-local = repropack_quiet_plugin:QuietLocalBackend" in (info / "entry_points.txt").read_text()
    from importlib.metadata import PackageNotFoundError, distribution

    with pytest.raises(PackageNotFoundError):
        distribution("repropack-quiet-plugin")  # not in the shared virtualenv


@pytest.mark.slow  # builds the local backend's virtualenv (pip, from PyPI) and runs the notebook three times
def test_replay_runs_with_a_plugin_backend_and_a_plugin_rule(project, tmp_path, quiet_plugin) -> None:
    package = tmp_path / "pkg"
    exported = repropack("export", str(project), "-o", str(package), "--json")
    assert exported.returncode == 0, exported.stderr
    # The recorded table in capitals: equal to what the replay writes only when case is ignored.
    produced = (package / "outputs" / "counts.csv").read_bytes()
    forge_recorded_file(package, "outputs/counts.csv", produced.upper())

    done = repropack(
        "replay", str(package), "--backend", "quiet-local", "--compare", "outputs/*.csv=ignore-case",
        "--record", str(tmp_path / "record"), "--json", plugins=quiet_plugin,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["verdict"] == "reproduced", result["cause"]
    assert result["backend"]["backend"] == "quiet-local"
    assert result["backend"]["engine"] == "virtualenv"  # LocalBackend really ran the notebooks
    assert result["rules"]["declared"] == {"outputs/*.csv": {"rule": "ignore-case"}}
    assert result["rules"]["applied"]["outputs/counts.csv"] == "ignore-case"
    (counts,) = [o for o in result["outputs"] if o["path"] == "outputs/counts.csv"]
    assert counts == {
        "path": "outputs/counts.csv",
        "status": "equivalent",
        "rule": "ignore-case",
        "detail": "same text ignoring case",
        "nondeterminism": None,
        "hint": "",
    }

    # The same replay with the built-in text rule: the plugin's rule is what made the table equal.
    strict = repropack(
        "replay", str(package), "--backend", "quiet-local", "--compare", "outputs/*.csv=text",
        "--record", str(tmp_path / "record-text"), "--json", plugins=quiet_plugin,
    )  # fmt: skip
    assert strict.returncode == 1, strict.stderr
    strict_result = json.loads(strict.stdout)
    assert strict_result["verdict"] == "not_reproduced"
    assert strict_result["rules"]["applied"]["outputs/counts.csv"] == "text"
    assert strict_result["image_reused"] is True  # the plugin backend shares LocalBackend's cached virtualenv


def test_replay_help_lists_the_plugin_backend_only_when_the_plugin_is_on_the_path(quiet_plugin) -> None:
    with_plugin = repropack("replay", "--help", plugins=quiet_plugin)
    without = repropack("replay", "--help")

    assert with_plugin.returncode == 0 and with_plugin.stderr == ""
    assert "--backend [docker|local|quiet-local]" in with_plugin.stdout
    assert "--backend [docker|local]" in without.stdout


def test_unknown_backend_is_exit_2_with_one_line(quiet_plugin, tmp_path) -> None:
    done = repropack("replay", str(tmp_path / "pkg.zip"), "--backend", "podman", plugins=quiet_plugin)

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "repropack: error: Invalid value for '--backend': 'podman' is not one of 'docker', 'local', 'quiet-local'. "
        "(see 'repropack replay --help')"
    ]


def test_a_plugin_taking_the_docker_name_is_refused_and_docker_stays_built_in(tmp_path) -> None:
    impostor = pip_install(
        tmp_path,
        "repropack-impostor",
        "repropack_impostor",
        {
            "__init__.py": """
                from repropack.sandbox.local import LocalBackend

                class Impostor(LocalBackend):
                    name = "docker"
            """
        },
        "[repropack.backends]\ndocker = repropack_impostor:Impostor\n",
    )

    done = repropack("replay", "--help", plugins=impostor)
    env = {**os.environ, "PYTHONPATH": str(impostor)}
    which = subprocess.run(
        [sys.executable, "-c", "from repropack.sandbox import BACKENDS; print(BACKENDS.get('docker').__module__)"],
        capture_output=True,
        text=True,
        env=env,
    )

    assert done.returncode == 0
    assert "--backend [docker|local]" in done.stdout
    assert done.stderr.splitlines() == [
        "repropack: warning: backend plugin refused: entry point 'docker = repropack_impostor:Impostor' "
        "(repropack.backends, from repropack-impostor 1.0): a backend named 'docker' is already registered: "
        "repropack.sandbox.docker.backend.DockerBackend; refusing repropack_impostor.Impostor"
    ]
    assert which.stdout.strip() == "repropack.sandbox.docker.backend"


def test_a_broken_plugin_breaks_nothing_until_its_backend_is_asked_for(tmp_path) -> None:
    broken = pip_install(
        tmp_path,
        "repropack-broken",
        "repropack_broken",
        {"__init__.py": "import repropack_broken_dependency  # not installed\n"},
        "[repropack.backends]\nbroken = repropack_broken:Backend\n",
    )

    helped = repropack("replay", "--help", plugins=broken)
    asked = repropack("replay", str(tmp_path / "pkg.zip"), "--backend", "broken", plugins=broken)

    assert helped.returncode == 0 and helped.stderr == ""
    assert "--backend [docker|local]" in helped.stdout
    assert asked.returncode == 2
    (line,) = asked.stderr.strip().splitlines()
    assert line.startswith(
        "repropack: error: Invalid value for '--backend': backend 'broken' is unavailable: "
        "entry point 'broken = repropack_broken:Backend' (repropack.backends, from repropack-broken 1.0) "
        "could not be loaded: ModuleNotFoundError: No module named 'repropack_broken_dependency'"
    )
