"""The secrets guard: find files and values that likely hold a secret, and refuse to pack them.

A package is meant to be shared, so a credential that slips into it leaks.
The guard looks at a file's project path (well-known credential file names)
and at its text (well-known token shapes, and credentials in URLs: an index
URL's user or password, a token query parameter), and at every string export
writes itself (the metadata, settings.json, capture.json, the copies of
environment files), whose values also come from the user config and the git
remote. Its findings are only suspicions: the user clears a false one with
``--allow-secret PATH``, or ``--allow-secret PATH#POINTER`` for one field.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
import stat
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from repropack.errors import SecretFound
from repropack.model import layout

#: How far into a file the guard looks for a NUL byte to call it binary.
BINARY_SNIFF_BYTES = 8 * 1024


@dataclass(frozen=True)
class SecretFinding:
    """One suspicion: which file (and JSON field), which rule, and for a content rule which line."""

    path: str  # project-relative POSIX path, or the package path of a file repropack writes
    rule: str  # SecretRule.name
    line: int | None  # 1-based line for content rules (within the field's value for a field), None for file-name rules
    field: str | None = None  # JSON Pointer (RFC 6901) of the string holding it, in a JSON file repropack writes

    @property
    def key(self) -> str:
        """What ``--allow-secret`` takes to clear this finding alone: ``PATH``, or ``PATH#POINTER`` for a field."""
        return self.path if self.field is None else f"{self.path}#{self.field}"


@dataclass(frozen=True)
class SecretRule:
    """One way a file can look like a secret.

    A name rule has ``path_globs`` (with optional ``path_exceptions``), matched
    from the right of the lowercased project path, so ``.aws/credentials``
    matches in any folder. A content rule has a ``pattern`` searched in the
    file's text. A rule is exactly one of the two.
    """

    name: str
    description: str
    path_globs: tuple[str, ...] = ()
    path_exceptions: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None

    def __post_init__(self) -> None:
        if bool(self.path_globs) == (self.pattern is not None):
            raise ValueError(f"secret rule {self.name!r} needs exactly one of path_globs and pattern")

    def matches_path(self, path: str) -> bool:
        """True if this is a name rule and ``path`` is a file name it covers."""
        # Case-insensitive: on Windows and macOS file systems Server.KEY is server.key.
        parts = tuple(part for part in path.lower().split("/") if part not in ("", "."))  # as PurePosixPath splits
        return any(_glob_matches(parts, glob) for glob in self.path_globs) and not any(
            _glob_matches(parts, glob) for glob in self.path_exceptions
        )


def _glob_matches(parts: tuple[str, ...], glob: str) -> bool:
    """``PurePosixPath.match`` for a relative glob (matched from the right), with its parts compiled once:
    every packed file is tested against every name rule, and compiling them each time cost 0.6 ms a file."""
    compiled = _compiled_glob(glob)
    return len(parts) >= len(compiled) and all(
        pattern.fullmatch(part) for part, pattern in zip(reversed(parts), reversed(compiled))
    )


@functools.cache
def _compiled_glob(glob: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(fnmatch.translate(part)) for part in PurePosixPath(glob).parts)


# A token must not continue a longer run of token characters, and must not be
# followed by a base64 character: base64 image data embedded in notebooks is
# one long run of letters, digits, "+" and "/", so a token shape can only end
# at its very end. A "/" may come before a token, as in https://TOKEN@host.
_START = r"(?<![A-Za-z0-9_+-])"
_END = r"(?![A-Za-z0-9_+/-])"

# Quotes around a key or value may be escaped (\") when the text is notebook
# JSON, and a key may be a subscript such as os.environ["KEY"].
_KEY_END = r"""[\\"'\]]*\s*[:=]\s*"""

#: Names of URL query parameters that carry a credential (matched case-insensitively): a bearer or
#: session token, an API key, a password, or a signed URL's signature (S3, GCS, Azure SAS ``sig``).
CREDENTIAL_PARAMETER = (
    r"(?:(?:access|auth|private|refresh|id|session)[_-]?token|token|api[_-]?key|apikey|"
    r"(?:client[_-]?)?secret|password|passwd|sig|signature|x-amz-(?:signature|credential|security-token)|"
    r"x-goog-(?:signature|credential))"
)

