"""BagIt bags of real packages, both layouts, both directions, and every way a bag can be bad.

One package is exported (``execute: False``, a real kernel-free export) per session and copied by the
tests that change it; one bag of each layout is written per session and copied likewise. Bags "as
documented" are also built here by hand (files, manifests and tag files written by this code, or by
the bagit library's own ``make_bag``), to show ``open_bag`` reads bags other tools wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from datetime import date
from pathlib import Path

import bagit
import pytest

from repropack.crate.bagit_bag import BagContents, is_bag, open_bag, weko_metadata, write_bag
from repropack.crate.check import check_files
from repropack.crate.reader import open_package
from repropack.errors import BadInput
from repropack.export import export_project
from repropack.fs.archive import write_deterministic_zip, zip_date_time
from tests.conftest import isolate_user_dirs, make_project

METADATA = "ro-crate-metadata.json"


@pytest.fixture(scope="session")
def package(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("bagit-package")
    with pytest.MonkeyPatch.context() as mp:  # the autouse isolation fixture is function-scoped
        isolate_user_dirs(mp, base / "home")
        export_project(make_project(base / "study"), base / "pkg", {"execute": False})
    return base / "pkg"


@pytest.fixture(scope="session")
def bags(package, tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("bagit-bags")
    return {
        "rocrate": write_bag(package, base / "rocrate", external_identifier="pkg-3f9a1c2b7d4e"),
        "weko": write_bag(package, base / "weko", layout="weko", external_identifier="pkg-3f9a1c2b7d4e"),
    }


@pytest.fixture
def bag(bags, tmp_path) -> Path:
    """A copy of the session's rocrate bag, for a test to damage."""
    return Path(shutil.copytree(bags["rocrate"], tmp_path / "bag", symlinks=True))


def _digests(root: Path) -> dict[str, str]:
    """Every regular file under ``root`` -> its sha256."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _assert_is_the_package(contents: BagContents, package: Path) -> None:
    assert _digests(contents.crate_root) == _digests(package)
    with open_package(contents.crate_root) as opened:
        problems, checked = check_files(opened)
    assert problems == []
    assert checked == len(_digests(package)) - 1  # every file but the metadata itself


def _retag(bag: Path, algorithm: str = "sha512") -> None:
    """Recompute the tag manifest's checksums after a test changed a tag file on purpose."""
    tagmanifest = bag / f"tagmanifest-{algorithm}.txt"
    names = [line.split(None, 1)[1] for line in tagmanifest.read_text().splitlines()]
    tagmanifest.write_text(
        "".join(f"{hashlib.new(algorithm, (bag / n).read_bytes()).hexdigest()}  {n}\n" for n in names)
    )


def _refused(bag: Path, match: str) -> str:
    with pytest.raises(BadInput, match=match) as caught:
        open_bag(bag)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{bag}: ")
    return message


# --- written by write_bag, read back -------------------------------------------------------------


def test_rocrate_bag_holds_the_package_as_its_payload(bags, package):
    contents = open_bag(bags["rocrate"])
    assert contents == BagContents("rocrate", bags["rocrate"] / "data", "pkg-3f9a1c2b7d4e")
    _assert_is_the_package(contents, package)
    top = sorted(p.name for p in bags["rocrate"].iterdir())
    assert top == ["bag-info.txt", "bagit.txt", "data", "manifest-sha512.txt", "tagmanifest-sha512.txt"]
    assert (bags["rocrate"] / "bagit.txt").read_text() == "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"


def test_rocrate_bag_info_names_the_package_and_its_date(bags, package):
    published = json.loads((package / METADATA).read_text())["@graph"]
    root = next(e for e in published if e["@id"] == "./")
    info = (bags["rocrate"] / "bag-info.txt").read_text().splitlines()
    sizes = [p.stat().st_size for p in package.rglob("*") if p.is_file()]
    assert info == [
        "External-Identifier: pkg-3f9a1c2b7d4e",
        f"Bagging-Date: {root['datePublished'][:10]}",
        "Bag-Software-Agent: repropack 0.1.0",
        f"Payload-Oxum: {sum(sizes)}.{len(sizes)}",
    ]


