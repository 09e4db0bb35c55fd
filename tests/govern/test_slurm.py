"""dask-jobqueue as far as one machine allows: a real single-node Slurm (scripts/slurm.sh) starts a Dask worker as
a batch job, and a policy run dispatched to that cluster's scheduler address replays every package on it."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from repropack.govern.run import GovernSettings, run_policy
from repropack.model.governance import TaskState
from repropack.progress import SilentProgress
from repropack.repository.catalog.tables import GovernRunRow
from tests.govern.conftest import FAILED, NOT_REPRODUCED, REPRODUCED, make_policy

pytestmark = pytest.mark.usefixtures("replay_cache")


def _example():
    """examples/govern/slurm-cluster.py, imported (its name has a dash)."""
    path = Path(__file__).parents[2] / "examples" / "govern" / "slurm-cluster.py"
    spec = importlib.util.spec_from_file_location("slurm_cluster_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXAMPLE = _example()


def test_the_example_job_script_runs_one_single_threaded_worker_of_this_python():
    with EXAMPLE.make_cluster(scheduler_options={"port": 0, "dashboard_address": None}) as cluster:
        script = cluster.job_script()
    assert "#SBATCH -p batch" in script and "#SBATCH --cpus-per-task=2" in script
    assert "#SBATCH --mem=" in script and "#SBATCH -t 04:00:00" in script
    assert "#SBATCH --job-name=repropack-govern" in script
    assert f"{sys.executable} -m distributed.cli.dask_worker tcp://" in script and "--nthreads 1" in script


@pytest.fixture
def slurm_conf(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The single-node cluster's slurm.conf (SLURM_CONF set to it). In CI its absence fails the test."""
    conf = os.environ.get("REPROPACK_TEST_SLURM_CONF", "")
    if not conf or not Path(conf).is_file():
        message = "needs the single-node Slurm of bash scripts/slurm.sh (REPROPACK_TEST_SLURM_CONF)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    monkeypatch.setenv("SLURM_CONF", conf)
    return Path(conf)


@pytest.mark.slow
def test_a_policy_run_replays_on_a_worker_slurm_started(slurm_conf, govern_repository, tmp_path):
    repository, ids = govern_repository.repository, govern_repository.ids
    with EXAMPLE.make_cluster(
        queue="debug",
        cores=1,
        memory="2GB",
        walltime="00:10:00",
        log_directory=str(tmp_path / "slurm-logs"),
        scheduler_options={"port": 0, "dashboard_address": None},
    ) as cluster:
        cluster.scale(jobs=1)
        with cluster.get_client() as client:
            client.wait_for_workers(1, timeout=120)
            # The worker is a batch job of Slurm's (a lambda: cloudpickle sends it by value, no test import there).
            (job_id,) = client.run(lambda: __import__("os").environ.get("SLURM_JOB_ID")).values()
        policy = make_policy("on-slurm")
        settings = GovernSettings.resolve(policy, scheduler=cluster.scheduler_address)
        report = run_policy(repository, policy, settings, SilentProgress(), lambda: False)
    assert job_id and job_id.isdigit()
    titles = {public_id: title for title, public_id in ids.items()}
    assert {titles[o.public_id]: (o.state, o.verdict) for o in report.outcomes} == {
        REPRODUCED: (TaskState.DONE, "reproduced"),
        NOT_REPRODUCED: (TaskState.DONE, "not_reproduced"),
        FAILED: (TaskState.DONE, "failed"),
    }
    assert report.settings.describe()["scheduler"] == {"value": cluster.scheduler_address, "source": "flag"}
    with repository.catalog.session() as session:
        assert session.scalar(select(GovernRunRow.state).where(GovernRunRow.public_id == report.run_id)) == "finished"
