"""The FTP door with accounts (--users): USER/PASS against the accounts file, no password
in clear unless allowed, and each account's rights in every command, FEAT and MLSD's perm."""

from __future__ import annotations

import pytest

from ftplab import accounts
from ftplab.accounts import Account, Accounts
from ftplab.logins import LoginGuard
from support.ftp_loop import FakeLoop, make_session

CHEAP = {"n": 2**4, "r": 1, "p": 1}


def make_accounts() -> Accounts:
    def make(name, password, *rights):
        return Account(name, frozenset(rights), accounts.hash_password(password, **CHEAP))

    return Accounts(
        [
            make("ana", "secreta", "download", "upload"),
            make("profe", "tiza", "download", "upload", "overwrite"),
            make("visita", "mirar"),
        ]
    )


@pytest.fixture
def root(tmp_path):
    (tmp_path / "notas.txt").write_text("hola\n")
    (tmp_path / "sub").mkdir()
    return tmp_path


def connect(root, *, clear_ok=True, tls=False, **settings) -> FakeLoop:
    session = make_session(
        root,
        accounts=make_accounts(),
        allow_clear_passwords=clear_ok,
        tls=tls,
        logins=LoginGuard(clock=lambda: 0.0),
        **settings,
    )
    loop = FakeLoop(session)
    loop.run()
    return loop


def log_in(root, user: str, password: str, **options) -> FakeLoop:
    loop = connect(root, **options)
    replies = loop.feed(f"USER {user}\r\nPASS {password}\r\n".encode())
    assert replies[-1].startswith("230 "), replies
    return loop


def codes(replies):
    return [int(reply[:3]) for reply in replies]


def test_an_account_logs_in_with_its_password_and_twins_are_the_same_account(root):
    assert log_in(root, "ana", "secreta").session.name == "ana"
    assert log_in(root, "ANA", "secreta").session.name == "ANA"


@pytest.mark.parametrize(("user", "password"), [("ana", "otra"), ("nadie", "secreta"), ("\u0430na", "x")])
def test_a_wrong_password_or_unknown_name_is_530_after_a_delay(root, user, password):
    loop = connect(root)
    replies = loop.feed(f"USER {user}\r\nPASS {password}\r\n".encode())
    assert codes(replies) == [331, 530] and loop.delays == [0.5]
    assert loop.session.name is None


def test_anonymous_is_refused_with_accounts(root):
    loop = connect(root)
    assert codes(loop.feed(b"USER anonymous\r\n")) == [530]
    assert "Anonymous" in loop.replies[-1]


def test_in_clear_user_is_refused_before_the_password_is_sent(root):
    loop = connect(root, clear_ok=False, tls=True)
    replies = loop.feed(b"USER ana\r\n")
    assert codes(replies) == [530] and "AUTH TLS" in replies[0]
    no_tls = connect(root, clear_ok=False)
    assert "--tls-cert" in no_tls.feed(b"USER ana\r\n")[0]


def test_after_auth_tls_the_password_is_accepted(root):
    loop = connect(root, clear_ok=False, tls=True)
    loop.feed(b"AUTH TLS\r\n")
    replies = loop.feed(b"USER ana\r\nPASS secreta\r\n")
    assert codes(replies) == [331, 230]


def test_an_account_without_download_gets_550_for_retr_and_hash_and_no_r_perm(root):
    loop = log_in(root, "visita", "mirar", allow_upload=True)
    loop.feed(b"PASV\r\n")
    assert codes(loop.feed(b"RETR notas.txt\r\n")) == [550]
    assert "download" in loop.replies[-1]
    assert codes(loop.feed(b"HASH notas.txt\r\n")) == [550]
    assert codes(loop.feed(b"STOR nueva.txt\r\n")) == [550]  # --allow-upload is not the account's right
    assert "perm=;" in loop.feed(b"MLST notas.txt\r\n")[0]
    assert "MFMT" not in loop.feed(b"FEAT\r\n")[0]


def test_an_account_with_upload_but_no_overwrite(root):
    loop = log_in(root, "ana", "secreta")  # the server's switches are off: the account says
    assert "MFMT" in loop.feed(b"FEAT\r\n")[0]
    assert "perm=r;" in loop.feed(b"MLST notas.txt\r\n")[0]
    assert codes(loop.feed(b"DELE notas.txt\r\n")) == [550]
    loop.upload_data = b"nuevo"
    loop.feed(b"PASV\r\n")
    assert codes(loop.feed(b"STOR nueva.txt\r\n")) == [150, 226]
    assert (root / "nueva.txt").read_bytes() == b"nuevo"
    loop.feed(b"PASV\r\n")
    assert codes(loop.feed(b"STOR notas.txt\r\n"))[-1] == 553


def test_an_account_with_overwrite_may_replace_and_delete(root):
    loop = log_in(root, "profe", "tiza")
    assert "perm=radfw;" in loop.feed(b"MLST notas.txt\r\n")[0]
    assert codes(loop.feed(b"DELE notas.txt\r\n")) == [250]
