from __future__ import annotations

import pytest

from repropack.config import resolve_replay_settings, resolve_settings
from repropack.errors import BadInput


def test_flags_beat_project_beat_user_beat_defaults(tmp_path):
    (tmp_path / "repropack.toml").write_text('timeout = 20\nkernel = "k-project"\n')
    resolved = resolve_settings({"timeout": 5}, tmp_path, user={"timeout": 99, "kernel": "k-user", "license": "MIT"})
    assert resolved.values.timeout == 5 and resolved.sources["timeout"] == "flag"
    assert resolved.values.kernel == "k-project" and resolved.sources["kernel"] == "project"
    assert resolved.values.license == "MIT" and resolved.sources["license"] == "user"
    assert resolved.values.allow_errors is False and resolved.sources["allow_errors"] == "default"


def test_pyproject_tool_table_is_read_when_there_is_no_repropack_toml(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.repropack]\ntitle = "From pyproject"\n')
    assert resolve_settings({}, tmp_path, user={}).values.title == "From pyproject"


def test_list_flags_extend_configured_lists(tmp_path):
    (tmp_path / "repropack.toml").write_text('restrict = ["data/a.csv"]\n')
    resolved = resolve_settings({"restrict": ("data/b.csv",)}, tmp_path, user={})
    assert resolved.values.restrict == ("data/a.csv", "data/b.csv")


def test_each_item_of_a_list_setting_remembers_where_it_was_given(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.repropack]\nrestrict = ["data/a.csv"]\ninclude = ["raw/*"]\n')
    resolved = resolve_settings({"restrict": ("data/b.csv", "data/a.csv")}, tmp_path, user={"exclude": ["*.tmp"]})
    assert resolved.origin("restrict", "data/a.csv") == "pyproject.toml [tool.repropack]"
    assert resolved.origin("restrict", "data/b.csv") == "--restrict"
    assert resolved.origin("include", "raw/*") == "pyproject.toml [tool.repropack]"
    assert resolved.origin("exclude", "*.tmp").endswith("config.toml")
    assert resolved.values.include == ("raw/*",) and resolved.sources["include"] == "project"