#: Every rule the guard applies, name rules first; rule names are stable (they appear in messages).
SECRET_RULES: tuple[SecretRule, ...] = (
    # --- file names -----------------------------------------------------------------
    SecretRule(
        "dotenv-file",
        "dotenv file of environment variables, usually credentials",
        path_globs=(".env", ".env.*"),
        path_exceptions=(".env.example", ".env.sample", ".env.template"),
    ),
    SecretRule("private-key-file", "PEM or key file", path_globs=("*.pem", "*.key")),
    SecretRule("pkcs12-file", "PKCS#12 key store", path_globs=("*.p12", "*.pfx")),
    SecretRule(
        "ssh-private-key-file",
        "SSH private key (the .pub half is public and allowed)",
        path_globs=("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"),
    ),
    # _netrc is the name curl and git use for .netrc on Windows.
    SecretRule("netrc-file", "netrc login file", path_globs=(".netrc", "_netrc")),
    SecretRule("pgpass-file", "PostgreSQL password file", path_globs=(".pgpass",)),
    SecretRule("git-credentials-file", "git credential store", path_globs=(".git-credentials",)),
    SecretRule("aws-credentials-file", "AWS CLI credentials", path_globs=(".aws/credentials",)),
    SecretRule(
        "gcloud-credentials-file",
        "Google Cloud service-account, OAuth client or application-default credentials",
        path_globs=(
            "credentials.json",
            "*service-account*.json",
            "application_default_credentials.json",
            "client_secret*.json",
        ),
    ),
    SecretRule("npmrc-file", "npm config, may hold registry auth tokens", path_globs=(".npmrc",)),
    SecretRule("pypirc-file", "PyPI upload config, may hold API tokens", path_globs=(".pypirc",)),
    SecretRule("kubeconfig-file", "Kubernetes client config", path_globs=("kubeconfig", ".kube/config")),
    # --- file content ---------------------------------------------------------------
    SecretRule(
        "private-key-block",
        "PEM or PGP private key block",
        pattern=re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    ),
    SecretRule(
        "age-secret-key",
        "age identity (the secret half of an encryption recipient)",
        pattern=re.compile(_START + r"AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}" + _END),
    ),
    SecretRule(
        "aws-access-key-id",
        "AWS access key id",
        pattern=re.compile(_START + r"(?:AKIA|ASIA)[0-9A-Z]{16}" + _END),
    ),
    SecretRule(
        "aws-secret-access-key",
        "AWS secret access key assigned to aws_secret_access_key",
        pattern=re.compile(
            r"aws_secret_access_key" + _KEY_END + r"""\\?["']?[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])""",
            re.IGNORECASE,
        ),
    ),
    SecretRule(
        "github-token",
        "GitHub personal, OAuth, app or fine-grained token",
        pattern=re.compile(_START + r"(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})" + _END),
    ),
    SecretRule(
        "gitlab-token",
        "GitLab personal access token",
        pattern=re.compile(_START + r"glpat-[A-Za-z0-9_-]{20}" + _END),
    ),
    SecretRule(
        "slack-token",
        "Slack bot, user, app or refresh token",
        pattern=re.compile(_START + r"xox[abprs]-[0-9]+-[0-9A-Za-z-]{10,}" + _END),
    ),
    SecretRule(
        "google-api-key",
        "Google API key",
        pattern=re.compile(_START + r"AIza[0-9A-Za-z_-]{35}" + _END),
    ),
    SecretRule(
        "stripe-live-key",
        "Stripe live secret or restricted key",
        pattern=re.compile(_START + r"[sr]k_live_[0-9A-Za-z]{24,}" + _END),
    ),
    SecretRule(
        "openai-api-key",
        "OpenAI-style sk- API key",
        # The digit and capital letter it must contain keep long kebab-case
        # names that happen to start with "sk-" from matching.
        pattern=re.compile(_START + r"sk-(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Z])[A-Za-z0-9_-]{40,}" + _END),
    ),
    SecretRule(
        "jwt",
        "JSON Web Token (a bearer credential)",
        pattern=re.compile(_START + r"eyJ[A-Za-z0-9_-]{7,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}" + _END),
    ),
    SecretRule(
        "secret-assignment",
        "a password, secret, API key or token written as a quoted literal",
        # A value starting with $, {, < or % is a template placeholder
        # (${DB_PASSWORD}, {{ secret }}, <your-key>), not a secret.
        pattern=re.compile(
            r"(?:password|passwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token)"
            + _KEY_END
            + r"""\\?["'](?![$<{%])[^"'\s\\]{12,}\\?["']""",
            re.IGNORECASE,
        ),
    ),
    # --- credentials in URLs ----------------------------------------------------------
    # A user name is a credential wherever pip, uv, pipenv or poetry take a URL
    # (an index token usually travels as the user: https://<token>@host/simple),
    # and a password is one in any URL. A value starting with $, {, < or % is a
    # placeholder that the tool fills in from the environment.
    SecretRule(
        "index-url-credentials",
        "a package index, find-links, VCS or direct-reference URL with a user name or token in it",
        pattern=re.compile(
            # The lookahead on the first character only makes the scan of a large file three times faster.
            r"(?=[-ifug\s])(?:index[-_]url|find[-_]links|(?<![\w-])-[if]|(?<![\w-])url\s*=|\s@|git\+)"
            r"""[\s"'=]*(?![a-z+]*ssh://)[a-z][a-z0-9+.-]*://(?![$<{%])[^\s/?#@"'\\]+@""",
            re.IGNORECASE,
        ),
    ),
    SecretRule(
        "url-credentials",
        "a URL with a password in its user part (scheme://user:<password>@host)",
        pattern=re.compile(
            r"""(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*://[^\s/?#@:"'\\]*:(?![$<{%*])[^\s/?#@"'\\]+@""",
            re.IGNORECASE,
        ),
    ),
    SecretRule(
        "url-token-parameter",
        "a URL query parameter that carries a credential (token=, access_token=, api_key=, a signature)",
        pattern=re.compile(
            r"[?&]" + CREDENTIAL_PARAMETER + r"""=(?![$<{%*])[^\s&#"'\\<>]{8,}""",
            re.IGNORECASE,
        ),
    ),
)

