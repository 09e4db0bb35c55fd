"""Issue 16, "what must be true": govern end to end, with real processes, a real LocalCluster and real Docker.

Four packages (tests/govern/gallery.py: one reproduces, one was forged, one needs the network, one is
nondeterministic) are exported with `repropack export` and imported with `repropack import`; a policy that
selects all of them runs with `repropack govern run --workers 2` and each package's history and status say the
verdict its replay gives. A second policy run on a changed base image (the same image plus a sitecustomize that
changes math.tau, which the reproducing notebook prints) replays every package again and labels the one that
got worse a container-induced regression. Then a policy run is killed (-9, its process group: the Dask workers
are its children) once a task is done, and run again: it resumes the same policy run and ends with exactly one
governed run per package from it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from repropack.model.governance import RegressionCategory
from repropack.repository.catalog.tables import GovernedRunRow, GovernRunRow, GovernTaskRow
from repropack.repository.opened import Repository
from tests.conftest import isolate_user_dirs, wait_for
from tests.govern.gallery import TAU_FILE, Gallery, build_gallery, checked, new_repository, repropack

pytestmark = pytest.mark.usefixtures("docker_engine")

TITLES = {"Tau study", "Forged total", "Remote lookup", "Random draw"}
#: What each package's replay gives: (verdict, cause kind).
EXPECTED = {
    "Tau study": ("reproduced", None),
    "Forged total": ("not_reproduced", None),
    "Remote lookup": ("failed", "network needed"),
    "Random draw": ("not_reproduced", "nondeterministic"),
}


@dataclass(frozen=True)
class Governed:
    """A repository holding the gallery, after one policy run over all of it."""

    root: Path
    ids: dict[str, str]  # title -> public id
    report: dict
    env: dict[str, str]


@pytest.fixture(scope="module")
def module_env(tmp_path_factory) -> Iterator[dict[str, str]]:
    """The environment of every `repropack` this module runs: its own config, cache and TMPDIR (others share /tmp)."""
    base = tmp_path_factory.mktemp("govern-env")
    (base / "tmp").mkdir()
    with pytest.MonkeyPatch.context() as mp:  # the autouse isolation fixture is function-scoped
        isolate_user_dirs(mp, base / "home")
        mp.setenv("TMPDIR", str(base / "tmp"))
        mp.setenv("COLUMNS", "200")
        yield {k: os.environ[k] for k in ("XDG_CONFIG_HOME", "REPROPACK_CACHE_DIR", "TMPDIR", "COLUMNS")}


@pytest.fixture(scope="module")
def gallery(tmp_path_factory, module_env) -> Gallery:
    return build_gallery(tmp_path_factory.mktemp("govern-gallery"))


@pytest.fixture(scope="module")
def governed(tmp_path_factory, gallery, module_env) -> Governed:
    root = tmp_path_factory.mktemp("governed") / "repo"
    ids = new_repository(root, gallery.packages, module_env)
    assert set(ids) == TITLES
    policy = write_policy(root.parent / "nightly.toml", "nightly")
    done = checked(govern("run", policy, "--json", "--workers", "2", repository=root, env=module_env))
    return Governed(root, ids, json.loads(done.stdout), module_env)


def write_policy(path: Path, name: str, replay: str = "") -> Path:
    """A policy selecting every package, on 2 workers, one retry; ``replay`` the body of its [replay] table."""
    path.write_text(f'name = "{name}"\nworkers = 2\nretries = 1\n' + (f"[replay]\n{replay}\n" if replay else ""))
    return path


def govern(*args: str | Path, repository: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return repropack("govern", *args, "--repository", repository, env=env)


def history(governed: Governed, title: str) -> list[dict]:
    """`repropack govern history ID --json`: the package's governed runs, oldest first."""
    done = checked(govern("history", governed.ids[title], "--json", repository=governed.root, env=governed.env))
    return json.loads(done.stdout)["history"]


def statuses(governed: Governed) -> dict[str, dict]:
    """`repropack govern status --json`, by public id."""
    done = checked(govern("status", "--json", repository=governed.root, env=governed.env))
    return {package["id"]: package for package in json.loads(done.stdout)["packages"]}


