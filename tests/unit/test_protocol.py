"""The sans-IO wire protocol: encoding, decoding, framing limits and errors."""

from __future__ import annotations

import hashlib
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftplab import protocol
from ftplab.protocol import (
    MAX_DATA_BYTES,
    MAX_LINE_BYTES,
    BadEncoding,
    BadFrame,
    BadName,
    Bye,
    Error,
    FileAbort,
    FileData,
    FileStart,
    Hello,
    Line,
    LineTooLong,
    LocalProtocolError,
    Message,
    MissingPrefix,
    Receiver,
    encode,
)

SHA = hashlib.sha256(b"hola").hexdigest()

# --- helpers -----------------------------------------------------------------


def drain(receiver: Receiver) -> list:
    """Every event and error the receiver has ready, in order.

    Errors are items of the list. A fatal error ends the list, since the
    receiver would raise it again forever."""
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
        items.append(event)


def merged(items: list) -> list:
    """Consecutive FileData events of one sender joined: a frame may arrive split."""
    result: list = []
    for item in items:
        previous = result[-1] if result else None
        if isinstance(item, FileData) and isinstance(previous, FileData) and previous.sender == item.sender:
            result[-1] = FileData(item.sender, previous.data + item.data)
        else:
            result.append(item)
    return result


def feed_in_chunks(receiver: Receiver, data: bytes, size: int) -> list:
    """Feed `data` `size` bytes at a time, checking the buffer bound after each."""
    items = []
    for start in range(0, len(data), size):
        receiver.feed(data[start : start + size])
        assert receiver.buffered <= MAX_LINE_BYTES
        items += drain(receiver)
    return items


def decode_all(data: bytes, *, from_server: bool = True) -> list:
    receiver = Receiver(from_server=from_server)
    receiver.feed(data)
    return drain(receiver)


def errors_in(items: list) -> list[type]:
    return [type(item) for item in items if isinstance(item, Exception)]


def line_of(total_bytes: int, *, ending: bytes = b"\n") -> bytes:
    """A client line `ana> xxx...` of exactly `total_bytes`, ending included."""
    prefix = b"ana> "
    return prefix + b"x" * (total_bytes - len(prefix) - len(ending)) + ending


# --- server events -------------------------------------------------------------

SERVER_EVENTS = [
    Message("profe", "hola"),
    Message("ana", "¿ya tienes el archivo? 👩‍💻"),
    Message("profe", ""),
    Message("profe", "!HELLO soy falso"),
    Message("profe", "!!doble"),
    Message("profe", "!"),
    Hello("profe", "Hola, ana. Conectados: 1."),
    Hello("profe", ""),
    Error("profe", "nofile", "El archivo no existe: notas.txt"),
    Error("profe", "usage", ""),
    FileStart("profe", 300000, SHA, "canción de prueba.txt"),
    FileStart("profe", 0, SHA, "  espacios  "),
    FileData("profe", b"abc\nprofe> !BYE falso\n\r\n"),
    FileData("profe", bytes(range(256))),
    FileAbort("profe", "Transferencia interrumpida: notas.txt"),
    Bye("profe", "Adiós, ana"),
]


@pytest.mark.parametrize("event", SERVER_EVENTS, ids=repr)
def test_server_event_round_trip_whole(event):
    assert decode_all(encode(event)) == [event]


@pytest.mark.parametrize("event", SERVER_EVENTS, ids=repr)
def test_server_event_round_trip_byte_by_byte(event):
    receiver = Receiver(from_server=True)
    assert merged(feed_in_chunks(receiver, encode(event), 1)) == [event]
    assert receiver.buffered == 0


@pytest.mark.parametrize("event", SERVER_EVENTS, ids=repr)
def test_server_event_followed_by_part_of_next_message(event):
    following = encode(Message("bob", "sigo aquí"))
    receiver = Receiver(from_server=True)
    receiver.feed(encode(event) + following[:7])
    assert drain(receiver) == [event]
    assert receiver.buffered == 7
    receiver.feed(following[7:])
    assert drain(receiver) == [Message("bob", "sigo aquí")]
    assert receiver.buffered == 0


