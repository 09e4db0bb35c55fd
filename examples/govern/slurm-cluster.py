"""Dask workers for `repropack govern` as Slurm batch jobs (dask-jobqueue), on a cluster's shared filesystem.

Run this on the cluster's login node, in the environment repropack is installed in:

    python examples/govern/slurm-cluster.py --jobs 4 --queue batch

It starts a Dask scheduler here, submits JOBS batch jobs that each run one Dask worker, prints the scheduler's
address and keeps the cluster up until Ctrl-C. From any machine that reaches the scheduler (the login node is
fine), dispatch a policy run to it:

    repropack govern run examples/govern/nightly.toml --scheduler tcp://10.0.0.5:8786 --repository /shared/repository

The repository folder (and its catalog: SQLite on the shared filesystem, or PostgreSQL with --catalog) must be at
the same path on the workers' nodes, and each node needs the Docker engine the policy's backend uses (or
`backend = "local"`). Adjust make_cluster's defaults to your site (account, partition, memory per job).
"""

from __future__ import annotations

import argparse
import sys
import time


def make_cluster(**overrides):
    """A ``dask_jobqueue.SLURMCluster`` whose jobs each run one single-threaded Dask worker: one replay at a time
    per job, as a LocalCluster's worker processes do. ``overrides`` replace any of the settings below."""
    from dask_jobqueue import SLURMCluster

    settings = {
        "queue": "batch",  # the partition (sbatch -p)
        "cores": 2,  # a replay's kernel and its container's build: 2 cores per job
        "processes": 1,  # one worker process per job
        "memory": "8GB",  # the job's memory; the policy's [replay] memory bounds each container inside it
        "walltime": "04:00:00",
        "python": sys.executable,  # the worker runs with this environment's repropack
        "job_extra_directives": ["--job-name=repropack-govern"],
        "worker_extra_args": ["--nthreads", "1"],
        "scheduler_options": {"port": 8786, "dashboard_address": ":8787"},
    }
    settings.update(overrides)
    return SLURMCluster(**settings)


def main() -> int:
    parser = argparse.ArgumentParser(description="Dask workers for repropack govern as Slurm batch jobs.")
    parser.add_argument("--jobs", type=int, default=2, help="batch jobs (workers) to submit")
    parser.add_argument("--queue", default="batch", help="the Slurm partition")
    parser.add_argument("--account", help="the Slurm account to charge (sbatch -A)")
    args = parser.parse_args()
    extra = {"account": args.account} if args.account else {}
    with make_cluster(queue=args.queue, **extra) as cluster:
        cluster.scale(jobs=args.jobs)
        print(f"scheduler: {cluster.scheduler_address}")
        print(f"run: repropack govern run examples/govern/nightly.toml --scheduler {cluster.scheduler_address}")
        print("the job script each worker runs:")
        print(cluster.job_script())
        try:
            while True:
                time.sleep(60)
        except KeyboardInterrupt:
            print("stopping: the batch jobs are cancelled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
