"""repropack's own probe of an environment: its facts, and what it refuses to take as facts."""

from __future__ import annotations

import json
import platform
import sys
import time
from importlib import metadata

import pytest

from repropack.config import SandboxLimits
from repropack.sandbox.base import PreparedEnvironment
from repropack.sandbox.local import LocalBackend
from repropack.sandbox.probe import PROBE_LIMIT, EnvironmentFacts, ProbeFailed, parse_probe


def test_the_local_probe_reads_the_virtualenv_it_runs_in():
    env = PreparedEnvironment(reference=sys.executable, name=sys.prefix, reused=True)
    started = time.monotonic()
    facts = LocalBackend().probe(env, SandboxLimits())
    assert time.monotonic() - started < 10
    assert facts.python_version == platform.python_version()
    assert facts.distributions["pytest"] == metadata.version("pytest")


def test_a_probe_that_does_not_start_fails_in_one_line(tmp_path):
    env = PreparedEnvironment(reference=str(tmp_path / "no-python"), name="x", reused=True)
    with pytest.raises(ProbeFailed, match=r"^the probe could not start: No such file or directory$"):
        LocalBackend().probe(env, SandboxLimits())


def test_facts_are_parsed():
    facts = parse_probe(b'{"python_version": "3.11.2", "distributions": {"numpy": "1.26.4"}}\n')
    assert facts == EnvironmentFacts("3.11.2", {"numpy": "1.26.4"})
    assert facts.as_mapping() == {"python_version": "3.11.2", "distributions": {"numpy": "1.26.4"}}


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (b"", "the probe's output: not JSON (Expecting value at line 1 column 1)"),
        (b"Python 3.11.2", "the probe's output: not JSON (Expecting value at line 1 column 1)"),
        (b"[]", "the probe's output is not an object of python_version and distributions"),
        (b'{"python_version": "3.11.2"}', "the probe's output is not an object of python_version and distributions"),
        (b'{"python_version": 3.11, "distributions": {}}', "the probe's python_version '3.11' is not a version"),
        (
            b'{"python_version": "3.11.2\\n", "distributions": {}}',
            "the probe's python_version '3.11.2\\n' is not a version",
        ),
        (
            b'{"python_version": "3.11.2", "distributions": []}',
            "the probe's distributions are not a table of names to versions",
        ),
        (
            b'{"python_version": "3.11.2", "distributions": {"a": {"b": "1"}}}',
            "the probe's output: nested deeper than the 2 levels allowed",
        ),
        (
            b'{"python_version": "3.11.2", "distributions": {"a": 1}}',
            "the probe's distributions are not a table of names to versions",
        ),
    ],
)
def test_output_that_is_not_facts_is_refused(output: bytes, message: str):
    with pytest.raises(ProbeFailed) as raised:
        parse_probe(output)
    assert str(raised.value) == message


def test_a_flood_of_output_is_refused_unparsed():
    flood = json.dumps({"python_version": "3.11.2", "distributions": {}}).encode() + b" " * PROBE_LIMIT
    with pytest.raises(ProbeFailed, match="more than the"):
        parse_probe(flood)
