"""govern/task.py: real replays of checked-out versions (the local backend; one through Docker), a refused tampered
package, and injected infrastructure failures (released, then failed past the retries), never leaving a file in
the repository's staging folder."""

from __future__ import annotations

import errno
import hashlib
import pickle
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from repropack.errors import BadInput, CannotRun
from repropack.export import export_project
from repropack.govern.state import claim_task, open_policy_run, task_outcome
from repropack.govern.task import InfrastructureFailure, replay_settings_for, replay_task
from repropack.model.governance import InputsSource, ReplayTask, TaskState
from repropack.record.archived import record_folder
from repropack.record.opened import open_record, result_of
from repropack.repository.catalog.tables import FileRow, GovernedRunRow
from repropack.repository.importer import import_package
from repropack.repository.opened import Repository, init_repository
from repropack.sandbox.local import LocalBackend
from tests.conftest import make_project
from tests.govern.conftest import (
    FAILED,
    NOT_REPRODUCED,
    REPRODUCED,
    GovernedRepository,
    make_policy,
    selected_versions,
)
from tests.repository.builders import FAST_POLICY

SETTINGS: dict = {}


def _run(governed: GovernedRepository, policy, *titles: str) -> dict[str, ReplayTask]:
    chosen = [governed.version_of(title) for title in titles]
    run = open_policy_run(governed.repository, policy, chosen, SETTINGS)
    return {task.title: task for task in run.pending}


def _staging_is_empty(repository: Repository) -> bool:
    staging = repository.location.staging
    return not staging.exists() or list(staging.iterdir()) == []


def _governed_runs(repository: Repository, version_id: int) -> list[GovernedRunRow]:
    with repository.catalog.session() as session:
        found = select(GovernedRunRow).where(GovernedRunRow.version_id == version_id).order_by(GovernedRunRow.id)
        return list(session.execute(found).scalars())


def _stored_record(repository: Repository, sha256: str, target: Path):
    """The record zip the store holds under ``sha256``, opened and verified."""
    with repository.store.open(sha256) as reader, open(target, "wb") as writer:
        shutil.copyfileobj(reader, writer)
    with record_folder(target) as folder:
        return result_of(open_record(folder))


# --- real replays --------------------------------------------------------------------------------


@pytest.mark.usefixtures("replay_cache")
def test_each_verdict_is_done_with_its_signed_record_in_the_store_and_the_history(govern_repository, tmp_path) -> None:
    governed = govern_repository
    repository = governed.repository
    tasks = _run(governed, make_policy(), REPRODUCED, NOT_REPRODUCED, FAILED)
    expected = {
        REPRODUCED: ("reproduced", None),
        NOT_REPRODUCED: ("not_reproduced", None),
        FAILED: ("failed", "cell error"),
    }
    for title, (verdict, cause_kind) in expected.items():
        task = tasks[title]
        outcome = replay_task(repository.location, make_policy(), task, retries=1)
        assert (outcome.state, outcome.verdict, outcome.attempts) == (TaskState.DONE, verdict, 1), outcome
        assert (outcome.task_id, outcome.key, outcome.public_id, outcome.version) == (
            task.task_id,
            task.key,
            task.public_id,
            task.version,
        )
        assert outcome.seconds > 0 and outcome.detail == ""
        (run,) = _governed_runs(repository, task.version_id)
        assert (run.verdict, run.cause_kind, run.source) == (verdict, cause_kind, "govern")
        assert run.record_sha256 == outcome.record_sha256 and run.signer
        assert repository.store.has(run.record_blob) and repository.store.verify(run.record_blob) is None
        kept = _stored_record(repository, run.record_blob, tmp_path / f"{task.public_id}.zip")
        assert kept.verdict.value == verdict
        assert kept.settings["backend"] == {"value": "local", "source": "policy"}
        assert task_outcome(repository, task.task_id).state is TaskState.DONE
        assert _staging_is_empty(repository)
    (failed,) = _governed_runs(repository, tasks[FAILED].version_id)
    assert "deliberate failure" in (failed.cause or "")


