"""The secrets guard: find files that likely hold a secret, and refuse to pack them.

A package is meant to be shared, so a credential that slips into it leaks.
The guard looks at a file's project path (well-known credential file names)
and at its text (well-known token shapes). Its findings are only suspicions:
the user clears a false one with ``--allow-secret PATH``.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from repropack.errors import SecretFound

#: How far into a file the guard looks for a NUL byte to call it binary.
BINARY_SNIFF_BYTES = 8 * 1024


@dataclass(frozen=True)
class SecretFinding:
    """One suspicion: which file, which rule, and for a content rule which line."""

    path: str  # project-relative POSIX path
    rule: str  # SecretRule.name
    line: int | None  # 1-based line for content rules, None for file-name rules


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
        candidate = PurePosixPath(path.lower())
        return any(candidate.match(glob) for glob in self.path_globs) and not any(
            candidate.match(glob) for glob in self.path_exceptions
        )


# A token must not continue a longer run of token characters, and must not be
# followed by a base64 character: base64 image data embedded in notebooks is
# one long run of letters, digits, "+" and "/", so a token shape can only end
# at its very end. A "/" may come before a token, as in https://TOKEN@host.
_START = r"(?<![A-Za-z0-9_+-])"
_END = r"(?![A-Za-z0-9_+/-])"

# Quotes around a key or value may be escaped (\") when the text is notebook
# JSON, and a key may be a subscript such as os.environ["KEY"].
_KEY_END = r"""[\\"'\]]*\s*[:=]\s*"""

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
)

# Escapes that put a letter right before a token in notebook JSON or in
# terminal output captured by a notebook ("\nghp_...", "\u001b[31mAKIA...").
# They are blanked out, length for length, before matching, so a token after
# one still starts a run and line numbers stay put.
_ESCAPES = re.compile(r"\\[nrt]|\\u001b\[[0-9;]*m|\x1b\[[0-9;]*m")


def _blank(match: re.Match[str]) -> str:
    return " " * len(match.group())


def find_secrets_in_text(path: str, text: str) -> list[SecretFinding]:
    """Run the content rules over ``text``, reporting findings under ``path``.

    Findings come in line order (rules in registry order within a line), at
    most one per rule and line.
    """
    searchable = _ESCAPES.sub(_blank, text)
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
    findings = [SecretFinding(path, rule.name, None) for rule in SECRET_RULES if rule.matches_path(path)]
    file_path = root / path
    status = file_path.stat()
    # Opening a FIFO or device would block or never end; only regular files have text to scan.
    if not stat.S_ISREG(status.st_mode) or status.st_size > max_text_bytes:
        return findings
    with file_path.open("rb") as stream:
        data = stream.read(max_text_bytes)
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return findings
    return findings + find_secrets_in_text(path, data.decode("utf-8", errors="replace"))


def refuse_secrets(findings: Iterable[SecretFinding], allowed: Collection[str] = ()) -> None:
    """Raise ``SecretFound`` for the first finding whose path is not in ``allowed``.

    The message is one line naming the path, the rule and (for content rules)
    the line, and how to allow the path.
    """
    for finding in findings:
        if finding.path in allowed:
            continue
        # A file name may hold a newline; repr keeps the message on one line.
        shown = finding.path if finding.path.isprintable() else repr(finding.path)
        where = f"rule {finding.rule}" if finding.line is None else f"rule {finding.rule}, line {finding.line}"
        raise SecretFound(
            f"refusing to pack a likely secret: {shown} ({where}); pass --allow-secret {shown} if it is not one"
        )
