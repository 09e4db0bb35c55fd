"""GakuNin RDM project zips (issue 14, item 5): read strictly, written as RDM's importer takes them.

The RDM zips read here are built by hand, entry by entry, the way RDM's metadata add-on writes them
(raw path @ids for Files, ``./...//`` ids for RDMFolders, contentSize strings, md5 and sha256 from the
storage, none for wiki pages, a component ``#node1`` under ``node1/``). Each rule ``read_rdm_project``
holds gets its own broken zip and its own message. The package written out is a real export.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from repropack.crate.rdm_project import (
    RDM_CONTEXT,
    check_rdm_zip,
    is_rdm_project,
    read_rdm_project,
    write_rdm_project,
)
from repropack.crate.reader import open_package
from repropack.errors import BadInput
from repropack.export import export_project
from repropack.fs.archive import safe_extract
from repropack.model import Organization, Person
from tests.conftest import isolate_user_dirs, make_project

METADATA = "ro-crate-metadata.json"
ORCID = "0000-0002-1825-0097"
WIKI_TEXT = "# ホーム\nようこそ\n"  # RDM records a wiki page's length in characters

# --- an RDM zip, built as RDM writes it --------------------------------------------------------------


@dataclass
class Crate:
    entries: dict[str, bytes]
    metadata: dict

    def entity(self, identifier: str) -> dict:
        return next(e for e in self.metadata["@graph"] if e["@id"] == identifier)

    def add(self, entity: dict) -> None:
        self.metadata["@graph"].append(entity)


def _file(path: str, data: bytes, *, checksums: tuple[str, ...] = ("md5", "sha256")) -> dict:
    entity = {
        "@id": path,
        "@type": "File",
        "name": path.rpartition("/")[2],
        "encodingFormat": None,
        "contentSize": str(len(data)),
        "dateModified": None,
        "dateCreated": None,
        "keywords": [],
        "rdmURL": "https://rdm.example.org/abcde/",
    }
    entity.update({name: hashlib.new(name, data).hexdigest() for name in checksums})
    return entity


def rdm_crate() -> Crate:
    """A project with nested folders, an empty folder, a wiki page and a component with a file of its own."""
    entries = {
        "root/osfstorage/file_in_root": b"ROOT_DATA",
        "root/osfstorage/sample/file_in_folder": b"FOLDER_DATA",
        "root/osfstorage/sample/sub_folder/file_in_sub_folder": b"SUB_FOLDER_DATA",
        "root/wiki/Home": WIKI_TEXT.encode("utf-8"),
        "node1/osfstorage/file_in_sub_root": b"SUB_DATA",
    }
    files = [_file(path, data) for path, data in entries.items() if "/wiki/" not in path]
    wiki = {**_file("root/wiki/Home", b"", checksums=()), "contentSize": str(len(WIKI_TEXT))}
    wiki["encodingFormat"] = "text/markdown"
    folders = [
        {
            "@id": "./root/osfstorage/sample/sub_folder/",
            "@type": "RDMFolder",
            "name": "sub_folder",
            "hasPart": [{"@id": "root/osfstorage/sample/sub_folder/file_in_sub_folder"}],
        },
        {"@id": "./root/osfstorage/sample/empty/", "@type": "RDMFolder", "name": "empty", "hasPart": []},
        {
            "@id": "./root/osfstorage/sample/",
            "@type": "RDMFolder",
            "name": "sample",
            "hasPart": [
                {"@id": "root/osfstorage/sample/file_in_folder"},
                {"@id": "./root/osfstorage/sample/sub_folder/"},
                {"@id": "./root/osfstorage/sample/empty/"},
            ],
        },
    ]
    graph = [
        {
            "@id": "./",
            "@type": "Dataset",
            "datePublished": "2024-05-01T09:00:00+00:00",
            "hasPart": [{"@id": e["@id"]} for e in [*files, wiki, *folders]],
        },
        {
            "@id": METADATA,
            "@type": "CreativeWork",
            "about": {"@id": "./"},
            "conformsTo": {"@id": "https://w3id.org/ro/crate/1.1"},
        },
        *files,
        wiki,
        *folders,
        {
            "@id": "#root-osfstorage",
            "@type": "RDMAddon",
            "name": "osfstorage",
            "description": "NII Storage",
            "about": {"@id": "#root"},
            "hasPart": [{"@id": "./root/osfstorage/sample/"}, {"@id": "root/osfstorage/file_in_root"}],
        },
        {"@id": "#root-metadata", "@type": "RDMAddon", "name": "metadata", "about": {"@id": "#root"}},
        {
            "@id": "#root-wiki",
            "@type": "RDMAddon",
            "name": "wiki",
            "about": {"@id": "#root"},
            "hasPart": [{"@id": "root/wiki/Home"}],
        },
        {
            "@id": "#node1-osfstorage",
            "@type": "RDMAddon",
            "name": "osfstorage",
            "about": {"@id": "#node1"},
            "hasPart": [{"@id": "node1/osfstorage/file_in_sub_root"}],
        },
        {
            "@id": "#root",
            "@type": "RDMProject",
            "about": {"@id": "./"},
            "name": "Composite study",
            "description": "TEST_COMPOSITE_DESCRIPTION",
            "category": "project",
            "dateCreated": "2024-05-01T09:00:00+00:00",
            "dateModified": "2024-05-02T09:00:00+00:00",
            "creator": {"@id": "#creator0"},
            "contributor": [{"@id": "#creator0"}, {"@id": "#contributor1"}],
            "keywords": ["Composite Node", "survey"],
            "license": {"@id": "CC-BY-4.0"},
            "hasPart": [{"@id": "#node1"}],
        },
        {
            "@id": "CC-BY-4.0",
            "@type": "RDMLicense",
            "name": "CC-By Attribution 4.0 International",
            "url": "https://creativecommons.org/licenses/by/4.0/legalcode",
        },
        {
            "@id": "#node1",
            "@type": "RDMProject",
            "name": "Sub study",
            "description": "TEST_SUB_DESCRIPTION",
            "category": "project",
            "creator": {"@id": "#creator0"},
            "contributor": [{"@id": "#creator0"}],
            "keywords": ["Sub Node"],
            "hasPart": [],
        },
        {
            "@id": "#creator0",
            "@type": "Person",
            "name": "Freddie Mercury",
            "givenName": [{"@value": "Freddie", "@language": "en"}],
            "familyName": [{"@value": "Mercury", "@language": "en"}],
            "identifier": [{"@type": "PropertyValue", "propertyID": "orcid", "value": f"http://orcid.org/{ORCID}"}],
            "affiliation": {"@id": "#Example University#Physics"},
        },
        {
            "@id": "#Example University#Physics",
            "@type": "Organization",
            "name": [{"@language": "en", "@value": "Physics"}, {"@language": "ja", "@value": "物理学科"}],
        },
        {"@id": "#contributor1", "@type": "Person", "name": "Brian May", "identifier": []},
    ]
    return Crate(entries, {"@context": list(RDM_CONTEXT), "@graph": graph})


def write_zip(path: Path, crate: Crate, *, directories: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo(METADATA, (2024, 5, 1, 9, 0, 0)), json.dumps(crate.metadata))
        for name in directories:
            archive.writestr(zipfile.ZipInfo(name, (2024, 5, 1, 9, 0, 0)), b"")
        for name, data in crate.entries.items():
            archive.writestr(zipfile.ZipInfo(name, (2024, 5, 1, 9, 0, 0)), data)
    return path


def extract(zip_path: Path, dest: Path) -> tuple[Path, dict]:
    """What admission does before it asks this module: extract safely, parse the metadata."""
    dest.mkdir()
    safe_extract(zip_path, dest)
    return dest, json.loads((dest / METADATA).read_text(encoding="utf-8"))


def read_zip(zip_path: Path, tmp_path: Path):
    check_rdm_zip(zip_path)
    return read_rdm_project(*extract(zip_path, tmp_path / "extracted"))


def refused(crate: Crate, tmp_path: Path, *, directories: tuple[str, ...] = ()) -> str:
    """The one-line refusal of ``crate`` zipped; fails the test if it is read."""
    with pytest.raises(BadInput) as caught:
        read_zip(write_zip(tmp_path / ".rdm-project-test.zip", crate, directories=directories), tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- reading an RDM zip --------------------------------------------------------------------------------------


def test_an_rdm_zip_is_read_with_its_facts_and_every_file_verified(tmp_path):
    crate = rdm_crate()
    assert is_rdm_project(crate.metadata)
    project = read_zip(write_zip(tmp_path / "p.zip", crate), tmp_path)

    assert project.title == "Composite study"
    assert project.description == "TEST_COMPOSITE_DESCRIPTION"
    assert project.keywords == ("Composite Node", "survey")
    assert project.license == "CC-BY-4.0"
    assert project.creators == (
        Person("Freddie Mercury", Organization("Physics"), f"https://orcid.org/{ORCID}"),
        Person("Brian May"),
    )
    assert [f.path for f in project.files] == sorted(crate.entries)
    for file in project.files:
        data = crate.entries[file.path]
        assert (file.size, file.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    by_path = {f.path: f for f in project.files}
    assert set(by_path["node1/osfstorage/file_in_sub_root"].checksums) == {"md5", "sha256"}
    assert by_path["root/wiki/Home"].checksums == {}
    assert by_path["root/wiki/Home"].encoding_format == "text/markdown"
    assert by_path["root/osfstorage/file_in_root"].encoding_format is None


def test_a_plain_ro_crate_is_not_an_rdm_project():
    assert not is_rdm_project({"@context": "https://w3id.org/ro/crate/1.2/context", "@graph": []})
    assert not is_rdm_project({"@context": ["https://w3id.org/ro/crate/1.1/context"], "@graph": []})


def test_percent_encoded_file_ids_describe_their_entries(tmp_path):
    crate = rdm_crate()
    crate.entries["root/osfstorage/my data.csv"] = b"a,b\n"
    crate.add({**_file("root/osfstorage/my%20data.csv", b"a,b\n"), "name": "my data.csv"})
    crate.entity("#root-osfstorage")["hasPart"].append({"@id": "root/osfstorage/my%20data.csv"})
    project = read_zip(write_zip(tmp_path / "p.zip", crate), tmp_path)
    assert "root/osfstorage/my data.csv" in {f.path for f in project.files}


# --- each rule, broken -------------------------------------------------------------------------------------


def test_an_undescribed_entry_is_refused(tmp_path):
    crate = rdm_crate()
    crate.entries["root/osfstorage/sample/stray.txt"] = b"stray"
    message = refused(crate, tmp_path)
    assert message == "RDM project entry 'root/osfstorage/sample/stray.txt': not described in ro-crate-metadata.json"


def test_an_entry_described_but_in_no_addon_is_unreachable(tmp_path):
    crate = rdm_crate()
    crate.entries["root/osfstorage/orphan.txt"] = b"orphan"
    crate.add(_file("root/osfstorage/orphan.txt", b"orphan"))
    crate.entity("./")["hasPart"].append({"@id": "root/osfstorage/orphan.txt"})  # a Dataset is no RDM container
    message = refused(crate, tmp_path)
    assert message == (
        "RDM project entry 'root/osfstorage/orphan.txt': described, but not reachable from #root"
        " through an RDMAddon's hasPart"
    )


def test_a_folder_of_a_project_not_reached_from_root_is_unreachable(tmp_path):
    crate = rdm_crate()
    crate.entity("#root")["hasPart"] = []  # #node1 is no longer a component, so neither is its storage
    message = refused(crate, tmp_path)
    assert message == "RDM project @id '#node1-osfstorage': an RDMAddon must be about a project reached from #root"


def test_a_wrong_md5_is_refused(tmp_path):
    crate = rdm_crate()
    crate.entity("root/osfstorage/sample/file_in_folder")["md5"] = hashlib.md5(b"other").hexdigest()
    message = refused(crate, tmp_path)
    assert message == (
        "RDM project entry 'root/osfstorage/sample/file_in_folder': md5 differs from the metadata's"
        " (tampered or damaged)"
    )


def test_tampered_bytes_of_the_same_size_are_refused(tmp_path):
    crate = rdm_crate()
    crate.entries["node1/osfstorage/file_in_sub_root"] = b"SUB_DATB"
    message = refused(crate, tmp_path)
    assert message.startswith("RDM project entry 'node1/osfstorage/file_in_sub_root': md5 differs")


def test_a_wrong_content_size_is_refused(tmp_path):
    crate = rdm_crate()
    crate.entity("root/osfstorage/file_in_root")["contentSize"] = "10"
    message = refused(crate, tmp_path)
    assert message == "RDM project entry 'root/osfstorage/file_in_root': contentSize 10 but the entry holds 9 bytes"


def test_a_content_size_that_is_not_a_string_is_refused(tmp_path):
    crate = rdm_crate()
    crate.entity("root/osfstorage/file_in_root")["contentSize"] = 9
    message = refused(crate, tmp_path)
    assert "'root/osfstorage/file_in_root': contentSize 9 is not a string of decimal digits" in message


def test_a_described_file_missing_from_the_zip_is_refused(tmp_path):
    crate = rdm_crate()
    del crate.entries["root/osfstorage/sample/sub_folder/file_in_sub_folder"]
    message = refused(crate, tmp_path)
    assert message == (
        "RDM project entry 'root/osfstorage/sample/sub_folder/file_in_sub_folder':"
        " described in ro-crate-metadata.json but not in the zip"
    )


@pytest.mark.parametrize(
    ("identifier", "why"),
    [
        ("root/osfstorage/../../outside", "a '..' segment"),
        ("root/osfstorage/%2e%2e/%2e%2e/outside", "a '..' segment"),
        ("/etc/passwd", "an absolute path"),
        ("file:///etc/passwd", "a URL, not a path inside it"),
        ("https://example.org/data.csv", "a URL, not a path inside it"),
    ],
)
def test_a_file_id_escaping_the_zip_is_refused(tmp_path, identifier, why):
    crate = rdm_crate()
    crate.entity("root/osfstorage/file_in_root")["@id"] = identifier
    crate.entity("#root-osfstorage")["hasPart"][1] = {"@id": identifier}
    message = refused(crate, tmp_path)
    assert message == f"RDM project @id {identifier!r}: escapes the zip ({why})"


def test_a_contextual_id_with_a_file_url_is_refused(tmp_path):
    crate = rdm_crate()
    crate.entity("#contributor1")["@id"] = "file:///home/someone/.ssh/id_rsa"
    message = refused(crate, tmp_path)
    assert (
        message == "RDM project @id 'file:///home/someone/.ssh/id_rsa': escapes the zip (a URL, not a path inside it)"
    )


@pytest.mark.parametrize(
    "context",
    [
        ["https://w3id.org/ro/crate/1.1/context", "https://w3id.org/ro/terms/workflow-run/context", RDM_CONTEXT[2]],
        ["https://w3id.org/ro/crate/1.1/context", "https://w3id.org/ro/terms/workflow-run"],
        RDM_CONTEXT[2],
    ],
)
def test_a_wrong_context_is_refused(tmp_path, context):
    crate = rdm_crate()
    crate.metadata["@context"] = context
    message = refused(crate, tmp_path)
    assert message.startswith(f"RDM project @context {context!r}: must be {list(RDM_CONTEXT)!r}")


def test_a_directory_entry_in_the_zip_is_refused(tmp_path):
    zip_path = write_zip(tmp_path / "p.zip", rdm_crate(), directories=("root/osfstorage/sample/",))
    with pytest.raises(BadInput) as caught:
        check_rdm_zip(zip_path)
    assert str(caught.value) == (
        "RDM project entry 'root/osfstorage/sample/': a directory entry: RDM project zips have none"
        " (folders are RDMFolder)"
    )


def test_an_empty_folder_extracted_from_a_directory_entry_is_refused(tmp_path):
    # Read without check_rdm_zip: the extracted tree still shows a directory entry that made an empty folder.
    zip_path = write_zip(tmp_path / "p.zip", rdm_crate(), directories=("root/osfstorage/sample/empty/",))
    with pytest.raises(BadInput) as caught:
        read_rdm_project(*extract(zip_path, tmp_path / "x"))
    assert str(caught.value).startswith("RDM project entry 'root/osfstorage/sample/empty/': a directory entry")


def test_names_that_place_a_file_elsewhere_than_its_id_are_refused(tmp_path):
    crate = rdm_crate()
    crate.entity("root/osfstorage/sample/file_in_folder")["name"] = "renamed"
    message = refused(crate, tmp_path)
    assert message == (
        "RDM project @id 'root/osfstorage/sample/file_in_folder': its names place it at root/osfstorage/sample/renamed"
    )


def test_a_name_with_a_slash_is_refused(tmp_path):
    crate = rdm_crate()
    crate.entity("./root/osfstorage/sample/")["name"] = "../sample"
    message = refused(crate, tmp_path)
    assert message == "RDM project @id './root/osfstorage/sample/': name '../sample' is not a single path component"


def test_a_file_claimed_by_two_rdm_containers_is_refused(tmp_path):
    crate = rdm_crate()
    crate.entity("#root-osfstorage")["hasPart"].append({"@id": "root/osfstorage/sample/file_in_folder"})
    message = refused(crate, tmp_path)
    assert message == (
        "RDM project @id 'root/osfstorage/sample/file_in_folder': is in the hasPart of 2 RDM entities"
        " (./root/osfstorage/sample/, #root-osfstorage)"
    )


def test_a_part_missing_from_the_graph_is_refused(tmp_path):
    crate = rdm_crate()
    crate.entity("./root/osfstorage/sample/")["hasPart"].append({"@id": "./root/osfstorage/sample/gone/"})
    message = refused(crate, tmp_path)
    assert message == (
        "RDM project @id './root/osfstorage/sample/gone/': is in the hasPart of ./root/osfstorage/sample/"
        " but not in the crate"
    )


def test_a_component_that_is_not_a_project_is_refused(tmp_path):
    crate = rdm_crate()
    crate.entity("#root")["hasPart"].append({"@id": "#creator0"})
    message = refused(crate, tmp_path)
    assert message == "RDM project @id '#creator0': is in the hasPart of #root but is not an RDMProject in the crate"


def test_a_missing_descriptor_is_refused(tmp_path):
    crate = rdm_crate()
    crate.metadata["@graph"].remove(crate.entity(METADATA))
    message = refused(crate, tmp_path)
    assert message == "RDM project @id 'ro-crate-metadata.json': the RO-Crate descriptor (a CreativeWork) is missing"


def test_a_creator_that_is_not_a_person_is_refused(tmp_path):
    crate = rdm_crate()
    crate.entity("#root")["creator"] = {"@id": "#nobody"}
    message = refused(crate, tmp_path)
    assert message == "RDM project @id '#root': creator or contributor {'@id': '#nobody'} is not a Person in the crate"


def test_an_id_twice_is_refused(tmp_path):
    crate = rdm_crate()
    crate.add(dict(crate.entity("#contributor1")))
    message = refused(crate, tmp_path)
    assert message == "RDM project @id '#contributor1': appears twice in the graph"


# --- writing a package as an RDM zip ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def package(tmp_path_factory) -> Path:
    """A real package (no notebook executed, for speed) with a restricted input and keywords."""
    base = tmp_path_factory.mktemp("rdm-package")
    with pytest.MonkeyPatch.context() as mp:  # the autouse isolation fixture is function-scoped
        isolate_user_dirs(mp, base / "home")
        project = make_project(base / "study")
        config = project / "repropack.toml"
        config.write_text('keywords = ["counts", "groups"]\n' + config.read_text())
        export_project(project, base / "pkg", {"execute": False, "restrict": ("data/*.csv",)})
    return base / "pkg"


def _rdm_walk_path(graph: dict[str, dict], identifier: str) -> str:
    """The upload path RDM's importer builds for an entry: names up the RDM hasPart chain to the add-on."""
    names = [graph[identifier]["name"]]
    while True:
        parents = [
            e for e in graph.values() if e["@type"].startswith("RDM") and {"@id": identifier} in e.get("hasPart", [])
        ]
        assert len(parents) == 1, identifier
        parent = parents[0]
        names.append(parent["name"])
        if parent["@type"] == "RDMAddon":
            assert parent["about"] == {"@id": "#root"}
            return "/".join(reversed(names))
        assert parent["@type"] == "RDMFolder"
        identifier = parent["@id"]


