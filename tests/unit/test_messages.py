"""messages: the Spanish and English catalogues, and human_size."""

from __future__ import annotations

import string

import pytest

from ftplab.messages import CATALOGUES, ENGLISH, HELP_KEYS, SPANISH, Messages, human_size


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def test_catalogues_have_the_same_keys():
    assert set(SPANISH) == set(ENGLISH)


@pytest.mark.parametrize("key", sorted(SPANISH))
def test_same_placeholders_in_both_languages(key):
    assert placeholders(SPANISH[key]) == placeholders(ENGLISH[key])


@pytest.mark.parametrize("language", sorted(CATALOGUES))
def test_every_message_formats(language):
    messages = Messages(language)
    for key, template in CATALOGUES[language].items():
        text = messages(key, **dict.fromkeys(placeholders(template), "X"))
        assert "{" not in text and "}" not in text


def test_help_keys_exist_in_both_languages():
    assert set(HELP_KEYS) <= set(SPANISH)
    assert set(HELP_KEYS) <= set(ENGLISH)


def test_spanish_no_such_file():
    assert SPANISH["no_such_file"] == "El archivo no existe"
    assert Messages("es")("no_such_file_named", name="nada.txt") == "El archivo no existe: nada.txt"


def test_spanish_is_the_default():
    assert Messages().language == "es"
    assert Messages("fr").language == "es"
    assert Messages()("no_such_file") == "El archivo no existe"


def test_english():
    assert Messages("en")("no_such_file_named", name="x") == "No such file: x"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (1024**2, "1.0 MiB"),
        (5 * 1024**2 + 1024**2 // 2, "5.5 MiB"),
        (1024**3, "1.0 GiB"),
        (3 * 1024**4, "3072.0 GiB"),
    ],
)
def test_human_size(size, text):
    assert human_size(size) == text


@pytest.mark.parametrize("size", [1024**2 - 1, 1024**3 - 1])
def test_human_size_never_shows_1024_of_a_unit(size):
    assert not human_size(size).startswith("1024.0")