def test_control_lines_on_the_wire():
    assert encode(Hello("profe", "hola")) == b"profe> !HELLO hola\n"
    assert encode(Error("profe", "nofile", "no")) == b"profe> !ERR nofile no\n"
    assert encode(FileStart("profe", 5, SHA, "a b.txt")) == f"profe> !FILE 5 {SHA} a b.txt\n".encode()
    assert encode(FileData("profe", b"12\n45")) == b"profe> !DATA 5\n12\n45"
    assert encode(FileAbort("profe", "x")) == b"profe> !ABORT x\n"
    assert encode(Bye("profe", "chao")) == b"profe> !BYE chao\n"


# --- client lines ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (b"ana> get notas.txt\n", Line("ana", "get notas.txt")),
        (b"ana> \n", Line("ana", "")),
        (b"ana>\n", Line("ana", "")),
        (b"ana> !!DATA 5\n", Line("ana", "!DATA 5")),
        (b"ana> !XYZ\n", Line("ana", "!XYZ")),
        (b"ana> !hola\n", Line("ana", "!hola")),
        (b"ana> a> b\n", Line("ana", "a> b")),
        ("Ñandú> ¡hola!\n".encode(), Line("Ñandú", "¡hola!")),
    ],
)
def test_client_line(wire, expected):
    assert decode_all(wire, from_server=False) == [expected]


def test_client_line_round_trip():
    line = Line("ana", "@bob ¿vienes?")
    assert encode(line) == protocol.encode_command("ana", "@bob ¿vienes?")
    assert decode_all(encode(line), from_server=False) == [line]


def test_client_chat_starting_with_a_bang_travels_escaped():
    # "!DATA" and "!ABORT" from a client carry uploads, so typed text starting
    # with "!" goes as "!!" and comes out as typed.
    for text in ("!DATA 3", "!ABORT ya", "!hola"):
        wire = protocol.encode_command("ana", text)
        assert wire.startswith(b"ana> !!")
        assert decode_all(wire, from_server=False) == [Line("ana", text)]


# --- line endings ------------------------------------------------------------------


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_line_endings(ending):
    assert decode_all(b"ana> hola" + ending + b"ana> adios" + ending, from_server=False) == [
        Line("ana", "hola"),
        Line("ana", "adios"),
    ]


def test_crlf_split_between_feeds():
    receiver = Receiver(from_server=False)
    receiver.feed(b"ana> hola\r")
    assert drain(receiver) == []
    receiver.feed(b"\n")
    assert drain(receiver) == [Line("ana", "hola")]


@pytest.mark.parametrize(
    ("wire", "text"),
    [
        (b"ana> a\rb\n", "a\rb"),
        (b"ana> \rforged\n", "\rforged"),
        (b"ana> hola\r\r\n", "hola\r"),
    ],
)
def test_stray_cr_is_text_not_a_terminator(wire, text):
    assert decode_all(wire, from_server=False) == [Line("ana", text)]


def test_stray_cr_in_server_message_is_text():
    assert decode_all(b"bob> uno\rprofe> !BYE x\n") == [Message("bob", "uno\rprofe> !BYE x")]


# --- ! escaping ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("!BYE adios", b"profe> !!BYE adios\n"),
        ("!!", b"profe> !!!\n"),
        ("!", b"profe> !!\n"),
        ("hola!", b"profe> hola!\n"),
    ],
)
def test_display_text_starting_with_bang_is_escaped(text, wire):
    assert encode(Message("profe", text)) == wire
    assert decode_all(wire) == [Message("profe", text)]


# --- !DATA payloads --------------------------------------------------------------------


def test_data_payload_with_lf_and_fake_lines_is_not_parsed():
    payload = b"profe> !BYE falso\nprofe> !DATA 99999\n\n\r\n!FILE"
    wire = encode(FileData("profe", payload)) + encode(Message("profe", "fin"))
    for size in (1, 3, len(wire)):
        assert merged(feed_in_chunks(Receiver(from_server=True), wire, size)) == [
            FileData("profe", payload),
            Message("profe", "fin"),
        ]


def test_chat_between_data_frames():
    content = bytes(range(256)) * 3
    wire = (
        encode(FileStart("profe", len(content), hashlib.sha256(content).hexdigest(), "x.bin"))
        + encode(FileData("profe", content[:500]))
        + encode(Message("bob", "hola"))
        + encode(FileData("profe", content[500:]))
    )
    items = decode_all(wire)
    assert [type(item) for item in items] == [FileStart, FileData, Message, FileData]
    assert b"".join(item.data for item in items if isinstance(item, FileData)) == content


