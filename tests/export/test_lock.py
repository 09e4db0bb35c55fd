from __future__ import annotations

from importlib import metadata

from packaging.markers import default_environment

from repropack.export import kernel_side
from repropack.export.lock import (
    InstalledDistribution,
    compute_lock,
    installed_from_report,
)
from repropack.model import LockedDistribution
from repropack.model.lock import render_lock

LINUX_PY311 = {
    "implementation_name": "cpython",
    "implementation_version": "3.11.7",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_release": "6.1.0",
    "platform_system": "Linux",
    "platform_version": "#1 SMP",
    "python_full_version": "3.11.7",
    "platform_python_implementation": "CPython",
    "python_version": "3.11",
    "sys_platform": "linux",
}


def dist(name: str, version: str = "1.0", *requires: str, modules: tuple[str, ...] | None = None, local: bool = False):
    return InstalledDistribution(
        name=name,
        version=version,
        requires=requires,
        top_level_modules=modules if modules is not None else (name.lower().replace("-", "_"),),
        local=local,
    )


def lock_of(installed, *, declared=(), imported=(), runtime=()):
    return compute_lock(
        installed, declared=declared, imported_modules=imported, runtime=runtime, marker_environment=LINUX_PY311
    )


def names(lock) -> list[str]:
    return [d.name for d in lock]


def test_undeclared_import_is_locked_at_its_installed_version():
    installed = [dist("requests", "2.31.0"), dist("unused", "9.9")]

    lock, unresolved = lock_of(installed, imported=["requests"])

    assert lock == (LockedDistribution("requests", "2.31.0", ("imported",)),)
    assert unresolved == ()


def test_requirements_are_followed_transitively():
    installed = [dist("a", "1", "b>=1"), dist("b", "2", "C"), dist("c", "3"), dist("d", "4")]

    lock, _ = lock_of(installed, declared=["a"])

    assert [(d.name, d.version, d.reasons) for d in lock] == [
        ("a", "1", ("declared",)),
        ("b", "2", ("dependency",)),
        ("c", "3", ("dependency",)),
    ]


def test_requirements_whose_markers_do_not_hold_are_not_followed():
    installed = [
        dist(
            "app",
            "1",
            'winonly; sys_platform == "win32"',
            'oldpy; python_version < "3.8"',
            'linuxonly; sys_platform == "linux"',
        ),
        dist("winonly"),
        dist("oldpy"),
        dist("linuxonly"),
    ]

    lock, _ = lock_of(installed, imported=["app"])

    assert names(lock) == ["app", "linuxonly"]


def test_extras_are_followed_only_when_requested():
    installed = [
        dist("plain", "1", "lib"),
        dist("fancy", "1", "lib[fast]"),
        dist("lib", "1", 'speedup; extra == "fast"', 'docs-tool; extra == "docs"'),
        dist("speedup"),
        dist("docs-tool"),
    ]

    without, _ = lock_of(installed, imported=["plain"])
    with_extra, _ = lock_of(installed, imported=["fancy"])

    assert names(without) == ["lib", "plain"]
    assert names(with_extra) == ["fancy", "lib", "speedup"]


def test_extra_requested_after_the_distribution_was_expanded_is_still_followed():
    installed = [
        dist("first", "1", "lib"),
        dist("second", "1", "lib[fast]"),
        dist("lib", "1", 'speedup; extra == "fast"'),
        dist("speedup"),
    ]

    lock, _ = lock_of(installed, declared=["first", "second"])

    assert "speedup" in names(lock)


def test_dependency_cycles_terminate():
    installed = [dist("a", "1", "b"), dist("b", "1", "c[x]"), dist("c", "1", "a", 'b; extra == "x"')]

    lock, _ = lock_of(installed, imported=["a"])

    assert [(d.name, d.reasons) for d in lock] == [
        ("a", ("dependency", "imported")),
        ("b", ("dependency",)),
        ("c", ("dependency",)),
    ]


