"""The real ``repropack serve`` over raw HTTP: paths no client library would send, as an attacker sends them."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from tests.repository.web.conftest import repropack

pytestmark = pytest.mark.slow  # a real export, `repropack import` and `repropack serve`: about 15 s to set up


def _raw(served, method: str, target: str) -> tuple[int, dict[str, str], bytes]:
    """``method target`` sent exactly as written (http.client neither normalises nor re-encodes it)."""
    where = urlsplit(served.url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    "tail",
    [
        "../../../../etc/passwd",
        "data/../../../../../etc/passwd",
        "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "..%2f..%2f..%2fetc%2fpasswd",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "..\\..\\etc\\passwd",
        "data/input.csv/..",
        "./data/input.csv",
        "data//input.csv",
        "catalog.sqlite",
        "../../repository.toml",
    ],
)
def test_a_path_outside_the_catalog_is_404_whatever_its_spelling(served, tail: str) -> None:
    status, _, body = _raw(served, "GET", f"/packages/{served.public_id}/1/files/{tail}")
    assert status == 404
    assert b"root:" not in body and b"SQLite" not in body and b"format = 1" not in body


def test_the_same_file_spelled_plainly_or_with_an_encoded_slash_downloads(served) -> None:
    plain = _raw(served, "GET", f"/packages/{served.public_id}/1/files/data/input.csv")
    encoded = _raw(served, "GET", f"/packages/{served.public_id}/1/files/data%2Finput.csv")
    assert plain[0] == encoded[0] == 200 and plain[2] == encoded[2] == b"id,group\n1,a\n2,b\n3,a\n"
    assert plain[1]["content-disposition"].startswith('attachment; filename="input.csv"')
    assert plain[1]["x-content-type-options"] == "nosniff"


def test_only_get_and_head_are_answered(served) -> None:
    assert _raw(served, "HEAD", "/")[0] == 200 and _raw(served, "HEAD", "/")[2] == b""
    for method in ("POST", "PUT", "DELETE", "TRACE", "PROPFIND"):
        status, headers, _ = _raw(served, method, f"/packages/{served.public_id}")
        assert status == 405 and headers["allow"] == "GET, HEAD"


def test_the_package_page_signposts_its_crate(served) -> None:
    status, headers, _ = _raw(served, "GET", f"/packages/{served.public_id}")
    assert status == 200
    metadata = f"{served.url}packages/{served.public_id}/1/files/ro-crate-metadata.json"
    assert f'<{metadata}>; rel="describedby"; type="application/ld+json"' in headers["link"]
    status, _, body = _raw(served, "GET", f"/packages/{served.public_id}/1/files/ro-crate-metadata.json")
    assert status == 200 and "@graph" in json.loads(body)


def test_serve_on_a_port_in_use_is_one_line_exit_3(served) -> None:
    port = urlsplit(served.url).port
    done = repropack("serve", "--repository", str(served.root), "--port", str(port), env=served.env, check=False)
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


def test_serve_of_a_folder_that_is_not_a_repository_is_exit_2(served, tmp_path) -> None:
    done = repropack("serve", "--repository", str(tmp_path), "--port", "0", env=served.env, check=False)
    assert done.returncode == 2 and "not a repropack repository" in done.stderr
