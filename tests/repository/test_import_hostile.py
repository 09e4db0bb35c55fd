"""Every case of the hostile corpus through ``repropack import`` in a real process: each refused with its own line
and exit 2, and the repository (every file's bytes and mode, the catalog's -wal/-shm included) byte-identical."""

from __future__ import annotations

import json
from pathlib import Path

from tests.repository.builders import fingerprint, packages
from tests.repository.cli_runner import fast_repository, repropack
from tests.repository.hostile.corpus import CASES

__all__ = ["packages"]  # fixtures

#: A record given to ``import`` is verified as a record (not refused as "a record, not a package"): this one's
#: signature.json signs nothing.
_AS_RECORD = {"governed_run_record": "failed verification"}


def test_every_hostile_case_is_refused_and_the_repository_is_byte_identical(tmp_path, packages):
    repo = fast_repository(tmp_path / "repo")
    seeded = repropack("import", packages.folder, "--repository", repo, "--json")
    assert seeded.returncode == 0, seeded.stderr
    work = tmp_path / "work"
    work.mkdir()
    cases = {}
    for name, build in sorted(CASES.items()):
        (work / name).mkdir()
        cases[name] = build(packages.folder, work / name)
    own_temp = tmp_path / "tmp"
    own_temp.mkdir()
    before = fingerprint(repo)

    result = repropack(
        "import", *(c.path for c in cases.values()), "--repository", repo, "--json", TMPDIR=str(own_temp)
    )

    assert result.returncode == 2
    assert fingerprint(repo) == before
    assert list(own_temp.iterdir()) == []  # admission's temp folders are gone too
    summary = json.loads(result.stdout)
    assert summary["imports"] == []
    refused = {Path(r["source"]): r for r in summary["refused"]}
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(cases) and all(line.startswith("repropack: error: ") for line in lines)
    for name, case in cases.items():
        refusal = refused[case.path]
        assert refusal["exit_code"] == 2, (name, refusal)
        assert _AS_RECORD.get(name, case.fragment) in refusal["error"], (name, refusal["error"])
        assert "\n" not in refusal["error"]
    assert len({r["error"] for r in refused.values()}) == len(cases)  # each its own message