def test_rocrate_manifests_list_every_payload_and_tag_file(bags, package):
    bag = bags["rocrate"]
    manifest = dict(reversed(line.split("  ", 1)) for line in (bag / "manifest-sha512.txt").read_text().splitlines())
    assert sorted(manifest) == sorted(f"data/{p}" for p in _digests(package))
    for path, digest in manifest.items():
        assert hashlib.sha512((bag / path).read_bytes()).hexdigest() == digest
    tags = [line.split("  ", 1)[1] for line in (bag / "tagmanifest-sha512.txt").read_text().splitlines()]
    assert tags == ["bag-info.txt", "bagit.txt", "manifest-sha512.txt"]
    assert bagit.Bag(str(bag)).validate(fast=False)


def test_weko_bag_has_the_metadata_at_its_root_describing_data_paths(bags, package):
    bag = bags["weko"]
    contents = open_bag(bag)
    assert contents.layout == "weko" and contents.external_identifier == "pkg-3f9a1c2b7d4e"
    _assert_is_the_package(contents, package)
    top = sorted(p.name for p in bag.iterdir())
    assert top == [
        "bag-info.txt",
        "bagit.txt",
        "data",
        "manifest-sha256.txt",
        METADATA,
        "tagmanifest-sha256.txt",
    ]
    outer = json.loads((bag / METADATA).read_text())
    files = [e for e in outer["@graph"] if e["@type"] == "File"]
    assert files and all(e["@id"].startswith("data/") and (bag / e["@id"]).is_file() for e in files)
    root = next(e for e in outer["@graph"] if e["@id"] == "./")
    assert {ref["@id"] for ref in root["hasPart"]} == {e["@id"] for e in files}
    assert next(e for e in outer["@graph"] if e["@id"] == METADATA)["about"] == {"@id": "./"}
    tags = [line.split("  ", 1)[1] for line in (bag / "tagmanifest-sha256.txt").read_text().splitlines()]
    assert tags == ["bag-info.txt", "bagit.txt", "manifest-sha256.txt", METADATA]
    assert bagit.Bag(str(bag)).validate(fast=False)


def test_same_package_same_bytes(package, bags, tmp_path):
    for layout, first in bags.items():
        again = write_bag(package, tmp_path / layout, layout=layout, external_identifier="pkg-3f9a1c2b7d4e")
        assert _digests(again) == _digests(first)


def test_default_identifier_is_derived_from_the_metadata_and_the_date_can_be_given(package, tmp_path):
    first = write_bag(package, tmp_path / "a", external_identifier=None, bagging_date=date(2024, 5, 6))
    second = write_bag(package, tmp_path / "b", external_identifier=None, bagging_date=date(2024, 5, 6))
    identifier = open_bag(first).external_identifier
    assert identifier is not None and identifier.startswith("urn:uuid:")
    assert open_bag(second).external_identifier == identifier
    assert "Bagging-Date: 2024-05-06\n" in (first / "bag-info.txt").read_text()


def test_a_package_zip_is_bagged_like_its_folder(package, bags, tmp_path):
    zipped = tmp_path / "pkg.zip"
    write_deterministic_zip(package, zipped, date_time=zip_date_time(0))
    bag = write_bag(zipped, tmp_path / "bag", external_identifier="pkg-3f9a1c2b7d4e")
    assert _digests(bag) == _digests(bags["rocrate"])


def test_parent_folders_are_made_and_executables_stay_executable(package, tmp_path):
    copy = Path(shutil.copytree(package, tmp_path / "pkg"))
    (copy / "notes.md").chmod(0o755)
    bag = write_bag(copy, tmp_path / "a" / "b" / "bag", external_identifier="x")
    assert (bag / "data" / "notes.md").stat().st_mode & 0o777 == 0o755
    assert (bag / "data" / "requirements.txt").stat().st_mode & 0o777 == 0o644


def test_is_bag(bags, package, tmp_path):
    assert is_bag(bags["rocrate"]) and is_bag(bags["weko"])
    assert not is_bag(package) and not is_bag(tmp_path / "absent")
    (tmp_path / "link").symlink_to(bags["rocrate"])
    assert not is_bag(tmp_path / "link")


# --- bags other tools wrote -----------------------------------------------------------------------


