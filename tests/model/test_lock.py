"""The lock file's text, both ways, and the strict parser a package's lock must pass."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repropack.errors import BadInput
from repropack.model import LockedDistribution
from repropack.model.lock import is_hashed, parse_lock, pinned_versions, render_lock

LOCK = (
    LockedDistribution("pandas", "2.2.3", ("imported",)),
    LockedDistribution("Jinja2", "3.1.4", ("dependency", "declared")),
    LockedDistribution("mypkg", "0.1", (), local=True),
)
A, B = "a" * 64, "b" * 64


def test_parse_gives_back_what_render_wrote():
    text = render_lock(LOCK, header="Pinned by test.\nTwo lines.")
    assert set(parse_lock(text)) == set(LOCK)
    assert pinned_versions(parse_lock(text)) == {"pandas": "2.2.3", "Jinja2": "3.1.4"}


def test_hashes_and_markers_are_written_on_continuation_lines_and_read_back():
    lock = (
        LockedDistribution("numpy", "1.26.4", ("imported",), hashes=(A, B)),
        LockedDistribution("tzdata", "2024.1", ("dependency",), hashes=(A,), marker='sys_platform == "win32"'),
    )
    text = render_lock(lock, header="h")
    assert f"numpy==1.26.4 \\\n    --hash=sha256:{A} \\\n    --hash=sha256:{B}  # imported\n" in text
    assert parse_lock(text) == lock
    assert is_hashed(parse_lock(text)) and not is_hashed(LOCK)


def test_comments_blank_lines_and_crlf_are_accepted():
    text = "# header\r\n\r\nnumpy==1.26.4  # imported\r\n   # indented comment\n"
    assert parse_lock(text) == (LockedDistribution("numpy", "1.26.4", ("imported",)),)


@pytest.mark.parametrize(
    "line, says",
    [
        ("--index-url http://127.0.0.1:9/simple", "option '--index-url'"),
        ("-i http://127.0.0.1:9/simple", "option '-i'"),
        ("--extra-index-url=http://127.0.0.1:9/simple", "option '--extra-index-url'"),
        ("--trusted-host 127.0.0.1", "option '--trusted-host'"),
        ("--find-links /tmp/wheels", "option '--find-links'"),
        ("-f http://127.0.0.1:9/", "option '-f'"),
        ("-r other.txt", "option '-r'"),
        ("-c constraints.txt", "option '-c'"),
        ("-e git+https://127.0.0.1/x.git#egg=x", "option '-e'"),
        ("numpy==1.26.4 --index-url http://127.0.0.1:9/", "option '--index-url'"),
        ("numpy==1.26.4 --hash=md5:0123", "--hash other than sha256"),
        ("evil @ http://127.0.0.1:9/evil.whl", "names a URL"),
        ("git+https://127.0.0.1/x.git", "names a URL"),
        ("./local/pkg", "names a path"),
        ("/abs/evil-1.0-py3-none-any.whl", "names a path"),
        ("evil-1.0-py3-none-any.whl", "names a path"),
        ("numpy===1.26.4", "'===' (arbitrary equality)"),
        ("numpy>=1.26", "version range"),
        ("numpy==1.*", "version range"),
        ("numpy==1.26,<2", "version range"),
        ("numpy[extra]==1.26.4", "extras"),
        ("numpy", "not a name==version pin"),
        ("numpy==not.a.version!", "not a PEP 440 version"),
        ("numpy==1.26.4; ((((((((((((((((((((python_version", "not a valid environment marker"),
        ("numpy==1.26.4; not a marker", "not a valid environment marker"),
    ],
)
def test_a_line_that_is_not_a_pin_is_refused_naming_its_number(line, says):
    with pytest.raises(BadInput) as caught:
        parse_lock(f"# header\nsix==1.16.0  # dependency\n{line}\n")
    assert str(caught.value).startswith("line 3: ")
    assert says in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_option_on_a_continuation_line_is_refused_at_the_line_it_continues():
    text = f"numpy==1.26.4 \\\n    --hash=sha256:{A} \\\n    --index-url http://127.0.0.1:9/\n"
    with pytest.raises(BadInput, match=r"^line 1: option '--index-url'"):
        parse_lock(text)


def test_a_name_pinned_twice_is_refused():
    with pytest.raises(BadInput, match=r"^line 2: Numpy is pinned twice \(also on line 1\)"):
        parse_lock("numpy==1.26.4\nNumpy==1.26.3\n")


def test_hashes_on_some_pins_only_are_refused():
    with pytest.raises(BadInput, match=r"^line 2: six has no --hash while other pins do"):
        parse_lock(f"numpy==1.26.4 --hash=sha256:{A}\nsix==1.16.0\n")


def test_control_characters_and_a_dangling_continuation_are_refused():
    with pytest.raises(BadInput, match=r"^line 1: control character"):
        parse_lock("numpy==1.26.4\x1b[2J\n")
    with pytest.raises(BadInput, match=r"^line 2: the lock ends inside a continued line"):
        parse_lock("six==1.16.0\nnumpy==1.26.4 \\")


# --- properties ---------------------------------------------------------------------------------

_names = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,12}[A-Za-z0-9])?", fullmatch=True)
_versions = st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}((a|b|rc)[0-9]{1,2})?(\.post[0-9])?", fullmatch=True)
_digests = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
_markers = st.sampled_from(["", 'python_version >= "3.8"', 'sys_platform == "linux" and extra == "x"'])
_reasons = st.lists(st.sampled_from(["declared", "imported", "dependency", "runtime"]), unique=True).map(
    lambda r: tuple(sorted(r))
)


@st.composite
def _locks(draw) -> tuple[LockedDistribution, ...]:
    names = draw(st.lists(_names, unique_by=lambda n: n.lower().replace("_", "-").replace(".", "-"), max_size=8))
    hashed = draw(st.booleans())
    lock = []
    for name in names:
        if draw(st.integers(0, 5)) == 0:
            lock.append(LockedDistribution(name, draw(_versions), (), local=True))
            continue
        hashes = tuple(sorted(set(draw(st.lists(_digests, min_size=1, max_size=3))))) if hashed else ()
        lock.append(LockedDistribution(name, draw(_versions), draw(_reasons), hashes=hashes, marker=draw(_markers)))
    return tuple(lock)


def _canonical_dupes(lock) -> bool:
    from packaging.utils import canonicalize_name

    keys = [canonicalize_name(d.name) for d in lock]
    return len(keys) != len(set(keys))


@settings(max_examples=200, deadline=None)
@given(_locks())
def test_property_every_rendered_lock_parses_back_to_the_same_entries(lock):
    if _canonical_dupes(lock):
        return  # two spellings of one name: export never writes them, the parser refuses them
    parsed = parse_lock(render_lock(lock, header="Pinned by a property test."))
    normalised = {(d.name, d.version, d.reasons, d.local, d.hashes, d.marker) for d in parsed}
    assert normalised == {
        (d.name, d.version, d.reasons if not d.local else (), d.local, d.hashes, d.marker) for d in lock
    }


_OPTIONS = ["-i", "--index-url", "--extra-index-url", "--trusted-host", "-f", "--find-links", "-r", "-c", "-e",
            "--requirement", "--constraint", "--editable", "--pre", "--no-binary", "--only-binary", "--prefer-binary",
            "--use-feature", "--hash=md5:00", "--config-settings"]  # fmt: skip
_URLS = ["http://127.0.0.1:9/x", "https://evil.example/simple", "git+https://h/x.git", "file:///etc/passwd"]


@settings(max_examples=200, deadline=None)
@given(
    _names,
    _versions,
    st.sampled_from(_OPTIONS),
    st.sampled_from(_URLS),
    st.integers(0, 2),
)
def test_property_any_line_with_an_option_or_a_url_is_refused(name, version, option, url, where):
    line = [f"{option} {url}", f"{name}=={version} {option} {url}", f"{name} @ {url}"][where]
    with pytest.raises(BadInput, match=r"^line 2: "):
        parse_lock(f"# header\n{line}\n")


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=string.printable + "\x00\x1b\u00e9\u202e\\#;@=", max_size=300))
def test_property_arbitrary_text_gives_entries_or_bad_input_never_another_error(text):
    try:
        lock = parse_lock(text)
    except BadInput as exc:
        assert str(exc).startswith("line ") and "\n" not in str(exc)
        return
    assert render_lock(lock, header="") is not None  # what was accepted can be rendered again
    assert parse_lock(render_lock(lock, header="")) == tuple(
        d if not d.local else LockedDistribution(d.name, d.version, (), local=True) for d in lock
    )
