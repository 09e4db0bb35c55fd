"""``repropack inspect`` in the terminal shows names and texts from the package literally."""

from __future__ import annotations

from rich.console import Console

from repropack.ui.inspect_view import render_inspection
from tests.ui.test_terminal import HOSTILE, NAMES


def _description(*paths: str) -> dict:
    files = [
        {
            "path": path,
            "size": 3,
            "sha256": "ab" * 32,
            "encoding_format": "text/csv",
            "role": "input",
            "restricted": i == 0,
            "access_note": None,
        }
        for i, path in enumerate(paths)
    ]
    notebook = "第4章 [bold]自転車[/bold].ipynb"
    return {
        "package": "/pkgs/[bold]study[/bold].crate.zip",
        "title": "[i]Study[/i] of [red]bikes[/red]",
        "description": "Two lines:\n[b]not bold[/b]",
        "license": "MIT",
        "date_published": "2026-01-02T03:04:05+00:00",
        "authors": ["[u]Ada[/u]"],
        "notebooks": [notebook],
        "files": files,
        "restricted": files[:1],
        "runs": [
            {
                "notebook": notebook,
                "name": f"Execution of {notebook}",
                "status": "CompletedActionStatus",
                "kernel": "python3",
                "start_time": "2026-01-02T03:04:05+00:00",
                "end_time": "2026-01-02T03:04:07+00:00",
                "inputs": [notebook, *paths],
                "outputs": [notebook],
                "error": None,
            }
        ],
        "environment": {"python_version": "3.11.7", "environment_hash": "f" * 64, "lock": []},
        "git": {"commit": "abc", "branch": "[green]main[/green]", "remote": None, "dirty": False},
    }


def _rendered(description: dict) -> str:
    console = Console(record=True, width=400, color_system=None)
    render_inspection(console, description)
    return console.export_text()


def test_names_titles_and_texts_are_shown_literally():
    text = _rendered(_description(*NAMES))
    for name in NAMES:
        assert name in text
    assert "[i]Study[/i] of [red]bikes[/red]  (/pkgs/[bold]study[/bold].crate.zip)" in text
    assert "Two lines:\n[b]not bold[/b]" in text  # a description keeps its line breaks
    assert "第4章 [bold]自転車[/bold].ipynb" in text
    assert "authors [u]Ada[/u]" in text and "on [green]main[/green]" in text
    assert "input (restricted)" in text


def test_control_characters_in_a_name_are_escaped():
    text = _rendered(_description(HOSTILE))
    assert "\x1b" not in text and "\x07" not in text
    assert "evil\\x1b[2J\\x1b]0;pwned\\x07.csv" in text
