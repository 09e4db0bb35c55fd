"""The one mapping between package paths and data entity @ids (``model.layout``)."""

from __future__ import annotations

import re
import string
import unicodedata
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from repropack.model.layout import RESTRICTED_ID_PREFIX, entity_id, path_of_entity

# What an @id may hold as it is: RFC 3986 unreserved ASCII, "/", a percent sign that starts an escape,
# and non-ASCII characters (RO-Crate 1.2 wants international characters native).
_ID_SHAPE = re.compile(r"^(?:[A-Za-z0-9\-._~/]|%[0-9A-F]{2}|[^\x00-\x7f])*$")


@pytest.mark.parametrize(
    "path, expected",
    [
        ("data/input.csv", "data/input.csv"),
        ("my notes.md", "my%20notes.md"),
        ("a%20b.csv", "a%2520b.csv"),  # a literal %20 in the name survives
        ("run #1?.csv", "run%20%231%3F.csv"),
        ("a+b&c=d.csv", "a%2Bb%26c%3Dd.csv"),
        ("c:drive.csv", "c%3Adrive.csv"),  # never read as a scheme
        ("[red]x[/red].csv", "%5Bred%5Dx%5B/red%5D.csv"),
        ("\"q\" 'q' (p).csv", "%22q%22%20%27q%27%20%28p%29.csv"),
        ("-x/.hidden~", "-x/.hidden~"),
        ("データ 2024/利用 回数.csv", "データ%202024/利用%20回数.csv"),
        ("Chapter 4 - café 🚲.ipynb", "Chapter%204%20-%20café%20🚲.ipynb"),
    ],
)
def test_entity_id_percent_encodes_ascii_that_a_uri_path_cannot_hold_and_keeps_international_text(path, expected):
    assert entity_id(path, False) == expected
    assert path_of_entity(expected) == path


def test_a_restricted_id_encodes_its_path_too():
    assert entity_id("secret/50% #1.csv", True) == "#restricted/secret/50%25%20%231.csv"
    assert path_of_entity("#restricted/secret/50%25%20%231.csv") == "secret/50% #1.csv"
    assert entity_id("data/%41.csv", True) == "#restricted/data/%2541.csv"  # not "A.csv" when read back


def test_ascii_ids_are_the_ones_ro_crate_py_makes():
    path = string.printable[:94].replace("/", "") + "/x"
    assert entity_id(path, False) == quote(path)


def test_normalisation_is_kept_as_it_is():
    nfc, nfd = unicodedata.normalize("NFC", "café.csv"), unicodedata.normalize("NFD", "café.csv")
    assert nfc != nfd
    assert entity_id(nfc, False) == nfc
    assert entity_id(nfd, False) == nfd  # combining accent: native, not re-composed
    assert path_of_entity(entity_id(nfd, False)) == nfd


@pytest.mark.parametrize(
    "char, encoded",
    [("\u202e", "%E2%80%AE"), ("\ue000", "%EE%80%80"), ("\ufffe", "%EF%BF%BE"), ("\x85", "%C2%85")],
)
def test_characters_an_iri_may_not_hold_are_percent_encoded_as_utf8(char, encoded):
    assert entity_id(f"a{char}b", False) == f"a{encoded}b"
    assert path_of_entity(f"a{encoded}b") == f"a{char}b"


def test_a_name_that_is_not_utf8_has_no_id():
    with pytest.raises(UnicodeEncodeError):
        entity_id("caf\udce9.csv", False)


@given(path=st.text(st.characters(exclude_categories=("Cs",)), min_size=1), restricted=st.booleans())
def test_every_path_round_trips_and_its_id_is_a_uri_path(path, restricted):
    made = entity_id(path, restricted)
    assert path_of_entity(made) == path
    body = made.removeprefix(RESTRICTED_ID_PREFIX) if restricted else made
    assert made.startswith(RESTRICTED_ID_PREFIX) is restricted
    assert _ID_SHAPE.match(body), body  # so no space, "#", "?" or lone "%" is left in it
