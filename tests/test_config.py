from __future__ import annotations

import pytest

from repropack.config import resolve_settings
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
        {"backend": None, "timeout": 60, "memory": None, "base_image": None},
        {"replay": {"timeout": 5, "memory": "1g", "backend": "local"}},
    )
    values = chosen.values
    assert (values.backend, values.limits.timeout, values.limits.memory, values.base_image) == ("local", 60, "1g", None)
    assert chosen.sources["timeout"] == "flag" and chosen.sources["backend"] == "user"
    # Neither given: derived at replay from what the package recorded (replay/limits.py).
    unset = resolve_replay_settings({}, {}).values.limits
    assert (unset.memory, unset.timeout) == (None, None)
    with pytest.raises(BadInput, match="'timeout' must be a positive whole number"):
        resolve_replay_settings({}, {"replay": {"timeout": "soon"}})


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