def _hand_built(package: Path, root: Path, algorithm: str, *, weko: bool) -> Path:
    """A bag as the RO-Crate and WEKO documents describe it, written file by file (no write_bag)."""
    shutil.copytree(package, root / "data")
    payload = sorted(p.relative_to(root).as_posix() for p in (root / "data").rglob("*") if p.is_file())
    # the equivalent of `find data -type f | xargs sha512sum > manifest-sha512.txt`
    (root / f"manifest-{algorithm}.txt").write_text(
        "".join(f"{hashlib.new(algorithm, (root / p).read_bytes()).hexdigest()}  {p}\n" for p in payload)
    )
    (root / "bagit.txt").write_text("BagIt-Version: 0.97\r\nTag-File-Character-Encoding: UTF-8\r\n")
    if weko:
        metadata = json.loads((package / METADATA).read_text())
        moved = {e["@id"] for e in metadata["@graph"] if e["@type"] == "File"}
        text = json.dumps(metadata)
        for entity_id in moved:
            text = text.replace(f'"@id": "{entity_id}"', f'"@id": "data/{entity_id}"')
        (root / METADATA).write_text(text)
    return root


def test_hand_built_rocrate_bag_is_read(package, tmp_path):
    bag = _hand_built(package, tmp_path / "bag", "sha512", weko=False)
    contents = open_bag(bag)
    assert contents == BagContents("rocrate", bag / "data", None)
    _assert_is_the_package(contents, package)


def test_hand_built_weko_bag_is_read(package, tmp_path):
    bag = _hand_built(package, tmp_path / "bag", "sha256", weko=True)
    contents = open_bag(bag)
    assert contents.layout == "weko"
    _assert_is_the_package(contents, package)


def test_bag_made_by_the_bagit_library_is_read(package, tmp_path):
    bag = Path(shutil.copytree(package, tmp_path / "bag"))
    bagit.make_bag(str(bag), {"External-Identifier": "urn:uuid:24e51ca2-5067-4598-935a-dac4e327d05a"})
    contents = open_bag(bag)
    assert contents.external_identifier == "urn:uuid:24e51ca2-5067-4598-935a-dac4e327d05a"
    _assert_is_the_package(contents, package)


# --- bad bags: declaration and tag files ----------------------------------------------------------


def test_missing_bagit_txt(bag):
    (bag / "bagit.txt").unlink()
    _refused(bag, r"bagit\.txt: missing \(not a bag\)")


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("BagIt-Version: 1.0\n", "must hold BagIt-Version and Tag-File-Character-Encoding once each"),
        ("BagIt-Version: one\nTag-File-Character-Encoding: UTF-8\n", "BagIt-Version 'one' is not MAJOR.MINOR"),
        ("BagIt-Version: 0.96\nTag-File-Character-Encoding: UTF-8\n", r"BagIt-Version 0\.96 is not read"),
        ("BagIt-Version: 1.0\nTag-File-Character-Encoding: ISO-8859-1\n", "'ISO-8859-1' is not read"),
        ("\ufeffBagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", "byte-order mark"),
        ("BagIt-Version 1.0\nTag-File-Character-Encoding: UTF-8\n", "line 1: not 'Label: value'"),
    ],
    ids=["no-encoding", "version-not-a-number", "old-version", "not-utf8", "bom", "no-colon"],
)
def test_malformed_bagit_txt(bag, text, rule):
    (bag / "bagit.txt").write_bytes(text.encode("utf-8"))
    _retag(bag)
    assert "bagit.txt" in _refused(bag, rule)


def test_fetch_txt_is_refused(bag):
    (bag / "fetch.txt").write_text("https://example.org/x 3 data/x\n")
    _refused(bag, r"fetch\.txt: a bag that fetches files is not accepted")


def test_malformed_bag_info(bag):
    with open(bag / "bag-info.txt", "a") as info:
        info.write("no colon here\n")
    _retag(bag)
    _refused(bag, r"bag-info\.txt line 5: not 'Label: value'")


def test_payload_oxum_mismatch(bag):
    info = bag / "bag-info.txt"
    info.write_text(info.read_text().replace("Payload-Oxum: ", "Payload-Oxum: 1"))
    _retag(bag)
    _refused(bag, r"bag-info\.txt: Payload-Oxum 1\d+\.12 but data/ holds \d+ bytes in 12 files")


