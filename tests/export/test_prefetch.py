"""The guessed lock whose index lookups start while the notebooks run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from repropack.export.prefetch import _imported, _kernel_python, in_background
from tests.conftest import write_notebook


def test_the_import_lines_of_code_cells_name_the_top_level_modules(tmp_path: Path):
    write_notebook(
        tmp_path / "a.ipynb",
        "import numpy as np, os.path\nfrom pandas.api import types\n  import json  # indented",
        "# MD import markdown_is_not_code",
        "x = 'import not_at_line_start'",
    )
    write_notebook(tmp_path / "b.ipynb", "import matplotlib.pyplot as plt")
    assert _imported(tmp_path, ("a.ipynb", "b.ipynb")) == {"numpy", "os", "pandas", "json", "matplotlib"}


def test_the_native_kernel_is_this_interpreter():
    assert _kernel_python("python3") == sys.executable


def test_starting_the_export_imports_nothing_heavy_it_uses_late_or_not_at_all():
    """rocrate is imported by the prefetch thread while the notebooks run; docker, PIL, pandas never."""
    heavy = {"rocrate", "rocrate_validator", "docker", "PIL", "pandas", "requests", "pypi_simple", "matplotlib"}
    code = (
        "import sys, repropack.cli.main, repropack.export.pipeline\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(heavy)!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_in_background_hands_over_the_result_or_the_exception():
    assert in_background(sum, [1, 2, 3]).result(timeout=5) == 6
    with pytest.raises(ZeroDivisionError):
        in_background(divmod, 1, 0).result(timeout=5)
