"""room: membership, sending without re-entry, and the congestion that pauses producers."""

from __future__ import annotations

import socket

import pytest

from ftplab import protocol
from ftplab.connection import HIGH_WATER_BYTES, MAX_QUEUED_BYTES
from ftplab.ftpdoor import FtpControl
from ftplab.messages import Messages
from ftplab.news import NAMED_BURST, NAMED_PER_SECOND, SUMMARY_SECONDS
from ftplab.protocol import ErrorCode
from ftplab.room import FTP_VISIT_GRACE_SECONDS, Room
from ftplab.session import Session


class FakeLoop:
    """Records what the room asks of the loop."""

    def __init__(self):
        self.now = 0.0
        self.stopping = False
        self.touched: list[Session] = []
        self.doomed: list[tuple[Session, str]] = []
        self.closing: list[tuple[Session, str]] = []

    def touch(self, session):
        self.touched.append(session)

    def drop_soon(self, session, reason):
        self.doomed.append((session, reason))

    def close_after_output(self, session, reason):
        self.closing.append((session, reason))


@pytest.fixture
def loop():
    return FakeLoop()


@pytest.fixture
def shown():
    return []


@pytest.fixture
def room(loop, shown):
    return Room("profe", Messages("es"), loop, shown.append, progress_window=5.0)


_peers: dict[Session, tuple[socket.socket, bytearray]] = {}
"""Each member's other end, and what it has read: the room sends at once what the socket takes."""


@pytest.fixture
def member(room):
    pairs = []

    def make(name: str, address: str | None = None) -> Session:
        """A lab client called `name`, from `address` (by default, a computer of its own)."""
        ours, peer = socket.socketpair()
        pairs.append((ours, peer))
        session = Session(ours, (address or f"10.0.0.{len(pairs)}", 40000 + len(pairs)), now=0.0)
        _peers[session] = (peer, bytearray())
        assert room.add_member(session, name)
        return session

    yield make
    _peers.clear()
    for pair in pairs:
        for sock in pair:
            sock.close()


def stop_reading(session: Session) -> None:
    """Fill the member's socket, as a client that reads nothing would: what the room sends from
    now on waits in its outbox. (Its events are not read after this.)"""
    with pytest.raises(BlockingIOError):
        while True:
            session.sock.send(bytes(64 * 1024), socket.MSG_DONTWAIT)
    del _peers[session]


@pytest.fixture
def connection(room):
    """`connection(door, address)`: an unnamed connection of the lab ("lab") or FTP ("ftp") door."""
    pairs = []

    def make(door: str, address: str) -> Session | FtpControl:
        ours, peer = socket.socketpair()
        pairs.append((ours, peer))
        where = (address, 40000 + len(pairs))
        if door == "ftp":
            return FtpControl(ours, where, 0.0, session=None, key=address)
        return Session(ours, where, now=0.0)

    yield make
    for pair in pairs:
        for sock in pair:
            sock.close()


def texts_of(session: Session) -> list[str]:
    return [event.text for event in events_of(session)]