def test_malformed_payload_oxum(bag):
    info = bag / "bag-info.txt"
    info.write_text(info.read_text().replace("Payload-Oxum: ", "Payload-Oxum: x"))
    _retag(bag)
    _refused(bag, r"bag-info\.txt: Payload-Oxum 'x\d+\.12' is not <bytes>\.<files>")


def test_tag_manifest_mismatch(bag):
    with open(bag / "bag-info.txt", "a") as info:
        info.write("Contact-Name: someone who changed it\n")
    _refused(bag, r"bag-info\.txt: sha512 differs from tagmanifest-sha512\.txt")


def test_tag_manifest_must_vouch_for_the_payload_manifest(bag):
    tagmanifest = bag / "tagmanifest-sha512.txt"
    tagmanifest.write_text("".join(line for line in tagmanifest.open() if "manifest-sha512" not in line))
    _refused(bag, r"manifest-sha512\.txt: not listed in tagmanifest-sha512\.txt")


# --- bad bags: manifests --------------------------------------------------------------------------


def _add_manifest_line(bag: Path, line: str, manifest: str = "manifest-sha512.txt") -> None:
    with open(bag / manifest, "a") as out:
        out.write(line + "\n")
    _retag(bag)


SHA512_OF_NOTHING = hashlib.sha512(b"").hexdigest()


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("nonsense", "not '<hex checksum> <path>'"),
        (f"{SHA512_OF_NOTHING[:-2]}  data/notes.md", "checksum is not 128 hex digits"),
        (f"{SHA512_OF_NOTHING}  ../../etc/passwd", r"'\.\./\.\./etc/passwd' escapes the bag"),
        (f"{SHA512_OF_NOTHING}  data/../../etc/passwd", r"'data/\.\./\.\./etc/passwd' escapes the bag"),
        (f"{SHA512_OF_NOTHING}  /etc/passwd", "'/etc/passwd' is absolute"),
        (f"{SHA512_OF_NOTHING}  ~/.bashrc", "is absolute or starts with ~"),
        (f"{SHA512_OF_NOTHING}  *data/notes.md", r"starts with ~ or \*"),
        (f"{SHA512_OF_NOTHING}  data/./notes.md", "is not a normalised relative path"),
        (f"{SHA512_OF_NOTHING}  data/a%0Ab", "has a %"),
        (f"{SHA512_OF_NOTHING}  data/a\x0bb", "control character"),
        (f"{SHA512_OF_NOTHING}  bagit.txt", "is not under data/"),
        (f"{SHA512_OF_NOTHING}  data/ghost.txt", r"data/ghost\.txt is listed but not a file in the bag"),
    ],
    ids=[
        "not-a-line",
        "short-checksum",
        "dot-dot",
        "dot-dot-under-data",
        "absolute",
        "home",
        "star",
        "dot",
        "percent",
        "control",
        "tag-file-in-payload-manifest",
        "missing-file",
    ],
)
def test_bad_manifest_line(bag, line, rule):
    _add_manifest_line(bag, line)
    _refused(bag, rf"manifest-sha512\.txt line 13: .*{rule}")


def test_duplicate_manifest_entry(bag):
    first = (bag / "manifest-sha512.txt").read_text().splitlines()[0]
    _add_manifest_line(bag, first)
    _refused(bag, r"manifest-sha512\.txt line 13: data/\.repropack/Dockerfile is listed twice")


def test_tag_manifest_listing_a_payload_file(bag):
    _add_manifest_line(bag, f"{SHA512_OF_NOTHING}  data/notes.md", "tagmanifest-sha512.txt")
    _refused(bag, r"tagmanifest-sha512\.txt line 4: 'data/notes\.md' is a payload file")


def test_payload_file_not_in_the_manifest(bag):
    (bag / "data" / "extra.txt").write_text("smuggled\n")
    _refused(bag, r"data/extra\.txt: payload file not listed in manifest-sha512\.txt")


def test_payload_checksum_mismatch(bag):
    notes = bag / "data" / "notes.md"
    notes.write_bytes(notes.read_bytes().upper())  # same size: only the checksum can tell
    _refused(bag, r"data/notes\.md: sha512 differs from manifest-sha512\.txt")


def test_unknown_checksum_algorithm(bag):
    (bag / "manifest-crc32.txt").write_text("")
    _refused(bag, r"manifest-crc32\.txt: not a manifest of a known checksum algorithm")


