"""classify_regression: which runs count as a regression, and the category each gets, in the documented order."""

from __future__ import annotations

from dataclasses import replace

import pytest

from repropack.model.governance import HistoryEntry, RegressionCategory
from repropack.repository.regressions import classify_regression

BASE = HistoryEntry(
    public_id="rp-1",
    version=1,
    verdict="reproduced",
    cause_kind=None,
    cause=None,
    started_at=None,
    finished_at=None,
    source="govern",
    record_sha256="a" * 64,
    signer=None,
    base_image="repropack/base:bookworm-py3.11",
    base_image_id="sha256:1111",
    image_id="sha256:env1",
    image_reused=True,
)


@pytest.mark.parametrize(
    ("before", "after"),
    [("reproduced", "reproduced"), ("failed", "reproduced"), ("not_reproduced", "reproduced"), ("failed", "failed")],
)
def test_a_verdict_that_is_not_worse_is_no_regression(before, after):
    assert classify_regression(replace(BASE, verdict=before), replace(BASE, verdict=after)) is None


def test_a_verdict_this_version_does_not_know_is_no_regression():
    assert classify_regression(BASE, replace(BASE, verdict="unheard-of")) is None


def test_a_new_base_image_name_makes_it_container_induced_whatever_the_cause():
    latest = replace(BASE, verdict="failed", cause_kind="build failed", cause="build failed: x", base_image="other:1")
    category, reason = classify_regression(BASE, latest)
    assert category is RegressionCategory.CONTAINER_INDUCED
    assert "other:1" in reason


def test_a_base_rebuilt_under_the_same_name_is_found_by_its_id():
    latest = replace(BASE, verdict="not_reproduced", base_image_id="sha256:2222", image_reused=False)
    category, _ = classify_regression(BASE, latest)
    assert category is RegressionCategory.CONTAINER_INDUCED


def test_an_unknown_base_image_on_an_older_run_is_not_a_change():
    previous = replace(BASE, base_image=None, base_image_id=None)
    latest = replace(BASE, verdict="not_reproduced", diff_summary="out.csv: different")
    category, _ = classify_regression(previous, latest)
    assert category is RegressionCategory.REPRODUCIBILITY_DRIFT


@pytest.mark.parametrize("kind", ["build failed", "missing module"])
def test_a_broken_build_or_install_is_an_environment_failure(kind):
    latest = replace(BASE, verdict="failed", cause_kind=kind, cause=f"{kind}: numpy")
    category, reason = classify_regression(BASE, latest)
    assert category is RegressionCategory.ENVIRONMENT_FAILURE
    assert "numpy" in reason


def test_any_other_failure_is_a_persistent_error():
    latest = replace(BASE, verdict="failed", cause_kind="cell error", cause="cell error: nb.ipynb cell 3: ValueError")
    category, reason = classify_regression(replace(BASE, verdict="not_reproduced"), latest)
    assert category is RegressionCategory.PERSISTENT_ERROR
    assert "ValueError" in reason


def test_changed_outputs_with_the_same_base_are_drift_and_say_how_many_differ():
    latest = replace(
        BASE, verdict="not_reproduced", image_reused=False, diff_summary="a.csv: different\nb.png: missing"
    )
    category, reason = classify_regression(BASE, latest)
    assert category is RegressionCategory.REPRODUCIBILITY_DRIFT
    assert "2 outputs differ" in reason
    assert "environment rebuilt" in reason
