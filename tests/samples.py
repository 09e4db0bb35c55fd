"""Hand-made results for tests that render, record or validate a replay without running one."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from repropack.model import OutputComparison, OutputStatus, ReplayedPackage, ReplayResult, Verdict

MOMENT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def sample_replay_result(**changes: Any) -> ReplayResult:
    """A not-reproduced docker replay of one notebook and one differing table; ``changes`` override any field."""
    fields: dict[str, Any] = dict(
        package=ReplayedPackage(Path("/tmp/pkg"), "Study", "a" * 64),
        verdict=Verdict.NOT_REPRODUCED,
        cause=None,
        outputs=(
            OutputComparison("analysis.ipynb", OutputStatus.EQUIVALENT, "notebook", "execution counts differ"),
            OutputComparison("outputs/counts.csv", OutputStatus.DIFFERENT, "csv", "row 2, column 'n': '1' != '7'"),
        ),
        rules={"declared": {}, "applied": {"analysis.ipynb": "notebook", "outputs/counts.csv": "csv"}},
        drift=(),
        backend={"backend": "docker", "engine": "docker", "engine_version": "26.1.5", "api_version": "1.45"},
        isolation="container",
        image="repropack/env:0123456789abcdef",
        image_id="sha256:" + "c" * 64,
        image_reused=True,
        limits={"timeout_s": 1800, "memory": "2g", "pids": 256, "network": False},
        started=MOMENT,
        ended=MOMENT,
        timings={"integrity": 0.01, "build": 0.2, "execute": 3.5, "compare": 0.1},
        agent="ada",
        host="box",
    )
    fields.update(changes)
    return ReplayResult(**fields)
