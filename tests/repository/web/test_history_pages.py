"""The governed-run history and the regressions in the web view (TestClient over a real SQLite catalog): what each
page and JSON answer shows, that a stranger's title, cause or diff summary is shown as text, and that nothing is
written or served for an id the catalog does not hold."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from repropack.repository.web.app import create_app
from tests.repository.catalog_rows import make_repository
from tests.repository.web.history_samples import (
    DRIFTED,
    HOSTILE_CAUSE,
    HOSTILE_DIFF,
    HOSTILE_TITLE,
    NEVER,
    NEW_BASE,
    OLD_BASE,
    POLICY_RUN,
    REBASED,
    STEADY,
    build_history_repository,
)


@pytest.fixture(scope="module")
def location(tmp_path_factory):
    return build_history_repository(tmp_path_factory.mktemp("history") / "repo")


@pytest.fixture(scope="module")
def client(location):
    with TestClient(create_app(location)) as client:
        yield client


def _rows(html: str, table: str) -> list[str]:
    body = html.split(f'<table class="{table}">', 1)[1].split("</table>", 1)[0]
    return body.split("<tbody>", 1)[1].split("<tr>")[1:]


def test_the_package_page_shows_every_run_newest_first_with_cause_base_image_and_source(client) -> None:
    page = client.get(f"/packages/{REBASED}").text
    rows = _rows(page, "runs")
    assert len(rows) == 2
    newest, oldest = rows
    assert "verdict-failed" in newest and "verdict-reproduced" in oldest
    assert '<span class="cause-kind">build failed</span>: pip could not resolve numpy' in newest
    assert NEW_BASE in newest and OLD_BASE in oldest and OLD_BASE not in newest
    assert "built" in newest and "reused" in oldest  # the environment image: rebuilt, or taken from the cache
    assert "2026-12-01 02:00 UTC" in newest and "2026-11-30 02:00 UTC" in oldest
    assert f"govern <code>{POLICY_RUN}</code>" in newest
    assert "verified" in newest
    assert f'href="/api/packages/{REBASED}/history"' in page


def test_a_hostile_title_cause_and_diff_summary_are_shown_as_text(client) -> None:
    for page in (client.get(f"/packages/{DRIFTED}").text, client.get("/regressions").text):
        assert "<script>" not in page and "<b>" not in page and "<img" not in page
        assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;Tides &amp; &lt;b&gt;Osaka&lt;/b&gt;" in page
        assert "out/&lt;b&gt;fig&lt;/b&gt;.png: &lt;img src=x onerror=window.__pwned=3&gt;" in page
    page = client.get(f"/packages/{DRIFTED}").text
    assert "NameError: &lt;script&gt;window.__pwned=2&lt;/script&gt;" in page
    assert "import" in _rows(page, "runs")[1]  # the imported record is part of the history too


def test_a_package_never_replayed_says_so(client) -> None:
    page = client.get(f"/packages/{NEVER}").text
    assert "No governed run of this version yet." in page and '<table class="runs">' not in page


def test_the_regressions_page_lists_each_worse_package_with_its_category_and_links_to_it(client) -> None:
    response = client.get("/regressions")
    assert response.status_code == 200 and response.headers["content-type"] == "text/html; charset=utf-8"
    rows = {row.split('<div class="id">', 1)[1].split(" ", 1)[0]: row for row in _rows(response.text, "regressions")}
    assert set(rows) == {DRIFTED, REBASED}  # the steady and the never-replayed ones did not regress
    assert "container-induced regression" in rows[REBASED] and f"{OLD_BASE} → {NEW_BASE}" in rows[REBASED]
    assert "reproducibility drift" in rows[DRIFTED] and "1 output differs" in rows[DRIFTED]
    assert f'href="/packages/{REBASED}/1"' in rows[REBASED]
    assert "verdict-reproduced" in rows[REBASED] and "verdict-failed" in rows[REBASED]


def test_every_page_links_to_the_regressions(client) -> None:
    for url in ("/", f"/packages/{STEADY}", "/regressions"):
        assert '<a class="regressions" href="/regressions">Regressions</a>' in client.get(url).text


def test_the_regressions_api_gives_each_one_with_both_runs(client) -> None:
    response = client.get("/api/regressions")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    regressions = {item["id"]: item for item in response.json()["regressions"]}
    assert set(regressions) == {DRIFTED, REBASED}
    rebased = regressions[REBASED]
    assert rebased["category"] == "container-induced regression" and rebased["title"] == "Rebased study"
    assert rebased["previous"]["base_image"] == OLD_BASE and rebased["latest"]["base_image"] == NEW_BASE
    assert NEW_BASE in rebased["reason"]
    drifted = regressions[DRIFTED]
    assert drifted["title"] == HOSTILE_TITLE and drifted["diff_summary"] == HOSTILE_DIFF  # JSON: the exact text
    assert drifted["cause"] == HOSTILE_CAUSE and drifted["latest"]["govern_run"] == POLICY_RUN


def test_the_history_api_gives_every_run_oldest_first(client) -> None:
    response = client.get(f"/api/packages/{DRIFTED}/history")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == DRIFTED
    assert [(e["verdict"], e["source"]) for e in body["history"]] == [
        ("reproduced", "import"),
        ("not_reproduced", "govern"),
    ]
    latest = body["history"][1]
    assert latest["cause_kind"] == "nondeterministic" and latest["image_reused"] is False
    assert latest["finished_at"] == "2026-12-01T02:00:00+00:00" and latest["version"] == 1
    assert client.get(f"/api/packages/{NEVER}/history").json() == {"id": NEVER, "history": []}


@pytest.mark.parametrize(
    "url",
    [
        "/api/packages/pkg-0000000fffff/history",
        "/api/packages/%3Cscript%3E/history",
        "/api/packages/../history",
        f"/api/packages/{DRIFTED}@1/history",
    ],
)
def test_the_history_of_an_unknown_or_malformed_id_is_404(client, url) -> None:
    response = client.get(url)
    assert response.status_code == 404 and response.headers["content-type"] == "application/json"
    assert "error" in response.json()  # JSON, never a page: a hostile id in its message is not markup


def test_the_package_page_of_an_unknown_id_is_404_and_escapes_it(client) -> None:
    response = client.get("/packages/%3Cscript%3Ewindow.__pwned=4%3C%2Fscript%3E")
    assert response.status_code == 404 and "<script>" not in response.text


@pytest.mark.parametrize("url", ["/regressions", "/api/regressions", f"/api/packages/{DRIFTED}/history"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_the_new_pages_are_read_only(client, url, method) -> None:
    response = client.request(method, url)
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"


def test_an_empty_repository_has_no_regressions(tmp_path) -> None:
    with TestClient(create_app(make_repository(tmp_path / "empty"))) as client:
        assert "No package has regressed." in client.get("/regressions").text
        assert client.get("/api/regressions").json() == {"regressions": []}
