"""The host's wheel cache: exactly the lock's artifacts, from the reviewer's index, verified, each fetched once.

A real HTTP server on loopback plays the reviewer's index (PEP 503 pages and files) and counts every
request, so each test says what was fetched and that nothing else was asked for.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from repropack.environment.pipindex import PipIndex
from repropack.environment.wheelcache import Target, cache_folder, cached_files, fetch_wheels
from repropack.model import LockedDistribution

MARKERS = {
    "implementation_name": "cpython",
    "implementation_version": "3.11.2",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_release": "6.1.0",
    "platform_system": "Linux",
    "platform_version": "#1 SMP",
    "python_full_version": "3.11.2",
    "platform_python_implementation": "CPython",
    "python_version": "3.11",
    "sys_platform": "linux",
}
TARGET = Target.of_image(MARKERS, "2.36")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Index:
    """A Simple API index on loopback: project -> [(file name, bytes served, sha256 the page states)]."""

    def __init__(self) -> None:
        self.projects: dict[str, list[tuple[str, bytes, str]]] = {}
        self.hrefs: dict[str, str] = {}  # file name -> href the page gives instead of /files/<name>
        self.requests: Counter[str] = Counter()
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                index.requests[self.path] += 1
                body, kind = index.answer(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", kind)
                self.end_headers()
                self.wfile.write(body or b"")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, project: str, filename: str, data: bytes, *, stated: str | None = None) -> str:
        sha = stated or _sha(data)
        self.projects.setdefault(project, []).append((filename, data, sha))
        return sha

    def answer(self, path: str) -> tuple[bytes | None, str]:
        if path.startswith("/simple/"):
            files = self.projects.get(path.removeprefix("/simple/").strip("/"))
            if files is None:
                return None, "text/html"
            links = "".join(
                f'<a href="{self.hrefs.get(name, f"/files/{name}")}#sha256={sha}">{name}</a>\n'
                for name, _, sha in files
            )
            return f"<html><body>{links}</body></html>".encode(), "text/html"
        for files in self.projects.values():
            for name, data, _ in files:
                if path == f"/files/{name}":
                    return data, "application/octet-stream"
        return None, "text/plain"

    def downloads(self) -> int:
        return sum(count for path, count in self.requests.items() if path.startswith("/files/"))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def index():
    served = Index()
    yield served
    served.close()


def _pin(name: str, version: str, *hashes: str, marker: str = "") -> LockedDistribution:
    return LockedDistribution(name, version, ("dependency",), hashes=tuple(sorted(hashes)), marker=marker)


def _fetch(index: Index, lock, into: Path):
    into.mkdir(parents=True, exist_ok=True)
    return fetch_wheels(lock, PipIndex(f"{index.url}/simple"), TARGET, into)


def _two_projects(index: Index) -> list[LockedDistribution]:
    six = index.add("six", "six-1.16.0-py2.py3-none-any.whl", b"six wheel")
    tally = index.add("tally", "tally-2.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", b"tally")
    return [_pin("six", "1.16.0", six), _pin("tally", "2.0", tally)]


def test_each_wheel_of_the_lock_is_fetched_verified_into_the_cache_and_put_in_the_build_folder(index, tmp_path):
    fetched = _fetch(index, _two_projects(index), tmp_path / "ctx")
    assert fetched.complete and (fetched.downloaded, fetched.reused) == (2, 0)
    assert fetched.downloaded_bytes == len(b"six wheel") + len(b"tally")
    assert sorted(p.name for p in (tmp_path / "ctx").iterdir()) == sorted(fetched.wheels)
    assert (tmp_path / "ctx" / "six-1.16.0-py2.py3-none-any.whl").read_bytes() == b"six wheel"
    assert {p.name for p in cached_files()} == {_sha(b"six wheel"), _sha(b"tally")}
    assert cache_folder().parent == Path(os.environ["REPROPACK_CACHE_DIR"])  # the tests' own cache


def test_a_second_lock_sharing_wheels_downloads_only_the_rest(index, tmp_path):
    first = _two_projects(index)
    _fetch(index, first, tmp_path / "one")
    assert index.downloads() == 2
    extra = index.add("numpyish", "numpyish-1.0-py3-none-any.whl", b"new one")
    second = _fetch(index, [*first, _pin("numpyish", "1.0", extra)], tmp_path / "two")
    assert (second.downloaded, second.reused, second.downloaded_bytes) == (1, 2, len(b"new one"))
    assert index.downloads() == 3  # only the new wheel
    assert len(second.wheels) == 3 and second.complete


def test_a_corrupt_file_in_the_cache_is_discarded_and_fetched_again_never_used(index, tmp_path):
    lock = _two_projects(index)
    _fetch(index, lock, tmp_path / "one")
    (cache_folder() / _sha(b"six wheel")).write_bytes(b"six wheel, damaged on disk")
    again = _fetch(index, lock, tmp_path / "two")
    assert (again.downloaded, again.reused) == (1, 1)
    assert (tmp_path / "two" / "six-1.16.0-py2.py3-none-any.whl").read_bytes() == b"six wheel"
    assert (cache_folder() / _sha(b"six wheel")).read_bytes() == b"six wheel"


def test_bytes_that_do_not_match_the_locks_hash_never_enter_the_cache(index, tmp_path):
    stated = _sha(b"what the lock recorded")
    index.add("six", "six-1.16.0-py2.py3-none-any.whl", b"what the index serves now", stated=stated)
    fetched = _fetch(index, [_pin("six", "1.16.0", stated)], tmp_path / "ctx")
    assert not fetched.complete
    assert fetched.uncovered == (
        "six==1.16.0: six-1.16.0-py2.py3-none-any.whl: the downloaded file does not match the lock's sha256",
    )
    assert list(cached_files()) == [] and list((tmp_path / "ctx").iterdir()) == []
    assert [p.name for p in cache_folder().iterdir()] == []  # no temporary file left either


def test_a_file_name_from_the_index_that_climbs_out_of_the_build_folder_is_refused(index, tmp_path):
    sha = index.add("six", "../../six-1.16.0-py2.py3-none-any.whl", b"six wheel")
    index.hrefs["../../six-1.16.0-py2.py3-none-any.whl"] = "/files/escape"
    fetched = _fetch(index, [_pin("six", "1.16.0", sha)], tmp_path / "a" / "ctx")
    assert fetched.uncovered == (
        "six==1.16.0: the index's file name '../../six-1.16.0-py2.py3-none-any.whl' is refused (not a plain file name)",
    )
    assert index.downloads() == 0
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_file_url_from_the_index_is_never_fetched(index, tmp_path):
    secret = tmp_path / "secret.whl"
    secret.write_bytes(b"host file")
    sha = index.add("six", "six-1.16.0-py2.py3-none-any.whl", b"host file")
    index.hrefs["six-1.16.0-py2.py3-none-any.whl"] = secret.as_uri()
    fetched = _fetch(index, [_pin("six", "1.16.0", sha)], tmp_path / "ctx")
    assert fetched.uncovered == ("six==1.16.0: the index's URL for six-1.16.0-py2.py3-none-any.whl is not http(s)",)
    assert list((tmp_path / "ctx").iterdir()) == []


def test_the_urls_come_from_the_reviewers_index_never_from_the_lock(index, tmp_path):
    other = Index()  # where a hostile package would like the host to go
    try:
        sha = other.add("six", "six-1.16.0-py2.py3-none-any.whl", b"six wheel")
        hostile = [
            _pin(f"six @ {other.url}/files/six-1.16.0-py2.py3-none-any.whl", "1.16.0", sha),
            _pin(f"../../..{other.url.removeprefix('http:')}/simple/six", "1.16.0", sha),
        ]
        fetched = _fetch(index, hostile, tmp_path / "ctx")
        assert other.requests == Counter() and index.requests == Counter()
        assert not fetched.wheels
        assert [line.endswith("not a project name; not asked of the index") for line in fetched.uncovered] == [
            True,
            True,
        ]
    finally:
        other.close()


def test_the_wheel_the_images_python_prefers_is_chosen_among_the_locks_hashes(index, tmp_path):
    hashes = [
        index.add("tally", "tally-2.0-py3-none-any.whl", b"pure"),
        index.add("tally", "tally-2.0-cp311-cp311-manylinux_2_17_x86_64.whl", b"cp311"),
        index.add("tally", "tally-2.0-cp313-cp313-manylinux_2_17_x86_64.whl", b"cp313"),
        index.add("tally", "tally-2.0-cp311-cp311-musllinux_1_2_x86_64.whl", b"musl"),
        index.add("tally", "tally-2.0-cp311-cp311-manylinux_2_39_x86_64.whl", b"newer glibc"),
    ]
    not_in_lock = index.add("tally", "tally-2.0-cp311-cp311-manylinux_2_36_x86_64.whl", b"not in the lock")
    fetched = _fetch(index, [_pin("tally", "2.0", *hashes)], tmp_path / "ctx")
    assert dict(fetched.wheels) == {"tally-2.0-cp311-cp311-manylinux_2_17_x86_64.whl": _sha(b"cp311")}
    assert not_in_lock not in {p.name for p in cached_files()}
    assert index.downloads() == 1


def test_a_pin_whose_marker_excludes_the_image_is_not_fetched(index, tmp_path):
    sha = index.add("pywin32", "pywin32-306-cp311-cp311-win_amd64.whl", b"windows only")
    fetched = _fetch(index, [_pin("pywin32", "306", sha, marker='sys_platform == "win32"')], tmp_path / "ctx")
    assert fetched.complete and not fetched.wheels
    assert index.requests == Counter()


def test_a_lock_without_hashes_fetches_nothing(index, tmp_path):
    index.add("six", "six-1.16.0-py2.py3-none-any.whl", b"six wheel")
    fetched = _fetch(index, [_pin("six", "1.16.0")], tmp_path / "ctx")
    assert fetched.uncovered == ("the lock has no artifact hashes",)
    assert index.requests == Counter()


def test_an_unreachable_index_leaves_the_pins_to_the_build(tmp_path):
    (tmp_path / "ctx").mkdir()
    lock = [_pin("six", "1.16.0", "a" * 64)]
    fetched = fetch_wheels(lock, PipIndex("http://127.0.0.1:9/simple"), TARGET, tmp_path / "ctx")
    assert fetched.uncovered == ("six==1.16.0: http://127.0.0.1:9/simple could not be asked (ConnectionError)",)


def test_the_images_tags_are_those_of_its_cpython_and_glibc():
    tags = [str(tag) for tag in TARGET.tags]
    assert tags[0] == "cp311-cp311-manylinux_2_36_x86_64"
    assert "cp311-abi3-manylinux2014_x86_64" in tags and "py3-none-any" in tags
    assert not [tag for tag in tags if "musllinux" in tag or "manylinux_2_37" in tag or "cp313" in tag]
    with pytest.raises(ValueError):
        Target.of_image({**MARKERS, "implementation_name": "pypy"}, "2.36")
