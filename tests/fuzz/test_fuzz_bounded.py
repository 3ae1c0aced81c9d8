"""Bounded fuzzing on every test run: the wire parser and the name rules, with hypothesis.

Each test draws a fixed number of examples from a fixed seed (`derandomize`, no
example database), so a run takes the same inputs every time (about 30 s in all
here) and a failure reproduces exactly. `pytest -m "not fuzz"` leaves it out.
tests/fuzz/fuzz_protocol.py (atheris, by hand) goes deeper when there is time.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftplab import protocol
from ftplab.client.download_file import UnsafeName, numbered_name, safe_name
from ftplab.filenames import MAX_NAME_BYTES, is_listed, is_plain_name, is_servable, typed_form
from ftplab.storage import FileProblem, Storage
from ftplab.usernames import FORBIDDEN_NAME_CHARS, is_invisible, name_key, name_problem

pytestmark = pytest.mark.fuzz


def fuzz(examples: int) -> settings:
    """The same inputs on every run (a seed derived from the test), no saved examples."""
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


CLIENT_EVENTS = (protocol.Line, protocol.FileData, protocol.FileAbort)
SERVER_EVENTS = (
    protocol.Message,
    protocol.Hello,
    protocol.Error,
    protocol.FileStart,
    protocol.FileData,
    protocol.FileAbort,
    protocol.UploadReady,
    protocol.UploadSaved,
    protocol.Bye,
)
SHA = hashlib.sha256(b"").hexdigest()

# --- the wire parser ------------------------------------------------------------------

wire_piece = st.one_of(
    st.binary(max_size=64),
    st.text(max_size=16).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [
            b"profe> ",
            b"ana> ",
            b"pr\xce\xbffe> ",
            b">",
            b"> ",
            b"!DATA ",
            b"!DATA 1\n",
            b"!DATA 262144\n",
            b"!DATA 262145\n",
            b"!DATA 0\n",
            b"!DATA -1\n",
            b"!FILE ",
            f"!FILE 3 {SHA} x\n".encode(),
            b"!HELLO hola\n",
            b"!ERR full ya\n",
            b"!ERR\n",
            b"!ABORT x\n",
            b"!BYE\n",
            b"!NOPE\n",
            b"!!",
            b"\n",
            b"\r",
            b"\r\n",
            b"\x00",
            b"\xff",
            b"\xc3",
            b"9" * 21,
            b"z" * 4095,
            b"z" * 5000,
        ]
    ),
)


@st.composite
def chunked(draw, data: bytes) -> list[bytes]:
    """`data` cut at arbitrary places."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=24)))
    return [data[start:end] for start, end in pairwise([0, *cuts, len(data)])]


def _take_all(receiver: protocol.Receiver, from_server: bool) -> list:
    """Every event and error ready, checked for its direction; a fatal error ends the list."""
    items = []
    while True:
        try:
            event = receiver.next_event()
        except protocol.ProtocolError as error:
            items.append(error)
            if error.fatal:
                return items
            continue
        if event is None:
            return items
        assert isinstance(event, SERVER_EVENTS if from_server else CLIENT_EVENTS), event
        if isinstance(event, protocol.FileData):
            assert 0 < len(event.data) <= protocol.MAX_DATA_BYTES
        items.append(event)


def _comparable(items: list) -> list:
    """Items with file data joined (a frame may arrive in pieces) and errors by kind."""
    result: list = []
    for item in items:
        if isinstance(item, protocol.ProtocolError):
            result.append((type(item).__name__, item.code))
        elif isinstance(item, protocol.FileData) and result and isinstance(result[-1], protocol.FileData):
            result[-1] = protocol.FileData(item.sender, result[-1].data + item.data)
        else:
            result.append(item)
    return result


def _feed(chunks: list[bytes], from_server: bool) -> list:
    receiver = protocol.Receiver(from_server=from_server)
    items: list = []
    for chunk in chunks:
        receiver.feed(chunk)
        assert receiver.buffered < protocol.MAX_LINE_BYTES
        if not (items and isinstance(items[-1], protocol.BadFrame)):
            items += _take_all(receiver, from_server)
    if items and isinstance(items[-1], protocol.BadFrame):
        with pytest.raises(protocol.BadFrame):
            receiver.next_event()  # a fatal error sticks
    return items


