"""The web view in real headless Chromium, served by the real ``repropack serve``: what a person sees, and that a
stranger's markup in a title or a notebook never runs."""

from __future__ import annotations

import pytest

from tests.repository.web.samples import HOSTILE_TITLE

pytestmark = pytest.mark.slow  # one export, one `repropack import`, one server and one browser: about 15 s


def _by(kind: str):
    from selenium.webdriver.common.by import By

    return getattr(By, kind)


def _wait_for(browser, condition):
    """Clicks and submits return before the browser has loaded the next page: wait for it, up to 10 s."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, 10).until(condition)


def _at(url: str):
    return lambda browser: browser.current_url == url


def _gone(element):
    from selenium.webdriver.support import expected_conditions

    return expected_conditions.staleness_of(element)


def _nothing_ran(browser) -> None:
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    assert browser.find_elements(_by("TAG_NAME"), "script") == []


def test_the_list_shows_the_package_title_as_text(browser, served) -> None:
    browser.get(served.url)
    assert browser.title == "Packages · repropack repository"
    link = browser.find_element(_by("CSS_SELECTOR"), "table.packages a.title")
    assert link.text == HOSTILE_TITLE  # the markup is shown as the characters it is
    assert browser.find_elements(_by("CSS_SELECTOR"), "table.packages b") == []
    _nothing_ran(browser)


def test_a_search_from_the_box_finds_the_package_and_a_miss_says_so(browser, served) -> None:
    browser.get(served.url)
    box = browser.find_element(_by("NAME"), "q")
    box.send_keys("kyoto study")
    box.submit()
    _wait_for(browser, _at(f"{served.url}?q=kyoto+study"))
    rows = browser.find_elements(_by("CSS_SELECTOR"), "table.packages tbody tr")
    assert len(rows) == 1 and served.public_id in rows[0].text
    box = browser.find_element(_by("NAME"), "q")
    assert box.get_attribute("value") == "kyoto study"
    box.clear()
    box.send_keys("zzzunfound")
    box.submit()
    _wait_for(browser, _gone(box))
    assert browser.find_element(_by("CSS_SELECTOR"), "p.empty").text == "No package matches."


def test_the_package_page_shows_title_files_verdict_and_environment(browser, served) -> None:
    browser.get(served.url)
    browser.find_element(_by("CSS_SELECTOR"), "table.packages a.title").click()
    _wait_for(browser, _at(f"{served.url}packages/{served.public_id}/1"))
    assert browser.find_element(_by("CSS_SELECTOR"), "h1.title").text == HOSTILE_TITLE
    assert browser.find_element(_by("CSS_SELECTOR"), "p.authors").text == "Ada Example"

    files = {
        row.find_element(_by("CSS_SELECTOR"), "td.path a").text: row.text
        for row in browser.find_elements(_by("CSS_SELECTOR"), "table.files tbody tr")
    }
    assert {"analysis.ipynb", "data/input.csv", "evil.ipynb", "ro-crate-metadata.json"} <= set(files)
    assert "text/csv 21 bytes" in files["data/input.csv"]  # type and size, as a person reads them
    assert len(files["data/input.csv"].split()[-1]) == 64  # its sha256

    verdict = browser.find_element(_by("CSS_SELECTOR"), "table.runs .verdict")
    assert verdict.text == "not reproduced"
    assert verdict.value_of_css_property("background-color") == "rgba(207, 34, 46, 1)"  # the stylesheet loaded: red
    assert "verified" in browser.find_element(_by("CSS_SELECTOR"), "table.runs").text
    dockerfile = browser.find_element(_by("CSS_SELECTOR"), "details.dockerfile")
    assert not browser.find_element(_by("CSS_SELECTOR"), "pre.dockerfile").is_displayed()  # folded until asked for
    dockerfile.find_element(_by("TAG_NAME"), "summary").click()
    # The environment, read from the store: the Dockerfile the package holds.
    assert "FROM " in browser.find_element(_by("CSS_SELECTOR"), "pre.dockerfile").text
    _nothing_ran(browser)


def test_a_notebook_with_html_and_script_outputs_shows_neither(browser, served) -> None:
    browser.get(f"{served.url}packages/{served.public_id}/1")
    row = next(r for r in browser.find_elements(_by("CSS_SELECTOR"), "table.files tbody tr") if "evil.ipynb" in r.text)
    link = row.find_element(_by("CSS_SELECTOR"), "a.view")
    link.click()
    _wait_for(browser, _gone(link))
    assert browser.find_element(_by("CSS_SELECTOR"), "h1.path").text == "evil.ipynb"
    assert browser.find_element(_by("CSS_SELECTOR"), "pre.output-text").text == "printed <i>text</i>"
    notes = [n.text for n in browser.find_elements(_by("CSS_SELECTOR"), "p.output-note")]
    assert notes == [
        "not shown here, as it could run code or is not a checked image: text/html",
        "not shown here, as it could run code or is not a checked image: application/javascript",
    ]
    assert browser.find_elements(_by("TAG_NAME"), "img") == []
    _nothing_ran(browser)
