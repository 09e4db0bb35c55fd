"""The web view through Starlette's TestClient: every route, read-only, nothing served that the catalog does not list."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from repropack.repository.web.app import PAGE_POLICY, create_app, human_size
from tests.repository.web.samples import (
    HONEST,
    HONEST_NOTEBOOK,
    HOSTILE,
    HOSTILE_TITLE,
    LOCK,
    METADATA,
    RAIN,
    build_repository,
)


@pytest.fixture(scope="module")
def location(tmp_path_factory):
    return build_repository(tmp_path_factory.mktemp("web") / "repo")


@pytest.fixture(scope="module")
def client(location):
    with TestClient(create_app(location)) as client:
        yield client


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_list_shows_every_package_at_its_latest_version(client) -> None:
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"] == "text/html; charset=utf-8"
    assert "Rainfall in Kyoto, 1990-2020" in response.text
    assert f'href="/packages/{HONEST}/1"' in response.text and f'href="/packages/{HOSTILE}/1"' in response.text
    assert "not reproduced" in response.text and "never replayed" in response.text  # the newest run's verdict
    assert 'href="/?keyword=kyoto"' in response.text


def test_a_search_lists_only_what_matches_and_says_when_nothing_does(client) -> None:
    found = client.get("/", params={"q": "plotted"})
    assert HONEST in found.text and HOSTILE not in found.text
    assert 'value="plotted"' in found.text
    nothing = client.get("/", params={"q": '"><script>zzz</script>'})
    assert "No package matches." in nothing.text and "<script>zzz" not in nothing.text
    assert "&#34;&gt;&lt;script&gt;zzz&lt;/script&gt;" in nothing.text


def test_the_package_page_shows_files_environment_runs_and_dois(client) -> None:
    page = client.get(f"/packages/{HONEST}").text
    assert "Rainfall in Kyoto, 1990-2020" in page and "Daily rainfall, cleaned and plotted." in page
    assert 'href="https://doi.org/10.1234/rain.1990"' in page and 'href="https://doi.org/10.5555/paper.7"' in page
    assert hashlib.sha256(HONEST_NOTEBOOK).hexdigest() in page and f"{len(HONEST_NOTEBOOK)} bytes" in page
    assert f'href="/packages/{HONEST}/1/files/data/rain%201990.csv"' in page
    assert 'data/secret.csv <span class="badge">restricted: described, not served</span>' in page
    assert "/files/data/secret.csv" not in page
    assert "pandas==2.2.3" in page and LOCK.splitlines()[1].strip() in page  # the lock, from the store
    assert "3.11.9" in page and "requirements.txt" in page  # python and the environment file
    assert "figure differs" in page and "verdict-reproduced" in page and "verdict-not_reproduced" in page
    assert "2026-11-24T10:00:00Z" in page  # the notebook run the metadata records
    assert f'href="/packages/{HONEST}/1/notebooks/analysis.ipynb"' in page


def test_a_version_page_and_the_latest_are_the_same_version(client) -> None:
    latest = client.get(f"/packages/{HONEST}")
    first = client.get(f"/packages/{HONEST}/1")
    assert latest.status_code == first.status_code == 200
    assert 'rel="latest-version"' in latest.headers["link"] and 'rel="self"' in first.headers["link"]


def test_package_pages_signpost_the_crate_the_doi_and_the_files(client) -> None:
    links = client.get(f"/packages/{HONEST}/1").headers["link"]
    base = f"http://testserver/packages/{HONEST}/1"
    assert f'<{base}/files/ro-crate-metadata.json>; rel="describedby"; type="application/ld+json"' in links
    assert f'<http://testserver/api/packages/{HONEST}/1>; rel="describedby"; type="application/json"' in links
    assert '<https://doi.org/10.1234/rain.1990>; rel="cite-as"' in links
    assert f'<{base}/files/data/rain%201990.csv>; rel="item"; type="text/csv"' in links
    assert "secret.csv" not in links


@pytest.mark.parametrize("path", ["/", f"/packages/{HONEST}", f"/packages/{HOSTILE}/1/notebooks/evil.ipynb", "/nope"])
def test_every_page_forbids_scripts_frames_and_sniffing(client, path: str) -> None:
    response = client.get(path)
    assert response.headers["content-security-policy"] == PAGE_POLICY
    assert PAGE_POLICY.startswith("default-src 'none'; img-src data: 'self'; style-src 'self'")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "<script" not in response.text.lower() and " style=" not in response.text


def test_the_stylesheet_is_served_from_the_site(client) -> None:
    response = client.get("/static/repository.css")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/css")
    assert ".verdict-reproduced" in response.text


def test_a_file_downloads_as_an_attachment_with_its_bytes_and_type(client) -> None:
    response = client.get(f"/packages/{HONEST}/1/files/data/rain%201990.csv")
    assert response.status_code == 200 and response.content == RAIN
    assert response.headers["content-type"].startswith("text/csv")
    assert (
        response.headers["content-disposition"]
        == "attachment; filename=\"rain_1990.csv\"; filename*=UTF-8''rain%201990.csv"
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert response.headers["etag"] == '"' + hashlib.sha256(RAIN).hexdigest() + '"'
    metadata = client.get(f"/packages/{HONEST}/1/files/ro-crate-metadata.json")
    assert json.loads(metadata.content) == METADATA


def test_head_answers_without_a_body(client) -> None:
    response = client.head(f"/packages/{HONEST}/1/files/data/rain%201990.csv")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == str(len(RAIN))


def test_a_declared_type_that_is_not_a_media_type_is_served_as_bytes(client) -> None:
    response = client.get(f"/packages/{HOSTILE}/1/files/odd.bin")
    assert response.headers["content-type"] == "application/octet-stream"
    assert "set-cookie" not in response.headers


def test_a_restricted_file_is_described_never_served(client) -> None:
    for kind in ("files", "notebooks"):
        response = client.get(f"/packages/{HONEST}/1/{kind}/data/secret.csv")
        assert response.status_code == 403
        assert "data/secret.csv is restricted: the catalog describes it, the repository holds no copy" in response.text
        assert "names" not in response.text


@pytest.mark.parametrize(
    "path",
    [
        f"/packages/{HONEST}/1/files/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        f"/packages/{HONEST}/1/files/data/%2e%2e/analysis.ipynb",
        f"/packages/{HONEST}/1/files/%2Fetc%2Fpasswd",
        f"/packages/{HONEST}/1/files//etc/passwd",
        f"/packages/{HONEST}/1/files/data%5Crain%201990.csv",
        f"/packages/{HONEST}/1/files/data/rain%201990.csv%00",
        f"/packages/{HONEST}/1/files/",
        f"/packages/{HONEST}/1/notebooks/%2e%2e%2fanalysis.ipynb",
        f"/packages/{HONEST}/1/files/blobs/sha256",
        f"/packages/{HONEST}/1/files/catalog.sqlite",
    ],
)
def test_a_path_that_is_not_a_listed_file_is_not_found(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "has no file" in response.text or "Not found" in response.text


def test_an_encoded_slash_names_the_same_listed_file(client) -> None:
    response = client.get(f"/packages/{HONEST}/1/files/data%2Frain%201990.csv")
    assert response.status_code == 200 and response.content == RAIN


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/packages/pkg-ffffffffffff", "pkg-ffffffffffff: no such package in this repository"),
        (f"/packages/{HONEST}/2", f"{HONEST}@2: {HONEST} has no version 2 (it has 1 to 1)"),
        (f"/packages/{HONEST}/0", f"{HONEST}@0: {HONEST} has no version 0"),
        ("/packages/%3Cb%3Ex", "&#39;&lt;b&gt;x&#39;: not a package reference"),
        (f"/packages/{HONEST}@1", f"&#39;{HONEST}@1&#39;: not a package id (a version is /packages/ID/N)"),
        ("/packages/..%2F..%2Fetc", "Not Found"),
        ("/no/such/page", "Not Found"),
    ],
)
def test_unknown_packages_versions_and_pages_are_404_with_one_line(client, path: str, message: str) -> None:
    response = client.get(path)
    assert response.status_code == 404 and message in response.text


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/", f"/packages/{HONEST}", "/api/packages", "/no/such/page"])
def test_nothing_but_get_and_head_is_answered(client, location, method: str, path: str) -> None:
    before = _tree(location.root)
    response = client.request(method, path, content=b"x=1")
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"
    assert _tree(location.root) == before


def test_a_hostile_title_description_and_author_are_text(client) -> None:
    page = client.get(f"/packages/{HOSTILE}").text
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;Rainfall &amp; &lt;b&gt;Kyoto&lt;/b&gt;" in page
    assert "&#34;&gt;&lt;script&gt;window.__pwned=6&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=window.__pwned=7&gt;" in page
    assert "javascript:" not in page  # an author identifier that is not https is not a link
    assert "<script" not in page and "<img" not in page and "<b>" not in page


def test_a_notebook_is_shown_as_text_and_checked_images(client) -> None:
    page = client.get(f"/packages/{HONEST}/1/notebooks/analysis.ipynb").text
    assert '<pre class="source">print(&#39;rain&#39;)</pre>' in page
    assert '<pre class="output output-text">rain\n</pre>' in page
    assert 'src="data:image/png;base64,iVBORw0KGgo' in page
    assert "# Rain &lt;script&gt;window.__pwned=2&lt;/script&gt;" in page


def test_a_hostile_notebook_shows_no_html_script_or_fake_image(client) -> None:
    page = client.get(f"/packages/{HOSTILE}/1/notebooks/evil.ipynb").text
    assert "onerror" not in page and "window.__pwned=4" not in page and "<img" not in page
    for left_out in ("text/html", "application/javascript", "image/png (not a valid PNG)"):
        assert f"not shown here, as it could run code or is not a checked image: {left_out}" in page
    assert "&lt;b&gt;plain&lt;/b&gt;" in page  # the text/plain beside the HTML, as text
    assert "ValueError: &lt;i&gt;bad&lt;/i&gt;" in page and "\x1b" not in page  # traceback without colour codes
    assert "x = &#39;&lt;script&gt;window.__pwned=5&lt;/script&gt;&#39;" in page


def test_a_file_that_is_not_a_notebook_says_so(client) -> None:
    response = client.get(f"/packages/{HOSTILE}/1/notebooks/page.html")
    assert response.status_code == 200 and "this file cannot be shown as a notebook" in response.text
    assert "window.__pwned=9" not in response.text


def test_a_search_narrows_by_keyword_and_verdict_and_pages(client) -> None:
    by_keyword = client.get("/", params={"keyword": "Kyoto"}).text
    assert HONEST in by_keyword and HOSTILE not in by_keyword and "keyword: <strong>Kyoto</strong>" in by_keyword
    assert HONEST not in client.get("/", params={"verdict": "reproduced"}).text  # its newest run did not
    first = client.get("/", params={"limit": 1}).text
    assert 'href="/?limit=1&amp;offset=1">Next 1</a>' in first
    assert "No more packages." in client.get("/", params={"offset": 5}).text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "x"}, "limit and offset must be whole numbers"),
        ({"limit": "500"}, "limit 500: must be 1 to 50"),
        ({"verdict": "great"}, "verdict &#39;great&#39;: not one of"),
        ({"q": " ".join(["w"] * 40)}, "search text has 40 words"),
    ],
)
def test_a_malformed_search_is_400_with_one_line(client, params: dict, message: str) -> None:
    response = client.get("/", params=params)
    assert response.status_code == 400 and message in response.text


def test_the_json_api_lists_searches_and_describes(client) -> None:
    listed = client.get("/api/packages").json()
    assert {hit["public_id"] for hit in listed["hits"]} == {HONEST, HOSTILE}
    found = client.get("/api/packages", params={"q": "rainfall plotted"}).json()
    assert found["query"]["text"] == "rainfall plotted" and [hit["public_id"] for hit in found["hits"]] == [HONEST]
    assert found["hits"][0]["linked_dois"] == ["10.5555/paper.7"] and found["hits"][0]["verdict"] == "not_reproduced"
    package = client.get(f"/api/packages/{HONEST}").json()
    assert package["public_id"] == HONEST and package["latest"] == 1
    assert package["dois"] == ["10.1234/rain.1990", "10.5555/paper.7"]
    restricted = next(f for f in package["version"]["files"] if f["path"] == "data/secret.csv")
    assert restricted["restricted"] is True and restricted["size"] == 5
    assert [r["verdict"] for r in package["version"]["runs"]] == ["reproduced", "not_reproduced"]
    assert client.get(f"/api/packages/{HONEST}/1").json() == package


def test_the_json_api_says_what_is_missing_as_json(client) -> None:
    response = client.get(f"/api/packages/{HONEST}/9")
    assert response.status_code == 404
    assert response.json() == {"error": f"{HONEST}@9: {HONEST} has no version 9 (it has 1 to 1)"}


@pytest.mark.parametrize(
    ("size", "shown"), [(0, "0 bytes"), (1, "1 byte"), (1023, "1023 bytes"), (1536, "1.5 KiB"), (5 * 2**30, "5.0 GiB")]
)
def test_sizes_read_at_a_glance(size: int, shown: str) -> None:
    assert human_size(size) == shown


def test_a_missing_blob_is_503_without_the_stores_path_and_the_page_still_shows(tmp_path: Path) -> None:
    location = build_repository(tmp_path / "repo")
    for blob in location.blobs.rglob("*"):
        if blob.is_file() and blob.read_bytes() in (RAIN, LOCK.encode()):
            blob.unlink()
    with TestClient(create_app(location)) as client:
        download = client.get(f"/packages/{HONEST}/1/files/data/rain%201990.csv")
        page = client.get(f"/packages/{HONEST}")
    assert download.status_code == 503 and str(location.root) not in download.text
    assert "the stored copy of data/rain 1990.csv is missing" in download.text
    assert page.status_code == 200 and "No lock file to show." in page.text


def test_the_pages_read_a_postgresql_catalog_through_the_same_code(tmp_path: Path, postgres_url: str) -> None:
    location = build_repository(tmp_path / "repo", postgres_url)
    with TestClient(create_app(location)) as client:
        found = client.get("/", params={"q": "plotted"})
        page = client.get(f"/packages/{HONEST}/1")
        api = client.get(f"/api/packages/{HOSTILE}").json()
    assert HONEST in found.text and HOSTILE not in found.text
    assert "pandas==2.2.3" in page.text and "figure differs" in page.text
    assert api["version"]["title"] == HOSTILE_TITLE