@pytest.mark.usefixtures("replay_cache")
def test_a_duplicate_dispatch_of_a_done_task_is_not_replayed(govern_repository, monkeypatch) -> None:
    repository = govern_repository.repository
    task = _run(govern_repository, make_policy(), REPRODUCED)[REPRODUCED]
    first = replay_task(repository.location, make_policy(), task, retries=1)

    def never(*_args, **_kwargs):  # fault injection: a second replay would be a bug
        raise AssertionError("a done task was replayed again")

    monkeypatch.setattr("repropack.govern.task.replay_package", never)
    again = replay_task(repository.location, make_policy(), task, retries=1)
    assert (again.state, again.verdict, again.record_sha256) == (TaskState.DONE, "reproduced", first.record_sha256)
    assert len(_governed_runs(repository, task.version_id)) == 1


@pytest.mark.usefixtures("docker_engine")
def test_a_replay_through_docker_keeps_the_base_image_and_its_id(govern_repository) -> None:
    repository = govern_repository.repository
    policy = make_policy(backend="docker")
    task = _run(govern_repository, policy, REPRODUCED)[REPRODUCED]
    outcome = replay_task(repository.location, policy, task, retries=0)
    assert (outcome.state, outcome.verdict) == (TaskState.DONE, "reproduced"), outcome
    (run,) = _governed_runs(repository, task.version_id)
    assert run.base_image and run.base_image_id and run.base_image_id.startswith("sha256:")
    assert run.image_id and run.image_reused is not None
    assert _staging_is_empty(repository)


@pytest.mark.usefixtures("replay_cache")
def test_restricted_inputs_come_from_the_packages_own_folder(tmp_path, govern_packages) -> None:
    project = make_project(tmp_path / "secret")
    config = project / "repropack.toml"
    config.write_text(config.read_text().replace('title = "Study"', 'title = "Secret study"'))
    export_project(project, tmp_path / "secret.crate.zip", {"restrict": ("data/input.csv",)})
    init_repository(tmp_path / "repo")
    with Repository.open(tmp_path / "repo") as repository:
        public_id = import_package(repository, tmp_path / "secret.crate.zip", FAST_POLICY, "tester").public_id
        (own := tmp_path / "by-package" / public_id / "data").mkdir(parents=True)
        shutil.copy(project / "data" / "input.csv", own / "input.csv")
        (tmp_path / "shared").mkdir()  # holds nothing: were it used, the input would be missing
        inputs = InputsSource(shared=tmp_path / "shared", per_package=tmp_path / "by-package")
        policy = make_policy(inputs=inputs)
        (task,) = open_policy_run(repository, policy, selected_versions(repository), SETTINGS).pending
        outcome = replay_task(repository.location, policy, task, retries=0)
        assert (outcome.state, outcome.verdict) == (TaskState.DONE, "reproduced"), outcome

        missing = make_policy("other", inputs=InputsSource(shared=tmp_path / "shared"))
        (task,) = open_policy_run(repository, missing, selected_versions(repository), SETTINGS).pending
        outcome = replay_task(repository.location, missing, task, retries=0)
        assert (outcome.state, outcome.verdict) == (TaskState.DONE, "failed")
        runs = _governed_runs(repository, task.version_id)
        assert [r.cause_kind for r in runs] == [None, "missing or mismatched input"]
        assert _staging_is_empty(repository)


# --- refused and failed --------------------------------------------------------------------------