def test_a_written_zip_is_what_rdms_importer_walks(package, tmp_path):
    with open_package(package) as opened:
        zip_path = write_rdm_project(opened, tmp_path / "out.zip")
        restricted = [f.path for f in opened.package.files if f.restricted]
    assert restricted == ["data/input.csv"]
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        metadata = json.loads(archive.read(METADATA))
    assert not [n for n in names if n.endswith("/")]
    assert metadata["@context"] == list(RDM_CONTEXT)
    graph = {e["@id"]: e for e in metadata["@graph"]}
    assert graph["#root"]["@type"] == "RDMProject" and graph["#root"]["name"] == "Study"
    assert graph["#root-osfstorage"]["name"] == "osfstorage"
    for name in names:
        entity = graph[name]  # found by its entry name, as RDM's importer looks it up
        if name == METADATA:
            assert entity["@type"] == "CreativeWork"
            continue
        assert entity["@type"] == "File"
        assert isinstance(entity["contentSize"], str)
        assert {"name", "encodingFormat", "sha256", "md5", "dateModified"} <= entity.keys()
        assert _rdm_walk_path(graph, name) == name.removeprefix("root/")
    assert "root/osfstorage/.repropack/requirements.lock.txt" in names
    assert "root/osfstorage/ro-crate-metadata.json" in names
    assert not [n for n in names if "input.csv" in n]  # a restricted file has no bytes to upload
    assert not [i for i in graph if "input.csv" in i]


