"""load_policy: every key read, defaults, paths relative to the file, and every bad or hostile file refused with
one line naming the file and the key."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repropack.errors import BadInput
from repropack.govern.policy import load_policy
from repropack.model.governance import Policy, ReplayOptions, Selection

EXAMPLE = Path(__file__).parents[2] / "examples" / "govern" / "nightly.toml"

FULL = """
name = "weekly-claims"
repository = "../repository"
workers = 4
retries = 3
[select]
ids = ["pkg-3f9a1c2b7d4e"]
keywords = ["claims", "rainfall"]
authors = ["Sato", "0000-0002-1825-0097"]
last_verdict = ["failed", "never"]
not_replayed_for = "7d"
imported_within = "12h"
base_image = "repropack/base:bookworm-py3.11"
latest_only = false
[replay]
backend = "local"
offline = true
network = true
base_image = "repropack/base:trixie-py3.12"
timeout = "10m"
total_timeout = 7200
build_timeout = "30m"
memory = "4g"
disk = "10g"
compare = ["outputs/*.png=image:threshold=0.05"]
[inputs]
shared = "inputs"
per_package = "/secure/by-package"
identity = "~/govern.age"
[alerts]
file = "alerts.jsonl"
stdout = true
command = ["/usr/local/bin/notify", "--channel", "repro"]
[cache]
keep_size = "50g"
older_than = "30d"
"""


def _written(tmp_path: Path, text: str, name: str = "policy.toml") -> Path:
    path = tmp_path / "policies" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_every_key_is_read(tmp_path):
    path = _written(tmp_path, FULL)
    policy = load_policy(path)
    folder = path.parent
    assert (policy.name, policy.workers, policy.retries) == ("weekly-claims", 4, 3)
    assert policy.repository == folder / "../repository"
    assert policy.source == path and len(policy.sha256) == 64
    assert policy.select == Selection(
        ids=("pkg-3f9a1c2b7d4e",),
        keywords=("claims", "rainfall"),
        authors=("Sato", "0000-0002-1825-0097"),
        last_verdict=("failed", "never"),
        not_replayed_for=7 * 86400,
        imported_within=12 * 3600,
        base_image="repropack/base:bookworm-py3.11",
        latest_only=False,
    )
    assert policy.replay == ReplayOptions(
        backend="local",
        offline=True,
        network=True,
        base_image="repropack/base:trixie-py3.12",
        timeout=600,
        total_timeout=7200,
        build_timeout=1800,
        memory="4g",
        disk="10g",
        compare=("outputs/*.png=image:threshold=0.05",),
    )
    assert policy.inputs.shared == folder / "inputs"
    assert policy.inputs.per_package == Path("/secure/by-package")
    assert policy.inputs.identity == Path("~/govern.age").expanduser()
    assert policy.alerts.file == folder / "alerts.jsonl" and policy.alerts.stdout is True
    assert policy.alerts.command == ("/usr/local/bin/notify", "--channel", "repro")
    assert (policy.cache.keep_size, policy.cache.older_than) == ("50g", "30d")


def test_an_empty_policy_replays_everything_with_the_defaults_and_is_named_for_its_file(tmp_path):
    policy = load_policy(_written(tmp_path, "", "every-night.toml"))
    assert policy.name == "every-night" and policy.repository is None
    assert (policy.select, policy.replay) == (Selection(), ReplayOptions())
    assert (policy.workers, policy.retries) == (Policy.workers, Policy.retries)
    assert not policy.alerts.any


def test_the_same_bytes_are_the_same_sha256_and_another_file_another(tmp_path):
    first = load_policy(_written(tmp_path, "workers = 1\n", "a.toml"))
    again = load_policy(_written(tmp_path, "workers = 1\n", "b.toml"))
    other = load_policy(_written(tmp_path, "workers = 2\n", "c.toml"))
    assert first.sha256 == again.sha256 != other.sha256


def test_the_shipped_example_loads():
    policy = load_policy(EXAMPLE)
    assert policy.name == "nightly" and policy.replay.backend == "docker"
    assert policy.alerts.file == EXAMPLE.parent / "alerts.jsonl"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 'red'\n", "unknown key 'colour' (known: name, repository, workers"),
        ("[select]\nowner = 'x'\n", "unknown key 'owner' in [select] (known: ids, keywords"),
        ("[replay]\ngpu = true\n", "unknown key 'gpu' in [replay]"),
        ("[alerts]\nemail = 'a@b'\n", "unknown key 'email' in [alerts]"),
        ("workers = 0\n", "workers must be a whole number from 1 to 64, not 0"),
        ("workers = true\n", "workers must be a whole number from 1 to 64, not True"),
        ("retries = 11\n", "retries must be a whole number from 0 to 10"),
        ("workers = '2'\n", "workers must be a whole number"),
        ("name = '../escape'\n", "name must be 1 to 64 letters"),
        ("name = ''\n", "name must be 1 to 64 letters"),
        ("select = 3\n", "select must be a table, not 3"),
        ("[select]\nlast_verdict = ['better']\n", "select.last_verdict must be a list of reproduced"),
        ("[select]\nnot_replayed_for = 'a week'\n", "select.not_replayed_for must be a duration such as 7d"),
        ("[select]\nnot_replayed_for = 7\n", "select.not_replayed_for must be a duration"),
        ("[select]\nkeywords = 'rain'\n", "select.keywords must be a list of strings, not 'rain'"),
        ("[select]\nlatest_only = 'yes'\n", "select.latest_only must be true or false"),
        ("[replay]\ntimeout = 0\n", "replay.timeout must be a number of seconds or a duration"),
        ("[replay]\ntimeout = '10 minutes'\n", "replay.timeout must be a number of seconds or a duration"),
        ("[replay]\nmemory = 'lots'\n", "replay.memory must be a size such as 50g"),
        ("[replay]\ndisk = '99999999999999t'\n", "replay.disk is larger than any disk"),
        ("[replay]\nbackend = 'docker; rm -rf /'\n", "replay.backend must be a backend name"),
        ("[replay]\ncompare = ['no-rule-here']\n", "replay.compare[0]: --compare 'no-rule-here': expected GLOB=RULE"),
        ("[replay]\ncompare = ['*.png=nonesuch']\n", "replay.compare[0]"),
        ("[cache]\nkeep_size = '50 gigs'\n", "cache.keep_size must be a size such as 50g"),
        ("[cache]\nolder_than = '-1d'\n", "cache.older_than must be a duration"),
        ("[alerts]\ncommand = 'notify --channel repro'\n", "it is run without a shell"),
        ("[alerts]\ncommand = []\n", "alerts.command must be a list of arguments"),
        ("[alerts]\nstdout = 1\n", "alerts.stdout must be true or false"),
        ("[inputs]\nshared = ''\n", "inputs.shared must be a path"),
        ("workers = \n", "not TOML"),
        ("[select]\n[select]\n", "not TOML"),
    ],
)
def test_a_bad_policy_is_refused_in_one_line_naming_the_file_and_the_key(tmp_path, text, message):
    path = _written(tmp_path, text)
    with pytest.raises(BadInput) as refused:
        load_policy(path)
    said = str(refused.value)
    assert said.startswith("policy ") and "policy.toml" in said, said
    assert message in said, said
    assert "\n" not in said


def test_a_file_name_that_is_no_policy_name_needs_a_name_key(tmp_path):
    with pytest.raises(BadInput, match="is not a policy name; set name"):
        load_policy(_written(tmp_path, "", "my policy.toml"))
    assert load_policy(_written(tmp_path, "name = 'mine'\n", "my policy.toml")).name == "mine"


def test_not_utf8_is_refused(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_bytes(b"name = '\xff\xfe'\n")
    with pytest.raises(BadInput, match="not UTF-8"):
        load_policy(path)


def test_a_missing_policy_is_refused(tmp_path):
    with pytest.raises(BadInput, match="missing"):
        load_policy(tmp_path / "absent.toml")


def test_a_huge_file_is_refused_unread(tmp_path):
    path = tmp_path / "huge.toml"
    with path.open("wb") as handle:
        handle.truncate(2 << 20)  # sparse: 2 MiB of nothing
    with pytest.raises(BadInput, match="more than the 1048576 allowed"):
        load_policy(path)


def test_a_symlink_is_never_followed(tmp_path):
    target = _written(tmp_path, "workers = 1\n")
    link = tmp_path / "link.toml"
    link.symlink_to(target)
    with pytest.raises(BadInput, match="a symlink, not a regular file"):
        load_policy(link)
    loop = tmp_path / "loop.toml"
    loop.symlink_to(loop)
    with pytest.raises(BadInput, match="symlink"):
        load_policy(loop)


def test_a_fifo_never_blocks_and_a_folder_is_refused(tmp_path):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(BadInput, match="not a regular file"):
        load_policy(fifo)
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    with pytest.raises(BadInput, match="not a regular file"):
        load_policy(folder)


@pytest.mark.parametrize(
    "value",
    ["[" * 5000 + "]" * 5000, "{a=" * 3000 + "1" + "}" * 3000, "[" * 20 + "]" * 20],
    ids=["arrays-past-the-parser", "inline-tables-past-the-parser", "arrays-past-the-bound"],
)
def test_a_deeply_nested_file_is_refused_not_a_recursion_error(tmp_path, value):
    with pytest.raises(BadInput, match="nested deeper than any policy"):
        load_policy(_written(tmp_path, f"[select]\nids = {value}\n"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.sampled_from(["name", "workers", "retries", "repository", "select", "replay", "alerts", "cache", "x"]),
        st.one_of(
            st.integers(-5, 100),
            st.booleans(),
            st.text(max_size=12),
            st.lists(st.text(max_size=6), max_size=3),
            st.dictionaries(
                st.sampled_from(["ids", "timeout", "memory", "command", "file", "keep_size", "not_replayed_for"]),
                st.one_of(st.integers(-2, 5), st.text(max_size=8), st.lists(st.text(max_size=5), max_size=2)),
                max_size=3,
            ),
        ),
        max_size=5,
    )
)
def test_any_table_gives_a_policy_or_a_one_line_refusal(tmp_path, table):
    lines = []
    for key, value in table.items():
        if isinstance(value, dict):
            continue
        lines.append(f"{key} = {json.dumps(value)}")
    for key, value in table.items():
        if isinstance(value, dict):
            lines.append(f"[{key}]")
            lines.extend(f"{inner} = {json.dumps(v)}" for inner, v in value.items())
    path = tmp_path / "fuzzed.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        policy = load_policy(path)
    except BadInput as error:
        assert "\n" not in str(error)
    else:
        assert isinstance(policy, Policy)