# --- a policy run on two workers --------------------------------------------------------------------------------


def test_a_policy_run_on_two_workers_records_each_package_verdict_in_its_history(governed):
    report = governed.report
    assert report["resumed"] is False
    outcomes = {o["id"]: o for o in report["tasks"]}
    assert set(outcomes) == set(governed.ids.values())
    for title, (verdict, cause_kind) in EXPECTED.items():
        outcome = outcomes[governed.ids[title]]
        assert (outcome["state"], outcome["verdict"]) == ("done", verdict), outcome
        (entry,) = history(governed, title)
        assert (entry["verdict"], entry["cause_kind"]) == (verdict, cause_kind), entry
        assert entry["source"] == "govern" and entry["govern_run"] == report["run"], entry
        assert entry["record_sha256"] == outcome["record_sha256"]
        assert entry["base_image"] == "repropack/base:bookworm-py3.11"
    forged = history(governed, "Forged total")[0]
    assert "results/total.txt" in forged["diff_summary"] and history(governed, "Tau study")[0]["diff_summary"] is None


def test_status_shows_each_package_newest_verdict(governed):
    found = statuses(governed)
    assert set(found) == set(governed.ids.values())
    for title, (verdict, _) in EXPECTED.items():
        package = found[governed.ids[title]]
        assert (package["title"], package["verdict"], package["runs"]) == (title, verdict, 1), package


def test_the_record_of_each_governed_run_is_kept_in_the_store(governed):
    done = checked(repropack("repository", "check", "--repository", governed.root, "--json", env=governed.env))
    assert json.loads(done.stdout)["problems"] == []


# --- a second run on a changed base image -----------------------------------------------------------------------


@pytest.fixture
def changed_base_image(governed, docker_engine, tmp_path) -> Iterator[str]:
    """The base image the first run used plus a sitecustomize that sets math.tau to 6.0: its tag, removed after,
    with the environment images built on it."""
    (used,) = {entry["base_image"] for title in TITLES for entry in history(governed, title)}
    tag = f"repropack/base:test-changed-{uuid.uuid4().hex[:12]}"
    (tmp_path / "Dockerfile").write_text(
        f"FROM {used}\n"
        # Debian's python3 imports sitecustomize from its stdlib folder, in every venv made from it.
        "RUN printf 'import math\\nmath.tau = 6.0\\n' >> /usr/lib/python3.11/sitecustomize.py\n"
    )
    image, _ = docker_engine.images.build(path=str(tmp_path), tag=tag, rm=True)
    try:
        yield tag
    finally:
        for built in _built_on(docker_engine, image.id):  # the environment images of this test's runs only
            docker_engine.images.remove(built, force=True)
        docker_engine.images.remove(image.id, force=True)


def _built_on(client, base_id: str) -> list[str]:
    """The ids of the environment images whose parent chain reaches ``base_id`` (the classic builder records it)."""
    from repropack.sandbox.docker.image import ENVIRONMENT_LABEL

    images = {image.id: image for image in client.images.list(all=True)}
    found = []
    for image_id, image in images.items():
        if ENVIRONMENT_LABEL not in (image.labels or {}):
            continue
        parent = image.attrs.get("Parent")
        while parent and parent != base_id:
            parent = images[parent].attrs.get("Parent") if parent in images else None
        if parent == base_id:
            found.append(image_id)
    return found