def test_a_written_zip_reads_back_with_the_same_files_and_facts(package, tmp_path):
    with open_package(package) as opened:
        zip_path = write_rdm_project(opened, tmp_path)
        model = opened.package
        metadata_bytes = (package / METADATA).read_bytes()
    assert zip_path.parent == tmp_path and zip_path.name.startswith(".rdm-project-")
    project = read_zip(zip_path, tmp_path)
    expected = {f"root/osfstorage/{f.path}": (f.size, f.sha256) for f in model.files if not f.restricted}
    expected[f"root/osfstorage/{METADATA}"] = (len(metadata_bytes), hashlib.sha256(metadata_bytes).hexdigest())
    assert {f.path: (f.size, f.sha256) for f in project.files} == expected
    assert all(set(f.checksums) == {"md5", "sha256"} for f in project.files)
    meta = model.metadata
    assert (project.title, project.description, project.license) == (meta.title, meta.description, meta.license)
    assert project.keywords == meta.keywords == ("counts", "groups")
    assert project.creators == meta.authors


def test_writing_twice_gives_the_same_bytes_and_never_overwrites_unasked(package, tmp_path):
    with open_package(package) as opened:
        first = write_rdm_project(opened, tmp_path / "a.zip")
        second = write_rdm_project(opened, tmp_path / "b.zip")
        assert first.read_bytes() == second.read_bytes()
        second.write_bytes(b"kept")
        with pytest.raises(BadInput, match="already exists"):
            write_rdm_project(opened, second)
        assert second.read_bytes() == b"kept"
        write_rdm_project(opened, second, replace=True)
    assert second.read_bytes() == first.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip", "b.zip"]  # no temp sibling left


