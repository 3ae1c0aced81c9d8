"""The FTP session's security commands (RFC 4217): AUTH TLS, PBSZ, PROT, FEAT and
--require-tls, driven with bytes, no sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftplab import ftp
from support.ftp_loop import FakeLoop, make_session


@pytest.fixture
def root(tmp_path: Path) -> Path:
    files = tmp_path / "files"
    files.mkdir()
    return files


def started(root: Path, **settings) -> FakeLoop:
    loop = FakeLoop(make_session(root, tls=True, **settings))
    loop.run()
    return loop


def codes(replies: list[str]) -> list[int]:
    return [int(text[:3]) for text in replies]


def test_auth_tls_answers_234_then_asks_for_tls(root):
    loop = started(root)
    assert codes(loop.feed(b"AUTH TLS\r\n")) == [234]
    reply, start = loop.actions[-2:]
    assert isinstance(reply, ftp.SendReply) and reply.data.startswith(b"234 ")
    assert isinstance(start, ftp.StartTls), "TLS starts after the 234 is queued"
    assert loop.session.tls_active


def test_lines_sent_in_clear_after_auth_never_run_inside_tls(root):
    loop = started(root)
    replies = loop.feed(b"AUTH TLS\r\nUSER injected\r\n")
    assert codes(replies) == [234]
    assert codes(loop.feed(b"USER ana\r\n")) == [331], "the session goes on with what comes after"


def test_pbsz_and_prot_in_order(root):
    loop = started(root)
    assert codes(loop.feed(b"PBSZ 0\r\nPROT P\r\n")) == [503, 503]
    loop.feed(b"AUTH TLS\r\n")
    assert loop.feed(b"PBSZ 0\r\n") == ["200 PBSZ=0\r\n"]
    assert codes(loop.feed(b"PROT S\r\nPROT X\r\n")) == [536, 504]
    assert codes(loop.feed(b"PROT P\r\n")) == [200] and loop.session.data_protected
    assert codes(loop.feed(b"PROT C\r\n")) == [200] and not loop.session.data_protected


def test_auth_without_tls_configured_or_after_login_or_twice(root):
    plain = FakeLoop(make_session(root))
    plain.run()
    assert codes(plain.feed(b"AUTH TLS\r\n")) == [502]
    loop = started(root)
    assert codes(loop.feed(b"AUTH KERBEROS\r\n")) == [504]
    assert codes(loop.feed(b"USER ana\r\nAUTH TLS\r\n")) == [331, 503]
    other = started(root)
    other.feed(b"AUTH TLS\r\n")
    assert codes(other.feed(b"AUTH TLS\r\n")) == [503]


def test_ccc_is_not_offered(root):
    loop = started(root)
    loop.feed(b"AUTH TLS\r\n")
    assert codes(loop.feed(b"CCC\r\n")) == [502]


def test_feat_lists_tls_only_when_configured(root):
    loop = started(root)
    features = "".join(loop.feed(b"FEAT\r\n"))
    assert " AUTH TLS\r\n" in features and " PBSZ\r\n" in features and " PROT\r\n" in features
    plain = FakeLoop(make_session(root))
    plain.run()
    assert "AUTH" not in "".join(plain.feed(b"FEAT\r\n"))


def test_require_tls_refuses_a_clear_login_with_530(root):
    loop = started(root, require_tls=True)
    replies = loop.feed(b"USER ana\r\nPASS x\r\n")
    assert codes(replies) == [530, 503] and "AUTH TLS" in replies[0]
    assert loop.session.name is None
    secured = started(root, require_tls=True)
    secured.feed(b"AUTH TLS\r\n")
    assert codes(secured.feed(b"USER ana\r\nPASS x\r\n")) == [331, 230]


def test_implicit_tls_protects_data_by_default_and_takes_prot_without_pbsz(root):
    loop = FakeLoop(make_session(root, tls=True, require_tls=True))
    loop.session.begin_implicit_tls()
    loop.run()
    assert loop.session.tls_active and loop.session.data_protected
    assert codes(loop.feed(b"AUTH TLS\r\n")) == [503]
    assert codes(loop.feed(b"USER ana\r\n")) == [331], "--require-tls: the connection is TLS already"
    assert codes(loop.feed(b"PROT C\r\n")) == [200] and not loop.session.data_protected
    assert codes(loop.feed(b"PBSZ 0\r\nPROT P\r\n")) == [200, 200] and loop.session.data_protected