def test_data_payload_of_maximum_size():
    payload = b"\n" * MAX_DATA_BYTES
    assert merged(decode_all(encode(FileData("profe", payload)))) == [FileData("profe", payload)]


# --- LineTooLong -----------------------------------------------------------------------------


def test_line_of_max_bytes_including_lf_is_accepted():
    wire = line_of(MAX_LINE_BYTES)
    assert len(wire) == MAX_LINE_BYTES
    assert decode_all(wire, from_server=False) == [Line("ana", "x" * (MAX_LINE_BYTES - 6))]


def test_line_of_max_bytes_including_crlf_is_accepted():
    wire = line_of(MAX_LINE_BYTES, ending=b"\r\n")
    assert decode_all(wire, from_server=False) == [Line("ana", "x" * (MAX_LINE_BYTES - 7))]


@pytest.mark.parametrize("from_server", [False, True])
def test_line_one_byte_over_the_limit_is_too_long(from_server):
    items = decode_all(line_of(MAX_LINE_BYTES + 1) + b"ana> sigue\n", from_server=from_server)
    assert errors_in(items) == [LineTooLong]
    assert items[-1] == (Message if from_server else Line)("ana", "sigue")


def test_line_with_max_bytes_before_its_lf_is_too_long():
    wire = b"ana> " + b"x" * (MAX_LINE_BYTES - 5) + b"\n"
    assert errors_in(decode_all(wire, from_server=False)) == [LineTooLong]


@pytest.mark.parametrize("chunk", [1000, 4095, 4096, 4097, 65536])
def test_many_mib_line_is_one_error_and_memory_stays_bounded(chunk):
    huge = b"ana> " + b"y" * (8 * 1024 * 1024) + b"\n"
    wire = huge + b"ana> sigue\n"
    items = feed_in_chunks(Receiver(from_server=False), wire, chunk)  # checks `buffered` after each feed
    assert errors_in(items) == [LineTooLong]
    assert items[-1] == Line("ana", "sigue")


def test_too_long_is_reported_before_the_lf_arrives():
    receiver = Receiver(from_server=False)
    receiver.feed(b"ana> " + b"z" * MAX_LINE_BYTES)
    assert receiver.buffered <= MAX_LINE_BYTES
    assert errors_in(drain(receiver)) == [LineTooLong]
    receiver.feed(b"z" * MAX_LINE_BYTES * 3)
    assert receiver.buffered == 0
    assert drain(receiver) == []
    receiver.feed(b"zz\nana> ok\n")
    assert drain(receiver) == [Line("ana", "ok")]


def test_partial_line_never_reaches_max_bytes():
    receiver = Receiver(from_server=False)
    receiver.feed(line_of(MAX_LINE_BYTES)[:-1])
    assert receiver.buffered == MAX_LINE_BYTES - 1
    receiver.feed(b"x")
    assert receiver.buffered == 0
    assert errors_in(drain(receiver)) == [LineTooLong]


def test_two_overlong_lines_give_two_errors():
    wire = line_of(MAX_LINE_BYTES * 2) + line_of(MAX_LINE_BYTES + 1) + b"ana> ok\n"
    for size in (1, 777, len(wire)):
        items = feed_in_chunks(Receiver(from_server=False), wire, size)
        assert errors_in(items) == [LineTooLong, LineTooLong]
        assert items[-1] == Line("ana", "ok")


def test_too_long_is_not_fatal():
    assert LineTooLong.fatal is False


# --- other non-fatal errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        (b"ana> \xff\xfe\n", BadEncoding),
        (b"ana> \xc3\n", BadEncoding),
        (b"ana> \xed\xa0\x80\n", BadEncoding),  # an encoded surrogate
        (b"hola\n", MissingPrefix),
        (b"ana>hola\n", MissingPrefix),
        (b"\n", MissingPrefix),
        (b"ana lopez> hola\n", BadName),
        (b"> hola\n", BadName),
        (b"a@b> hola\n", BadName),
        (b"a!b> hola\n", BadName),
        (b"ana\x1b[31m> hola\n", BadName),
        (b"a" * 33 + b"> hola\n", BadName),
    ],
)
@pytest.mark.parametrize("from_server", [False, True])
def test_bad_line_is_reported_and_next_line_parses(wire, error, from_server):
    items = decode_all(wire + b"ana> sigue\n", from_server=from_server)
    assert errors_in(items) == [error]
    assert isinstance(items[0], error) and not items[0].fatal
    assert items[-1] == (Message if from_server else Line)("ana", "sigue")


