"""``repropack govern``: replay a repository's packages as a policy says, on Dask; statuses, histories, regressions."""

from __future__ import annotations

import json
from pathlib import Path

import click

from repropack.cli.common import emit_json, run_pipeline, stderr
from repropack.cli.repository import repository_options
from repropack.ui.text import console

_POLICY = click.argument("policy_path", metavar="POLICY", type=click.Path(path_type=Path))


def _dispatch_options(command):
    command = click.option(
        "--executor",
        metavar="NAME",
        help="dask (default): a Dask cluster; local: one replay at a time in this process, for debugging; or an "
        "installed plug-in's (entry points repropack.executors).",
    )(command)
    command = click.option(
        "--workers",
        type=int,
        help="Replays at once (default: the policy's workers): the LocalCluster's worker processes.",
    )(command)
    return click.option(
        "--scheduler",
        metavar="ADDRESS",
        help="A running Dask scheduler (tcp://host:8786) whose workers replay, instead of a LocalCluster here.",
    )(command)


def _json_option(command):
    return click.option("--json", "json_", is_flag=True, help="Print one JSON object on stdout.")(command)


@click.group()
def govern() -> None:
    """Replay a repository's packages without anyone asking: as a policy says, on Dask.

    A policy (TOML, see docs/govern.md and examples/govern/nightly.toml) selects packages
    (all, keywords, authors, last verdict, not replayed for N days, newly imported, a base image)
    and says how to replay them. Each replay's signed record goes into the repository, and the
    run's state lives in its catalog: a run killed half-way resumes where it stopped.

    \b
    Examples:
      repropack govern run examples/govern/nightly.toml --repository /srv/repository
      repropack govern run nightly.toml --scheduler tcp://scheduler:8786   # workers on other machines
      repropack govern watch nightly.toml --every 1d                        # SIGTERM stops it cleanly
      repropack govern status
      repropack govern history pkg-3f9a1c2b7d4e
      repropack govern regressions --json
    """


@govern.command("run")
@_POLICY
@_dispatch_options
@repository_options
@_json_option
def run_command(
    policy_path: Path,
    scheduler: str | None,
    workers: int | None,
    executor: str | None,
    repository_path: Path | None,
    catalog: str | None,
    json_: bool,
) -> None:
    """Run POLICY once: replay every package it selects, record each verdict, report regressions.

    A run that stopped before its end (a signal, a kill -9, a machine that went down) is resumed
    by running the same policy again: finished replays are never redone. Retries are for the
    infrastructure only (the engine down, a full disk), never for a verdict.

    \b
    Exit codes: 0 every package got a verdict and none regressed, 1 a package regressed,
    2 a bad policy or repository, 3 a replay could not run past its retries,
    130 stopped (run it again to resume).

    \b
    Examples:
      repropack govern run examples/govern/nightly.toml --repository /srv/repository
      repropack govern run nightly.toml --workers 4 --json > run.json
    """
    from repropack.govern.policy import load_policy
    from repropack.govern.run import GovernSettings, open_governed_repository, run_policy
    from repropack.govern.watch import StopSignal
    from repropack.ui.govern_view import GovernProgress, render_report

    def work():
        policy = load_policy(policy_path)
        settings = GovernSettings.resolve(policy, executor=executor, scheduler=scheduler, workers=workers)
        with open_governed_repository(policy, repository_path, catalog) as repository, StopSignal() as stop:
            return run_policy(repository, policy, settings, GovernProgress(stderr), stop)

    report = run_pipeline(work)
    if json_:
        emit_json(report.as_dict())
    else:
        render_report(console(), report)
    raise SystemExit(report.exit_code)


