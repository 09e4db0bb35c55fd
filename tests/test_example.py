"""The bundled example, end to end: the package the README's main command makes."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import pytest

from repropack.crate.check import check_package
from repropack.crate.profiles import validate_profiles
from repropack.crate.reader import open_package
from repropack.export import export_project
from repropack.ui.inspect_view import describe_package

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "claims-analysis"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def example_package(tmp_path_factory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("example")
    project = work / "claims-analysis"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("outputs"))
    out = work / "claims-analysis.crate.zip"
    export_project(project, out, {})
    return project, out


#: RECOMMENDED under ro-crate-1.2 for facts the example does not give (a ROR id, contact points),
#: and 44.2 for listing 1.1 beside 1.2 (see crate/versions.py); nothing else.
ONLY_UNGIVEN_FACTS = {"ro-crate-1.2_44.2", "ro-crate-1.2_89.0", "ro-crate-1.2_90.1", "ro-crate-1.2_93.0"}


def test_example_has_no_required_profile_issue_and_recommends_only_ungiven_facts(example_package):
    _, out = example_package
    with open_package(out) as pkg:
        issues = validate_profiles(pkg.root)
    assert [i for i in issues if i.severity == "REQUIRED"] == []
    assert [i for i in issues if i.profile == "process-run-crate-0.5"] == []
    assert {i.check for i in issues} <= ONLY_UNGIVEN_FACTS


def test_example_package_checks_clean(example_package):
    _, out = example_package
    report = check_package(out)
    assert report.problems == []


def test_example_records_table_figure_and_restricted_register(example_package):
    project, out = example_package
    with open_package(out) as pkg:
        d = describe_package(pkg.source, pkg.package, pkg.environment_hash)
    roles = {f["path"]: f["role"] for f in d["files"]}
    assert roles["outputs/counts_by_ageband_disease.csv"] == "output"
    assert roles["outputs/counts_by_ageband_disease.png"] == "output"
    assert roles["data/claims.csv"] == "input"
    (register,) = d["restricted"]
    assert register["path"] == "data/restricted/patient_register.csv"
    assert register["sha256"] == hashlib.sha256((project / register["path"]).read_bytes()).hexdigest()
    assert register["path"] not in zipfile.ZipFile(out).namelist()
    lock = "\n".join(d["environment"]["lock"])
    assert "pandas==" in lock and "matplotlib==" in lock and "numpy==" in lock