# --- BadFrame -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "!XYZ algo",
        "!DATA",
        "!DATA ",
        "!DATA abc",
        "!DATA -1",
        "!DATA +5",
        "!DATA 0",
        "!DATA 1.5",
        f"!DATA {MAX_DATA_BYTES + 1}",
        "!DATA 99999999999999999999999999",
        "!FILE 10 nothex name",
        f"!FILE 10 {SHA}",
        f"!FILE -1 {SHA} x",
        f"!FILE {2**64} {SHA} x",
        "!ERR",
    ],
)
def test_bad_frame_breaks_the_stream_for_good(text):
    receiver = Receiver(from_server=True)
    receiver.feed(b"profe> antes\n" + f"profe> {text}\n".encode() + b"profe> despues\n")
    assert receiver.next_event() == Message("profe", "antes")
    for _ in range(3):
        with pytest.raises(BadFrame) as raised:
            receiver.next_event()
        assert raised.value.fatal
    receiver.feed(b"profe> mas\n")
    with pytest.raises(BadFrame):
        receiver.next_event()


@pytest.mark.parametrize("text", ["!DATA \u00b2", f"!FILE \u00b9 {SHA} x.txt"])
def test_non_ascii_digit_like_size_is_bad_frame(text):
    receiver = Receiver(from_server=True)
    receiver.feed(f"profe> {text}\nprofe> hola\n".encode())  # raises ValueError today
    with pytest.raises(BadFrame):
        receiver.next_event()


def test_arabic_indic_digits_are_not_a_data_size():
    receiver = Receiver(from_server=True)
    receiver.feed("profe> !DATA \u0661\u0662\n".encode() + b"x" * 12)
    with pytest.raises(BadFrame):
        receiver.next_event()


# --- fit_text --------------------------------------------------------------------------------------


def test_fit_text_leaves_short_text_alone():
    assert protocol.fit_text("profe", "hola") == "hola"


@pytest.mark.parametrize("unit", ["a", "é", "€", "😀", "a€😀é", "👩‍💻"])
@pytest.mark.parametrize("sender", ["profe", "😀" * 32])
@pytest.mark.parametrize("start", ["", "!"])
def test_fit_text_keeps_the_line_within_the_limit(unit, sender, start):
    text = start + unit * 5000
    fitted = protocol.fit_text(sender, text)
    wire = encode(Message(sender, fitted))
    assert len(wire) <= MAX_LINE_BYTES
    assert len(wire) > MAX_LINE_BYTES - 16  # cut, not emptied
    assert fitted.endswith("…")
    assert text.startswith(fitted[:-1])  # a prefix of whole characters
    assert "\ufffd" not in fitted
    assert decode_all(wire) == [Message(sender, fitted)]


@pytest.mark.parametrize(
    ("make", "keyword"),
    [
        (lambda text: Error("profe", "nofile", text), "!ERR nofile "),
        (lambda text: FileAbort("profe", text), "!ABORT "),
        (lambda text: Hello("profe", text), "!HELLO "),
    ],
)
def test_fit_text_reserve_leaves_room_for_a_keyword(make, keyword):
    fitted = protocol.fit_text("profe", "ñ" * 5000, reserve=len(keyword))
    assert len(encode(make(fitted))) <= MAX_LINE_BYTES


@given(
    piece=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8),
    repeat=st.integers(0, 1500),
    start=st.sampled_from(["", "!", "!!"]),
)
def test_fit_text_always_fits_any_text(piece, repeat, start):
    text = (start + piece * repeat).replace("\r", "").replace("\n", "")
    fitted = protocol.fit_text("profe", text)
    assert len(encode(Message("profe", fitted))) <= MAX_LINE_BYTES
    assert fitted == text or (fitted.endswith("…") and text.startswith(fitted[:-1]))


# --- encode refuses ------------------------------------------------------------------------------------

TEXT_EVENTS = [Line, Message, Hello, FileAbort, Bye]


@pytest.mark.parametrize("kind", TEXT_EVENTS, ids=lambda kind: kind.__name__)
@pytest.mark.parametrize("text", ["a\nb", "a\rb", "fin\n", "\r\nprofe> !BYE"])
def test_encode_refuses_cr_and_lf(kind, text):
    with pytest.raises(LocalProtocolError):
        encode(kind("profe", text))