@govern.command("watch")
@_POLICY
@click.option("--every", required=True, metavar="DURATION", help="How often: 1d, 12h, 30m (the first run starts now).")
@_dispatch_options
@repository_options
@_json_option
def watch_command(
    policy_path: Path,
    every: str,
    scheduler: str | None,
    workers: int | None,
    executor: str | None,
    repository_path: Path | None,
    catalog: str | None,
    json_: bool,
) -> None:
    """Run POLICY now and then every DURATION, until SIGTERM or Ctrl-C.

    The first signal lets the replays that are running finish and dispatches nothing new; a
    second abandons them (their tasks stay for the next run, nothing is half-recorded). A run
    that cannot run (the engine down) is reported and tried again at the next interval.

    \b
    Examples:
      repropack govern watch examples/govern/nightly.toml --every 1d
      repropack govern watch nightly.toml --every 6h --json >> runs.jsonl   # one object per run
    """
    from repropack.config import duration_in_seconds
    from repropack.errors import BadInput
    from repropack.govern.policy import load_policy
    from repropack.govern.run import GovernSettings, open_governed_repository, run_policy
    from repropack.govern.watch import StopSignal, watch
    from repropack.ui.govern_view import GovernProgress, render_report

    def work():
        try:
            seconds = duration_in_seconds(every)
        except ValueError as error:
            raise BadInput(f"--every: {error}") from None
        policy = load_policy(policy_path)
        settings = GovernSettings.resolve(policy, executor=executor, scheduler=scheduler, workers=workers)
        progress = GovernProgress(stderr)

        def run_once():
            # The repository is opened for each run: between runs nothing is held open for hours.
            with open_governed_repository(policy, repository_path, catalog) as repository:
                return run_policy(repository, policy, settings, progress, stop)

        def show(report):
            if json_:
                click.echo(_one_line_json(report.as_dict()))
            else:
                render_report(console(), report)

        with StopSignal() as stop:
            return watch(run_once, seconds, stop, show, progress.detail)

    raise SystemExit(run_pipeline(work))


def _one_line_json(data: dict) -> str:
    return json.dumps(data, sort_keys=True)


def _read(repository_path: Path | None, catalog: str | None, read):
    """``read(repository)`` on the repository the options name, and the settings it used; errors as every command
    shows them."""
    from repropack.repository.opened import Repository

    def work():
        with Repository.open(repository_path, catalog) as repository:
            return read(repository), repository.settings_used()

    return run_pipeline(work)


@govern.command("status")
@repository_options
@_json_option
def status_command(repository_path: Path | None, catalog: str | None, json_: bool) -> None:
    """The newest verdict of each package (its newest version), and how many governed runs it had.

    \b
    Example:
      repropack govern status --repository /srv/repository
    """
    from repropack.repository.history import package_statuses
    from repropack.ui.govern_view import render_statuses

    statuses, used = _read(repository_path, catalog, package_statuses)
    if json_:
        emit_json({"packages": [status.as_dict() for status in statuses], "settings": used})
    else:
        render_statuses(console(), statuses)


@govern.command("history")
@click.argument("public_id", metavar="ID")
@repository_options
@_json_option
def history_command(public_id: str, repository_path: Path | None, catalog: str | None, json_: bool) -> None:
    """Every governed run of package ID over time (all its versions), oldest first.

    \b
    Example:
      repropack govern history pkg-3f9a1c2b7d4e --json
    """
    from repropack.repository.history import package_history
    from repropack.ui.govern_view import render_history

    entries, used = _read(repository_path, catalog, lambda repository: package_history(repository, public_id))
    if json_:
        emit_json({"id": public_id, "history": [entry.as_dict() for entry in entries], "settings": used})
    else:
        render_history(console(), public_id, entries)


@govern.command("regressions")
@repository_options
@_json_option
def regressions_command(repository_path: Path | None, catalog: str | None, json_: bool) -> None:
    """Packages whose newest verdict is worse than the one before it, each with its category:
    container-induced (a new base image), environment failure (the build or install broke),
    persistent error (it fails to run to its end), reproducibility drift (outputs changed).

    \b
    Exit codes: 0 none, 1 at least one regression.

    \b
    Example:
      repropack govern regressions --json
    """
    from repropack.repository.regressions import find_regressions
    from repropack.ui.govern_view import render_regressions

    regressions, used = _read(repository_path, catalog, find_regressions)
    if json_:
        emit_json({"regressions": [regression.as_dict() for regression in regressions], "settings": used})
    else:
        render_regressions(console(), regressions)
    raise SystemExit(1 if regressions else 0)