def test_a_run_on_a_changed_base_image_replays_again_and_labels_the_container_induced_regression(
    governed, changed_base_image
):
    policy = write_policy(governed.root.parent / "rebased.toml", "rebased", f'base_image = "{changed_base_image}"')
    done = checked(govern("run", policy, "--json", "--workers", "2", repository=governed.root, env=governed.env), 1)
    report = json.loads(done.stdout)
    assert report["run"] != governed.report["run"]
    assert sorted(o["state"] for o in report["tasks"]) == ["done"] * 4

    for title, (verdict, cause_kind) in EXPECTED.items():
        before, after = history(governed, title)
        assert after["govern_run"] == report["run"] and after["base_image"] == changed_base_image, after
        assert after["base_image_id"] != before["base_image_id"] and after["image_id"] != before["image_id"]
        if title != "Tau study":
            assert (after["verdict"], after["cause_kind"]) == (verdict, cause_kind), after
    tau = history(governed, "Tau study")[-1]
    assert tau["verdict"] == "not_reproduced" and TAU_FILE in tau["diff_summary"], tau

    done = checked(govern("regressions", "--json", repository=governed.root, env=governed.env), 1)
    (regression,) = json.loads(done.stdout)["regressions"]
    assert (regression["id"], regression["category"]) == (
        governed.ids["Tau study"],
        RegressionCategory.CONTAINER_INDUCED.value,
    )
    assert changed_base_image in regression["reason"] and "reproduced -> not_reproduced" in regression["reason"]
    assert [r["id"] for r in report["regressions"]] == [governed.ids["Tau study"]]
    assert statuses(governed)[governed.ids["Tau study"]]["verdict"] == "not_reproduced"


# --- killed half-way, then run again ----------------------------------------------------------------------------


def _done_tasks(root: Path) -> int:
    with Repository.open(root) as repository, repository.catalog.session() as session:
        return session.scalar(select(func.count()).select_from(GovernTaskRow).where(GovernTaskRow.state == "done"))


def _group_gone(pgid: int) -> bool:
    """Whether no live process (a zombie waiting for init to reap it is not live) is left in group ``pgid``."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return False
    return True


def test_a_policy_run_killed_half_way_resumes_with_no_duplicate_and_no_loss(gallery, module_env, tmp_path):
    root = tmp_path / "repo"
    ids = new_repository(root, gallery.packages, module_env)
    policy = write_policy(tmp_path / "resumable.toml", "resumable")
    command = [sys.executable, "-m", "repropack", "govern", "run", str(policy), "--json", "--workers", "2"]
    with (tmp_path / "killed.stderr").open("wb") as stderr:
        killed = subprocess.Popen(
            [*command, "--repository", str(root)],
            env={**os.environ, **module_env},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,  # its own process group: the LocalCluster's workers are in it too
        )
    try:
        assert wait_for(lambda: killed.poll() is not None or _done_tasks(root) >= 1, 240, step=0.1), "no task ended"
        assert killed.poll() is None, (tmp_path / "killed.stderr").read_text()[-3000:]
    finally:
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
    assert wait_for(lambda: _group_gone(killed.pid), 30), "a worker of the killed run is still alive"
    ended_before = _done_tasks(root)
    assert 1 <= ended_before < len(ids), "the run was not killed half-way"

    done = checked(repropack("govern", "run", policy, "--json", "--workers", "2", "--repository", root, env=module_env))
    report = json.loads(done.stdout)
    assert report["resumed"] is True and report["exit_code"] == 0
    assert f"resuming policy run {report['run']}: {len(ids) - ended_before} to replay of {len(ids)}" in done.stderr
    assert sorted((o["id"], o["state"]) for o in report["tasks"]) == sorted((i, "done") for i in ids.values())
    with Repository.open(root) as repository, repository.catalog.session() as session:
        (run,) = session.scalars(select(GovernRunRow).where(GovernRunRow.policy_name == "resumable")).all()
        assert (run.public_id, run.state) == (report["run"], "finished")
        tasks = session.scalars(select(GovernTaskRow).where(GovernTaskRow.run_id == run.id)).all()
        assert sorted(t.state for t in tasks) == ["done"] * len(ids)
        runs = session.scalars(select(GovernedRunRow).where(GovernedRunRow.govern_run_id == run.id)).all()
        assert sorted(r.version_id for r in runs) == sorted(t.version_id for t in tasks)  # one each: none twice
        assert {t.governed_run_id for t in tasks} == {r.id for r in runs}
    for title, public_id in ids.items():
        done = checked(repropack("govern", "history", public_id, "--json", "--repository", root, env=module_env))
        (entry,) = json.loads(done.stdout)["history"]
        assert (entry["govern_run"], entry["verdict"]) == (report["run"], EXPECTED[title][0]), entry
