"""User names: invisible characters are refused, and look-alikes are one name."""

from __future__ import annotations

import unicodedata

import pytest

from ftplab import protocol
from ftplab.usernames import is_invisible, name_key, name_problem

INVISIBLE_TAILS = {
    "combining grapheme joiner": "\u034f",
    "variation selector 16": "\ufe0f",
    "variation selector 1": "\ufe00",
    "Mongolian free variation selector": "\u180b",
    "Mongolian vowel separator": "\u180e",
    "Hangul filler": "\u3164",
    "half-width Hangul filler": "\uffa0",
    "Hangul choseong filler": "\u115f",
    "braille blank": "\u2800",
    "soft hyphen": "\u00ad",
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "word joiner": "\u2060",
    "BOM": "\ufeff",
    "tag": "\U000e0041",
    "variation selector 17": "\U000e0100",
    "Khmer inherent vowel": "\u17b4",
}


@pytest.mark.parametrize("tail", INVISIBLE_TAILS.values(), ids=INVISIBLE_TAILS.keys())
def test_a_name_hiding_an_invisible_character_is_refused(tail):
    assert name_problem("profe" + tail) == "characters"
    assert name_problem("pro" + tail + "fe") == "characters"
    assert is_invisible(tail)


@pytest.mark.parametrize("name", ["a\uff1eb", "a\uff20b", "a\uff01b", "a\u3000b"])
def test_a_name_whose_compatibility_form_breaks_the_rules_is_refused(name):
    """Full-width `＞ ＠ ！` and the ideographic space are `> @ !` and a space under NFKC."""
    assert name_problem(name) == "characters"


@pytest.mark.parametrize("name", ["José", "Jose\u0301", "Zoë", "Ωmega", "田中", "ana_2", "Ὀδυσσεύς", "Аня"])
def test_ordinary_names_in_any_script_are_valid(name):
    assert name_problem(name) is None


@pytest.mark.parametrize(
    "look_alike",
    [
        "pr\u03bffe",  # Greek small omicron
        "prof\u0435",  # Cyrillic small ie
        "\u0440rofe",  # Cyrillic small er
        "\u03a1ROFE",  # Greek capital rho, then Latin capitals
        "PR\u041eFE",  # Cyrillic capital o
        "pr0fe",  # digit zero
        "\uff50\uff52\uff4f\uff46\uff45",  # full-width
        "PROFE",
    ],
)
def test_look_alikes_of_a_name_have_its_key(look_alike):
    assert name_key(look_alike) == name_key("profe")


def test_nfc_and_nfd_spellings_are_one_name():
    nfc, nfd = unicodedata.normalize("NFC", "José"), unicodedata.normalize("NFD", "José")
    assert nfc != nfd
    assert name_key(nfc) == name_key(nfd) == name_key("JOSÉ")


def test_every_case_spelling_of_a_name_has_one_key():
    for name in ("Ана", "Νίκος", "Straße", "Ǆemal", "ΣΊΣΥΦΟΣ"):
        assert name_key(name) == name_key(name.upper()) == name_key(name.lower()), name


@pytest.mark.parametrize(
    ("one", "other"), [("ana", "ana2"), ("José", "Jose"), ("ana", "ann"), ("Аня", "Ana")]
)
def test_different_names_keep_different_keys(one, other):
    assert name_key(one) != name_key(other)


def test_the_protocol_uses_these_rules():
    assert protocol.name_key("pr\u03bffe") == protocol.name_key("Profe")
    assert not protocol.is_valid_name("profe\u034f")
    with pytest.raises(protocol.BadName):
        protocol.split_prefix("profe\u2800> hola")