@pytest.mark.parametrize("text", ["a\nb", "a\rb"])
def test_encode_refuses_cr_and_lf_in_error_text(text):
    with pytest.raises(LocalProtocolError):
        encode(Error("profe", "usage", text))


@pytest.mark.parametrize("sender", ["", "ana lopez", "a>b", "x@y", "!x", "a" * 33, "a\tb", "a\x00", "ana\n"])
@pytest.mark.parametrize("kind", TEXT_EVENTS, ids=lambda kind: kind.__name__)
def test_encode_refuses_invalid_sender(sender, kind):
    with pytest.raises(LocalProtocolError):
        encode(kind(sender, "hola"))


def test_encode_command_refuses_invalid_sender():
    with pytest.raises(LocalProtocolError):
        protocol.encode_command("ana lopez", "hola")


def test_encode_refuses_a_line_over_the_limit():
    with pytest.raises(LocalProtocolError):
        encode(Message("profe", "x" * MAX_LINE_BYTES))


@pytest.mark.parametrize("size", [0, -1, MAX_DATA_BYTES + 1])
def test_encode_refuses_bad_data_sizes(size):
    with pytest.raises(LocalProtocolError):
        protocol.encode_data_header("profe", size)


def test_encode_refuses_empty_and_oversized_file_data():
    with pytest.raises(LocalProtocolError):
        encode(FileData("profe", b""))
    with pytest.raises(LocalProtocolError):
        encode(FileData("profe", b"x" * (MAX_DATA_BYTES + 1)))


@pytest.mark.parametrize(
    "event",
    [
        FileStart("profe", 1, "abc", "x"),
        FileStart("profe", 1, SHA.upper(), "x"),
        FileStart("profe", -1, SHA, "x"),
        Error("profe", "", "x"),
        Error("profe", "two words", "x"),
    ],
    ids=repr,
)
def test_encode_refuses_malformed_control_events(event):
    with pytest.raises(LocalProtocolError):
        encode(event)


# --- names --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "a" * 32, "Ñandú", "ana_lopez-2", "😀", "李"])
def test_valid_names(name):
    assert protocol.name_problem(name) is None
    assert protocol.is_valid_name(name)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "length"),
        ("a" * 33, "length"),
        ("ana lopez", "characters"),
        ("ana\t", "characters"),
        ("a\u00a0b", "characters"),
        ("a>b", "characters"),
        ("a@b", "characters"),
        ("a!b", "characters"),
        ("a\x1b", "characters"),
        ("a\x7f", "characters"),
        ("a\u202eb", "characters"),
        ("a\x00", "characters"),
    ],
)
def test_invalid_names(name, problem):
    assert protocol.name_problem(name) == problem
    assert not protocol.is_valid_name(name)


def test_name_key_ignores_case():
    assert protocol.name_key("Ana") == protocol.name_key("ANA") == protocol.name_key("ana")
    assert protocol.name_key("Straße") == protocol.name_key("STRASSE")
    assert protocol.name_key("ana") != protocol.name_key("ana2")


# --- properties ---------------------------------------------------------------------------------------

names = st.text(
    alphabet=st.characters(blacklist_categories=("C", "Z"), blacklist_characters=">@!"),
    min_size=1,
    max_size=protocol.MAX_NAME_CHARS,
).filter(protocol.is_valid_name)
line_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=80
)
display_text = st.one_of(
    line_text, line_text.map(lambda text: "!" + text), line_text.map(lambda text: "!!" + text)
)
no_space_word = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=" \r\n"),
    min_size=1,
    max_size=12,
)
server_events = st.one_of(
    st.builds(Message, names, display_text),
    st.builds(Hello, names, line_text),
    st.builds(Error, names, no_space_word, line_text),
    st.builds(
        FileStart,
        names,
        st.integers(0, 2**63),
        st.binary(max_size=8).map(lambda data: hashlib.sha256(data).hexdigest()),
        line_text.filter(bool),
    ),
    st.builds(FileData, names, st.binary(min_size=1, max_size=600)),
    st.builds(FileAbort, names, line_text),
    st.builds(Bye, names, line_text),
)


@st.composite
def chunked(draw, data: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=20)))
    bounds = [0, *cuts, len(data)]
    return [data[start:end] for start, end in pairwise(bounds)]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(server_events, max_size=12), data=st.data())
