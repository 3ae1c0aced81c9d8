"""handlers: what each line means, checked against a fake room that records every call."""

from __future__ import annotations

import pytest

from ftplab import protocol
from ftplab.downloads import QueueFull
from ftplab.handlers import Handlers
from ftplab.messages import CONSOLE_HELP_KEYS, HELP_KEYS, Messages
from ftplab.protocol import ErrorCode
from ftplab.session import ADDRESS_CHAT_BURST_LINES, CHAT_BURST_LINES, COMMAND_BURST, Session
from ftplab.storage import NoSuchFile, Storage
from ftplab.text import visible

SERVER = "profe"


class FakeRoom:
    """Records what the handlers asked of the room, as (method, arguments) pairs."""

    def __init__(self):
        self.name = SERVER
        self.say = Messages("es")
        self.congested = False
        self.calls: list[tuple] = []
        self.members: dict[str, Session] = {}

    def member(self, name):
        return self.members.get(protocol.name_key(name))

    def say_to(self, member):
        return Messages(getattr(member, "language", None) or "es")

    def member_names(self):
        return [session.name for session in self.members.values()]

    def add_member(self, session, name):
        if protocol.name_key(name) in self.members or protocol.name_key(name) == SERVER:
            return False
        session.name = name
        self.members[protocol.name_key(name)] = session
        return True

    def expel(self, person, code, key, /, **values):
        """As the room does: every connection of `person` (here, its one session) refused."""
        session = self.member(person)
        if session is None:
            return []
        self.calls.append(("refuse", (session, code, key), values))
        return [session]

    def send_file_error(self, session, code, key, name, **values):
        """As the room does: the name as a field (recorded), then the `!ERR` naming it."""
        self.calls.append(("send_file_error", (session, code, name), {}))
        self.calls.append(("send_error", (session, code, key), {"name": visible(name), **values}))

    def reply_in_pieces(self, session, pieces):
        """As the loop does over later turns: every piece taken (a get's or an mget's queueing
        happens then), recorded as a list."""
        self.calls.append(("reply_in_pieces", (session, list(pieces)), {}))

    def __getattr__(self, method):
        def record(*args, **values):
            self.calls.append((method, args, values))

        return record

    def called(self, method: str) -> list[tuple]:
        return [(args, values) for name, args, values in self.calls if name == method]


class FakeDownloads:
    """Queues every request, except the names in `missing`."""

    def __init__(self):
        self.requests: list[tuple[Session, str]] = []
        self.missing: set[str] = set()
        self.limit = 1000

    def request(self, session, parts, resume_from=None):
        name = "/".join(parts)
        if name in self.missing:
            return NoSuchFile(name)
        if len(self.requests) >= self.limit:
            return QueueFull(name)
        self.requests.append((session, name) if resume_from is None else (session, name, *resume_from))
        return None


@pytest.fixture
def room():
    return FakeRoom()


@pytest.fixture
def downloads():
    return FakeDownloads()


@pytest.fixture
def handlers(room, downloads, tmp_path):
    (tmp_path / "notas.txt").write_text("hola")
    return Handlers(room, downloads, Storage(str(tmp_path)))


@pytest.fixture
def joined(sockets, room):
    def make(name: str) -> Session:
        session = Session(sockets(), ("127.0.0.1", 40000 + len(room.members)), now=0.0)
        room.add_member(session, name)
        return session

    return make


def line(session: Session, text: str) -> protocol.Line:
    return protocol.Line(session.name, text)


def test_the_first_line_joins_with_its_name_and_is_welcomed(handlers, room, sockets):
    session = Session(sockets(), ("127.0.0.1", 1), now=0.0)
    assert handlers.on_line(session, protocol.Line("ana", ""), 0.0)
    assert session.name == "ana"
    assert room.called("welcome") == [((session,), {})]


def test_text_on_the_joining_line_is_kept_for_the_loop_to_handle_next(handlers, sockets):
    session = Session(sockets(), ("127.0.0.1", 1), now=0.0)
    handlers.on_line(session, protocol.Line("ana", "  list "), 0.0)
    assert session.held == protocol.Line("ana", "list")