def test_user_config_file_is_read_from_xdg_config_home(tmp_path, monkeypatch):
    config = tmp_path / "xdg" / "repropack" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('base_image = "site/base:1"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    project = tmp_path / "p"
    project.mkdir()
    resolved = resolve_settings({}, project)
    assert resolved.values.base_image == "site/base:1" and resolved.sources["base_image"] == "user"


@pytest.mark.parametrize(
    "text, message",
    [
        ("timout = 3\n", "unknown setting 'timout'"),
        ("timeout = 'soon'\n", "'timeout' must be a int"),
        ("timeout = -1\n", "'timeout' must be positive"),
        ("restrict = 'data/*.csv'\n", "'restrict' must be a list"),
        ("title = [\n", "invalid TOML"),
    ],
)
def test_bad_project_config_is_bad_input_naming_the_file(tmp_path, text, message):
    (tmp_path / "repropack.toml").write_text(text)
    with pytest.raises(BadInput, match=message) as info:
        resolve_settings({}, tmp_path, user={})
    assert "\n" not in str(info.value)


def test_recorded_settings_leave_out_force_and_carry_sources(tmp_path):
    recorded = resolve_settings({"force": True}, tmp_path, user={}).recorded()
    assert "force" not in recorded
    assert recorded["timeout"] == {"value": 600, "source": "default"}


def test_replay_settings_come_from_flags_then_user_config_then_defaults():
    from repropack.config import resolve_replay_settings

    chosen = resolve_replay_settings(
        {"backend": None, "total_timeout": 60, "memory": None, "base_image": None},
        {"replay": {"total_timeout": 5, "timeout": 30, "memory": "1g", "backend": "local"}},
    )
    values = chosen.values
    assert (values.backend, values.limits.timeout, values.limits.memory, values.base_image) == ("local", 60, "1g", None)
    assert values.timeout == 30  # per cell, from the user config; the total (limits.timeout) from the flag
    assert chosen.sources["total_timeout"] == "flag" and chosen.sources["timeout"] == "user"
    assert chosen.sources["backend"] == "user"
    recorded = values.recorded(chosen.sources)
    assert recorded["timeout"] == {"value": 30, "source": "user"}
    assert recorded["total_timeout"] == {"value": 60, "source": "flag"}
    # Neither given: derived at replay from what the package recorded (replay/limits.py).
    unset = resolve_replay_settings({}, {}).values
    assert (unset.limits.memory, unset.limits.timeout, unset.timeout) == (None, None, None)
    with pytest.raises(BadInput, match="'timeout' must be a positive whole number"):
        resolve_replay_settings({}, {"replay": {"timeout": "soon"}})
    with pytest.raises(BadInput, match="'total_timeout' must be a positive whole number"):
        resolve_replay_settings({}, {"replay": {"total_timeout": 0}})


def test_replay_settings_record_their_sources_and_the_operator_defaults_to_a_true_fact(monkeypatch):
    from repropack.config import resolve_replay_settings

    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")  # no git identity: the login name is what is known
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    resolved = resolve_replay_settings({"crate_version": "1.1"}, {"replay": {"memory": "1g"}})
    recorded = resolved.values.recorded(resolved.sources)
    assert recorded["crate_version"] == {"value": "1.1", "source": "flag"}
    assert recorded["memory"] == {"value": "1g", "source": "user"}
    assert recorded["backend"] == {"value": "docker", "source": "default"}
    operator = resolved.values.operator
    assert operator.name and operator.affiliation is None and operator.identifier is None
    with pytest.raises(BadInput, match="unknown replay setting 'memroy'"):
        resolve_replay_settings({}, {"replay": {"memroy": "1g"}})
    with pytest.raises(BadInput, match="needs a name"):
        resolve_replay_settings({}, {"replay": {"operator": {"orcid": "x"}}})


def test_build_timeout_comes_from_the_flag_then_the_user_config_then_the_default():
    from repropack.config import DEFAULT_BUILD_TIMEOUT, resolve_replay_settings

    assert resolve_replay_settings({}, {}).values.build_timeout == DEFAULT_BUILD_TIMEOUT == 1800
    configured = resolve_replay_settings({}, {"replay": {"build_timeout": 600}})
    assert configured.values.build_timeout == 600 and configured.sources["build_timeout"] == "user"
    flagged = resolve_replay_settings({"build_timeout": 30}, {"replay": {"build_timeout": 600}})
    assert flagged.values.build_timeout == 30 and flagged.sources["build_timeout"] == "flag"
    assert flagged.values.recorded(flagged.sources)["build_timeout"] == {"value": 30, "source": "flag"}
    for bad in (0, -1, "soon", True):
        with pytest.raises(BadInput, match="'build_timeout' must be a positive whole number of seconds"):
            resolve_replay_settings({}, {"replay": {"build_timeout": bad}})


def test_replay_disk_comes_from_the_flag_or_the_user_config_and_must_be_a_size():
    from repropack.config import resolve_replay_settings, size_in_bytes

    assert resolve_replay_settings({"disk": "20m"}, user={}).values.limits.disk == "20m"
    from_user = resolve_replay_settings({}, user={"replay": {"disk": "4g"}})
    assert from_user.values.limits.disk == "4g" and from_user.sources["disk"] == "user"
    assert resolve_replay_settings({}, user={}).values.limits.disk is None  # derived from the package
    for bad in ("lots", "0", "-1m", "1.5g", 20):
        with pytest.raises(BadInput, match="'disk' must be a size such as '20m' or '1g'"):
            resolve_replay_settings({}, user={"replay": {"disk": bad}})
    assert [size_in_bytes(t) for t in ("4096", "512k", "20m", "1g", "2T", "20mb")] == [
        4096,
        512 * 2**10,
        20 * 2**20,
        2**30,
        2 * 2**40,
        20 * 2**20,
    ]


def test_opening_limits_come_from_the_user_configs_open_table():
    from repropack.config import OpeningLimits, resolve_opening_limits, resolve_replay_settings

    assert resolve_opening_limits({}) == OpeningLimits(max_package_bytes=8 * 2**30, max_metadata_bytes=32 * 2**20)
    configured = resolve_opening_limits({"open": {"max_package_bytes": 10**6}})
    assert configured == OpeningLimits(max_package_bytes=10**6)
    assert resolve_replay_settings({}, {"open": {"max_metadata_bytes": 5000}}).values.opening.max_metadata_bytes == 5000
    with pytest.raises(BadInput, match=r"\[open\]: unknown setting 'max_bytes'"):
        resolve_opening_limits({"open": {"max_bytes": 1}})
    for bad in (0, -1, "8g", True, 1.5):
        with pytest.raises(BadInput, match="'max_package_bytes' must be a positive whole number of bytes"):
            resolve_opening_limits({"open": {"max_package_bytes": bad}})
    with pytest.raises(BadInput, match=r"\[open\]: must be a table"):
        resolve_opening_limits({"open": 5})


def test_exports_settings_leave_the_open_table_to_the_commands_that_open(tmp_path):
    (tmp_path / "project").mkdir()
    resolved = resolve_settings({}, tmp_path / "project", user={"open": {"max_package_bytes": 10**6}})
    assert "open" not in resolved.sources


def test_keep_restricted_without_keep_is_a_usage_error():
    with pytest.raises(
        BadInput, match=r"^--keep-restricted keeps restricted inputs in the kept work dir: it needs --keep$"
    ):
        resolve_replay_settings({"keep_restricted": True}, user={})
    resolved = resolve_replay_settings({"keep": True, "keep_restricted": True}, user={})
    assert resolved.values.keep_restricted and resolved.sources["keep_restricted"] == "flag"
