from __future__ import annotations

from pathlib import Path

import pytest

from repropack.errors import BadInput
from repropack.export.envfiles import declared_requirements, find_env_files


def write(root: Path, relpath: str, text: str) -> Path:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def declared(root: Path) -> list[str]:
    return declared_requirements(root, find_env_files(root))


def test_top_level_env_files_are_found_and_other_files_are_not(tmp_path):
    for name in ("requirements.txt", "environment.yml", "apt.txt", "postBuild", "runtime.txt", "notes.md"):
        write(tmp_path, name, "")
    (tmp_path / "Pipfile").mkdir()  # a folder with an env file's name is not an env file

    assert find_env_files(tmp_path) == ["requirements.txt", "environment.yml", "runtime.txt", "apt.txt", "postBuild"]


@pytest.mark.parametrize("folder", ["binder", ".binder"])
def test_binder_folder_takes_precedence_over_top_level_files(tmp_path, folder):
    write(tmp_path, "requirements.txt", "toplevel-only\n")
    write(tmp_path, "setup.py", "")
    write(tmp_path, f"{folder}/requirements.txt", "numpy\n")
    write(tmp_path, f"{folder}/apt.txt", "git\n")

    assert find_env_files(tmp_path) == [f"{folder}/requirements.txt", f"{folder}/apt.txt"]
    assert declared(tmp_path) == ["numpy"]


def test_both_binder_folders_are_refused(tmp_path):
    (tmp_path / "binder").mkdir()
    (tmp_path / ".binder").mkdir()

    with pytest.raises(BadInput, match="binder"):
        find_env_files(tmp_path)


def test_project_without_env_files_declares_nothing(tmp_path):
    assert find_env_files(tmp_path) == []
    assert declared(tmp_path) == []


def test_requirements_txt_names_are_canonical_and_options_comments_and_paths_skipped(tmp_path):
    write(
        tmp_path,
        "requirements.txt",
        "# analysis stack\n"
        "\n"
        "-i https://pypi.example.org/simple\n"
        "--index-url=https://pypi.example.org/simple\n"
        "--extra-index-url https://mirror.example.org/simple\n"
        "-f ./wheels\n"
        "--find-links ./wheels\n"
        "-c constraints.txt\n"
        "-e .\n"
        "--editable ./libs/helper\n"
        "./libs/other\n"
        "../sibling\n"
        "dist/local_pkg-1.0-py3-none-any.whl\n"
        "git+https://github.com/org/tool.git@v1\n"
        "Pandas>=2.0  # inline comment\n"
        'scikit_learn[alldeps]>=1.3; python_version > "3"\n'
        "Ruamel.YAML==0.18 --hash=sha256:0123456789abcdef\n"
        'pywin32; sys_platform == "win32"\n'
        "my-lib @ https://files.example.org/my_lib-1.0.tar.gz\n"
        "matplotlib \\\n"
        "    >=3.7\n",
    )

    assert declared(tmp_path) == ["matplotlib", "my-lib", "pandas", "pywin32", "ruamel-yaml", "scikit-learn"]


def test_requirements_includes_are_relative_to_the_including_file(tmp_path):
    write(tmp_path, "requirements.txt", "-r reqs/base.txt\n--requirement=reqs/extra.txt\nrequests\n")
    write(tmp_path, "reqs/base.txt", "numpy\n-r nested/deeper.txt\n")
    write(tmp_path, "reqs/nested/deeper.txt", "scipy\n")
    write(tmp_path, "reqs/extra.txt", "xarray\n")

    assert declared(tmp_path) == ["numpy", "requests", "scipy", "xarray"]


def test_requirements_include_cycles_terminate(tmp_path):
    write(tmp_path, "requirements.txt", "-r a.txt\nroot-pkg\n")
    write(tmp_path, "a.txt", "a-pkg\n-r b.txt\n")
    write(tmp_path, "b.txt", "b-pkg\n-r a.txt\n-r requirements.txt\n")

    assert declared(tmp_path) == ["a-pkg", "b-pkg", "root-pkg"]


def test_missing_include_is_refused_with_the_including_file_named(tmp_path):
    write(tmp_path, "requirements.txt", "numpy\n-r missing.txt\n")

    with pytest.raises(BadInput, match=r"cannot parse requirements\.txt: line 2: .*missing\.txt"):
        declared(tmp_path)


def test_malformed_requirement_line_is_refused(tmp_path):
    write(tmp_path, "requirements.txt", "numpy\nnot a requirement ===\n")

    with pytest.raises(BadInput, match=r"^cannot parse requirements\.txt: line 2: "):
        declared(tmp_path)


def test_conda_environment_names_with_nested_pip_list(tmp_path):
    write(
        tmp_path,
        "environment.yml",
        "name: study\n"
        "channels: [conda-forge]\n"
        "dependencies:\n"
        "  - python=3.11\n"
        "  - pip\n"
        "  - numpy=1.26\n"
        "  - conda-forge::xarray>=2023.1\n"
        "  - Scikit_Learn 1.3.* py311_0\n"
        "  - pip:\n"
        "      - --extra-index-url https://mirror.example.org/simple\n"
        "      - requests[socks]>=2; python_version > '3'\n"
        "      - -r pip-extra.txt\n",
    )
    write(tmp_path, "pip-extra.txt", "rich\n")

    assert declared(tmp_path) == ["numpy", "requests", "rich", "scikit-learn", "xarray"]