def test_a_taken_name_is_refused_with_a_fatal_code(handlers, room, joined, sockets):
    joined("ana")
    newcomer = Session(sockets(), ("127.0.0.1", 2), now=0.0)
    handlers.on_line(newcomer, protocol.Line("ANA", ""), 0.0)
    assert newcomer.name is None
    assert room.called("refuse") == [((newcomer, ErrorCode.NAME_TAKEN, "name_taken"), {"name": "ANA"})]
    assert ErrorCode.NAME_TAKEN.fatal


def test_writing_as_someone_else_is_an_error_and_nothing_is_sent(handlers, room, joined):
    ana = joined("ana")
    joined("bob")
    handlers.on_line(ana, protocol.Line("bob", "hola"), 0.0)
    assert room.called("send_error") == [
        ((ana, ErrorCode.IMPERSONATION, "impersonation"), {"name": "ana", "other": "bob"})
    ]
    assert not room.called("broadcast")


@pytest.mark.parametrize(
    ("error", "named", "expected"),
    [
        (protocol.BadName("a b"), False, ("refuse", ErrorCode.BAD_NAME)),
        (protocol.MissingPrefix("x"), False, ("refuse", ErrorCode.NO_NAME)),
        (protocol.LineTooLong("x"), True, ("send_error", ErrorCode.TOO_LONG)),
        (protocol.BadEncoding("x"), True, ("send_error", ErrorCode.ENCODING)),
        (protocol.MissingPrefix("x"), True, ("send_error", ErrorCode.NO_PREFIX)),
    ],
)
def test_bad_lines_get_the_error_of_their_kind(handlers, room, joined, sockets, error, named, expected):
    session = joined("ana") if named else Session(sockets(), ("127.0.0.1", 1), now=0.0)
    handlers.on_bad_line(session, error)
    method, code = expected
    ((_, sent_code, *_), _) = room.called(method)[0]
    assert sent_code is code


def test_list_streams_a_header_and_one_line_per_file(handlers, room, joined):
    ana = joined("ana")
    handlers.on_line(ana, line(ana, "list"), 0.0)
    ((session, texts), _) = room.called("reply_in_pieces")[0]
    texts = list(texts)
    assert session is ana
    assert texts[0] == room.say("list_header", count=1)
    assert texts[1].endswith("  notas.txt") and texts[1].split()[0] == "4"


def test_list_of_an_unreadable_directory_is_an_error_not_an_empty_list(handlers, room, joined, tmp_path):
    ana = joined("ana")
    tmp_path.joinpath("notas.txt").unlink()
    tmp_path.rmdir()
    handlers.on_line(ana, line(ana, "list"), 0.0)
    assert room.called("send_error") == [((ana, ErrorCode.RESOURCES, "list_failed"), {})]
    assert not room.called("reply")


def test_get_queues_the_download_and_a_missing_file_answers_with_its_code(handlers, room, downloads, joined):
    ana = joined("ana")
    downloads.missing.add("nada.txt")
    handlers.on_line(ana, line(ana, "get notas.txt"), 0.0)
    handlers.on_line(ana, line(ana, "GET nada.txt"), 0.0)
    assert downloads.requests == [(ana, "notas.txt")]
    assert room.called("send_error") == [
        ((ana, ErrorCode.NO_FILE, "no_such_file_named"), {"name": "nada.txt"})
    ]


@pytest.mark.parametrize(("text", "key"), [("get", "usage_get"), ("who now", "usage_no_arguments")])
def test_usage_errors(handlers, room, joined, text, key):
    ana = joined("ana")
    handlers.on_line(ana, line(ana, text), 0.0)
    ((_, code, sent_key), _) = room.called("send_error")[0]
    assert (code, sent_key) == (ErrorCode.USAGE, key)


def test_who_lists_the_members_sorted(handlers, room, joined):
    joined("zoe")
    ana = joined("ana")
    handlers.on_line(ana, line(ana, "who"), 0.0)
    assert room.called("reply") == [((ana, "Conectados (2): ana, zoe; servidor: profe"), {})]


def test_help_replies_every_help_line(handlers, room, joined):
    ana = joined("ana")
    handlers.on_line(ana, line(ana, "help"), 0.0)
    assert [args[1] for args, _ in room.called("reply")] == [room.say(key) for key in HELP_KEYS]


