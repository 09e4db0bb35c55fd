"""repository/history.py read side: a package's history oldest first, each package's status, and the
regressions found over them (the sample repository of the web view's tests: every column govern fills)."""

from __future__ import annotations

import pytest

from repropack.errors import BadInput
from repropack.model.governance import RegressionCategory
from repropack.repository.history import differing_outputs, package_history, package_statuses
from repropack.repository.opened import Repository
from repropack.repository.regressions import find_regressions
from tests.repository.web.history_samples import (
    DRIFTED,
    HOSTILE_CAUSE,
    NEVER,
    NEW_BASE,
    POLICY_RUN,
    REBASED,
    STEADY,
    build_history_repository,
)


@pytest.fixture
def repository(tmp_path):
    location = build_history_repository(tmp_path / "repo")
    with Repository.open(location.root) as opened:
        yield opened


def test_a_package_history_is_every_run_oldest_first_with_what_govern_kept(repository):
    first, second = package_history(repository, DRIFTED)
    assert (first.verdict, first.source, first.govern_run) == ("reproduced", "import", None)
    assert (second.verdict, second.cause_kind, second.cause) == ("not_reproduced", "nondeterministic", HOSTILE_CAUSE)
    assert (second.source, second.govern_run, second.image_reused) == ("govern", POLICY_RUN, False)
    assert first.finished_at < second.finished_at and second.finished_at.utcoffset().total_seconds() == 0


def test_a_package_never_replayed_has_an_empty_history(repository):
    assert package_history(repository, NEVER) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pkg-unknown", "no such package"),
        (f"{DRIFTED}@1", "give the package id alone"),
        ("../etc", "not a package reference"),
    ],
)
def test_an_unknown_or_malformed_id_is_refused(repository, text, message):
    with pytest.raises(BadInput, match=message):
        package_history(repository, text)


def test_each_package_status_is_its_newest_run_and_how_many_runs(repository):
    statuses = {status.public_id: status for status in package_statuses(repository)}
    assert list(statuses) == sorted(statuses)
    assert (statuses[DRIFTED].latest.verdict, statuses[DRIFTED].runs) == ("not_reproduced", 2)
    assert (statuses[REBASED].latest.base_image, statuses[REBASED].latest.verdict) == (NEW_BASE, "failed")
    assert statuses[STEADY].latest.verdict == "reproduced"
    assert (statuses[NEVER].latest, statuses[NEVER].runs) == (None, 0)
    assert statuses[NEVER].as_dict()["verdict"] is None


def test_regressions_are_the_packages_whose_newest_verdict_got_worse(repository):
    found = {regression.public_id: regression for regression in find_regressions(repository)}
    assert set(found) == {DRIFTED, REBASED}
    assert found[DRIFTED].category is RegressionCategory.REPRODUCIBILITY_DRIFT
    assert found[REBASED].category is RegressionCategory.CONTAINER_INDUCED and NEW_BASE in found[REBASED].reason


def test_differing_outputs_counts_the_truncation_line():
    assert differing_outputs(None) == 0
    assert differing_outputs("a.csv: different\nb.csv: missing\n… and 7 more") == 9