# Escapes that put a letter right before a token in notebook JSON or in
# terminal output captured by a notebook ("\nghp_...", "\u001b[31mAKIA...").
# They are blanked out, length for length, before matching, so a token after
# one still starts a run and line numbers stay put.
_ESCAPES = re.compile(r"\\[nrt]|\\u001b\[[0-9;]*m|\x1b\[[0-9;]*m")


# Every content rule in one pattern: one pass finds whether any rule matches at all, so the many short
# strings of the metadata and the clean bulk of files cost one search each (a rule matches somewhere
# exactly when this does, each alternative keeping its own flags).
_ANY_CONTENT_RULE = re.compile(
    "|".join(
        f"(?{'i' if rule.pattern.flags & re.IGNORECASE else ''}:{rule.pattern.pattern})"
        for rule in SECRET_RULES
        if rule.pattern is not None
    )
)


def _blank(match: re.Match[str]) -> str:
    return " " * len(match.group())


def find_secrets_in_text(path: str, text: str) -> list[SecretFinding]:
    """Run the content rules over ``text``, reporting findings under ``path``.

    Findings come in line order (rules in registry order within a line), at
    most one per rule and line.
    """
    searchable = _ESCAPES.sub(_blank, text)
    if not _ANY_CONTENT_RULE.search(searchable):
        return []
    found: dict[tuple[int, int], SecretFinding] = {}
    for rule_index, rule in enumerate(SECRET_RULES):
        if rule.pattern is None:
            continue
        for match in rule.pattern.finditer(searchable):
            line = searchable.count("\n", 0, match.start()) + 1
            found.setdefault((line, rule_index), SecretFinding(path, rule.name, line))
    return [found[key] for key in sorted(found)]


def find_secrets_in_file(root: Path, path: str, max_text_bytes: int = 5 * 2**20) -> list[SecretFinding]:
    """Check the file ``root / path``: name rules on ``path``, then content rules.

    Content rules run only on a regular file of at most ``max_text_bytes`` with
    no NUL byte in its first 8 KiB; at most ``max_text_bytes`` are read and
    decoded as UTF-8 with undecodable bytes replaced. Name findings come first.
    Raises ``OSError`` if the file cannot be read.
    """
    findings = _name_findings(path)
    file_path = root / path
    status = file_path.stat()
    # Opening a FIFO or device would block or never end; only regular files have text to scan.
    if not stat.S_ISREG(status.st_mode) or status.st_size > max_text_bytes:
        return findings
    with file_path.open("rb") as stream:
        data = stream.read(BINARY_SNIFF_BYTES)
        if b"\0" in data:
            return findings  # binary: sniffed before reading the rest, so a large data file costs one small read
        data += stream.read(max_text_bytes - len(data))
    return findings + find_secrets_in_text(path, data.decode("utf-8", errors="replace"))


