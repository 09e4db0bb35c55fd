"""License files identified by their text: each known license as projects ship it, and what is not one."""

from __future__ import annotations

from pathlib import Path

import pytest

from repropack.export.license_text import KNOWN, identify

LICENSES = Path(__file__).parent / "data" / "licenses"
UNAMBIGUOUS = ("MIT", "BSD-2-Clause", "BSD-3-Clause", "Apache-2.0", "MPL-2.0", "CC-BY-4.0", "CC0-1.0")
GNU = ("GPL-2.0", "GPL-3.0", "LGPL-2.1", "LGPL-3.0")


def text(name: str) -> str:
    return (LICENSES / name).read_text(encoding="utf-8")


def test_every_known_license_has_a_shipped_file():
    assert sorted(p.name for p in LICENSES.iterdir() if p.name != "README.md") == sorted(KNOWN)


@pytest.mark.parametrize("spdx", UNAMBIGUOUS)
def test_each_license_as_projects_ship_it(spdx):
    assert identify(text(spdx)).spdx == spdx


def test_mit_with_another_holder_title_and_wrapping_is_still_mit():
    other = text("MIT").replace("Grace Hopper <grace@example.org>", "The Claims Project Contributors")
    other = other.replace("The MIT License (MIT)", "MIT License").replace("\n", "\n   ")
    assert identify(other).spdx == "MIT"


def test_mit_plus_an_extra_clause_is_not_recognised():
    extra = text("MIT").replace(
        "The above copyright notice",
        "The Software shall be used for Good, not Evil.\n\nThe above copyright notice",
    )
    assert identify(extra).spdx is None
    assert identify(extra).note == "text not recognised as a known SPDX license"
    assert identify(text("MIT") + "\nThis license does not apply to the data/ folder.\n").spdx is None


def test_mit_missing_its_warranty_disclaimer_is_not_recognised():
    cut = text("MIT")
    assert identify(cut[: cut.index("THE SOFTWARE IS PROVIDED")]).spdx is None


def test_bsd_2_and_bsd_3_are_told_apart():
    assert identify(text("BSD-2-Clause")).spdx == "BSD-2-Clause"
    assert identify(text("BSD-3-Clause")).spdx == "BSD-3-Clause"


def test_apache_with_and_without_its_appendix():
    from repropack.resources import schema_path

    assert identify(schema_path("licenses/Apache-2.0.txt").read_text()).spdx == "Apache-2.0"
    assert identify(text("Apache-2.0")).spdx == "Apache-2.0"  # cut after END OF TERMS AND CONDITIONS


@pytest.mark.parametrize("spdx", GNU)
def test_a_gnu_text_alone_does_not_say_only_or_later(spdx):
    found = identify(text(spdx))
    assert found.spdx is None
    assert found.note == (
        f"the {spdx} text, which does not say whether it is {spdx}-only or {spdx}-or-later (a notice says that)"
    )


@pytest.mark.parametrize(
    ("spdx", "program", "version"),
    [("GPL-2.0", "General", "2"), ("GPL-3.0", "General", "3"), ("LGPL-2.1", "Lesser General", "2.1")],
)
def test_a_gnu_notice_before_the_text_decides(spdx, program, version):
    later = (
        "This program is free software: you can redistribute it and/or modify it under the terms of the "
        f"GNU {program} Public License as published by the Free Software Foundation, either version {version} "
        "of the License, or (at your option) any later version.\n\n"
    )
    only = (
        "This program is free software; you can redistribute it and/or modify it under the terms of the "
        f"GNU {program} Public License version {version} as published by the Free Software Foundation.\n\n"
    )
    assert identify(later + text(spdx)).spdx == f"{spdx}-or-later"
    assert identify(only + text(spdx)).spdx == f"{spdx}-only"


def test_gpl_2_gpl_3_and_lgpl_are_not_confused():
    for spdx in GNU:
        found = identify(f"Version {spdx[-3]} of the License, or any later version.\n\n" + text(spdx))
        assert found.spdx is not None and found.spdx.startswith(spdx), (spdx, found)


def test_two_licenses_in_one_file_are_not_recognised():
    assert identify(text("MIT") + "\n\n" + text("BSD-2-Clause")).spdx is None


@pytest.mark.parametrize("other", ["", "   \n", "All rights reserved.\n", "See https://opensource.org/licenses/MIT\n"])
def test_text_that_is_no_license_is_not_recognised(other):
    assert identify(other).spdx is None