def test_empty_conda_environment_declares_nothing(tmp_path):
    write(tmp_path, "environment.yaml", "")

    assert declared(tmp_path) == []


@pytest.mark.parametrize(
    "text",
    [
        "dependencies: [numpy\n",  # not YAML
        "- numpy\n",  # top level is a list
        "dependencies: numpy\n",  # dependencies is not a list
        "dependencies:\n  - 3\n",  # an entry that is no package spec
        "dependencies:\n  - pip:\n      nested: mapping\n",  # pip entry is not a list
    ],
)
def test_malformed_conda_environment_is_refused(tmp_path, text):
    write(tmp_path, "environment.yml", text)

    with pytest.raises(BadInput, match=r"^cannot parse environment\.yml: "):
        declared(tmp_path)


def test_pipfile_packages_are_declared_but_dev_packages_are_not(tmp_path):
    write(
        tmp_path,
        "Pipfile",
        '[[source]]\nurl = "https://pypi.org/simple"\nname = "pypi"\n'
        '[packages]\nRequests = "*"\nnumpy = {version = ">=1.26"}\n'
        '[dev-packages]\npytest = "*"\n',
    )

    assert declared(tmp_path) == ["numpy", "requests"]


def test_malformed_pipfile_is_refused(tmp_path):
    write(tmp_path, "Pipfile", "[packages\nnumpy = '*'\n")

    with pytest.raises(BadInput, match=r"^cannot parse Pipfile: "):
        declared(tmp_path)


def test_pyproject_project_dependencies_are_declared(tmp_path):
    write(
        tmp_path,
        "pyproject.toml",
        '[project]\nname = "study"\nversion = "1"\n'
        'dependencies = ["Pandas>=2", "zope.interface; python_version >= \'3.8\'"]\n'
        '[project.optional-dependencies]\ntest = ["pytest"]\n',
    )

    assert declared(tmp_path) == ["pandas", "zope-interface"]


def test_pyproject_without_project_table_declares_nothing(tmp_path):
    write(tmp_path, "pyproject.toml", "[tool.black]\nline-length = 100\n")

    assert declared(tmp_path) == []


def test_pyproject_with_invalid_dependency_is_refused(tmp_path):
    write(tmp_path, "pyproject.toml", '[project]\nname = "x"\ndependencies = ["pandas >>> 2"]\n')

    with pytest.raises(BadInput, match=r"^cannot parse pyproject\.toml: 'pandas >>> 2'"):
        declared(tmp_path)


def test_setup_cfg_install_requires_as_lines_or_semicolons(tmp_path):
    write(
        tmp_path,
        "setup.cfg",
        "[metadata]\nname = study\n"
        "[options]\ninstall_requires =\n"
        "    numpy>=1.26\n"
        "    # a comment line\n"
        '    importlib_metadata; python_version < "3.10"\n',
    )
    assert declared(tmp_path) == ["importlib-metadata", "numpy"]

    write(tmp_path, "setup.cfg", "[options]\ninstall_requires = numpy; Pandas>=2\n")
    assert declared(tmp_path) == ["numpy", "pandas"]


def test_setup_cfg_file_directive_reads_the_listed_files(tmp_path):
    write(tmp_path, "setup.cfg", "[options]\ninstall_requires = file: reqs/core.in, reqs/plot.in\n")
    write(tmp_path, "reqs/core.in", "numpy\n")
    write(tmp_path, "reqs/plot.in", "matplotlib>=3\n")

    assert declared(tmp_path) == ["matplotlib", "numpy"]


def test_malformed_setup_cfg_is_refused(tmp_path):
    write(tmp_path, "setup.cfg", "install_requires = numpy\n")  # no section header

    with pytest.raises(BadInput, match=r"^cannot parse setup\.cfg: "):
        declared(tmp_path)


def test_setup_py_is_never_executed(tmp_path):
    marker = tmp_path / "executed"
    write(tmp_path, "setup.py", f"open({str(marker)!r}, 'w').close()\n")

    assert find_env_files(tmp_path) == ["setup.py"]
    assert declared(tmp_path) == []
    assert not marker.exists()


def test_names_from_all_files_are_merged_sorted_and_unique(tmp_path):
    write(tmp_path, "requirements.txt", "numpy\nrequests\n")
    write(tmp_path, "pyproject.toml", '[project]\nname = "x"\ndependencies = ["NumPy", "attrs"]\n')

    assert declared(tmp_path) == ["attrs", "numpy", "requests"]


def test_non_utf8_file_is_refused(tmp_path):
    (tmp_path / "requirements.txt").write_bytes(b"numpy\n\xff\xfe\n")

    with pytest.raises(BadInput, match=r"^cannot parse requirements\.txt: not UTF-8"):
        declared(tmp_path)