def find_secrets_in_bytes(path: str, data: bytes) -> list[SecretFinding]:
    """``find_secrets_in_file`` on the whole file's bytes, already read (``export.scan`` reads each file once
    for this guard and the restricted-data guard): name rules on ``path``, then content rules unless binary."""
    findings = _name_findings(path)
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return findings
    return findings + find_secrets_in_text(path, data.decode("utf-8", errors="replace"))


def _name_findings(path: str) -> list[SecretFinding]:
    return [SecretFinding(path, rule.name, None) for rule in SECRET_RULES if rule.matches_path(path)]


def _pointer_token(key: object) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def find_secrets_in_json(path: str, document: object) -> list[SecretFinding]:
    """Run the content rules over every string of the JSON ``document`` (object keys too).

    Each finding names ``path`` and the JSON Pointer of the string (of the
    object holding it, for a key; "/" for the document itself); ``line`` is
    the line within that string. Findings come in document order. The walk is
    iterative, so no nesting depth raises ``RecursionError``.
    """
    findings: list[SecretFinding] = []
    pending: list[tuple[str, object]] = [("", document)]
    while pending:
        pointer, value = pending.pop()
        if isinstance(value, str):
            findings += [replace(f, field=pointer or "/") for f in find_secrets_in_text(path, value)]
        elif isinstance(value, dict):
            for key in value:  # named by the object holding it: a pointer to the key would quote the secret
                findings += [replace(f, field=pointer or "/") for f in find_secrets_in_text(path, str(key))]
            pending += [(f"{pointer}/{_pointer_token(k)}", v) for k, v in reversed(value.items())]
        elif isinstance(value, (list, tuple)):
            pending += [(f"{pointer}/{i}", v) for i, v in reversed(list(enumerate(value)))]
    return findings


def find_secrets_in_written(metadata: Mapping[str, Any], files: Mapping[str, bytes]) -> list[SecretFinding]:
    """The content rules over what export writes itself: the metadata and repropack's own files.

    Values there come from settings, user config, the git remote and the runs,
    not only from scanned project files. ``metadata`` is walked as JSON under
    ``ro-crate-metadata.json``; a ``.json`` file of ``files`` (package path ->
    bytes) as JSON, any other as text. A copy of a project environment file is
    reported under the project path it was copied from, so the same
    ``--allow-secret`` clears both.
    """
    findings = find_secrets_in_json(layout.METADATA, metadata)
    for path, data in files.items():
        text = data.decode("utf-8", errors="replace")
        if path.endswith(".json"):
            try:
                findings += find_secrets_in_json(path, json.loads(text))
                continue
            except ValueError:
                pass  # not JSON after all: scanned as text
        findings += find_secrets_in_text(path.removeprefix(f"{layout.ENV_COPIES}/"), text)
    return findings


def _quoted(name: str) -> str:
    # A file name may hold a newline or an escape sequence: repr keeps the message on one safe line
    # (it escapes every character str.isprintable refuses: controls, bidi overrides).
    return name if name.isprintable() else repr(name)


def refuse_secrets(findings: Iterable[SecretFinding], allowed: Collection[str] = ()) -> None:
    """Raise ``SecretFound`` for the first finding whose path (or ``PATH#POINTER`` key) is not in ``allowed``.

    The message is one line naming the path, the field (JSON Pointer) of a
    file repropack writes, the rule and (for content rules) the line, and how
    to allow it; never the secret itself.
    """
    for finding in findings:
        if finding.path in allowed or finding.key in allowed:
            continue
        where = f"rule {finding.rule}" if finding.line is None else f"rule {finding.rule}, line {finding.line}"
        what = (
            _quoted(finding.path)
            if finding.field is None
            else f"{_quoted(finding.path)}, field {_quoted(finding.field)}"
        )
        raise SecretFound(
            f"refusing to pack a likely secret: {what} ({where}); "
            f"pass --allow-secret {_quoted(finding.key)} if it is not one"
        )
