"""The history and regressions pages in real headless Chromium, served by the real ``repropack serve``: a person
finds the regressions from the list, reads why, opens the package's history, and a stranger's markup never runs."""

from __future__ import annotations

import os

import pytest

from tests.repository.web.conftest import start_server
from tests.repository.web.history_samples import (
    DRIFTED,
    HOSTILE_DIFF,
    HOSTILE_TITLE,
    NEW_BASE,
    OLD_BASE,
    REBASED,
    build_history_repository,
)
from tests.repository.web.test_browser import _at, _by, _nothing_ran, _wait_for

pytestmark = pytest.mark.slow  # one server and one browser: a few seconds


@pytest.fixture(scope="module")
def history_url(tmp_path_factory):
    base = tmp_path_factory.mktemp("history-served")
    location = build_history_repository(base / "repo")
    server, url = start_server(location.root, dict(os.environ), base / "serve.log")
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_regressions_are_found_from_the_list_and_lead_to_the_history(browser, history_url) -> None:
    browser.get(history_url)
    browser.find_element(_by("CSS_SELECTOR"), "nav.site a.regressions").click()
    _wait_for(browser, _at(f"{history_url}regressions"))
    assert browser.title == "Regressions · repropack repository"
    rows = {
        row.find_element(_by("CSS_SELECTOR"), "div.id").text.split()[0]: row
        for row in browser.find_elements(_by("CSS_SELECTOR"), "table.regressions tbody tr")
    }
    assert set(rows) == {DRIFTED, REBASED}
    drifted = rows[DRIFTED]
    assert drifted.find_element(_by("CSS_SELECTOR"), "a.title").text == HOSTILE_TITLE  # markup shown as characters
    assert drifted.find_element(_by("CSS_SELECTOR"), "td.category").text == "reproducibility drift"
    assert not drifted.find_element(_by("CSS_SELECTOR"), "pre.diff").is_displayed()  # folded until asked for
    drifted.find_element(_by("CSS_SELECTOR"), "details.diff summary").click()
    assert drifted.find_element(_by("CSS_SELECTOR"), "pre.diff").text == HOSTILE_DIFF
    assert browser.find_elements(_by("CSS_SELECTOR"), "table.regressions b, table.regressions img") == []
    rebased = rows[REBASED]
    assert rebased.find_element(_by("CSS_SELECTOR"), "td.category").text == "container-induced regression"
    assert rebased.find_element(_by("CSS_SELECTOR"), "td.base-image").text == f"{OLD_BASE} → {NEW_BASE}"
    _nothing_ran(browser)

    rebased.find_element(_by("CSS_SELECTOR"), "a.title").click()
    _wait_for(browser, _at(f"{history_url}packages/{REBASED}/1"))
    newest = browser.find_elements(_by("CSS_SELECTOR"), "table.runs tbody tr")[0]
    verdict = newest.find_element(_by("CSS_SELECTOR"), ".verdict")
    assert verdict.text == "failed"
    assert verdict.value_of_css_property("background-color") == "rgba(207, 34, 46, 1)"  # the stylesheet: red
    assert newest.find_element(_by("CSS_SELECTOR"), "td.cause").text == "build failed: pip could not resolve numpy"
    assert newest.find_element(_by("CSS_SELECTOR"), "td.base-image").text.startswith(NEW_BASE)
    _nothing_ran(browser)