def test_weak_manifests_alone_are_refused(bag):
    paths = [line.split("  ")[1] for line in (bag / "manifest-sha512.txt").read_text().splitlines()]
    (bag / "manifest-sha512.txt").unlink()
    (bag / "tagmanifest-sha512.txt").unlink()
    (bag / "manifest-md5.txt").write_text(
        "".join(f"{hashlib.md5((bag / p).read_bytes()).hexdigest()}  {p}\n" for p in paths)
    )
    _refused(bag, r"manifest-sha512\.txt: missing: a bag needs a sha256 or sha512 payload manifest")


def test_no_data_folder(bag):
    shutil.rmtree(bag / "data")
    _refused(bag, r"data: the payload folder data/ is missing")


def test_bag_that_is_not_a_package(tmp_path):
    root = tmp_path / "bag"
    (root / "data").mkdir(parents=True)
    (root / "data" / "x.txt").write_text("x\n")
    bagit.make_bag(str(root))
    _refused(root, r"data/ro-crate-metadata\.json: missing: data/ is not a repropack package")


# --- bad bags: links and special files (never followed, never opened) -----------------------------


def _outside_fifo(tmp_path: Path) -> Path:
    fifo = tmp_path / "outside.fifo"
    os.mkfifo(fifo)
    return fifo


def _refused_without_opening(bag: Path, fifo: Path, match: str) -> None:
    """open_bag refuses; had anything opened the FIFO outside the bag, it would block and the thread hang."""
    outcome: list[BaseException] = []
    worker = threading.Thread(target=lambda: outcome.append(_catch(bag)), daemon=True)
    worker.start()
    worker.join(30)
    if worker.is_alive():  # release the reader so the process can end, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("open_bag opened a file outside the bag through a symlink")
    assert isinstance(outcome[0], BadInput), outcome
    assert str(outcome[0]).startswith(f"{bag}: ") and match in str(outcome[0])


def _catch(bag: Path) -> BaseException | None:
    try:
        open_bag(bag)
    except BaseException as exc:
        return exc
    return None


