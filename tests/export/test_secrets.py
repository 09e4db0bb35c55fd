from __future__ import annotations

import base64
import io
import json
import os
import re
from pathlib import Path

import nbformat
import pytest

import repropack.export.secrets as secrets_module
from repropack.errors import BadInput, SecretFound
from repropack.export.secrets import (
    SECRET_RULES,
    SecretFinding,
    SecretRule,
    find_secrets_in_file,
    find_secrets_in_json,
    find_secrets_in_text,
    find_secrets_in_written,
    refuse_secrets,
)

# Planted secrets are assembled from pieces at run time, so that secret
# scanners (GitHub push protection, and this guard run over this repository)
# do not take this file for a leak.
ALNUM36 = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
PEM_HEADER = "-----BEGIN " + "{kind}PRIVATE KEY-----"
GITHUB_TOKEN = "gh" + "p_" + ALNUM36

NAME_EXAMPLES = [
    ("dotenv-file", ".env"),
    ("dotenv-file", "config/.env.local"),
    ("dotenv-file", ".env.production"),
    ("private-key-file", "certs/server.pem"),
    ("private-key-file", "tls/Server.KEY"),
    ("pkcs12-file", "signing.p12"),
    ("pkcs12-file", "certs/client.pfx"),
    ("ssh-private-key-file", "id_rsa"),
    ("ssh-private-key-file", "ssh/id_dsa"),
    ("ssh-private-key-file", "ssh/id_ecdsa"),
    ("ssh-private-key-file", "home/.ssh/id_ed25519"),
    ("netrc-file", ".netrc"),
    ("netrc-file", "_netrc"),
    ("pgpass-file", ".pgpass"),
    ("git-credentials-file", ".git-credentials"),
    ("aws-credentials-file", "home/.aws/credentials"),
    ("gcloud-credentials-file", "credentials.json"),
    ("gcloud-credentials-file", "keys/my-project-service-account-1a2b.json"),
    ("gcloud-credentials-file", ".config/gcloud/application_default_credentials.json"),
    ("gcloud-credentials-file", "client_secret_123.apps.googleusercontent.com.json"),
    ("npmrc-file", ".npmrc"),
    ("pypirc-file", ".pypirc"),
    ("kubeconfig-file", "kubeconfig"),
    ("kubeconfig-file", "home/.kube/config"),
]