def test_a_namespace_module_locks_every_distribution_providing_it():
    installed = [
        dist("google-auth", "2.0", modules=("google",)),
        dist("protobuf", "4.0", modules=("google",)),
        dist("other", modules=("other",)),
    ]

    lock, _ = lock_of(installed, imported=["google"])

    assert names(lock) == ["google-auth", "protobuf"]


def test_stdlib_and_unprovided_modules_are_ignored():
    installed = [dist("typing-backport", modules=("typing",)), dist("numpy")]

    lock, _ = lock_of(installed, imported=["typing", "json", "__main__", "my_local_helpers", "numpy"])

    assert names(lock) == ["numpy"]


def test_declared_names_not_installed_are_unresolved_and_names_compare_canonically():
    installed = [dist("Ruamel.YAML", "0.18", modules=("ruamel",)), dist("scikit-learn", "1.3", modules=("sklearn",))]

    lock, unresolved = lock_of(installed, declared=["ruamel_yaml", "Scikit_Learn", "Missing_Pkg", "absent"])

    assert [(d.name, d.reasons) for d in lock] == [("Ruamel.YAML", ("declared",)), ("scikit-learn", ("declared",))]
    assert unresolved == ("absent", "missing-pkg")


def test_runtime_distributions_are_locked_and_missing_ones_skipped():
    installed = [dist("ipykernel", "6.29", "comm"), dist("comm", "0.2")]

    lock, unresolved = lock_of(installed, runtime=["ipykernel", "nbclient"])

    assert [(d.name, d.reasons) for d in lock] == [("comm", ("dependency",)), ("ipykernel", ("runtime",))]
    assert unresolved == ()


def test_reasons_accumulate_and_are_sorted():
    installed = [dist("numpy", "2.0"), dist("pandas", "2.2", "numpy")]

    lock, _ = lock_of(installed, declared=["numpy"], imported=["numpy", "pandas"], runtime=["numpy"])

    assert lock[0] == LockedDistribution("numpy", "2.0", ("declared", "dependency", "imported", "runtime"))


def test_local_flag_is_copied_and_rendered_as_a_comment():
    installed = [dist("mylib", "0.1.dev0", "numpy", local=True), dist("numpy", "2.0")]

    lock, _ = lock_of(installed, imported=["mylib"])
    text = render_lock(lock, header="Pinned by test.\nSecond line.")

    assert [d.local for d in lock] == [True, False]
    assert text == (
        "# Pinned by test.\n"
        "# Second line.\n"
        "# mylib==0.1.dev0 (installed from a local path; not pinned)\n"
        "numpy==2.0  # dependency\n"
    )


def test_lock_and_text_do_not_depend_on_input_order():
    installed = [dist("zeta", "1", "alpha"), dist("alpha", "2"), dist("Mid", "3")]

    first_lock, _ = lock_of(installed, declared=["mid", "zeta"], imported=["alpha"])
    second_lock, _ = lock_of(list(reversed(installed)), declared=["zeta", "mid"], imported=["alpha"])

    assert first_lock == second_lock
    assert names(first_lock) == ["alpha", "Mid", "zeta"]
    assert render_lock(first_lock, header="h") == render_lock(list(reversed(first_lock)), header="h")


def test_unparsable_requires_dist_is_skipped():
    installed = [dist("old", "1", "broken >= = 1", "good"), dist("good"), dist("broken")]

    lock, _ = lock_of(installed, imported=["old"])

    assert names(lock) == ["good", "old"]


def test_lock_from_this_interpreter_follows_pandas_to_its_dependencies():
    installed = installed_from_report(kernel_side.installed_distributions())

    lock, _ = compute_lock(
        installed, declared=[], imported_modules=["pandas"], runtime=[], marker_environment=default_environment()
    )

    versions = {d.name.lower(): (d.version, d.reasons) for d in lock}
    assert versions["pandas"] == (metadata.version("pandas"), ("imported",))
    assert versions["numpy"] == (metadata.version("numpy"), ("dependency",))
    assert versions["python-dateutil"] == (metadata.version("python-dateutil"), ("dependency",))
