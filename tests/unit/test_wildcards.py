"""wildcards: `mget` patterns match as the shell's (and fnmatch's) do, but a pattern from the
network costs bounded time and no memory that outlives the command (issue 19, item 1:
unclosed `[` made fnmatch compile in quadratic time and cache every pattern for good)."""

from __future__ import annotations

import fnmatch
import gc
import time
import tracemalloc
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_handlers import FakeDownloads, FakeRoom, line

from ftplab.handlers import Handlers
from ftplab.protocol import ErrorCode
from ftplab.session import Session
from ftplab.storage import Entry, Storage
from ftplab.wildcards import (
    MAX_MATCH_STEPS,
    MAX_PATTERN_CHARS,
    PatternTooCostly,
    PatternTooLong,
    UnclosedBracket,
    Wildcard,
    matching_names,
)


def entries(*names: str) -> list[Entry]:
    return [Entry(name, 1, 0.0, name) for name in names]


def matches(pattern: str, name: str) -> bool:
    return matching_names(entries(name), Wildcard.parse(pattern)) == [name]


# --- what a pattern means --------------------------------------------------------------

TOKENS = st.sampled_from(["a", "b", ".", "-", "*", "?", "[ab]", "[!a]", "[a-c]", "[]a]", "[a-]", "[!]b]"])


@given(st.lists(TOKENS, max_size=8).map("".join), st.text(alphabet="ab.-]c", max_size=10))
def test_a_well_formed_pattern_matches_as_fnmatch_does(pattern, name):
    assert matches(pattern, name) == fnmatch.fnmatchcase(name, pattern)


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("*.txt", "notas.txt", True),
        ("*.txt", "notas.txt.bak", False),
        ("foto_??.jpg", "foto_01.jpg", True),
        ("foto_??.jpg", "foto_1.jpg", False),
        ("[a-c]*", "clase", True),
        ("[!a-c]*", "clase", False),
        ("[]]x", "]x", True),
        ("a*b*c", "aXbYbZc", True),
        ("a*b*c", "aXcYb", False),
        ("**", "", True),
        ("", "", True),
        ("[[]x", "[x", True),
    ],
)
def test_examples(pattern, name, expected):
    assert matches(pattern, name) is expected


def test_names_and_patterns_are_compared_in_normal_form_c():
    decomposed = unicodedata.normalize("NFD", "Café.txt")
    assert matches("Caf?.txt", decomposed)
    assert matches(unicodedata.normalize("NFC", "Café*"), decomposed)


def test_names_shown_escaped_never_match():
    listed = [Entry("a.txt", 1, 0.0, "a.txt"), Entry("b\x1b.txt", 1, 0.0, "b\\x1b.txt")]
    assert matching_names(listed, Wildcard.parse("*.txt")) == ["a.txt"]


# --- what a pattern may cost -----------------------------------------------------------


def test_an_unclosed_bracket_is_refused_at_once():
    started = time.perf_counter()
    with pytest.raises(UnclosedBracket):
        Wildcard.parse("[" * MAX_PATTERN_CHARS)
    with pytest.raises(UnclosedBracket):
        Wildcard.parse("notas[1.txt")
    assert time.perf_counter() - started < 0.05


def test_a_pattern_longer_than_the_limit_is_refused_unread():
    started = time.perf_counter()
    with pytest.raises(PatternTooLong):
        Wildcard.parse("[" * 4000)
    assert time.perf_counter() - started < 0.05


def test_matching_a_big_folder_stops_at_its_step_budget():
    folder = entries(*(f"{'a' * 200}{index:05d}" for index in range(5000)))
    started = time.perf_counter()
    with pytest.raises(PatternTooCostly):
        matching_names(folder, Wildcard.parse("[ab]" * 120 + "*"))
    assert time.perf_counter() - started < 0.5, f"{MAX_MATCH_STEPS} steps should take milliseconds"


def test_a_plain_pattern_over_a_big_folder_stays_within_the_budget():
    """The budget grows with the folder (as listing it already did): a simple pattern always fits."""
    folder = entries(*(f"foto_{index:05d}.jpg" for index in range(30_000)))
    assert len(matching_names(folder, Wildcard.parse("foto_*.jpg"))) == 30_000
    assert matching_names(folder, Wildcard.parse("*.png")) == []


# --- through mget ----------------------------------------------------------------------


@pytest.fixture
def mget(tmp_path, sockets):
    """`mget(pattern)` from a joined client: the errors the room was asked to send."""
    (tmp_path / "notas.txt").write_text("x")
    room = FakeRoom()
    handlers = Handlers(room, FakeDownloads(), Storage(str(tmp_path)))
    ana = Session(sockets(), ("127.0.0.1", 40000), now=0.0)
    room.add_member(ana, "ana")
    clock = iter(range(1_000_000))  # a second between commands: never held by the command rate

    def send(pattern: str) -> list[tuple[ErrorCode, str]]:
        assert handlers.on_line(ana, line(ana, f"mget {pattern}"), float(next(clock)))
        errors = [(code, key) for (_, code, key), _ in room.called("send_error")]
        room.calls.clear()  # the fake room's record is not the server's memory
        return errors

    return send


def test_mget_with_4000_unclosed_brackets_is_refused_fast(mget):
    started = time.perf_counter()
    assert mget("[" * 4000) == [(ErrorCode.USAGE, "pattern_too_long")]
    assert mget("[" * 500) == [(ErrorCode.USAGE, "pattern_unclosed_bracket")]
    assert time.perf_counter() - started < 0.1


def test_mget_patterns_leave_no_cache_behind(mget):
    """200 distinct long patterns: nothing kept, in fnmatch's cache or anywhere."""
    cached_before = fnmatch._compile_pattern.cache_info().currsize
    mget("warm-up*")
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for index in range(100):
            assert mget("[" * 400 + f"{index:03d}*") == [(ErrorCode.USAGE, "pattern_unclosed_bracket")]
            assert mget("[!x]" * 100 + f"{index:03d}*") == [(ErrorCode.NO_MATCH, "no_match")]
        gc.collect()  # a refused pattern's exception and its frames are a cycle, freed by the collector
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert fnmatch._compile_pattern.cache_info().currsize == cached_before
    assert grown < 16 * 1024, f"{grown} bytes kept after 200 patterns"