def test_symlink_in_data_to_a_file_outside(bag, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("secret\n")
    (bag / "data" / "link.txt").symlink_to(outside)
    _add_manifest_line(bag, f"{hashlib.sha512(outside.read_bytes()).hexdigest()}  data/link.txt")
    _refused(bag, r"data/link\.txt: symlink in the bag \(links are never followed\)")


def test_symlink_in_data_is_never_opened(bag, tmp_path):
    fifo = _outside_fifo(tmp_path)
    (bag / "data" / "link.txt").symlink_to(fifo)
    _add_manifest_line(bag, f"{SHA512_OF_NOTHING}  data/link.txt")
    _refused_without_opening(bag, fifo, "data/link.txt: symlink in the bag")


def test_symlinked_bagit_txt_is_never_opened(bag, tmp_path):
    fifo = _outside_fifo(tmp_path)
    (bag / "bagit.txt").unlink()
    (bag / "bagit.txt").symlink_to(fifo)
    _refused_without_opening(bag, fifo, "bagit.txt: symlink in the bag")


def test_symlink_to_a_file_inside_the_bag(bag):
    (bag / "data" / "again.md").symlink_to("notes.md")
    _add_manifest_line(bag, f"{hashlib.sha512((bag / 'data' / 'notes.md').read_bytes()).hexdigest()}  data/again.md")
    _refused(bag, r"data/again\.md: symlink in the bag")


def test_symlinked_payload_folder(bag, tmp_path):
    shutil.move(bag / "data", tmp_path / "elsewhere")
    (bag / "data").symlink_to(tmp_path / "elsewhere")
    _refused(bag, r"data: symlink in the bag")


def test_fifo_in_the_payload(bag):
    os.mkfifo(bag / "data" / "pipe")
    _refused(bag, r"data/pipe: not a regular file or folder")


def test_symlinked_bag_root(bags, tmp_path):
    (tmp_path / "link").symlink_to(bags["rocrate"])
    with pytest.raises(BadInput, match=r"link: not a bag folder \(a symlink\)"):
        open_bag(tmp_path / "link")


# --- bad bags: the WEKO layout -----------------------------------------------------------------------


@pytest.fixture
def weko_bag(bags, tmp_path) -> Path:
    return Path(shutil.copytree(bags["weko"], tmp_path / "weko", symlinks=True))


def test_weko_root_metadata_that_says_something_else(weko_bag):
    outer = json.loads((weko_bag / METADATA).read_text())
    next(e for e in outer["@graph"] if e["@id"] == "./")["name"] = "Another study"
    (weko_bag / METADATA).write_text(json.dumps(outer))
    _retag(weko_bag, "sha256")
    _refused(weko_bag, r"ro-crate-metadata\.json: is not data/ro-crate-metadata\.json with data/ paths")


def test_weko_bag_without_the_package_metadata(weko_bag):
    inner = weko_bag / "data" / METADATA
    inner.unlink()
    manifest = weko_bag / "manifest-sha256.txt"
    manifest.write_text("".join(line for line in manifest.open() if METADATA not in line))
    info = weko_bag / "bag-info.txt"
    info.write_text("".join(line for line in info.open() if not line.startswith("Payload-Oxum")))
    _retag(weko_bag, "sha256")
    _refused(weko_bag, r"data/ro-crate-metadata\.json: missing: data/ is not a repropack package")


def test_weko_root_metadata_tampered(weko_bag):
    outer = weko_bag / METADATA
    outer.write_bytes(outer.read_bytes().replace(b"  ", b"\t", 1))
    _refused(weko_bag, r"ro-crate-metadata\.json: sha256 differs from tagmanifest-sha256\.txt")


def test_weko_metadata_moves_only_local_data_entities():
    metadata = {
        "@graph": [
            {"@id": "./", "@type": "Dataset", "hasPart": [{"@id": "a b%20.csv"}, {"@id": "https://x.org/f"}]},
            {"@id": METADATA, "@type": "CreativeWork", "about": {"@id": "./"}},
            {"@id": "a b%20.csv", "@type": "File"},
            {"@id": "https://x.org/f", "@type": "File"},
            {"@id": "#restricted/r.csv", "@type": "File"},
            {"@id": "#run", "@type": "CreativeAction", "object": [{"@id": "a b%20.csv"}, {"@id": "#restricted/r.csv"}]},
        ]
    }
    moved = weko_metadata(metadata)["@graph"]
    assert moved[0]["hasPart"] == [{"@id": "data/a b%20.csv"}, {"@id": "https://x.org/f"}]
    assert moved[1] == metadata["@graph"][1]
    assert [e["@id"] for e in moved[2:5]] == ["data/a b%20.csv", "https://x.org/f", "#restricted/r.csv"]
    assert moved[5]["object"] == [{"@id": "data/a b%20.csv"}, {"@id": "#restricted/r.csv"}]


# --- writing refusals -----------------------------------------------------------------------------


def test_write_refuses_an_existing_folder_and_an_unknown_layout(package, tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(BadInput, match="taken: already exists"):
        write_bag(package, tmp_path / "taken", external_identifier="x")
    with pytest.raises(BadInput, match="unknown bag layout 'zip'"):
        write_bag(package, tmp_path / "new", layout="zip", external_identifier="x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_write_refuses_a_name_no_manifest_carries_alike(package, tmp_path):
    copy = Path(shutil.copytree(package, tmp_path / "pkg"))
    (copy / "100%.txt").write_text("x\n")
    with pytest.raises(BadInput, match=r"100%\.txt: the name has a %"):
        write_bag(copy, tmp_path / "bag", external_identifier="x")
    assert not (tmp_path / "bag").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]


def test_write_refuses_a_symlink_in_the_package(package, tmp_path):
    copy = Path(shutil.copytree(package, tmp_path / "pkg"))
    (copy / "link").symlink_to("/etc/passwd")
    with pytest.raises(BadInput, match="link: symlink in the package"):
        write_bag(copy, tmp_path / "bag", external_identifier="x")


def test_write_refuses_an_identifier_that_would_add_a_tag(package, tmp_path):
    with pytest.raises(BadInput, match="has a control character"):
        write_bag(package, tmp_path / "bag", external_identifier="x\nPayload-Oxum: 0.0")


def test_the_library_says_nothing_on_stdout_or_stderr(bag, capsys):
    (bag / "data" / "notes.md").write_text("# changed\n")
    with pytest.raises(BadInput):
        open_bag(bag)
    assert capsys.readouterr() == ("", "")
