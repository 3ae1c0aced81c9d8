"""text.visible: nothing a peer sends may drive the reader's terminal."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ftplab.text import visible

ZWJ = "\u200d"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[31mrojo\x1b[0m", "\\x1b[31mrojo\\x1b[0m"),
        ("\x1b]0;titulo\x07", "\\x1b]0;titulo\\x07"),
        ("\x1b]8;;http://x\x1b\\enlace", "\\x1b]8;;http://x\\x1b\\enlace"),
        ("ding\x07", "ding\\x07"),
        ("falso\rprofe> hola", "falso\\x0dprofe> hola"),
        ("linea\nprofe> !BYE", "linea\\x0aprofe> !BYE"),
        ("c1\x85", "c1\\x85"),
        ("csi\x9b2J", "csi\\x9b2J"),
        ("txt\u202egnp.exe", "txt\\u202egnp.exe"),
        ("\u2066a\u2067b\u2068c\u2069", "\\u2066a\\u2067b\\u2068c\\u2069"),
        ("\u200fx", "\\u200fx"),
        ("nul\x00", "nul\\x00"),
        ("del\x7f", "del\\x7f"),
        ("tab\t", "tab\\x09"),
        ("sep\u2028par\u2029", "sep\\u2028par\\u2029"),
        ("bom\ufeff", "bom\\ufeff"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("\ud800", "\\ud800"),
    ],
)
def test_unsafe_characters_become_visible_escapes(raw, shown):
    assert visible(raw) == shown


@pytest.mark.parametrize(
    "text",
    [
        "hola",
        "canción ñandú über façade",
        "a b  c",
        "😀👋🏽",
        "👩\u200d💻 y 👨\u200d👩\u200d👧",
        "🏳️\u200d🌈",
        "李小龙 עברית العربية",
        "\\x1b literal",
        "",
    ],
)
def test_ordinary_text_is_untouched(text):
    assert visible(text) == text


UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


@given(st.text())
def test_no_control_format_or_line_separator_survives(text):
    shown = visible(text)
    assert all(unicodedata.category(ch) not in UNSAFE_CATEGORIES or ch == ZWJ for ch in shown)


@given(st.text(alphabet=st.characters(blacklist_categories=("C", "Z")) | st.just(" ")))
def test_printable_text_is_returned_as_is(text):
    assert visible(text) == text


@example("\u00a0")
@example("\ue000")
@given(st.text())
def test_output_is_always_printable(text):
    # The zero-width joiner is kept on purpose, inside emoji sequences.
    assert visible(text).replace(ZWJ, "").isprintable()