def test_quit_marks_the_session_for_the_loop_to_say_goodbye(handlers, joined):
    ana = joined("ana")
    handlers.on_line(ana, line(ana, "quit"), 0.0)
    assert ana.quitting


def test_chat_goes_to_the_console_and_everyone_else(handlers, room, joined):
    ana = joined("ana")
    handlers.on_line(ana, line(ana, "hola a todos"), 0.0)
    assert room.called("show") == [(("ana> hola a todos",), {})]
    assert room.called("broadcast") == [(("ana", "hola a todos"), {"exclude": ana})]


def test_chat_waits_while_the_room_is_congested_and_goes_out_after(handlers, room, joined):
    ana = joined("ana")
    room.congested = True
    assert handlers.on_line(ana, line(ana, "hola"), 0.0) is False
    assert not room.called("broadcast")
    room.congested = False
    assert handlers.on_line(ana, line(ana, "hola"), 0.0) is True
    assert room.called("broadcast")


def test_commands_do_not_wait_for_a_congested_room(handlers, room, joined):
    ana = joined("ana")
    room.congested = True
    assert handlers.on_line(ana, line(ana, "who"), 0.0)
    assert room.called("reply")


def test_a_chat_flood_is_dropped_past_the_burst_with_one_warning(handlers, room, joined):
    ana = joined("ana")
    for _ in range(CHAT_BURST_LINES + 5):
        handlers.on_line(ana, line(ana, "spam"), 0.0)
    assert len(room.called("broadcast")) == CHAT_BURST_LINES
    assert room.called("send_error") == [((ana, ErrorCode.FLOOD, "chat_flood"), {})]


def test_many_connections_from_one_address_share_a_chat_limit(handlers, room, sockets):
    sessions = []
    for number in range(10):
        session = Session(sockets(), ("127.0.0.1", 1000 + number), now=0.0)
        room.add_member(session, f"user{number}")
        sessions.append(session)
    shared = sessions[0].address_chat
    for session in sessions:
        session.address_chat = shared
        for _ in range(10):
            handlers.on_line(session, line(session, "spam"), 0.0)
    assert len(room.called("broadcast")) == ADDRESS_CHAT_BURST_LINES, "one address's burst for all ten"


def test_a_command_flood_waits_its_turn_instead_of_being_dropped(handlers, downloads, joined):
    ana = joined("ana")
    handled = [handlers.on_line(ana, line(ana, "get notas.txt"), 0.0) for _ in range(COMMAND_BURST + 3)]
    assert handled == [True] * COMMAND_BURST + [False] * 3
    assert handlers.on_line(ana, line(ana, "get notas.txt"), 1.0), "the allowance refills with time"


def test_a_private_message_reaches_only_its_recipient(handlers, room, joined):
    ana = joined("ana")
    bob = joined("bob")
    handlers.on_line(ana, line(ana, "@BOB  secreto "), 0.0)
    assert room.called("send_message") == [((bob, "ana", room.say("private", text="secreto")), {})]
    assert not room.called("broadcast")


def test_a_private_message_to_the_server_shows_on_the_console(handlers, room, joined):
    ana = joined("ana")
    handlers.on_line(ana, line(ana, "@profe hola"), 0.0)
    assert room.called("show") == [(("ana> (privado) hola",), {})]


@pytest.mark.parametrize(("text", "code"), [("@", ErrorCode.USAGE), ("@nadie hola", ErrorCode.NO_USER)])
def test_private_message_errors(handlers, room, joined, text, code):
    ana = joined("ana")
    handlers.on_line(ana, line(ana, text), 0.0)
    ((_, sent_code, _), _) = room.called("send_error")[0]
    assert sent_code is code


def test_the_console_broadcasts_or_writes_privately(handlers, room, joined):
    ana = joined("ana")
    handlers.on_console_line("hola clase")
    handlers.on_console_line("@ana solo para ti")
    handlers.on_console_line("@nadie hola")
    handlers.on_console_line("")
    assert room.called("broadcast") == [(("profe", "hola clase"), {})]
    assert room.called("send_message") == [((ana, "profe", room.say("private", text="solo para ti")), {})]
    assert room.called("show") == [((room.say("no_such_user", name="nadie"),), {})]