def test_a_package_file_changed_since_export_is_refused_and_nothing_written(package, tmp_path):
    changed = tmp_path / "pkg"
    shutil.copytree(package, changed)
    (changed / "notes.md").write_text("# edited\n")
    out = tmp_path / "out"
    out.mkdir()
    with open_package(changed) as opened, pytest.raises(BadInput) as caught:
        write_rdm_project(opened, out / "p.zip")
    assert str(caught.value) == "package file 'notes.md': differs from its recorded sha256 or size"
    assert list(out.iterdir()) == []


def test_an_unsafe_addon_name_is_refused(package, tmp_path):
    with open_package(package) as opened, pytest.raises(BadInput, match="RDM add-on name '../x'"):
        write_rdm_project(opened, tmp_path / "p.zip", addon="../x")
    assert list(tmp_path.iterdir()) == []


def test_a_file_listed_twice_by_its_folder_is_refused(tmp_path):
    crate = rdm_crate()
    crate.entity("./root/osfstorage/sample/")["hasPart"].append({"@id": "root/osfstorage/sample/file_in_folder"})
    message = refused(crate, tmp_path)
    assert message == (
        "RDM project @id 'root/osfstorage/sample/file_in_folder': is listed twice in the hasPart of"
        " ./root/osfstorage/sample/"
    )
