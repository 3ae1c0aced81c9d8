"""The lab door's password step (lab_logins.py, through handlers.py), against a fake room
that records what it was asked; the refusals' delays through a LoginGuard on a fake clock."""

from __future__ import annotations

import pytest

from ftplab import accounts, logins, protocol
from ftplab.accounts import Account, Accounts
from ftplab.handlers import Handlers
from ftplab.lab_logins import LabLogins
from ftplab.logins import LoginGuard
from ftplab.protocol import ErrorCode
from ftplab.session import Session
from ftplab.storage import Storage

SERVER = "profe"
JOIN = "!JOIN lang=en proto=4"


class Room:
    """Records events, errors and refusals; takes any free name."""

    def __init__(self):
        self.name = SERVER
        self.events: list[tuple[Session, object]] = []
        self.refused: list[tuple[Session, ErrorCode, str, dict]] = []
        self.errors: list[tuple[Session, ErrorCode, str]] = []
        self.members: dict[str, Session] = {}

    def send_event(self, session, event):
        self.events.append((session, event))

    def refuse(self, session, code, key, **values):
        self.refused.append((session, code, key, values))

    def send_error(self, session, code, key, **_values):
        self.errors.append((session, code, key))

    def send_file_error(self, session, code, key, name, **_values):
        self.errors.append((session, code, key))

    def add_member(self, session, name):
        session.name = name
        self.members[name] = session
        return True

    def __getattr__(self, _method):
        return lambda *args, **values: None


@pytest.fixture
def room():
    return Room()


@pytest.fixture
def guard(clock):
    return LoginGuard(clock=clock)


def make_accounts() -> Accounts:
    cheap = {"n": 2**4, "r": 1, "p": 1}
    return Accounts(
        [
            Account("ana", frozenset({"download", "upload"}), accounts.hash_password("secreta", **cheap)),
            Account("visita", frozenset(), accounts.hash_password("mirar", **cheap)),
        ]
    )


def make_handlers(room, guard, tmp_path, *, allow_clear=True) -> Handlers:
    (tmp_path / "notas.txt").write_text("hola")
    gate = LabLogins(make_accounts(), guard, room, allow_clear=allow_clear)
    return Handlers(room, downloads=None, storage=Storage(str(tmp_path)), logins=gate)


def connect(sockets, address: str = "127.0.0.1") -> Session:
    return Session(sockets(), (address, 40000), now=0.0)


def test_the_join_is_answered_with_password_and_the_right_one_lets_it_in(room, guard, tmp_path, sockets):
    handlers = make_handlers(room, guard, tmp_path)
    session = connect(sockets)
    handlers.on_line(session, protocol.Line("ana", JOIN), 0.0)
    assert room.events == [(session, protocol.PasswordRequest(SERVER))] and session.name is None
    handlers.on_line(session, protocol.Password("ana", "secreta"), 0.1)
    assert session.name == "ana" and session.login is None and room.refused == []
    assert session.rights == {"download", "upload"}
    assert session.language == "en" and session.protocol_version == protocol.VERSION


def test_a_twin_of_an_account_needs_its_password(room, guard, tmp_path, sockets):
    handlers = make_handlers(room, guard, tmp_path)
    session = connect(sockets)
    handlers.on_line(session, protocol.Line("\u0410na", JOIN), 0.0)  # Cyrillic capital A
    handlers.on_line(session, protocol.Password("\u0410na", "secreta"), 0.1)
    assert session.name == "\u0410na" and session.rights == {"download", "upload"}


@pytest.mark.parametrize(("name", "password"), [("ana", "otra"), ("nadie", "secreta"), ("visita", "")])
def test_a_wrong_password_or_a_name_without_account_is_refused_after_the_delay(
    room, guard, tmp_path, sockets, name, password
):
    handlers = make_handlers(room, guard, tmp_path)
    session = connect(sockets)
    handlers.on_line(session, protocol.Line(name, JOIN), 0.0)
    handlers.on_line(session, protocol.Password(name, password), 5.0)
    assert session.name is None and room.refused == []
    assert not session.login.refusal_due(5.0 + logins.FIRST_DELAY_SECONDS - 0.01)
    assert session.login.refusal_due(5.0 + logins.FIRST_DELAY_SECONDS)
    assert session.login.refusal[:2] == (ErrorCode.BAD_PASSWORD, "bad_password")
    handlers.on_line(session, protocol.Password(name, "secreta"), 5.1)  # a second guess is not looked at
    assert session.name is None


def test_a_password_for_another_name_is_a_wrong_password(room, guard, tmp_path, sockets):
    handlers = make_handlers(room, guard, tmp_path)
    session = connect(sockets)
    handlers.on_line(session, protocol.Line("visita", JOIN), 0.0)
    handlers.on_line(session, protocol.Password("ana", "secreta"), 0.1)
    assert session.name is None and session.login.refuse_at is not None


def test_a_line_other_than_the_password_is_refused(room, guard, tmp_path, sockets):
    handlers = make_handlers(room, guard, tmp_path)
    session = connect(sockets)
    handlers.on_line(session, protocol.Line("ana", JOIN), 0.0)
    handlers.on_line(session, protocol.Line("ana", "list"), 0.1)
    assert [refusal[1] for refusal in room.refused] == [ErrorCode.PASSWORD_REQUIRED]