def test_a_join_line_announces_the_language_and_is_not_a_command(room, downloads, tmp_path, sockets):
    handlers = Handlers(room, downloads, Storage(str(tmp_path)), keep_alive_seconds=200.0)
    session = Session(sockets(), ("127.0.0.1", 1), now=0.0)
    handlers.on_line(session, protocol.Line("ana", "!JOIN lang=en future=yes"), 0.0)
    assert (session.name, session.language, session.held) == ("ana", "en", None)
    assert room.called("send_event") == [((session, protocol.KeepAlive(SERVER, 200.0)), {})]


def test_a_client_that_announces_nothing_gets_no_keep_alive_and_the_servers_language(handlers, room, sockets):
    session = Session(sockets(), ("127.0.0.1", 1), now=0.0)
    handlers.on_line(session, protocol.Line("ana", ""), 0.0)
    assert session.language is None
    assert room.called("send_event") == []


def test_an_unknown_language_is_the_servers(handlers, sockets):
    session = Session(sockets(), ("127.0.0.1", 1), now=0.0)
    handlers.on_line(session, protocol.Line("ana", "!JOIN lang=xx"), 0.0)
    assert session.language is None


def test_help_and_private_messages_speak_the_recipients_language(handlers, room, joined):
    ana, bob = joined("ana"), joined("bob")
    ana.language = "en"
    handlers.on_line(ana, line(ana, "help"), 0.0)
    handlers.on_line(bob, line(bob, "@ana hola"), 0.0)
    english = Messages("en")
    assert [text for (_, text), _ in room.called("reply")] == [english(key) for key in HELP_KEYS]
    assert room.called("send_message") == [((ana, "bob", "(private) hola"), {})]


def test_who_with_nobody_connected_still_names_the_server(handlers, room):
    handlers.on_console_line("/who")
    assert room.called("show") == [(("Conectados (0); servidor: profe",), {})]


def test_console_who_and_help(handlers, room, joined):
    joined("ana")
    handlers.on_console_line("/who")
    handlers.on_console_line("/HELP")
    shown = [text for (text,), _ in room.called("show")]
    assert shown[0] == "Conectados (1): ana; servidor: profe"
    assert shown[1:] == [room.say(key) for key in CONSOLE_HELP_KEYS]
    assert not room.called("broadcast")


def test_console_kick_tells_the_member_why_and_closes(handlers, room, joined):
    ana = joined("ana")
    handlers.on_console_line("/kick ana  deja de hacer spam ")
    handlers.on_console_line("/kick nadie")
    handlers.on_console_line("/kick")
    assert room.called("refuse") == [
        ((ana, ErrorCode.KICKED, "kicked_because"), {"name": SERVER, "reason": "deja de hacer spam"})
    ]
    assert ErrorCode.KICKED.fatal
    assert [text for (text,), _ in room.called("show")] == [
        room.say("console_kicked", name="ana"),
        room.say("no_such_user", name="nadie"),
        room.say("usage_kick"),
    ]


def test_console_quit_stops_the_server(room, downloads, tmp_path):
    stops = []
    handlers = Handlers(room, downloads, Storage(str(tmp_path)), stop=lambda: stops.append(True))
    handlers.on_console_line("/quit")
    assert stops == [True]
    assert not room.called("broadcast")


def test_resume_queues_the_rest_of_a_file_and_a_malformed_one_is_usage(handlers, room, downloads, joined):
    ana = joined("ana")
    digest = "c" * 64
    downloads.missing.add("nada.txt")
    handlers.on_line(ana, line(ana, f"resume 100 {digest} con espacio.txt"), 0.0)
    handlers.on_line(ana, line(ana, f"resume 100 {digest} nada.txt"), 0.0)
    handlers.on_line(ana, line(ana, "resume 100 nada.txt"), 0.0)
    assert downloads.requests == [(ana, "con espacio.txt", 100, digest)]
    assert [(code, key) for (_, code, key), _ in room.called("send_error")] == [
        (ErrorCode.NO_FILE, "no_such_file_named"),
        (ErrorCode.USAGE, "usage_resume"),
    ]