def test_a_tampered_package_is_refused_and_never_retried(govern_repository, tmp_path) -> None:
    """The store and the catalog changed together (a blob swapped, its hash and size with it): the checkout
    passes, the replay's integrity check against the package's own metadata refuses it."""
    repository = govern_repository.repository
    task = _run(govern_repository, make_policy(), REPRODUCED)[REPRODUCED]
    forged = tmp_path / "forged.csv"
    forged.write_bytes(b"group,n\na,9\nb,9\n")
    digest = hashlib.sha256(forged.read_bytes()).hexdigest()
    repository.store.put(forged, digest, forged.stat().st_size)
    with repository.catalog.session(write=True) as session:
        row = session.execute(
            select(FileRow).where(FileRow.version_id == task.version_id, FileRow.path == "outputs/counts.csv")
        ).scalar_one()
        row.sha256, row.size = digest, forged.stat().st_size
    outcome = replay_task(repository.location, make_policy(), task, retries=3)
    assert outcome.state is TaskState.REFUSED and outcome.verdict is None
    assert "integrity check: outputs/counts.csv" in outcome.detail
    assert task_outcome(repository, task.task_id).state is TaskState.REFUSED
    assert claim_task(repository, task.task_id) == 0  # ended: a resumed run leaves it alone
    assert _governed_runs(repository, task.version_id) == []
    assert _staging_is_empty(repository)


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        (CannotRun("cannot reach the Docker engine: connection refused"), "cannot reach the Docker engine"),
        (OSError(errno.ENOSPC, "No space left on device", "/var/lib/x"), "/var/lib/x: No space left on device"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "Disk quota exceeded on this host"),
    ],
)
def test_an_infrastructure_failure_is_released_for_a_retry_then_failed_past_the_retries(
    govern_repository, monkeypatch, error, detail
) -> None:
    repository = govern_repository.repository
    task = _run(govern_repository, make_policy(), REPRODUCED)[REPRODUCED]
    calls = []

    def broken(self, request):  # fault injection: the engine fails, whatever the package
        calls.append(request.package_root)
        assert request.package_root.exists()
        raise error

    monkeypatch.setattr(LocalBackend, "prepare", broken)
    for attempt in (1, 2):
        with pytest.raises(InfrastructureFailure, match=detail) as raised:
            replay_task(repository.location, make_policy(), task, retries=2)
        assert pickle.loads(pickle.dumps(raised.value)).args == raised.value.args
        stored = task_outcome(repository, task.task_id)
        assert (stored.state, stored.attempts) == (TaskState.PENDING, attempt)
        assert detail in stored.detail
        assert _staging_is_empty(repository)
    outcome = replay_task(repository.location, make_policy(), task, retries=2)
    assert (outcome.state, outcome.attempts) == (TaskState.INFRA_FAILED, 3) and detail in outcome.detail
    assert task_outcome(repository, task.task_id).state is TaskState.INFRA_FAILED
    assert len(calls) == 3 and _governed_runs(repository, task.version_id) == []
    assert _staging_is_empty(repository)


def test_an_unexpected_error_fails_the_task_at_once_saying_what_it_was(govern_repository, monkeypatch) -> None:
    repository = govern_repository.repository
    task = _run(govern_repository, make_policy(), REPRODUCED)[REPRODUCED]

    def broken(self, request):  # fault injection: a bug, not the infrastructure: retrying would not help
        raise KeyError("surprise")

    monkeypatch.setattr(LocalBackend, "prepare", broken)
    outcome = replay_task(repository.location, make_policy(), task, retries=5)
    assert (outcome.state, outcome.attempts) == (TaskState.INFRA_FAILED, 1)
    assert outcome.detail == "unexpected KeyError: 'surprise'"
    assert task_outcome(repository, task.task_id).state is TaskState.INFRA_FAILED
    assert _staging_is_empty(repository)


def test_an_interrupted_replay_leaves_its_task_running_and_no_files(govern_repository, monkeypatch) -> None:
    repository = govern_repository.repository
    task = _run(govern_repository, make_policy(), REPRODUCED)[REPRODUCED]

    def interrupted(self, request):  # fault injection: SIGINT in the middle of the build
        raise KeyboardInterrupt

    monkeypatch.setattr(LocalBackend, "prepare", interrupted)
    with pytest.raises(KeyboardInterrupt):
        replay_task(repository.location, make_policy(), task, retries=1)
    assert task_outcome(repository, task.task_id).state is TaskState.RUNNING  # a resumed run replays it
    assert _staging_is_empty(repository)


def test_read_only_folders_a_replay_leaves_are_removed_too(govern_repository, monkeypatch) -> None:
    repository = govern_repository.repository
    task = _run(govern_repository, make_policy(), REPRODUCED)[REPRODUCED]

    def locked_down(self, request):  # fault injection: the package's folders end read-only
        for folder in (request.package_root / "data", request.package_root):
            folder.chmod(0o500)
        raise CannotRun("the engine went away")

    monkeypatch.setattr(LocalBackend, "prepare", locked_down)
    outcome = replay_task(repository.location, make_policy(), task, retries=0)
    assert outcome.state is TaskState.INFRA_FAILED
    assert _staging_is_empty(repository)


# --- settings --------------------------------------------------------------------------------------