def test_server_events_survive_any_chunking(events, data):
    wire = b"".join(encode(event) for event in events)
    receiver = Receiver(from_server=True)
    items = []
    for chunk in data.draw(chunked(wire)):
        receiver.feed(chunk)
        assert receiver.buffered <= MAX_LINE_BYTES
        items += drain(receiver)
    assert merged(items) == merged(events)
    assert receiver.buffered == 0


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.builds(Line, names, line_text), max_size=12), data=st.data())
def test_client_lines_survive_any_chunking(lines, data):
    wire = b"".join(encode(line) for line in lines)
    receiver = Receiver(from_server=False)
    items = []
    for chunk in data.draw(chunked(wire)):
        receiver.feed(chunk)
        items += drain(receiver)
    assert items == lines


garbage_piece = st.one_of(
    st.binary(max_size=40),
    st.sampled_from(
        [
            b"profe> ",
            b"ana> ",
            b"!DATA ",
            b"!DATA 3\n",
            b"!FILE ",
            f"!FILE 3 {SHA} x\n".encode(),
            b"!ERR ",
            b"!!",
            b"\n",
            b"\r",
            b"\r\n",
            b"7",
            b" ",
            b"\xff",
            "é".encode(),
            b"z" * 5000,
        ]
    ),
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(garbage_piece, max_size=40), from_server=st.booleans(), data=st.data())
def test_garbage_only_raises_protocol_errors(pieces, from_server, data):
    receiver = Receiver(from_server=from_server)
    fatal = None
    for chunk in data.draw(chunked(b"".join(pieces))):
        receiver.feed(chunk)  # anything but a ProtocolError escapes and fails the test
        assert receiver.buffered <= MAX_LINE_BYTES
        for item in drain(receiver):
            if isinstance(item, Exception):
                assert isinstance(item, protocol.ProtocolError)
                if item.fatal:
                    fatal = item
    if fatal is not None:
        with pytest.raises(BadFrame):
            receiver.next_event()


def test_every_error_code_knows_whether_it_ends_the_connection():
    fatal = {code.value for code in protocol.ErrorCode if code.fatal}
    assert fatal == {
        "full",
        "too-many",
        "busy",
        "name-taken",
        "bad-name",
        "no-name",
        "idle",
        "closing",
        "kicked",
        "tls-required",
        "password-required",
        "bad-password",
        "logins-blocked",
    }
    assert all(protocol.is_fatal(code) for code in fatal)
    assert not protocol.is_fatal("nofile") and not protocol.is_fatal("a-code-from-a-newer-server")


def test_encoding_something_that_is_not_an_event_is_our_own_error():
    with pytest.raises(protocol.LocalProtocolError):
        protocol.encode("profe> hola")


def test_every_file_problem_carries_its_wire_code():
    from ftplab import storage

    problems = [
        cls
        for cls in vars(storage).values()
        if isinstance(cls, type) and issubclass(cls, storage.FileProblem)
    ]
    assert all(isinstance(problem.code, protocol.ErrorCode) for problem in problems)


# --- feeding memoryviews: file data without copies --------------------------------------------------


def feed_views(receiver: Receiver, chunks: list[bytes]) -> list:
    """Feed each chunk as a memoryview of one reused buffer, as the client does; payloads are
    copied out before the buffer is overwritten, and checked to be views of it."""
    buffer = bytearray(max((len(chunk) for chunk in chunks), default=0))
    items = []
    for chunk in chunks:
        buffer[: len(chunk)] = chunk
        receiver.feed(memoryview(buffer)[: len(chunk)])
        assert receiver.buffered <= MAX_LINE_BYTES
        for item in drain(receiver):
            if isinstance(item, FileData):
                assert isinstance(item.data, memoryview) and item.data.obj is buffer
                item = FileData(item.sender, bytes(item.data))
            items.append(item)
    return items


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(server_events, max_size=12), data=st.data())
def test_memoryviews_give_the_same_events_as_bytes(events, data):
    wire = b"".join(encode(event) for event in events)
    chunks = data.draw(chunked(wire))
    from_views = feed_views(Receiver(from_server=True), chunks)
    assert merged(from_views) == merged(events)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(garbage_piece, max_size=40), data=st.data())
def test_memoryviews_and_bytes_agree_on_garbage(pieces, data):
    chunks = data.draw(chunked(b"".join(pieces)))
    from_bytes = Receiver(from_server=True)
    expected = []
    for chunk in chunks:
        from_bytes.feed(chunk)
        expected += drain(from_bytes)
    got = feed_views(Receiver(from_server=True), chunks)
    assert [repr(item) for item in merged(got)] == [repr(item) for item in merged(expected)]


