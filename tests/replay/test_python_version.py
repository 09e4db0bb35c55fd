"""The recorded Python: which base image a replay builds on, and how Python drift is judged (pure functions)."""

from __future__ import annotations

import pytest

from repropack.config import DEFAULT_BASE_IMAGE
from repropack.errors import BadInput
from repropack.replay.verdict import environment_drift
from repropack.sandbox.bases import KNOWN_BASES, base_for_python, choose_base_image, known_base, minor_version

BOOKWORM, TRIXIE = "repropack/base:bookworm-py3.11", "repropack/base:trixie-py3.13"


def _choose(
    recorded_python, *, present=(BOOKWORM, TRIXIE), chosen=None, recorded=DEFAULT_BASE_IMAGE, by_researcher=False
):
    asked = []

    def is_present(tag):
        asked.append(tag)
        return tag in present

    choice = choose_base_image(
        chosen=chosen,
        recorded=recorded,
        recorded_chosen=by_researcher,
        recorded_python=recorded_python,
        present=is_present,
    )
    return choice, asked


def test_the_known_bases_are_bookworm_for_3_11_and_trixie_for_3_13():
    assert [(b.python, b.suite, b.tag) for b in KNOWN_BASES] == [
        ("3.11", "bookworm", BOOKWORM),
        ("3.13", "trixie", TRIXIE),
    ]
    assert KNOWN_BASES[0].tag == DEFAULT_BASE_IMAGE
    assert known_base("3.13").suite == "trixie"
    with pytest.raises(BadInput, match=r"--python '3.12': repropack builds base images for Python 3.11, 3.13"):
        known_base("3.12")


@pytest.mark.parametrize(
    ("version", "minor"),
    [
        ("3.13.1", "3.13"),
        ("3.11", "3.11"),
        ("3.11.2+", "3.11"),
        ("3.13.0rc1", "3.13"),
        ("", None),
        ("3", None),
        ("x.y", None),
        (None, None),
    ],
)
def test_minor_version_of_a_python_version(version, minor):
    assert minor_version(version) == minor


def test_a_package_recorded_with_python_3_13_builds_on_the_trixie_base_when_it_is_here():
    choice, _ = _choose("3.13.1")
    assert choice.image == TRIXIE
    assert choice.reason == "its Python 3.13 is the recorded Python's minor version (3.13.1)"


def test_a_package_recorded_with_python_3_11_builds_on_bookworm_without_asking_the_engine():
    choice, asked = _choose("3.11.7", present=())
    assert choice.image == BOOKWORM and asked == []
    assert "3.11" in choice.reason


def test_without_the_matching_base_the_package_base_is_used_and_the_command_that_builds_it_named():
    choice, asked = _choose("3.13.1", present=(BOOKWORM,))
    assert asked == [TRIXIE]
    assert choice.image == BOOKWORM
    assert "repropack base build --python 3.13" in choice.reason
    assert f"building on {BOOKWORM} (Python 3.11)" in choice.reason


def test_a_python_repropack_has_no_base_for_says_so_and_uses_the_package_base():
    choice, asked = _choose("3.12.4")
    assert choice.image == BOOKWORM and asked == []
    assert "no base image for the recorded Python 3.12.4" in choice.reason


def test_the_replay_setting_wins_over_everything():
    choice, asked = _choose("3.13.1", chosen="lab/python:3.13")
    assert choice.image == "lab/python:3.13" and asked == []
    assert "--base-image" in choice.reason


def test_a_base_the_researcher_chose_at_export_wins_over_the_python_match():
    choice, _ = _choose("3.13.1", recorded="lab/base:custom", by_researcher=True)
    assert choice.image == "lab/base:custom"
    assert "set by its researcher" in choice.reason
    # the same base recorded as export's default is not a choice: the Python match wins
    assert _choose("3.13.1", recorded=BOOKWORM, by_researcher=False)[0].image == TRIXIE


def test_a_package_recording_no_python_uses_its_base():
    choice, _ = _choose("")
    assert choice.image == BOOKWORM and "records no Python version" in choice.reason
    assert base_for_python(None) is None


# --- drift: micro versions are information, minor versions a warning -------------------------------


def _replayed(python: str, **distributions: str) -> dict:
    return {"python_version": python, "distributions": distributions}


def test_another_micro_version_of_python_is_information_not_a_warning():
    drift = environment_drift("3.11.2", {}, _replayed("3.11.9"))
    assert drift.warnings == ()
    assert drift.info == ("Python 3.11.9 (recorded 3.11.2): another micro version of the same Python",)


def test_another_minor_version_of_python_is_a_warning():
    drift = environment_drift("3.11.7", {}, _replayed("3.13.5"))
    assert drift.info == ()
    assert drift.warnings == ("Python 3.13.5 (recorded 3.11.7): another minor version of Python",)


def test_the_same_python_and_lock_is_no_drift_and_a_lock_difference_is_a_warning():
    assert environment_drift("3.11.2", {"numpy": "1.26.4"}, _replayed("3.11.2", numpy="1.26.4")) == environment_drift(
        None, {}, None
    )
    drift = environment_drift("3.11.2", {"numpy": "1.26.4", "Pandas": "2.2.0"}, _replayed("3.11.2", numpy="2.0.0"))
    assert drift.warnings == ("Pandas not installed (recorded 2.2.0)", "numpy 2.0.0 (recorded 1.26.4)")
    assert drift.info == ()


def test_a_sandbox_that_reported_no_python_version_is_a_warning():
    drift = environment_drift("3.11.2", {}, {"distributions": {}})
    assert drift.warnings == ("Python version not reported by the sandbox (recorded 3.11.2)",)
