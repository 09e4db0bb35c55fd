"""Each run's peak memory and wall time: written as Process Run Crate resourceUsage, read back as the model."""

from __future__ import annotations

import json

from repropack.crate.reader import open_package
from repropack.export import export_project


def test_peak_memory_and_wall_time_round_trip_through_the_metadata(project, tmp_path):
    result = export_project(project, tmp_path / "pkg", {})
    (run,) = result.package.runs
    assert 20 * 2**20 < run.peak_memory < 2**31  # a kernel's resident memory, in bytes
    assert 0 <= run.wall_seconds < 120
    metadata = json.loads((tmp_path / "pkg/ro-crate-metadata.json").read_text())
    entities = {e["@id"]: e for e in metadata["@graph"]}
    (action,) = [e for e in metadata["@graph"] if e.get("@type") == "CreateAction"]
    usage = [entities[ref["@id"]] for ref in action["resourceUsage"]]
    assert [(u["@type"], u["propertyID"], u["unitCode"]) for u in usage] == [
        ("PropertyValue", "https://w3id.org/repropack/terms#peakMemory", "https://qudt.org/vocab/unit/BYTE"),
        ("PropertyValue", "https://w3id.org/repropack/terms#wallTime", "https://qudt.org/vocab/unit/SEC"),
    ]
    assert usage[0]["value"] == run.peak_memory
    with open_package(tmp_path / "pkg") as opened:
        (read,) = opened.package.runs
    assert (read.peak_memory, read.wall_seconds) == (run.peak_memory, run.wall_seconds)


def test_a_usage_value_that_is_no_number_is_read_as_not_recorded(project, tmp_path):
    export_project(project, tmp_path / "pkg", {})
    meta_path = tmp_path / "pkg/ro-crate-metadata.json"
    metadata = json.loads(meta_path.read_text())
    for entity in metadata["@graph"]:
        if entity.get("propertyID") == "https://w3id.org/repropack/terms#peakMemory":
            entity["value"] = "lots"
        if entity.get("propertyID") == "https://w3id.org/repropack/terms#wallTime":
            entity["value"] = -3
    meta_path.write_text(json.dumps(metadata))
    with open_package(tmp_path / "pkg") as opened:
        (read,) = opened.package.runs
    assert (read.peak_memory, read.wall_seconds) == (None, None)