def test_the_policys_replay_values_are_the_settings_with_source_policy(tmp_path) -> None:
    (tmp_path / "by-package" / "pkg-1").mkdir(parents=True)
    (tmp_path / "shared").mkdir()
    inputs = InputsSource(shared=tmp_path / "shared", per_package=tmp_path / "by-package", identity=tmp_path / "me.age")
    policy = make_policy(
        inputs=inputs,
        backend="local",
        offline=True,
        network=True,
        base_image="python:3.11-slim",
        timeout=30,
        total_timeout=600,
        build_timeout=900,
        memory="1g",
        disk="2g",
        compare=("outputs/*.csv=csv",),
    )
    resolved = replay_settings_for(policy, "pkg-1")
    values = resolved.values
    assert (values.backend, values.offline, values.base_image, values.timeout, values.build_timeout) == (
        "local",
        True,
        "python:3.11-slim",
        30,
        900,
    )
    assert (values.limits.timeout, values.limits.memory, values.limits.disk, values.limits.network) == (
        600,
        "1g",
        "2g",
        True,
    )
    assert values.compare == ("outputs/*.csv=csv",)
    assert values.inputs_dir == tmp_path / "by-package" / "pkg-1"
    assert values.identity == tmp_path / "me.age"
    assert values.key is not None and values.key.is_file()  # made now, once, not by racing workers
    for name in ("backend", "offline", "base_image", "timeout", "total_timeout", "build_timeout", "memory", "disk"):
        assert resolved.sources[name] == "policy", name
    assert resolved.sources["compare"] == resolved.sources["network"] == resolved.sources["inputs_dir"] == "policy"
    assert replay_settings_for(policy, "pkg-2").values.inputs_dir == tmp_path / "shared"
    for hostile in ("..", ".", "../by-package/pkg-1", "pkg-1/.."):
        assert replay_settings_for(policy, hostile).values.inputs_dir == tmp_path / "shared", hostile
    plain = replay_settings_for(make_policy(), "pkg-1")
    assert plain.values.inputs_dir is None and plain.values.limits.network is False
    assert "network" not in plain.sources and plain.sources.get("offline", "default") == "default"


def test_the_user_configs_replay_table_is_under_the_policy(tmp_path, monkeypatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[replay]\nmemory = "3g"\nbuild_timeout = 77\n')
    monkeypatch.setenv("REPROPACK_CONFIG", str(config))
    resolved = replay_settings_for(make_policy(build_timeout=88), "pkg-1")
    assert (resolved.values.limits.memory, resolved.sources["memory"]) == ("3g", "user")
    assert (resolved.values.build_timeout, resolved.sources["build_timeout"]) == (88, "policy")


def test_a_user_config_replay_refuses_is_no_refusal_of_the_package(govern_repository, tmp_path, monkeypatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[replay]\nmemory = 5\n")
    monkeypatch.setenv("REPROPACK_CONFIG", str(config))
    repository = govern_repository.repository
    task = _run(govern_repository, make_policy(), REPRODUCED)[REPRODUCED]
    with pytest.raises(BadInput, match="memory"):
        replay_task(repository.location, make_policy(), task, retries=1)
    assert task_outcome(repository, task.task_id).state is TaskState.PENDING  # never claimed


def test_the_infrastructure_failure_survives_pickling() -> None:
    failure = pickle.loads(pickle.dumps(InfrastructureFailure("the engine is gone")))
    assert isinstance(failure, InfrastructureFailure) and str(failure) == "the engine is gone"


@pytest.mark.usefixtures("replay_cache")
def test_a_record_that_cannot_be_kept_is_no_refusal_of_the_package(govern_repository, monkeypatch) -> None:
    repository = govern_repository.repository
    task = _run(govern_repository, make_policy(), REPRODUCED)[REPRODUCED]

    def unkept(repository, record):  # fault injection: the record this code wrote will not go into the store
        raise BadInput(f"{record}: cannot keep this record: a link")

    monkeypatch.setattr("repropack.govern.task.store_record", unkept)
    outcome = replay_task(repository.location, make_policy(), task, retries=3)
    assert outcome.state is TaskState.INFRA_FAILED
    assert outcome.detail.startswith("the record of this replay could not be kept: ")
    assert _governed_runs(repository, task.version_id) == []
    assert _staging_is_empty(repository)