# Each example plants one secret on line 2 of an otherwise ordinary file.
CONTENT_EXAMPLES = [
    ("private-key-block", PEM_HEADER.format(kind="")),
    ("private-key-block", PEM_HEADER.format(kind="RSA ")),
    ("private-key-block", PEM_HEADER.format(kind="EC ")),
    ("private-key-block", PEM_HEADER.format(kind="OPENSSH ")),
    ("private-key-block", PEM_HEADER.format(kind="DSA ")),
    ("private-key-block", PEM_HEADER.format(kind="ENCRYPTED ")),
    ("private-key-block", "-----BEGIN " + "PGP PRIVATE KEY BLOCK-----"),
    ("age-secret-key", "AGE-SECRET-KEY-" + "18K52MH2K58K9JFC9WY390HG8G3MM998M0AX37YXHHXU2UZNW0S7Q309R2H"),
    ("aws-access-key-id", "AWS_ACCESS_KEY_ID=" + "AK" + "IA" + "Q3EGRXN4PLW7TZ2M"),
    ("aws-access-key-id", "key_id: " + "AS" + "IA" + "ZX7QK2M9PLW3TRBV"),
    ("aws-secret-access-key", "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "8fk2Lq0ZtH"),
    ("aws-secret-access-key", 'os.environ["AWS_SECRET_ACCESS_KEY"] = "' + "Zq8/Kv3+Ua9LmXc2" * 2 + "Ab3dEf7h" + '"'),
    ("github-token", "token = '" + GITHUB_TOKEN + "'"),
    ("github-token", "git clone https://" + "gh" + "s_" + ALNUM36 + "@github.com/org/repo"),
    ("github-token", "GH_TOKEN=" + "github" + "_pat_" + "11ABCDEFG0" + "x7Yz" * 18),
    ("gitlab-token", "PRIVATE-TOKEN: " + "gl" + "pat-" + "aB3dE6gH9jK2mN5pQ8sT"),
    ("slack-token", "SLACK_BOT=" + "xo" + "xb-" + "17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"),
    (
        "google-api-key",
        "maps_url = 'https://maps.example/?key=" + "AI" + "za" + "SyD4k9Lm2Qx7Rt1Vb8Nc3Zp6Hw0Jf5Ge_-K" + "'",
    ),
    ("stripe-live-key", "stripe.api = " + "sk" + "_live_" + "4eC39HqLyjWDarjtT1zdp7dc51"),
    ("openai-api-key", "OPENAI=" + "sk" + "-proj-" + "Tq8Zx3Lm9Kp2Vb7Nc4Rw1Hy6Jd5Gf0Sa" * 2),
    ("openai-api-key", "client = OpenAI(key=" + "sk" + "-" + "Tq8Zx3Lm9Kp2Vb7Nc4Rw1Hy6Jd5Gf0SaE2uI4oP6xY8" + ")"),
    (
        "jwt",
        "Authorization: Bearer "
        + "ey"
        + "JhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    ("secret-assignment", "db_" + "password = " + '"Tr0ub4dor&3-horse"'),
    ("secret-assignment", "API-" + "KEY: '" + "c0ffee-beef-f00d-cafe" + "'"),
    ("secret-assignment", '{"client_' + 'secret": "' + "9f8e7d6c5b4a3210fedc" + '"}'),
    ("index-url-credentials", "--extra-index-url https://" + "__token__" + "@pypi.example.org/simple"),
    ("index-url-credentials", "-e git+https://" + "deploy" + "@git.example.org/lab/tools.git#egg=tools"),
    ("url-credentials", "engine = create_engine('postgresql://analyst:" + "Hunter2-xyz" + "@db.example.org/claims')"),
    (
        "url-token-parameter",
        "url = 'https://api.example.org/v1/data?format=csv&access_" + "token=" + "q8ZxLm3Kp2Vb7Nc4'",
    ),
]


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def rules(findings: list[SecretFinding]) -> list[str]:
    return [finding.rule for finding in findings]


def test_every_rule_has_a_planted_example() -> None:
    planted = {rule for rule, _ in NAME_EXAMPLES + CONTENT_EXAMPLES}

    assert planted == {rule.name for rule in SECRET_RULES}
    assert len({rule.name for rule in SECRET_RULES}) == len(SECRET_RULES)


@pytest.mark.parametrize(("rule", "path"), NAME_EXAMPLES)
def test_name_rule_fires_on_credential_file_name(tmp_path: Path, rule: str, path: str) -> None:
    write(tmp_path / path, "nothing secret in here\n")

    assert find_secrets_in_file(tmp_path, path) == [SecretFinding(path, rule, None)]


@pytest.mark.parametrize(
    "path",
    [
        ".env.example",
        "config/.env.sample",
        ".env.template",
        "id_rsa.pub",
        "home/.ssh/id_ed25519.pub",
        "env.py",
        "environment.yml",
        "keyboard_layouts.csv",
        "docs/aws/credentials.md",
        "data/credentials_survey.csv",
        "kube/config",
    ],
)
def test_name_rules_leave_ordinary_names_alone(tmp_path: Path, path: str) -> None:
    write(tmp_path / path, "nothing secret in here\n")

    assert find_secrets_in_file(tmp_path, path) == []


@pytest.mark.parametrize(("rule", "line"), CONTENT_EXAMPLES)
def test_content_rule_fires_on_planted_secret(rule: str, line: str) -> None:
    text = f"# settings\n{line}\nprint('done')\n"

    assert find_secrets_in_text("settings.txt", text) == [SecretFinding("settings.txt", rule, 2)]


def test_content_rules_also_run_through_find_secrets_in_file(tmp_path: Path) -> None:
    write(tmp_path / "notes/setup.md", "# Setup\n\nUse this token:\n\n    " + GITHUB_TOKEN + "\n")

    assert find_secrets_in_file(tmp_path, "notes/setup.md") == [SecretFinding("notes/setup.md", "github-token", 5)]


def test_name_findings_come_before_content_findings(tmp_path: Path) -> None:
    write(tmp_path / ".env", "A=1\nGITHUB_TOKEN=" + GITHUB_TOKEN + "\n")

    assert find_secrets_in_file(tmp_path, ".env") == [
        SecretFinding(".env", "dotenv-file", None),
        SecretFinding(".env", "github-token", 2),
    ]


def test_findings_are_in_line_order_one_per_rule_and_line() -> None:
    text = "\n".join(
        [
            "a = '" + GITHUB_TOKEN + "', b = '" + GITHUB_TOKEN + "'",
            "plain",
            PEM_HEADER.format(kind="RSA "),
        ]
    )

    assert find_secrets_in_text("f.txt", text) == [
        SecretFinding("f.txt", "github-token", 1),
        SecretFinding("f.txt", "private-key-block", 3),
    ]


def test_token_printed_in_notebook_output_is_found_in_notebook_json(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(os.environ['GH_TOKEN'])", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="the token is\n" + GITHUB_TOKEN + "\n")]
    notebook.cells.append(cell)
    path = write(tmp_path / "analysis.ipynb", nbformat.writes(notebook))
    text = path.read_text()
    token_line = text[: text.index(GITHUB_TOKEN)].count("\n") + 1

    assert find_secrets_in_file(tmp_path, "analysis.ipynb") == [
        SecretFinding("analysis.ipynb", "github-token", token_line)
    ]


def test_token_after_a_json_escape_or_terminal_colour_code_is_found() -> None:
    # How a token looks in notebook JSON when it follows a newline inside one
    # string, or follows an ANSI colour code in a traceback.
    text = '{"text": "line one\\n' + GITHUB_TOKEN + '", "tb": "\\u001b[0;31m' + GITHUB_TOKEN + '\\u001b[0m"}'

    assert rules(find_secrets_in_text("a.ipynb", text)) == ["github-token"]


def test_quoted_secret_in_notebook_source_is_found() -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell("db_pass" + 'word = "Tr0ub4dor&3-horse"\nconnect()'))

    assert rules(find_secrets_in_text("a.ipynb", nbformat.writes(notebook))) == ["secret-assignment"]


CLAIMS_CSV = """\
claim_id,patient_id,age_band,sex,icd10_code,prescription,cost_eur
CLM000001,P00017,50-64,F,E11.9,metformin,84.20
CLM000002,P00017,50-64,F,I10,lisinopril,41.75
CLM000003,P00342,0-17,M,J45.909,salbutamol,56.10
CLM000004,P01045,80+,F,N18.3,losartan,212.40
CLM000005,P00588,35-49,F,C50.911,tamoxifen,1893.55
CLM000006,P00901,18-34,M,F32.9,sertraline,97.00
CLM000007,P00233,65-79,M,M54.5,ibuprofen,38.90
CLM000008,P00612,65-79,M,C61,bicalutamide,1420.00
"""

PANDAS_CODE = """\
import os
from getpass import getpass

import pandas as pd

password = getpass()
api_key = os.environ["API_KEY"]
secret = "${DB_PASSWORD}"
access_token: str | None = None
claims = pd.read_csv("data/claims.csv", dtype={"patient_id": "string"})
counts = claims.groupby(["age_band", "icd10_code"]).size().unstack(fill_value=0)
model_name = "sk-learn-pipeline-for-the-claims-analysis-by-age-band"
counts.mask(counts < 10).to_csv("outputs/counts.csv", float_format="%.0f")
"""


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("data/claims.csv", CLAIMS_CSV),
        ("analysis.py", PANDAS_CODE),
        ("README.md", "# Claims\n\nKeep the API key in `.env` and the password in your keyring.\n"),
    ],
)
def test_no_rule_fires_on_ordinary_data_and_code(tmp_path: Path, path: str, text: str) -> None:
    write(tmp_path / path, text)

    assert find_secrets_in_file(tmp_path, path) == []


