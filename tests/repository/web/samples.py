"""A repository for the web view's tests: one honest package, one hostile one, rows inserted through the tables."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from repropack.repository.location import RepositoryLocation
from tests.repository.catalog_rows import SampleFile, SampleRun, SampleVersion, add_package, make_repository

HONEST = "pkg-0000000000aa"
HOSTILE = "pkg-0000000000bb"
HOSTILE_TITLE = "<script>window.__pwned=1</script>Rainfall & <b>Kyoto</b>"
#: The smallest valid PNG: 1x1, one grey pixel.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==")
RAIN = b"day,mm\n1,3.5\n"
LOCK = "pandas==2.2.3 \\\n    --hash=sha256:" + "a" * 64 + "\nnumpy==2.1.0\n"
METADATA = {
    "@context": "https://w3id.org/ro/crate/1.1/context",
    "@graph": [
        {"@id": "ro-crate-metadata.json", "@type": "CreativeWork", "about": {"@id": "./"}},
        {"@id": "./", "@type": "Dataset", "name": "Rainfall"},
        {"@id": "#container-image", "@type": "ContainerImage", "pythonVersion": "3.11.9"},
        {"@id": "analysis.ipynb", "@type": "File", "fileRole": "notebook"},
        {
            "@id": "#run-1",
            "@type": "CreateAction",
            "object": [{"@id": "analysis.ipynb"}],
            "actionStatus": "http://schema.org/CompletedActionStatus",
            "startTime": "2026-11-24T10:00:00Z",
            "endTime": "2026-11-24T10:01:00Z",
        },
    ],
}


def notebook(*outputs: dict, source: str = "print('rain')") -> bytes:
    cell = {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": source, "outputs": list(outputs)}
    markdown = {"cell_type": "markdown", "metadata": {}, "source": ["# Rain <script>window.__pwned=2</script>"]}
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [markdown, cell]}).encode()


HONEST_NOTEBOOK = notebook(
    {"output_type": "stream", "name": "stdout", "text": ["rain\n"]},
    {
        "output_type": "display_data",
        "metadata": {},
        "data": {"image/png": base64.b64encode(PNG).decode(), "text/plain": "<Figure>"},
    },
)
HOSTILE_NOTEBOOK = notebook(
    {
        "output_type": "display_data",
        "metadata": {},
        "data": {"text/html": "<img src=x onerror='window.__pwned=3'>", "text/plain": "<b>plain</b>"},
    },
    {"output_type": "display_data", "metadata": {}, "data": {"application/javascript": "window.__pwned=4"}},
    {
        "output_type": "display_data",
        "metadata": {},
        "data": {"image/png": base64.b64encode(b"<svg onload=x>").decode()},
    },
    {
        "output_type": "error",
        "ename": "ValueError",
        "evalue": "bad",
        "traceback": ["\x1b[31mValueError\x1b[0m: <i>bad</i>"],
    },
    source="x = '<script>window.__pwned=5</script>'",
)


def build_repository(root: Path, catalog_url: str | None = None) -> RepositoryLocation:
    location = make_repository(root, catalog_url)
    add_package(
        location,
        HONEST,
        SampleVersion(
            title="Rainfall in Kyoto, 1990-2020",
            description="Daily rainfall, cleaned and plotted.",
            files=(
                SampleFile(".repropack/requirements.lock.txt", LOCK.encode(), role="support"),
                SampleFile(".repropack/env/requirements.txt", b"pandas\n", role="support"),
                SampleFile(
                    "analysis.ipynb", HONEST_NOTEBOOK, role="notebook", encoding_format="application/x-ipynb+json"
                ),
                SampleFile("data/rain 1990.csv", RAIN, role="input", encoding_format="text/csv"),
                SampleFile("data/secret.csv", b"names", role="input", encoding_format="text/csv", restricted=True),
                SampleFile(
                    "ro-crate-metadata.json",
                    json.dumps(METADATA).encode(),
                    role="support",
                    encoding_format="application/json",
                ),
            ),
            keywords=("rainfall", "kyoto"),
            doi="10.1234/rain.1990",
            runs=(SampleRun("reproduced", "1" * 64), SampleRun("not_reproduced", "2" * 64, cause="figure differs")),
        ),
        dois=("10.5555/paper.7",),
    )
    add_package(
        location,
        HOSTILE,
        SampleVersion(
            title=HOSTILE_TITLE,
            description='"><script>window.__pwned=6</script>',
            authors=(("<img src=x onerror=window.__pwned=7>", "javascript:window.__pwned=8"),),
            files=(
                SampleFile("evil.ipynb", HOSTILE_NOTEBOOK, role="notebook"),
                SampleFile("page.html", b"<script>window.__pwned=9</script>", encoding_format="text/html"),
                SampleFile("odd.bin", b"\x00\x01", encoding_format="text/plain\r\nSet-Cookie: x=1"),
            ),
        ),
    )
    return location