def events_of(session: Session) -> list:
    """Everything sent to `session` so far: what its peer received, then what waits in its outbox."""
    receiver = protocol.Receiver(from_server=True)
    if session in _peers:
        peer, received = _peers[session]
        while True:
            try:
                received += peer.recv(1 << 20, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
        receiver.feed(bytes(received))
    for segment in session.outbox._segments:
        receiver.feed(bytes(segment))
    events = []
    while (event := receiver.next_event()) is not None:
        events.append(event)
    return events


def test_names_are_unique_without_regard_to_case_and_the_servers_is_taken(room, member):
    member("Ana")
    assert room.member("ana").name == "Ana"
    assert not room.add_member(object.__new__(Session), "ANA")
    assert not room.add_member(object.__new__(Session), "Profe")


def test_leaving_is_announced_to_the_others_and_the_console(room, member, shown):
    ana, bob = member("ana"), member("bob")
    room.remove_member(ana, "quit")
    assert room.member("ana") is None
    room.flush_news()
    assert events_of(bob)[-1] == protocol.Message("profe", "ana se ha ido")
    assert shown == ["profe> ana se ha ido"]


def test_a_newcomer_is_welcomed_at_once_and_announced_to_the_others_but_not_to_itself(room, member, shown):
    bob = member("bob")
    ana = member("ana")
    room.welcome(ana)
    assert events_of(ana) == [
        protocol.Hello("profe", "Hola, ana. Conectados: 2. Escribe help para ver los comandos.")
    ]
    assert events_of(bob) == []
    room.flush_news()
    assert events_of(bob) == [protocol.Message("profe", "ana se ha unido")]
    assert len(events_of(ana)) == 1


def test_news_keeps_its_place_before_the_next_chat_line(room, member):
    bob, ana = member("bob"), member("ana")
    room.welcome(ana)
    room.broadcast("ana", "hola", exclude=ana)
    assert events_of(bob) == [protocol.Message("profe", "ana se ha unido"), protocol.Message("ana", "hola")]


def test_a_crowd_joining_at_once_is_one_line(room, member, shown):
    old = member("old")
    crowd = [member(f"user{number}") for number in range(40)]
    for session in crowd:
        room.welcome(session)
    room.flush_news()
    assert events_of(old) == [protocol.Message("profe", "user0, user1, user2 y 37 más se han unido")]
    assert all(len(events_of(session)) == 1 for session in crowd), "newcomers get only their welcome"


def test_a_few_joining_at_once_are_each_named(room, member):
    old = member("old")
    for name in ("ana", "bob"):
        room.welcome(member(name))
    room.flush_news()
    assert events_of(old) == [
        protocol.Message("profe", "ana se ha unido"),
        protocol.Message("profe", "bob se ha unido"),
    ]


def test_no_departures_are_announced_while_the_server_stops(room, loop, member):
    ana, bob = member("ana"), member("bob")
    loop.stopping = True
    room.remove_member(ana, "server shutdown")
    assert events_of(bob) == []


def test_a_member_past_the_hard_cap_is_dropped_after_the_broadcast_not_during_it(room, loop, member):
    first, stuck, last = member("first"), member("stuck"), member("last")
    stuck.queue(b"x" * MAX_QUEUED_BYTES, 0.0)
    room.broadcast("profe", "hola")
    assert loop.doomed == [(stuck, "too slow: output queue full")]
    assert room.member("stuck") is stuck, "nobody is removed in the middle of a broadcast"
    for session in (first, last):
        assert events_of(session) == [protocol.Message("profe", "hola")]


def test_a_member_that_keeps_reading_but_is_behind_congests_the_room_until_it_drains(room, loop, member):
    ana = member("ana")
    stop_reading(ana)
    room.broadcast("profe", "x" * 3000)
    assert not room.congested
    for _ in range(HIGH_WATER_BYTES // 3000 + 1):
        room.broadcast("profe", "x" * 3000)
    assert ana.above_high_water and room.congested
    ana.outbox = type(ana.outbox)()  # as if it had read everything
    room.output_drained(ana)
    assert not room.congested


def test_a_member_that_takes_nothing_stops_holding_the_room_after_the_progress_window(room, loop, member):
    stop_reading(member("ana"))
    for _ in range(HIGH_WATER_BYTES // 3000 + 2):
        room.broadcast("profe", "x" * 3000)
    assert room.congested
    loop.now = 4.9
    assert room.congested
    loop.now = 5.1
    assert not room.congested, "a reader making no progress is left to the data timeout and the cap"


def test_errors_carry_their_code_and_refusals_close_after_the_message(room, loop, member):
    ana = member("ana")
    room.refuse(ana, ErrorCode.IDLE, "idle", seconds="5")
    assert events_of(ana) == [protocol.Error("profe", "idle", "Desconectado tras 5 s sin actividad")]
    assert loop.closing == [(ana, "idle")]


def test_a_long_answer_is_encoded_a_line_at_a_time(room, loop, member):
    ana = member("ana")
    room.reply_in_pieces(ana, iter(["uno", "dos"]))
    assert loop.touched == [ana]
    assert list(ana.replies) == [b"profe> uno\n", b"profe> dos\n"]


def test_each_member_is_answered_in_the_language_it_announced(room, member):
    ana, bob = member("ana"), member("bob")
    bob.language = "en"
    room.send_error(ana, ErrorCode.NO_FILE, "no_such_file_named", name="x")
    room.send_error(bob, ErrorCode.NO_FILE, "no_such_file_named", name="x")
    room.welcome(bob)
    room.say_goodbye(bob)
    assert events_of(ana) == [protocol.Error("profe", "nofile", "El archivo no existe: x")]
    assert events_of(bob) == [
        protocol.Error("profe", "nofile", "No such file: x"),
        protocol.Hello("profe", "Hello, bob. Connected: 2. Type help for the commands."),
        protocol.Bye("profe", "Goodbye, bob"),
    ]


def test_news_goes_to_each_member_in_its_language_and_chat_is_not_translated(room, member, shown):
    ana, bob, carla = member("ana"), member("bob"), member("carla")
    bob.language = "en"
    room.remove_member(carla, "quit")
    room.broadcast("ana", "hola", exclude=ana)
    assert events_of(ana) == [protocol.Message("profe", "carla se ha ido")]
    assert events_of(bob) == [protocol.Message("profe", "carla left"), protocol.Message("ana", "hola")]
    assert shown == ["profe> carla se ha ido"], "the console reads the server's language"


def test_an_announcement_is_encoded_once_per_language_not_once_per_member(room, member, monkeypatch):
    speakers = [member(f"s{number}") for number in range(6)]
    for speaker in speakers[:3]:
        speaker.language = "en"
    encoded = []
    real_encode = protocol.encode
    monkeypatch.setattr(protocol, "encode", lambda event: encoded.append(event) or real_encode(event))
    room.announce("uploaded", name="ana", path="notas.txt", size="1 KiB")
    assert len(encoded) == 2
    assert events_of(speakers[0]) == [protocol.Message("profe", "ana uploaded notas.txt (1 KiB)")]
    assert events_of(speakers[5]) == [protocol.Message("profe", "ana subió notas.txt (1 KiB)")]


def test_a_refused_file_carries_its_name_as_a_field_for_protocol_2_only(room, member):
    ana, bob = member("ana"), member("bob")
    ana.protocol_version = 2
    for session in (ana, bob):
        room.send_file_error(session, ErrorCode.NO_FILE, "no_such_file_named", "a b.txt")
    assert events_of(ana) == [
        protocol.Refused("profe", "nofile", "a b.txt"),
        protocol.Error("profe", "nofile", "El archivo no existe: a b.txt"),
    ]
    assert events_of(bob) == [protocol.Error("profe", "nofile", "El archivo no existe: a b.txt")]


def test_a_name_no_line_can_carry_is_still_refused_in_words(room, member):
    ana = member("ana")
    ana.protocol_version = 2
    room.send_file_error(ana, ErrorCode.NO_FILE, "no_such_file_named", "a\rb")
    assert events_of(ana) == [protocol.Error("profe", "nofile", "El archivo no existe: a\\x0db")]


# --- joins and departures limited per address (issue 19, item 3) ---------------------------------


def test_a_join_and_quit_flood_from_one_address_costs_the_room_a_few_lines(room, loop, member, connection):
    old = member("old")
    flood = 1000
    for number in range(flood):  # a join, a turn, a quit, a turn: one cycle a millisecond
        loop.now = number / 1000
        evil = connection("lab", "10.6.6.6")
        assert room.add_member(evil, f"evil{number}")
        room.welcome(evil)
        room.flush_news()
        room.remove_member(evil, "quit")
        room.flush_news()
    seconds = loop.now
    loop.now = seconds + SUMMARY_SECONDS
    room.flush_news()
    named = NAMED_BURST + NAMED_PER_SECOND * seconds + 1
    lines = texts_of(old)
    assert len(lines) <= 2 * named + 2, f"{len(lines)} lines for a flood of {flood} joins and quits"
    summaries = [line for line in lines if line.startswith("Más ")]
    assert summaries == [
        f"Más salidas en los últimos 5 s: {flood - len([x for x in lines if x.endswith(' se ha ido')])}",
        f"Más llegadas en los últimos 5 s: {flood - len([x for x in lines if x.endswith(' se ha unido')])}",
    ], "every one is counted, in one line a window for each kind"


def test_someone_counted_on_arrival_leaves_counted_and_spends_nothing(room, loop, member, connection):
    old = member("old")
    crowd = [connection("lab", "10.6.6.6") for _ in range(NAMED_BURST + 1)]
    for number, session in enumerate(crowd):
        room.add_member(session, f"c{number}")
        room.welcome(session)
        room.flush_news()
    room.remove_member(crowd[-1], "quit")
    room.flush_news()
    assert texts_of(old)[-1] == f"c{NAMED_BURST - 1} se ha unido", "the last one was only counted"
    loop.now = SUMMARY_SECONDS
    room.flush_news()
    assert texts_of(old)[-2:] == ["Más salidas en los últimos 5 s: 1", "Más llegadas en los últimos 5 s: 1"]


def test_thirty_students_behind_one_address_joining_at_a_reasonable_pace_are_each_named(room, loop, member):
    old = member("old")
    for number in range(30):
        loop.now = number * 1.0
        room.welcome(member(f"alumno{number}", address="192.168.1.1"))
        room.flush_news()
    assert texts_of(old) == [f"alumno{number} se ha unido" for number in range(30)]


def test_thirty_students_from_thirty_computers_at_once_are_all_told(room, member):
    old = member("old")
    for number in range(30):
        room.welcome(member(f"alumno{number}"))
    room.flush_news()
    assert texts_of(old) == ["alumno0, alumno1, alumno2 y 27 más se han unido"]


def test_a_visit_that_ends_before_anyone_heard_of_it_is_never_announced(room, member, shown):
    old = member("old")
    ana = member("ana")
    room.welcome(ana)
    room.remove_member(ana, "quit")
    room.flush_news()
    assert texts_of(old) == [] and shown == []


# --- several FTP connections, one person (issue 17, item 2) ----------------------------------------


def test_ftp_logins_with_one_name_from_one_address_are_one_person_announced_once(room, member, connection):
    old = member("old")
    logins = [connection("ftp", "10.0.9.9") for _ in range(4)]
    for login in logins:
        assert room.add_member(login, "ana"), "a second login as ana is ana again"
        room.note_arrival(login)
        room.flush_news()
    assert sorted(room.member_names()) == ["ana (ftp ×4)", "old"]
    assert len(room) == 2
    for login in logins[:3]:
        room.remove_member(login, "quit")
    assert room.member_names()[-1] == "ana (ftp)"
    assert texts_of(old) == ["ana se ha unido"]


def test_an_ftp_visit_ends_a_grace_after_its_last_connection_and_one_within_it_continues_it(
    room, loop, member, connection, shown
):
    old = member("old")
    for _call in range(5):  # a script of curl calls, a connection each
        curl = connection("ftp", "10.0.9.9")
        assert room.add_member(curl, "ana")
        room.note_arrival(curl)
        room.flush_news()
        loop.now += 0.5
        room.remove_member(curl, "quit")
        room.flush_news()
        loop.now += 0.5
    assert room.member_names() == ["old"], "who lists people with a connection"
    loop.now += FTP_VISIT_GRACE_SECONDS
    room.flush_news()
    assert texts_of(old) == ["ana se ha unido", "ana se ha ido"]
    assert shown == ["profe> ana se ha unido", "profe> ana se ha ido"]


def test_a_name_cannot_be_taken_from_another_address_or_by_the_other_door(room, loop, member, connection):
    member("lab", address="10.0.0.1")
    assert not room.add_member(connection("ftp", "10.0.0.1"), "LAB"), (
        "a lab client's name, from its own address"
    )
    assert not room.add_member(connection("lab", "10.0.0.2"), "lab")
    ana = connection("ftp", "10.0.9.9")
    assert room.add_member(ana, "ana")
    assert not room.add_member(connection("ftp", "10.0.9.10"), "ana"), "an FTP name from another address"
    assert not room.add_member(connection("lab", "10.0.9.9"), "ana"), "nor by the lab door while it is there"
    room.remove_member(ana, "quit")
    assert not room.add_member(connection("ftp", "10.0.9.10"), "ana"), "nor during its grace"
    assert room.add_member(connection("ftp", "10.0.9.9"), "ANA")
    assert room.member_names() == ["lab", "ana (ftp)"]


def test_its_own_lab_client_during_the_grace_ends_the_ftp_visit_at_once(room, loop, member, connection):
    old = member("old")
    curl = connection("ftp", "10.0.9.9")
    room.add_member(curl, "ana")
    room.note_arrival(curl)
    room.flush_news()
    room.remove_member(curl, "quit")
    lab = connection("lab", "10.0.9.9")
    assert room.add_member(lab, "ana")
    room.welcome(lab)
    room.flush_news()
    assert texts_of(old) == ["ana se ha unido", "ana se ha ido", "ana se ha unido"]
    assert room.member("ana") is lab


def test_no_grace_while_the_server_stops(room, loop, member, connection):
    curl = connection("ftp", "10.0.9.9")
    room.add_member(curl, "ana")
    loop.stopping = True
    room.remove_member(curl, "server shutdown")
    assert room.member_names() == [] and not room.has_news


# --- /kick: a person is all its connections (issue 17, item 5) ---------------------------------------


class Refused:
    """A connection's own last word (`refuse`), recorded: the loop's connections say it in their protocol."""

    def __init__(self, hears_chat: bool, address: str):
        self.hears_chat = hears_chat
        self.address_key = address
        self.name = None
        self.label = f"?@{address}"
        self.connected_at = 0.0
        self.refusals: list[tuple] = []

    def refuse(self, code, key, **values):
        self.refusals.append((code, key, values))


def test_expel_refuses_every_connection_of_the_person_and_its_departure_is_told_once_at_once(
    room, loop, member, shown
):
    old = member("old")
    logins = [Refused(hears_chat=False, address="10.0.9.9") for _ in range(3)]
    for login in logins:
        assert room.add_member(login, "ana")
        room.note_arrival(login)
    room.flush_news()

    gone = room.expel("Ana", ErrorCode.KICKED, "kicked", name="profe", reason="")

    assert gone == logins
    assert [login.refusals for login in logins] == [
        [(ErrorCode.KICKED, "kicked", {"name": "profe", "reason": ""})]
    ] * 3
    for login in logins:  # the loop closes each one, in its own time
        room.remove_member(login, "kicked")
    room.flush_news()
    assert room.member_names() == ["old"]
    assert texts_of(old) == ["ana se ha unido", "ana se ha ido"], "no grace after a kick: told at once, once"
    assert shown == ["profe> ana se ha unido", "profe> ana se ha ido"]
    assert room.add_member(Refused(hears_chat=False, address="10.0.9.10"), "ana"), "the name is free at once"


def test_expel_of_nobody_refuses_nothing(room, member):
    ana = member("ana")
    assert room.expel("bob", ErrorCode.KICKED, "kicked", name="profe", reason="") == []
    assert not ana.outbox


def test_a_newcomer_is_shown_the_chat_said_to_everyone_marked_as_earlier(room, member):
    ana, bob = member("ana"), member("bob")
    room.broadcast("ana", "hola a todos", exclude=ana)
    room.broadcast("profe", "empezamos", exclude=None)
    room.send_message(bob, "ana", room.say("private", text="secreto"))
    room.announce("uploaded", name="ana", path="x.txt", size="1 B")
    carla = member("carla")
    carla.protocol_version = protocol.VERSION
    room.send_history(carla)
    assert events_of(carla) == [
        protocol.Earlier("profe", "ana", "hola a todos"),
        protocol.Earlier("profe", "profe", "empezamos"),
    ]


def test_a_client_of_an_older_protocol_is_shown_the_history_as_labelled_text(room, member):
    ana = member("ana")
    room.broadcast("ana", "hola", exclude=ana)
    dani = member("dani")
    dani.protocol_version = 2
    room.send_history(dani)
    assert events_of(dani) == [protocol.Message("profe", "(antes) ana> hola")]
    assert room.history_lines() == ["(antes) ana> hola"]


def test_joins_and_departures_are_not_history(room, loop, member):
    ana = member("ana")
    room.welcome(ana)
    room.flush_news()
    room.remove_member(ana, "quit")
    room.flush_news()
    assert room.history_lines() == []


def test_chat_reaches_who_is_in_the_room_now_not_who_left(room, member):
    ana, bob = member("ana"), member("bob")
    room.remove_member(bob, "quit")
    carla = member("carla")
    room.flush_news()
    before = {session: len(events_of(session)) for session in (ana, bob, carla)}
    room.broadcast("profe", "hola")
    heard = {session: events_of(session)[before[session] :] for session in (ana, bob, carla)}
    assert heard[ana] == heard[carla] == [protocol.Message("profe", "hola")]
    assert heard[bob] == []
