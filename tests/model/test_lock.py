"""The lock file's text, both ways."""

from __future__ import annotations

from repropack.model import LockedDistribution
from repropack.model.lock import parse_lock, pinned_versions, render_lock

LOCK = (
    LockedDistribution("pandas", "2.2.3", ("imported",)),
    LockedDistribution("Jinja2", "3.1.4", ("dependency", "declared")),
    LockedDistribution("mypkg", "0.1", (), local=True),
)


def test_parse_gives_back_what_render_wrote():
    text = render_lock(LOCK, header="Pinned by test.\nTwo lines.")
    assert set(parse_lock(text)) == set(LOCK)
    assert pinned_versions(parse_lock(text)) == {"pandas": "2.2.3", "Jinja2": "3.1.4"}


def test_header_and_foreign_lines_are_not_distributions():
    text = "# Pinned by repropack\n--index-url https://evil.example/simple\n\nrequests == 2.0\nnumpy==1.26.4\n"
    assert parse_lock(text) == (LockedDistribution("numpy", "1.26.4", ()),)
