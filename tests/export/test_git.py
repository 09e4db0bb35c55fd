from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from repropack.export.git import git_provenance, strip_credentials


@pytest.fixture(autouse=True)
def no_user_git_config(monkeypatch):
    """Only each test repository's own config counts (no signing hooks, default branch names)."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def run_git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_repo(root: Path) -> Path:
    """A repository on branch main with one commit of two tracked files and an ignore rule."""
    root.mkdir(parents=True, exist_ok=True)
    run_git(root, "init", "-q", "-b", "main")
    run_git(root, "config", "user.name", "Test Author")
    run_git(root, "config", "user.email", "author@example.org")
    (root / "analysis.ipynb").write_text("{}\n")
    (root / "data").mkdir()
    (root / "data" / "input.csv").write_text("id\n1\n")
    (root / ".gitignore").write_text("*.log\n")
    run_git(root, "add", ".")
    run_git(root, "commit", "-q", "-m", "initial")
    return root


def test_clean_repository(tmp_path):
    repo = make_repo(tmp_path / "study")

    provenance = git_provenance(repo)

    assert provenance is not None
    assert provenance.commit == run_git(repo, "rev-parse", "HEAD")
    assert provenance.branch == "main"
    assert provenance.remote_url is None
    assert provenance.dirty is False
    assert provenance.changed_paths == ()


def test_modified_staged_deleted_renamed_and_untracked_files_make_it_dirty(tmp_path):
    repo = make_repo(tmp_path / "study")
    (repo / "data" / "input.csv").write_text("id\n1\n2\n")  # modified, not staged
    (repo / "notes.md").write_text("new\n")
    run_git(repo, "add", "notes.md")  # added
    run_git(repo, "mv", "analysis.ipynb", "main.ipynb")  # renamed
    (repo / "out" / "deep").mkdir(parents=True)
    (repo / "out" / "deep" / "result.csv").write_text("x\n")  # untracked, inside an untracked folder
    (repo / "run.log").write_text("ignored\n")  # ignored: not a change

    provenance = git_provenance(repo)

    assert provenance is not None and provenance.dirty is True
    assert provenance.changed_paths == (
        "analysis.ipynb",
        "data/input.csv",
        "main.ipynb",
        "notes.md",
        "out/deep/result.csv",
    )


def test_deleted_tracked_file_makes_it_dirty(tmp_path):
    repo = make_repo(tmp_path / "study")
    (repo / "data" / "input.csv").unlink()

    provenance = git_provenance(repo)

    assert provenance is not None
    assert (provenance.dirty, provenance.changed_paths) == (True, ("data/input.csv",))


def test_only_ignored_files_leave_it_clean(tmp_path):
    repo = make_repo(tmp_path / "study")
    (repo / "debug.log").write_text("noise\n")

    provenance = git_provenance(repo)

    assert provenance is not None and provenance.dirty is False


def test_detached_head_has_no_branch(tmp_path):
    repo = make_repo(tmp_path / "study")
    first = run_git(repo, "rev-parse", "HEAD")
    (repo / "notes.md").write_text("second\n")
    run_git(repo, "add", "notes.md")
    run_git(repo, "commit", "-q", "-m", "second")
    run_git(repo, "checkout", "-q", "--detach", first)

    provenance = git_provenance(repo)

    assert provenance is not None
    assert provenance.commit == first
    assert provenance.branch is None


def test_folder_outside_any_repository_has_no_provenance(tmp_path):
    project = tmp_path / "plain"
    project.mkdir()
    (project / "analysis.ipynb").write_text("{}\n")

    assert git_provenance(project) is None


def test_repository_without_commits_has_no_provenance(tmp_path):
    project = tmp_path / "fresh"
    project.mkdir()
    run_git(project, "init", "-q", "-b", "main")
    (project / "analysis.ipynb").write_text("{}\n")

    assert git_provenance(project) is None


def test_project_in_a_subfolder_reports_paths_from_the_repository_root(tmp_path):
    repo = make_repo(tmp_path / "monorepo")
    project = repo / "studies" / "one"
    project.mkdir(parents=True)
    (project / "analysis.ipynb").write_text("{}\n")
    run_git(repo, "add", ".")
    run_git(repo, "commit", "-q", "-m", "add study")
    (project / "result.csv").write_text("x\n")

    provenance = git_provenance(project)

    assert provenance is not None
    assert provenance.commit == run_git(repo, "rev-parse", "HEAD")
    assert provenance.changed_paths == ("studies/one/result.csv",)


def test_remote_token_is_stripped_everywhere(tmp_path):
    repo = make_repo(tmp_path / "study")
    token = "ghp_s3cr3tT0kenValue"
    run_git(repo, "remote", "add", "origin", f"https://alice:{token}@git.example.org/lab/study.git")

    provenance = git_provenance(repo)

    assert provenance is not None
    assert provenance.remote_url == "https://git.example.org/lab/study.git"
    assert token not in repr(provenance)


def test_origin_is_preferred_and_otherwise_the_first_remote_is_used(tmp_path):
    repo = make_repo(tmp_path / "study")
    run_git(repo, "remote", "add", "upstream", "https://example.org/upstream.git")
    run_git(repo, "remote", "add", "mirror", "https://example.org/mirror.git")
    assert git_provenance(repo).remote_url == "https://example.org/upstream.git"

    run_git(repo, "remote", "add", "origin", "git@example.org:lab/study.git")
    assert git_provenance(repo).remote_url == "git@example.org:lab/study.git"


@pytest.mark.parametrize(
    ("url", "stripped"),
    [
        ("https://user:token@host.example/x.git", "https://host.example/x.git"),
        ("https://ghp_tokenonly@host.example/x.git", "https://host.example/x.git"),
        ("http://user:pw@host.example:8080/x.git", "http://host.example:8080/x.git"),
        ("HTTPS://user:pw@host.example/x.git?ref=main#frag", "HTTPS://host.example/x.git?ref=main#frag"),
        ("https://user:p@ss@host.example/x.git", "https://host.example/x.git"),
        ("ssh://git:pw@host.example/org/x.git", "ssh://git@host.example/org/x.git"),
        ("git+ssh://git:pw@host.example/org/x.git", "git+ssh://git@host.example/org/x.git"),
        ("ssh://git@host.example:2222/org/x.git", "ssh://git@host.example:2222/org/x.git"),
        ("git@host.example:org/x.git", "git@host.example:org/x.git"),
        ("https://host.example/x.git", "https://host.example/x.git"),
        ("https://host.example/people/@alice/x.git", "https://host.example/people/@alice/x.git"),
        ("file:///srv/git/x.git", "file:///srv/git/x.git"),
        ("/srv/git/x.git", "/srv/git/x.git"),
        ("../x.git", "../x.git"),
        ("https://host.example/x.git?private_token=abc&ref=main", "https://host.example/x.git?ref=main"),
        ("https://host.example/x.git?ACCESS_TOKEN=abc#frag", "https://host.example/x.git#frag"),
        ("https://u:p@host.example/x.git?sig=abc&token=def", "https://host.example/x.git"),
        ("https://host.example/x.git?tokens=1", "https://host.example/x.git?tokens=1"),
        ("https://host.example/x.git#a?token=1", "https://host.example/x.git#a?token=1"),
    ],
)
def test_strip_credentials(url, stripped):
    assert strip_credentials(url) == stripped