def matplotlib_png() -> bytes:
    """A real PNG as matplotlib writes it: a line chart over seeded noise, so the bytes look random."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rng = np.random.default_rng(20240501)
    figure, (left, right) = plt.subplots(1, 2, figsize=(8, 4), dpi=100)
    left.plot(np.cumsum(rng.normal(size=500)))
    right.imshow(rng.random((300, 300)), cmap="viridis")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


@pytest.mark.parametrize("wrap_lines", [False, True], ids=["one-line", "wrapped-76"])
def test_no_rule_fires_on_notebook_with_embedded_png(tmp_path: Path, wrap_lines: bool) -> None:
    png = matplotlib_png()
    # Older notebook writers wrapped base64 at 76 columns with "\n" escapes.
    encoded = base64.encodebytes(png).decode() if wrap_lines else base64.b64encode(png).decode()
    assert encoded.startswith("iVBORw0KGgo")
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("fig.savefig('outputs/plot.png')\nfig", execution_count=1)
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": encoded, "text/plain": "<Figure size 800x400>"})
    ]
    notebook.cells.append(cell)
    write(tmp_path / "analysis.ipynb", nbformat.writes(notebook))

    assert find_secrets_in_file(tmp_path, "analysis.ipynb") == []


def test_guard_does_not_flag_its_own_source_or_tests() -> None:
    module = Path(secrets_module.__file__)
    here = Path(__file__)

    assert find_secrets_in_file(module.parent, module.name) == []
    assert find_secrets_in_file(here.parent, here.name) == []


def test_binary_file_gets_name_rules_but_no_content_rules(tmp_path: Path) -> None:
    payload = b"\x89PNG\r\n\x1a\n\0\0\0" + PEM_HEADER.format(kind="RSA ").encode() + b"\n" + GITHUB_TOKEN.encode()
    write(tmp_path / "keystore.pem", payload)
    write(tmp_path / "image.bin", payload)

    assert find_secrets_in_file(tmp_path, "keystore.pem") == [SecretFinding("keystore.pem", "private-key-file", None)]
    assert find_secrets_in_file(tmp_path, "image.bin") == []


def test_nul_byte_after_the_first_8_kib_does_not_make_a_file_binary(tmp_path: Path) -> None:
    write(tmp_path / "log.txt", "x" * 8192 + "\0\n" + GITHUB_TOKEN + "\n")

    assert find_secrets_in_file(tmp_path, "log.txt") == [SecretFinding("log.txt", "github-token", 2)]


def test_oversize_file_gets_name_rules_but_no_content_rules(tmp_path: Path) -> None:
    text = "token: " + GITHUB_TOKEN + "\n"
    write(tmp_path / "big.txt", text)
    write(tmp_path / "id_rsa", text)

    limit = len(text.encode()) - 1
    assert find_secrets_in_file(tmp_path, "big.txt", max_text_bytes=limit) == []
    assert find_secrets_in_file(tmp_path, "id_rsa", max_text_bytes=limit) == [
        SecretFinding("id_rsa", "ssh-private-key-file", None)
    ]


def test_file_of_exactly_the_size_limit_is_scanned(tmp_path: Path) -> None:
    text = "token: " + GITHUB_TOKEN + "\n"
    write(tmp_path / "notes.txt", text)

    findings = find_secrets_in_file(tmp_path, "notes.txt", max_text_bytes=len(text.encode()))

    assert findings == [SecretFinding("notes.txt", "github-token", 1)]


def test_undecodable_bytes_do_not_stop_the_scan(tmp_path: Path) -> None:
    write(tmp_path / "latin1.txt", "caf\xe9 ".encode("latin-1") + GITHUB_TOKEN.encode() + b"\n")

    assert find_secrets_in_file(tmp_path, "latin1.txt") == [SecretFinding("latin1.txt", "github-token", 1)]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_gets_name_rules_without_being_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / ".env")

    # Reading the pipe would block forever: returning at all is half the test.
    assert find_secrets_in_file(tmp_path, ".env") == [SecretFinding(".env", "dotenv-file", None)]


def test_missing_file_raises_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        find_secrets_in_file(tmp_path, "gone.txt")


def test_rule_must_be_a_name_rule_or_a_content_rule() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        SecretRule("neither", "no way to match")
    with pytest.raises(ValueError, match="exactly one"):
        SecretRule("both", "two ways to match", path_globs=("*.x",), pattern=re.compile("x"))


def test_refuse_secrets_accepts_no_findings() -> None:
    refuse_secrets([])
    refuse_secrets(iter(()))


def test_refusal_names_path_rule_and_line_and_exits_2() -> None:
    findings = [SecretFinding("notes/setup.md", "github-token", 5)]

    with pytest.raises(SecretFound) as raised:
        refuse_secrets(findings)

    assert str(raised.value) == (
        "refusing to pack a likely secret: notes/setup.md (rule github-token, line 5); "
        "pass --allow-secret notes/setup.md if it is not one"
    )
    assert raised.value.exit_code == 2
    assert isinstance(raised.value, BadInput)


def test_refusal_for_a_name_rule_has_no_line() -> None:
    with pytest.raises(SecretFound) as raised:
        refuse_secrets([SecretFinding("config/.env", "dotenv-file", None)])

    assert str(raised.value) == (
        "refusing to pack a likely secret: config/.env (rule dotenv-file); "
        "pass --allow-secret config/.env if it is not one"
    )


def test_allowed_paths_are_skipped_and_the_first_other_finding_is_refused() -> None:
    findings = [
        SecretFinding(".env", "dotenv-file", None),
        SecretFinding(".env", "github-token", 2),
        SecretFinding("keys/server.pem", "private-key-file", None),
        SecretFinding("notes.md", "jwt", 7),
    ]

    with pytest.raises(
        SecretFound, match=r"^refusing to pack a likely secret: keys/server\.pem \(rule private-key-file\)"
    ):
        refuse_secrets(findings, allowed={".env"})
    refuse_secrets(findings, allowed=[".env", "keys/server.pem", "notes.md"])


def test_refusal_stays_on_one_line_for_a_path_with_a_newline() -> None:
    with pytest.raises(SecretFound) as raised:
        refuse_secrets([SecretFinding("evil\nname/.env", "dotenv-file", None)])

    message = str(raised.value)
    assert "\n" not in message
    assert "'evil\\nname/.env'" in message


def test_scan_reports_the_project_relative_path_it_was_given(tmp_path: Path) -> None:
    write(tmp_path / "sub dir" / "cfg.yml", "auth_token: '" + "Qm9yZWQgb2YgdG9rZW5z" + "'\n")

    assert find_secrets_in_file(tmp_path, "sub dir/cfg.yml") == [
        SecretFinding("sub dir/cfg.yml", "secret-assignment", 1)
    ]


def test_json_walk_names_the_field_and_line_of_every_string_keys_too() -> None:
    document = {
        "@graph": [{"@id": "./", "description": "intro\nkey " + GITHUB_TOKEN}],
        "a/b~c": {GITHUB_TOKEN: 1},
    }

    assert find_secrets_in_json("ro-crate-metadata.json", document) == [
        SecretFinding("ro-crate-metadata.json", "github-token", 2, "/@graph/0/description"),
        SecretFinding("ro-crate-metadata.json", "github-token", 1, "/a~1b~0c"),
    ]


def test_json_walk_survives_any_nesting_depth() -> None:
    document: object = GITHUB_TOKEN
    for _ in range(100_000):
        document = [document]

    assert find_secrets_in_json("x.json", document) == [SecretFinding("x.json", "github-token", 1, "/0" * 100_000)]


def test_written_files_env_copies_are_reported_under_the_project_path() -> None:
    files = {
        ".repropack/env/requirements.txt": b"-i https://" + b"tok3n0123" + b"@pypi.example.org/simple\n",
        ".repropack/settings.json": json.dumps({"description": {"value": GITHUB_TOKEN}}).encode(),
        ".repropack/requirements.lock.txt": b"requests==2.32.3\n",
    }

    findings = find_secrets_in_written({"@graph": []}, files)

    assert findings == [
        SecretFinding("requirements.txt", "index-url-credentials", 1),
        SecretFinding(".repropack/settings.json", "github-token", 1, "/description/value"),
    ]


def test_a_field_is_allowed_by_its_key_or_by_its_whole_file() -> None:
    finding = SecretFinding("ro-crate-metadata.json", "github-token", 1, "/@graph/0/description")

    refuse_secrets([finding], allowed={"ro-crate-metadata.json#/@graph/0/description"})
    refuse_secrets([finding], allowed={"ro-crate-metadata.json"})
    with pytest.raises(SecretFound) as raised:
        refuse_secrets([finding], allowed={"ro-crate-metadata.json#/@graph/1/description"})
    assert str(raised.value) == (
        "refusing to pack a likely secret: ro-crate-metadata.json, field /@graph/0/description "
        "(rule github-token, line 1); pass --allow-secret ro-crate-metadata.json#/@graph/0/description "
        "if it is not one"
    )


@pytest.mark.parametrize(
    "line",
    [
        "--index-url https://${PIP_USER}:${PIP_PASSWORD}@pypi.example.org/simple",
        "--extra-index-url https://pypi.example.org/simple",
        "-e git+ssh://git@github.com/lab/tools.git#egg=tools",
        "tools @ git+ssh://git@github.com/lab/tools.git",
        "see https://example.org/docs?page=2&key=value",
        "http://[::1]:8080/api",
        "https://u:***@host.example/masked",
        "https://host.example/api?token=${TOKEN}",
        'url = "https://pypi.org/simple"',
    ],
)
def test_url_rules_leave_placeholders_logins_and_plain_urls_alone(line: str) -> None:
    assert find_secrets_in_text("requirements.txt", line) == []