@fuzz(1500)
@given(pieces=st.lists(wire_piece, max_size=48), from_server=st.booleans(), data=st.data())
def test_any_bytes_in_any_pieces_give_the_same_events_or_protocol_errors(pieces, from_server, data):
    """Only ProtocolErrors, a bounded buffer, events of the right direction, and
    the same events however the bytes are cut."""
    wire = b"".join(pieces)
    whole = _feed([wire], from_server)
    assert _comparable(_feed(data.draw(chunked(wire)), from_server)) == _comparable(whole)
    assert _comparable(_feed([bytes([byte]) for byte in wire[:6000]], from_server)) == _comparable(
        _feed([wire[:6000]], from_server)
    )


user_names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
    min_size=1,
    max_size=protocol.MAX_NAME_CHARS,
).filter(protocol.is_valid_name)
line_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=60)


@fuzz(1500)
@given(
    sender=user_names,
    text=line_text,
    size=st.integers(0, 2**40),
    payload=st.binary(min_size=1, max_size=300),
    from_server=st.booleans(),
)
def test_every_event_with_any_valid_name_survives_the_wire(sender, text, size, payload, from_server):
    events = (
        [
            protocol.Message(sender, text),
            protocol.Hello(sender, text),
            protocol.FileStart(sender, size, SHA, text or "x"),
            protocol.FileData(sender, payload),
            protocol.Error(sender, "code", text),
            protocol.Bye(sender, text),
        ]
        if from_server
        else [protocol.Line(sender, text)]
    )
    wire = b"".join(protocol.encode(event) for event in events)
    assert _comparable(_feed([wire], from_server)) == events


# --- user names -----------------------------------------------------------------------

any_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


@fuzz(3000)
@given(name=any_text)
def test_the_name_rule_answers_for_any_text_and_a_valid_name_is_a_safe_prefix(name):
    problem = name_problem(name)
    assert problem in (None, "length", "characters")
    name_key(name)  # any text has a key: the server looks up whatever follows "@"
    if problem is None:
        assert not any(is_invisible(ch) or ch.isspace() or ch in FORBIDDEN_NAME_CHARS for ch in name)
        assert protocol.split_prefix(f"{name}> hola") == (name, "hola")


@fuzz(3000)
@given(name=user_names)
def test_every_spelling_of_a_valid_name_has_its_key(name):
    key = name_key(name)
    for form in ("NFC", "NFD", "NFKC", "NFKD"):
        assert name_key(unicodedata.normalize(form, name)) == key, form
    assert name_key(name.casefold()) == key
    assert name_key(key) == key, "a key is its own key"


@fuzz(1500)
@given(name=user_names, position=st.integers(0, protocol.MAX_NAME_CHARS), data=st.data())
def test_an_invisible_character_anywhere_makes_a_name_invalid(name, position, data):
    invisible = data.draw(
        st.sampled_from(["\u034f", "\ufe0f", "\u180b", "\u3164", "\u2800", "\u200b", "\u115f", "\U000e0100"])
    )
    spoof = name[:position] + invisible + name[position:]
    assert name_problem(spoof) is not None


# --- file names -----------------------------------------------------------------------


@fuzz(3000)
@given(name=st.one_of(any_text, st.text(alphabet="aé.\\/ \u0301\u202e\x00\x1b", max_size=300)))
def test_the_file_name_rule_is_one_rule_for_server_and_client(name):
    servable = is_servable(name)
    assert servable <= is_listed(name) <= is_plain_name(name)
    if servable:
        assert safe_name(name) == name
        for copy in (1, 999):
            numbered = numbered_name(name, copy)
            assert numbered != name and is_servable(numbered)
            assert len(os.fsencode(numbered)) <= MAX_NAME_BYTES
    else:
        with pytest.raises(UnsafeName):
            safe_name(name)


served_names = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=60).filter(
    lambda name: is_servable(name) and is_servable(unicodedata.normalize("NFD", name))
)


@fuzz(300)
@given(name=served_names)
def test_a_file_is_found_by_any_canonical_spelling_of_its_name(tmp_path_factory, name):
    root = tmp_path_factory.mktemp("fuzz-root")
    try:
        (root / name).write_bytes(b"x")
    except OSError:
        return  # a name this file system will not store
    storage = Storage(str(root))
    for spelling in {name, typed_form(name), unicodedata.normalize("NFD", name)}:
        try:
            opened = storage.open(spelling)
        except FileProblem as problem:
            raise AssertionError(f"{spelling!r} for {name!r}: {type(problem).__name__}") from None
        opened.close()
        assert opened.name == name