@pytest.mark.parametrize("first_line", ["", "!JOIN lang=en proto=3", "hola"])
def test_a_client_that_cannot_answer_password_is_told_so(room, guard, tmp_path, sockets, first_line):
    handlers = make_handlers(room, guard, tmp_path)
    session = connect(sockets)
    handlers.on_line(session, protocol.Line("ana", first_line), 0.0)
    assert [(code, values) for _s, code, _k, values in room.refused] == [
        (ErrorCode.PASSWORD_REQUIRED, {"version": protocol.PASSWORD_VERSION})
    ]
    assert room.events == [] and session.name is None


def test_in_clear_no_password_is_asked_unless_allowed(room, guard, tmp_path, sockets):
    handlers = make_handlers(room, guard, tmp_path, allow_clear=False)
    session = connect(sockets)
    handlers.on_line(session, protocol.Line("ana", JOIN), 0.0)
    assert [refusal[1:3] for refusal in room.refused] == [(ErrorCode.TLS_REQUIRED, "clear_password_refused")]
    assert room.events == []


def test_past_the_budget_the_address_is_refused_before_asking(room, guard, clock, tmp_path, sockets):
    handlers = make_handlers(room, guard, tmp_path)
    for attempt in range(logins.BUDGET):
        session = connect(sockets)
        handlers.on_line(session, protocol.Line("ana", JOIN), 0.0)
        handlers.on_line(session, protocol.Password("ana", f"guess{attempt}"), 0.0)
    assert session.login.refusal[:2] == (ErrorCode.LOGINS_BLOCKED, "logins_blocked")
    blocked = connect(sockets)
    handlers.on_line(blocked, protocol.Line("ana", JOIN), 0.0)
    assert room.refused[-1][:3] == (blocked, ErrorCode.LOGINS_BLOCKED, "logins_blocked")
    other = connect(sockets, "127.0.0.2")
    handlers.on_line(other, protocol.Line("ana", JOIN), 0.0)
    handlers.on_line(other, protocol.Password("ana", "secreta"), 0.0)
    assert other.name == "ana"


def test_rights_are_enforced_on_get_mget_resume_and_put(room, guard, tmp_path, sockets):
    handlers = make_handlers(room, guard, tmp_path)
    session = connect(sockets)
    handlers.on_line(session, protocol.Line("visita", JOIN), 0.0)
    handlers.on_line(session, protocol.Password("visita", "mirar"), 0.0)
    assert session.rights == frozenset()
    for text in (
        "get notas.txt",
        "mget *.txt",
        "resume 1 " + "0" * 64 + " notas.txt",
        "put 4 " + "0" * 64 + " x",
    ):
        handlers.on_line(session, protocol.Line("visita", text), 1.0)
    codes = [code for _session, code, _key in room.errors]
    assert codes == [ErrorCode.NO_DOWNLOAD] * 3 + [ErrorCode.NO_UPLOAD], room.errors


def test_a_password_line_after_joining_goes_nowhere(room, guard, tmp_path, sockets):
    handlers = make_handlers(room, guard, tmp_path)
    session = connect(sockets)
    handlers.on_line(session, protocol.Line("ana", JOIN), 0.0)
    handlers.on_line(session, protocol.Password("ana", "secreta"), 0.0)
    handlers.on_line(session, protocol.Password("ana", "secreta"), 1.0)
    assert room.errors == [(session, ErrorCode.PROTOCOL, "password_not_now")]


def test_without_accounts_a_password_line_is_what_it_always_was(tmp_path, sockets):
    """The open lab is unchanged: `!PASSWORD x` typed by hand (nc) is a first line like any."""
    room = Room()
    handlers = Handlers(room, downloads=None, storage=Storage(str(tmp_path)))
    session = connect(sockets)
    handlers.on_line(session, protocol.Password("ana", "x"), 0.0)
    assert session.name == "ana" and room.errors == [] and room.refused == []
    assert session.held == protocol.Line("ana", "!PASSWORD x")


def test_a_password_over_the_checks_ration_waits_its_turn(room, guard, clock, tmp_path, sockets):
    handlers = make_handlers(room, guard, tmp_path)
    while guard.check_wait("127.0.0.1") == 0.0:
        pass
    session = connect(sockets)
    handlers.on_line(session, protocol.Line("ana", JOIN), 0.0)
    password = protocol.Password("ana", "secreta")
    assert handlers.on_line(session, password, 0.0) is False  # held: the door offers it again later
    assert session.name is None and room.refused == []
    clock.now += 1 / logins.ADDRESS_CHECKS_PER_SECOND
    assert handlers.on_line(session, password, 0.5) is True
    assert session.name == "ana"


def test_failed_ftp_logins_count_against_the_lab_door_too(room, guard, tmp_path, sockets):
    """One guard for both doors: guesses cannot be split between them to get twice the budget."""
    from support.ftp_loop import FakeLoop, make_session

    known = make_accounts()
    for attempt in range(logins.BUDGET):
        ftp_session = make_session(tmp_path, logins=guard, accounts=known, allow_clear_passwords=True)
        loop = FakeLoop(ftp_session)
        loop.run()
        loop.feed(f"USER ana\r\nPASS guess{attempt}\r\n".encode())
    handlers = make_handlers(room, guard, tmp_path)
    session = connect(sockets)
    handlers.on_line(session, protocol.Line("ana", JOIN), 0.0)
    assert room.refused[-1][:3] == (session, ErrorCode.LOGINS_BLOCKED, "logins_blocked")
