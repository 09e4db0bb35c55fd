"""The operator policy: ``policy.toml`` read strictly, its defaults and commented text, its schema, its rules."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import pytest

from repropack.errors import BadInput
from repropack.repository.policy import POLICY_FILE, Policy, default_policy_text, load_policy, policy_violations
from repropack.resources import schema_path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib


def write_policy(root: Path, text: str) -> Path:
    (root / POLICY_FILE).write_text(text)
    return root


def test_a_repository_without_a_policy_file_has_the_defaults(tmp_path):
    policy = load_policy(tmp_path)
    assert policy == Policy()
    assert (policy.require_license, policy.require_author, policy.allow_archives) == (True, True, False)
    assert (policy.allowed_file_types, policy.profiles) == (("*",), "required")


def test_the_default_text_is_commented_toml_that_reads_back_as_the_defaults(tmp_path):
    text = default_policy_text()
    assert load_policy(write_policy(tmp_path, text)) == Policy()
    assert sum(1 for line in text.splitlines() if line.startswith("# ")) >= len(tomllib.loads(text))
    assert set(tomllib.loads(text)) == set(Policy.__dataclass_fields__)


def test_values_are_read_from_the_file(tmp_path):
    root = write_policy(
        tmp_path,
        'max_entries = 10\nmax_ratio = 50\nrequire_license = false\nallowed_file_types = ["*.csv", "text/*"]\n'
        'profiles = "off"\n',
    )
    policy = load_policy(root)
    assert (policy.max_entries, policy.max_ratio, policy.require_license) == (10, 50.0, False)
    assert (policy.allowed_file_types, policy.profiles) == (("*.csv", "text/*"), "off")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("max_entrys = 10\n", "unknown key 'max_entrys'"),
        ('max_entries = "10"\n', "max_entries must be an integer, not '10'"),
        ("max_entries = true\n", "max_entries must be an integer, not True"),
        ("require_license = 1\n", "require_license must be true or false, not 1"),
        ("max_file_bytes = 0\n", "max_file_bytes must be positive, not 0"),
        ("max_ratio = -1.5\n", "max_ratio must be positive, not -1.5"),
        ('profiles = "sometimes"\n', "profiles must be one of 'required', 'off', not 'sometimes'"),
        ('allowed_file_types = "*.csv"\n', "allowed_file_types must be a list"),
        ("allowed_file_types = []\n", "allowed_file_types must be a non-empty list of non-empty strings"),
        ("allowed_file_types = [1]\n", "allowed_file_types must be a non-empty list of non-empty strings"),
        ("max_entries = \n", "not TOML"),
    ],
)
def test_a_bad_policy_file_is_refused_naming_the_file_and_the_key(tmp_path, text, fragment):
    root = write_policy(tmp_path, text)
    with pytest.raises(BadInput) as refused:
        load_policy(root)
    assert str(refused.value).startswith(f"{root / POLICY_FILE}: ")
    assert fragment in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_policy_file_that_is_not_a_regular_file_is_refused(tmp_path):
    (tmp_path / POLICY_FILE).symlink_to("/etc/passwd")
    with pytest.raises(BadInput, match=POLICY_FILE):
        load_policy(tmp_path)


def test_the_schema_accepts_the_defaults_and_refuses_what_the_reader_refuses():
    schema = json.loads(schema_path("policy.schema.json").read_text())
    assert set(schema["properties"]) == set(Policy.__dataclass_fields__)
    validator = jsonschema.Draft202012Validator(schema)
    assert list(validator.iter_errors(tomllib.loads(default_policy_text()))) == []
    for bad in ({"max_entrys": 1}, {"profiles": "sometimes"}, {"max_entries": 0}, {"allowed_file_types": []}):
        assert list(validator.iter_errors(bad)), bad


@pytest.mark.parametrize(
    ("pattern", "path", "media_type", "allowed"),
    [
        ("*", "bin/tool.exe", None, True),
        ("*.csv", "data/x.CSV", "text/csv", True),
        ("*.csv", "data/x.csv.exe", None, False),
        ("data/*.parquet", "data/x.parquet", None, True),
        ("data/*.parquet", "other/x.parquet", None, False),
        ("text/*", "notes.md", "text/markdown", True),
        ("text/csv", "table.tsv", "text/tab-separated-values; charset=utf-8", False),
        ("text/csv", "table", "text/csv; charset=utf-8", True),
        ("image/*", "x.png", None, False),  # no media type recorded: a media-type pattern cannot admit it
    ],
)
def test_allowed_file_types_match_names_or_media_types(pattern, path, media_type, allowed):
    assert Policy(allowed_file_types=(pattern,)).allows_file_type(path, media_type) is allowed


def test_violations_name_the_file_or_the_package_and_the_rule():
    policy = Policy(allowed_file_types=("*.csv",))
    found = policy_violations(policy, [("data/x.csv", "text/csv"), ("data/x.exe", None)], license=None, authors=0)
    assert found == [
        "ro-crate-metadata.json: names no license; policy.toml require_license",
        "ro-crate-metadata.json: names no author; policy.toml require_author",
        "data/x.exe: file type not allowed by policy.toml allowed_file_types",
    ]
    lenient = Policy(require_license=False, require_author=False)
    assert policy_violations(lenient, [("data/x.exe", None)], license=None, authors=0) == []