def test_long_line_in_a_memoryview_is_dropped_once_and_the_next_line_read():
    wire = b"profe> " + b"z" * (3 * MAX_LINE_BYTES) + b"\n" + encode(Message("profe", "sigue"))
    for size in (100, MAX_LINE_BYTES, len(wire)):
        chunks = [wire[start : start + size] for start in range(0, len(wire), size)]
        items = feed_views(Receiver(from_server=True), chunks)
        assert [type(item) for item in items] == [LineTooLong, Message]
        assert items[1] == Message("profe", "sigue")


def test_a_large_frame_in_one_view_is_one_uncopied_payload():
    payload = bytes(range(256)) * (MAX_DATA_BYTES // 256)
    buffer = bytearray(encode(FileData("profe", payload)) + encode(Message("profe", "fin")))
    receiver = Receiver(from_server=True)
    receiver.feed(memoryview(buffer))
    data_event, message = drain(receiver)
    assert data_event.data.obj is buffer and data_event.data == payload
    assert message == Message("profe", "fin")


def test_a_join_line_carries_options_and_ignores_words_it_does_not_know():
    text = protocol.join_text({"lang": "en"})
    assert text == "!JOIN lang=en"
    assert protocol.parse_join(text + " extra later=1") == {"lang": "en", "later": "1"}
    assert protocol.parse_join("") is None
    assert protocol.parse_join("!JOINED lang=en") is None
    assert protocol.parse_join("list") is None


def test_keep_alive_round_trip_and_bad_values():
    receiver = protocol.Receiver(from_server=True)
    receiver.feed(protocol.encode(protocol.KeepAlive("profe", 200.0)))
    assert receiver.next_event() == protocol.KeepAlive("profe", 200.0)
    for bad in ("0", "-1", "abc", "1e9", ""):
        receiver = protocol.Receiver(from_server=True)
        receiver.feed(f"profe> !KEEPALIVE {bad}\n".encode())
        with pytest.raises(protocol.BadFrame):
            receiver.next_event()


def test_a_resume_header_round_trip_and_its_limits():
    digest = "a" * 64
    event = protocol.FileResume("profe", 10, 300, digest, "con espacio.txt")
    receiver = protocol.Receiver(from_server=True)
    receiver.feed(protocol.encode(event))
    assert receiver.next_event() == event
    for offset in (0, 300, 301):
        with pytest.raises(protocol.LocalProtocolError):
            protocol.encode(protocol.FileResume("profe", offset, 300, digest, "x"))
        receiver = protocol.Receiver(from_server=True)
        receiver.feed(f"profe> !RESUME {offset} 300 {digest} x\n".encode())
        with pytest.raises(protocol.BadFrame):
            receiver.next_event()


def test_the_resume_command_names_offset_prefix_digest_and_file():
    digest = "b" * 64
    text = protocol.resume_command(5, digest, "con espacio.txt")
    assert protocol.parse_resume_argument(text.partition(" ")[2]) == (5, digest, "con espacio.txt")
    for bad in (
        "",
        "5",
        f"0 {digest} x",
        f"-1 {digest} x",
        f"5 {'g' * 64} x",
        f"5 {digest}",
        f"5 {digest}  ",
    ):
        assert protocol.parse_resume_argument(bad) is None


# --- uploads: put, !GO, client frames, !SAVED ----------------------------------------

DIGEST = "ab" * 32


def test_put_line_round_trip():
    request = protocol.PutRequest(2_100_000, DIGEST, "notas de clase.txt")
    wire = protocol.encode_put("ana", request)
    assert wire == f"ana> put 2100000 {DIGEST} notas de clase.txt\n".encode()
    [line] = decode_all(wire, from_server=False)
    assert protocol.parse_put(line.text.partition(" ")[2]) == request


@pytest.mark.parametrize(
    "argument",
    [
        "",
        "notas.txt",
        f"-1 {DIGEST} a",
        f"12 {DIGEST}",
        f"12 {DIGEST.upper()} a",
        f"1e3 {DIGEST} a",
        "12 abc a",
    ],
)
def test_put_argument_that_is_not_size_digest_path(argument):
    assert protocol.parse_put(argument) is None


def test_put_refuses_to_encode_a_bad_request():
    with pytest.raises(protocol.LocalProtocolError):
        protocol.encode_put("ana", protocol.PutRequest(1, "xyz", "a"))


def test_client_data_frame_whole_split_and_with_trailing_line():
    frames = encode(FileData("ana", b"abc\ndef")) + b"ana> hola\n"
    whole = decode_all(frames, from_server=False)
    assert whole == [FileData("ana", b"abc\ndef"), Line("ana", "hola")]
    assert merged(feed_in_chunks(Receiver(from_server=False), frames, 1)) == whole


def test_client_data_frame_holds_nothing_but_its_payload_as_it_arrives():
    receiver = Receiver(from_server=False)
    receiver.feed(protocol.encode_data_header("ana", 100_000) + b"x" * 60_000)
    assert receiver.buffered == 0
    assert drain(receiver) == [FileData("ana", b"x" * 60_000)]
    receiver.feed(b"y" * 40_000 + b"ana> list\n")
    assert drain(receiver) == [FileData("ana", b"y" * 40_000), Line("ana", "list")]


def test_client_abort_line():
    assert decode_all(b"ana> !ABORT changed\n", from_server=False) == [protocol.FileAbort("ana", "changed")]
    assert encode(protocol.FileAbort("ana", "changed")) == b"ana> !ABORT changed\n"


@pytest.mark.parametrize(
    "header", [b"ana> !DATA 0\n", b"ana> !DATA x\n", f"ana> !DATA {protocol.MAX_DATA_BYTES + 1}\n".encode()]
)
def test_bad_client_data_header_breaks_the_stream(header):
    receiver = Receiver(from_server=False)
    receiver.feed(header + b"ana> hola\n")
    with pytest.raises(BadFrame):
        receiver.next_event()
    with pytest.raises(BadFrame):
        receiver.next_event()


def test_go_and_saved_round_trip():
    go = protocol.UploadReady("profe", "fotos/clase 1.jpg")
    saved = protocol.UploadSaved("profe", 2_100_000, "fotos/clase 1.jpg")
    assert encode(go) == b"profe> !GO fotos/clase 1.jpg\n"
    assert encode(saved) == b"profe> !SAVED 2100000 fotos/clase 1.jpg\n"
    assert decode_all(encode(go) + encode(saved)) == [go, saved]


@pytest.mark.parametrize("line", [b"profe> !GO\n", b"profe> !SAVED 12\n", b"profe> !SAVED x a\n"])
def test_bad_go_or_saved_breaks_the_stream(line):
    assert errors_in(decode_all(line + b"profe> hola\n")) == [BadFrame]


def test_upload_error_codes_are_kept_apart_from_get_codes():
    assert "exists" in protocol.UPLOAD_ERROR_CODES
    assert not protocol.UPLOAD_ERROR_CODES & {"nofile", "not-file", "denied", "queue-full", "usage"}
    assert not any(protocol.is_fatal(code) for code in protocol.UPLOAD_ERROR_CODES)


def test_an_earlier_line_carries_its_speaker_as_a_field():
    event = protocol.Earlier("profe", "ana", "hola a todos")
    encoded = protocol.encode(event)
    assert encoded == b"profe> !EARLIER ana hola a todos\n"
    receiver = protocol.Receiver(from_server=True)
    receiver.feed(encoded)
    assert receiver.next_event() == event


def test_an_earlier_line_without_a_valid_name_is_a_bad_frame():
    receiver = protocol.Receiver(from_server=True)
    receiver.feed(b"profe> !EARLIER \n")
    with pytest.raises(protocol.BadFrame):
        receiver.next_event()


def test_the_password_step_travels_as_typed_lines_and_never_shows_the_password():
    asked = protocol.encode(protocol.PasswordRequest("profe"))
    assert asked == b"profe> !PASSWORD\n"
    receiver = protocol.Receiver(from_server=True)
    receiver.feed(asked)
    assert receiver.next_event() == protocol.PasswordRequest("profe")
    answer = protocol.encode(protocol.Password("ana", " dos  espacios "))
    assert answer == b"ana> !PASSWORD  dos  espacios \n"
    receiver = protocol.Receiver(from_server=False)
    receiver.feed(answer + protocol.encode_command("ana", "!PASSWORD escrito a mano"))
    password = receiver.next_event()
    assert password == protocol.Password("ana", " dos  espacios ")
    assert "espacios" not in repr(password)
    assert receiver.next_event() == protocol.Line("ana", "!PASSWORD escrito a mano")  # chat stays chat