@pytest.fixture
def several(room, downloads, tmp_path):
    for name in ("a.txt", "b.txt", "c.md", "con espacio.txt", ".oculto.txt", "esc\x1b.txt"):
        (tmp_path / name).write_text("x")
    downloads.missing.update({"a.txt b.txt", "a.txt nada.txt", "nada.txt", "no existe.txt"})  # no such files
    return Handlers(room, downloads, Storage(str(tmp_path)))


def queued_names(room) -> list[str]:
    return [event.name for (_, event), _ in room.called("send_event") if isinstance(event, protocol.Queued)]


def test_mget_queues_every_served_match_in_name_order(several, room, downloads, joined):
    ana = joined("ana")
    several.on_line(ana, line(ana, "mget *.txt"), 0.0)
    assert queued_names(room) == ["a.txt", "b.txt", "con espacio.txt"], "no hidden or escaped name"
    assert [name for _, name in downloads.requests] == ["a.txt", "b.txt", "con espacio.txt"]


def test_mget_matching_nothing_is_no_match(several, room, joined):
    ana = joined("ana")
    several.on_line(ana, line(ana, "mget *.pdf"), 0.0)
    assert room.called("send_error") == [
        ((ana, ErrorCode.NO_MATCH, "no_match"), {"name": "*.pdf", "pattern": "*.pdf"})
    ]
    assert room.called("send_file_error") == [((ana, ErrorCode.NO_MATCH, "*.pdf"), {})]


def test_mget_past_the_queue_cap_says_how_many_were_left_out(several, room, downloads, joined):
    ana = joined("ana")
    downloads.limit = 2
    several.on_line(ana, line(ana, "mget *"), 0.0)
    assert queued_names(room) == ["a.txt", "b.txt"]
    assert room.called("send_error") == [
        ((ana, ErrorCode.QUEUE_FULL, "mget_queue_full"), {"count": 2, "name": "c.md"})
    ]


def test_get_of_several_names_queues_each_when_no_file_has_the_whole_name(several, room, downloads, joined):
    ana = joined("ana")
    several.on_line(ana, line(ana, "get a.txt b.txt"), 0.0)
    several.on_line(ana, line(ana, "get a.txt nada.txt"), 0.0)
    assert queued_names(room) == ["a.txt", "b.txt", "a.txt"]
    assert room.called("send_error") == [
        ((ana, ErrorCode.NO_FILE, "no_such_file_named"), {"name": "nada.txt"})
    ], "what exists is queued, what does not is refused on its own (issue 18)"


def test_get_of_several_words_none_of_them_a_file_is_one_missing_name(several, room, joined):
    ana = joined("ana")
    several.on_line(ana, line(ana, "get no existe.txt"), 0.0)
    assert queued_names(room) == []
    assert room.called("send_error") == [
        ((ana, ErrorCode.NO_FILE, "no_such_file_named"), {"name": "no existe.txt"})
    ]


def test_a_newcomer_is_sent_the_history_after_its_welcome(handlers, room, sockets):
    session = Session(sockets(), ("127.0.0.1", 1), now=0.0)
    handlers.on_line(session, protocol.Line("ana", "!JOIN proto=3"), 0.0)
    methods = [name for name, _args, _values in room.calls]
    assert methods.index("send_history") > methods.index("welcome")
    assert methods.index("send_history") > methods.index("send_event"), "after !PROTO"


@pytest.mark.parametrize("typo", ["/kik bob", "/KIK", "/", "/who-is"])
def test_an_unknown_console_command_is_an_error_and_never_reaches_the_class(handlers, room, joined, typo):
    joined("bob")
    handlers.on_console_line(typo)
    assert not room.called("broadcast")
    assert not room.called("refuse")
    word = typo.partition(" ")[0]
    assert room.called("show") == [((room.say("console_unknown_command", command=word),), {})]


def test_two_slashes_say_a_line_that_starts_with_one(handlers, room):
    handlers.on_console_line("//etc es una carpeta")
    assert room.called("broadcast") == [(("profe", "/etc es una carpeta"), {})]


def test_console_history_shows_the_conversation_again(handlers, room):
    handlers.on_console_line("/history")
    assert room.called("history_lines") == [((), {})]
