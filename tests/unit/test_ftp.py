"""ftp.FtpSession: the FTP control connection, driven with bytes and events, no sockets."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftplab import ftp
from ftplab.ftp.session import COMMAND_HANDLERS
from ftplab.messages import ENGLISH, SPANISH, Messages
from ftplab.storage import UPLOAD_TEMP_PREFIX, Storage, Tree
from support.ftp_loop import PASSIVE_PORT, FakeLoop, logged_in, make_session

MTIME = 1_799_000_000  # 2027-01-03 18:13:20 UTC, some days before the sessions' clock


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """tmp/files (the root): a.txt, sub/inner.txt, sub/deeper/; next to tmp/secret.txt."""
    files = tmp_path / "files"
    (files / "sub" / "deeper").mkdir(parents=True)
    (files / "a.txt").write_bytes(b"hello\n")
    (files / "sub" / "inner.txt").write_bytes(b"inner")
    (tmp_path / "secret.txt").write_bytes(b"secret")
    for path in (files / "a.txt", files / "sub" / "inner.txt"):
        os.utime(path, (MTIME, MTIME))
    return files


def codes(replies: list[str]) -> list[int]:
    return [int(text[:3]) for text in replies]


def only(replies: list[str]) -> str:
    assert len(replies) == 1, replies
    return replies[0]


def passive(loop: FakeLoop) -> None:
    assert codes(loop.feed(b"EPSV\r\n")) == [229]


# --- replies and framing ------------------------------------------------------------


def test_greeting_is_220_and_crlf(root):
    loop = FakeLoop(make_session(root))
    loop.run()
    assert loop.replies == ["220 Service ready for new user: ftplab FTP server.\r\n"]


def test_multi_line_reply_format():
    data = ftp.reply(211, "Features:", "EPSV", "End")
    assert data == b"211-Features:\r\n EPSV\r\n211 End\r\n"


def test_reply_text_cannot_forge_a_line():
    data = ftp.reply(550, "No such file: a\rb\n211 End\x1b[2J")
    assert data.count(b"\r\n") == 1 and b"\x1b" not in data and data.startswith(b"550 ")


@pytest.mark.parametrize("how", ["whole", "byte by byte", "with trailing data"])
def test_login_fed_in_any_split(root, how):
    loop = FakeLoop(make_session(root))
    loop.run()
    data = b"USER alice\r\nPASS secret\r\nSYST\r\n"
    if how == "whole":
        loop.feed(data)
    elif how == "byte by byte":
        for byte in data:
            loop.feed(bytes([byte]))
    else:
        loop.feed(data + b"NOO")
    assert codes(loop.replies) == [220, 331, 230, 215]
    assert loop.replies[-1] == "215 UNIX Type: L8\r\n"
    if how == "with trailing data":
        assert codes(loop.feed(b"P\r\n")) == [200]


def test_bare_lf_and_lower_case_are_accepted(root):
    loop = logged_in(root)
    assert only(loop.feed(b"noop\n")).startswith("200 ")


def test_line_over_the_limit_gets_500_and_the_connection_is_kept(root):
    loop = logged_in(root)
    long_line = b"RETR " + b"x" * ftp.MAX_COMMAND_BYTES + b"\r\n"
    replies = loop.feed(long_line[:100]) + loop.feed(long_line[100:] + b"NOOP\r\n")
    assert codes(replies) == [500, 200]
    assert "4096" in replies[0]
    assert not loop.session.closed


def test_line_at_the_limit_is_accepted(root):
    loop = logged_in(root)
    padding = ftp.MAX_COMMAND_BYTES - len(b"NOOP \r\n") - 1
    assert codes(loop.feed(b"NOOP " + b"x" * padding + b"\r\n")) == [501]


def test_invalid_utf8_gets_501(root):
    loop = logged_in(root)
    replies = loop.feed(b"CWD caf\xe9\r\nNOOP\r\n")
    assert replies[0] == "501 Syntax error in parameters or arguments: the line is not valid UTF-8.\r\n"
    assert codes(replies) == [501, 200]


def test_telnet_interrupt_before_abor_is_dropped(root):
    loop = logged_in(root)
    assert codes(loop.feed(b"\xff\xf4\xff\xf2ABOR\r\n")) == [226]


def lines_of(buffer: ftp.LineBuffer, data: bytes) -> list:
    """Every whole line `buffer` has after `data` arrives."""
    buffer.add(data)
    return list(iter(buffer.next_line, None))


def test_telnet_escaped_iac_is_a_literal_byte():
    assert lines_of(ftp.LineBuffer(), b"RETR \xff\xffx\xff\xf4\r\n") == [b"RETR \xffx"]


def test_unknown_command_502_and_before_login_530(root):
    loop = FakeLoop(make_session(root))
    loop.run()
    assert only(loop.feed(b"XYZZY\r\n")) == "502 Command not implemented.\r\n"
    assert codes(loop.feed(b"PWD\r\n")) == [530]
    assert codes(loop.feed(b"RETR a.txt\r\n")) == [530]
    assert codes(loop.feed(b"STOR a.txt\r\n")) == [530]
    assert codes(loop.feed(b"SYST\r\nFEAT\r\n")) == [215, 211]


@pytest.mark.parametrize(("line", "code"), [(b"CWD\r\n", 501), (b"PWD now\r\n", 501), (b"RETR\r\n", 501)])
def test_argument_checked_from_the_table(root, line, code):
    assert codes(logged_in(root).feed(line)) == [code]


def test_every_table_command_has_a_handler_and_no_handler_lacks_a_command():
    assert COMMAND_HANDLERS.keys() == ftp.COMMANDS.keys()
    assert all(callable(handler) for handler in COMMAND_HANDLERS.values())


# --- login ----------------------------------------------------------------------------


def test_login_emits_join_and_the_name(root):
    loop = logged_in(root, "Ana")
    assert ftp.Join("Ana") in loop.actions
    assert loop.replies[-1] == "230 User logged in, proceed. Hello, Ana.\r\n"


@pytest.mark.parametrize("user", ["anonymous", "ftp", "ANONYMOUS"])
def test_anonymous_gets_a_generated_name(root, user):
    loop = logged_in(root, user)
    assert loop.session.name == "anon-1"


@pytest.mark.parametrize("user", ["a>b", "x" * 33, "ana!"])
def test_lab_name_rules_apply(root, user):
    loop = FakeLoop(make_session(root))
    loop.run()
    assert codes(loop.feed(f"USER {user}\r\n".encode())) == [530]
    assert codes(loop.feed(b"PASS x\r\n")) == [503]


def test_shared_password(root):
    loop = FakeLoop(make_session(root, password="clave"))
    loop.run()
    assert codes(loop.feed(b"USER ana\r\nPASS mala\r\n")) == [331, 530]
    assert codes(loop.feed(b"USER ana\r\nPASS clave\r\n")) == [331, 230]


def test_three_failed_logins_close_with_421(root):
    loop = FakeLoop(make_session(root, password="clave"))
    loop.run()
    replies = loop.feed(b"USER a\r\nPASS 1\r\nUSER a\r\nPASS 2\r\nUSER a\r\nPASS 3\r\nNOOP\r\n")
    assert codes(replies) == [331, 530, 331, 530, 331, 421]
    assert isinstance(loop.actions[-1], ftp.Close) and loop.session.closed


def test_join_refused_by_the_room_is_530(root):
    loop = FakeLoop(make_session(root), refuse_join="The name ana is already in use")
    loop.run()
    replies = loop.feed(b"USER ana\r\nPASS x\r\n")
    assert replies[-1] == "530 The name ana is already in use\r\n"
    assert loop.session.name is None


def test_commands_wait_for_the_join_answer(root):
    session = make_session(root)
    loop = FakeLoop(session)
    loop.feed(b"USER ana\r\nPASS x\r\nPWD\r\n")
    assert codes(loop.replies) == [220, 331, 230, 257]


# --- simple commands --------------------------------------------------------------


def test_feat_lists_rfc_3659_features(root):
    reply = only(logged_in(root).feed(b"FEAT\r\n"))
    lines = reply.split("\r\n")
    assert lines[0] == "211-Features:" and lines[-2] == "211 End" and lines[-1] == ""
    assert " MLST type*;size*;modify*;perm*;" in lines and " REST STREAM" in lines and " EPSV" in lines
    assert all(line.startswith(" ") for line in lines[1:-2])


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"TYPE I", "200 Command okay: type set to I."),
        (b"TYPE A", "200 Command okay: type set to A."),
        (b"TYPE L 8", "200 Command okay: type set to I."),
        (b"TYPE E", "504 Command not implemented for that parameter."),
        (b"MODE S", "200 Command okay: mode set to S."),
        (b"MODE B", "504 Command not implemented for that parameter."),
        (b"STRU F", "200 Command okay: structure set to F."),
        (b"STRU R", "504 Command not implemented for that parameter."),
        (b"OPTS UTF8 ON", "200 Command okay: always in UTF-8 mode."),
        (b"NOOP", "200 Command okay."),
        (b"SYST", "215 UNIX Type: L8"),
        (b"PWD", '257 "/" is the current directory.'),
        (b"REST 10", "350 Restarting at 10. Send STORE or RETRIEVE to initiate transfer."),
        (b"REST -1", "501 Syntax error in parameters or arguments. Usage: REST <SP> offset"),
        (b"HELP RETR", "214 Syntax: RETR <SP> pathname"),
    ],
)
def test_simple_replies(root, line, reply):
    assert only(logged_in(root).feed(line + b"\r\n")) == reply + "\r\n"


def test_help_lists_every_command(root):
    reply = only(logged_in(root).feed(b"HELP\r\n"))
    assert reply.startswith("214-") and reply.endswith("214 Help OK.\r\n")
    assert all(verb in reply for verb in ftp.COMMANDS)


def test_quit_says_221_and_closes(root):
    loop = logged_in(root)
    assert codes(loop.feed(b"QUIT\r\nNOOP\r\n")) == [221]
    assert isinstance(loop.actions[-1], ftp.Close)


def test_shut_down_says_421(root):
    loop = logged_in(root)
    loop.session.shut_down("server_closing")
    loop.run()
    assert loop.replies[-1] == "421 The server is closing. Goodbye!\r\n"
    assert isinstance(loop.actions[-1], ftp.Close)


def test_replies_in_spanish(root):
    loop = FakeLoop(make_session(root, language="es"))
    loop.run()
    assert loop.replies[0].startswith("220 Servicio listo")


# --- directories --------------------------------------------------------------------


def test_cwd_pwd_cdup(root):
    loop = logged_in(root)
    assert codes(loop.feed(b"CWD sub/deeper\r\n")) == [250]
    assert only(loop.feed(b"PWD\r\n")) == '257 "/sub/deeper" is the current directory.\r\n'
    assert codes(loop.feed(b"CDUP\r\n")) == [200]
    assert loop.session.cwd == ("sub",)
    assert codes(loop.feed(b"CWD /\r\nCDUP\r\n")) == [250, 200]
    assert loop.session.cwd == ()


@pytest.mark.parametrize("target", ["../", "../..", "/../..", "sub/../../x", "a.txt", "nothing", "..\\x"])
def test_cwd_never_leaves_the_root(root, target):
    loop = logged_in(root)
    loop.feed(f"CWD {target}\r\n".encode())
    assert loop.session.cwd == ()


def test_cwd_through_a_link_out_of_the_root_is_refused(root):
    (root / "out").symlink_to(root.parent)
    (root / "in").symlink_to("sub")
    loop = logged_in(root)
    assert codes(loop.feed(b"CWD out\r\nCWD in\r\n")) == [550, 250]


def test_pwd_doubles_quotes(root):
    (root / 'say "hi"').mkdir()
    loop = logged_in(root)
    loop.feed(b'CWD say "hi"\r\n')
    assert only(loop.feed(b"PWD\r\n")) == '257 "/say ""hi""" is the current directory.\r\n'


# --- facts -------------------------------------------------------------------------


def test_size_and_mdtm(root):
    loop = logged_in(root)
    assert loop.feed(b"SIZE a.txt\r\nMDTM /sub/inner.txt\r\n") == ["213 6\r\n", "213 20270103181320\r\n"]
    assert codes(loop.feed(b"SIZE sub\r\nSIZE nothing\r\nSIZE ../secret.txt\r\n")) == [550, 550, 550]


def test_mlst(root):
    reply = only(logged_in(root).feed(b"MLST sub/inner.txt\r\n"))
    assert reply == (
        "250-Listing /sub/inner.txt\r\n"
        " type=file;size=5;modify=20270103181320;perm=r; /sub/inner.txt\r\n"
        "250 End\r\n"
    )


def test_stat_of_a_path_on_the_control_connection(root):
    reply = "".join(logged_in(root).feed(b"STAT sub\r\n"))  # a long reply, in pieces
    lines = reply.split("\r\n")
    assert lines[0] == "213-Status of sub:" and lines[-2] == "213 End of status"
    assert lines[1].startswith(" drwxr-xr-x") and lines[1].endswith(" deeper")


def test_stat_without_argument(root):
    reply = only(logged_in(root).feed(b"STAT\r\n"))
    assert (
        reply.startswith("211-")
        and "No transfer in progress" in reply
        and reply.endswith("211 End of status\r\n")
    )


# --- data connections: passive ------------------------------------------------------


def test_pasv_227_with_local_address(root):
    reply = only(logged_in(root).feed(b"PASV\r\n"))
    assert reply == f"227 Entering Passive Mode (127,0,0,1,{PASSIVE_PORT // 256},{PASSIVE_PORT % 256}).\r\n"


def test_pasv_227_with_masquerade_address(root):
    reply = only(logged_in(root, masquerade_address="192.0.2.7").feed(b"PASV\r\n"))
    assert "(192,0,2,7,117,49)" in reply


def test_epsv_229(root):
    assert (
        only(logged_in(root).feed(b"EPSV\r\n"))
        == f"229 Entering Extended Passive Mode (|||{PASSIVE_PORT}|).\r\n"
    )


def test_epsv_wrong_family_522_and_epsv_all(root):
    loop = logged_in(root)
    assert loop.feed(b"EPSV 2\r\n") == ["522 Network protocol not supported, use (1).\r\n"]
    assert codes(loop.feed(b"EPSV ALL\r\nPASV\r\nPORT 127,0,0,1,4,1\r\nEPSV\r\n")) == [200, 503, 503, 229]


def test_passive_failure_is_425(root):
    session = make_session(root)
    session.receive_data(b"USER a\r\nPASS b\r\n")
    session.advance()
    session.handle(ftp.Joined())
    session.receive_data(b"PASV\r\nNOOP\r\n")
    session.advance()
    while (action := session.next_action()) is not None:
        last = action
    assert isinstance(last, ftp.OpenPassive)
    loop = FakeLoop(session)
    assert codes(loop.event(ftp.PassiveFailed())) == [425, 200]


def test_a_second_pasv_drops_the_first_listener(root):
    loop = logged_in(root)
    loop.feed(b"PASV\r\n")
    loop.actions.clear()
    loop.feed(b"PASV\r\n")
    assert [type(a) for a in loop.actions[:2]] == [ftp.CloseData, ftp.OpenPassive]


# --- data connections: active and bounce protection (RFC 2577) ----------------------------


def test_port_to_the_peer_itself(root):
    loop = logged_in(root)
    assert loop.feed(b"PORT 127,0,0,1,4,1\r\n") == ["200 Command okay.\r\n"]
    loop.feed(b"RETR a.txt\r\n")
    assert ftp.ConnectActive("127.0.0.1", 1025) in loop.actions
    assert loop.sent == [b"hello\n"]


@pytest.mark.parametrize(
    "line",
    [
        b"PORT 127,0,0,2,4,1",  # another address (bounce)
        b"PORT 192,0,2,1,4,1",
        b"PORT 127,0,0,1,0,21",  # a privileged port
        b"PORT 127,0,0,1,3,255",  # 1023
        b"EPRT |1|127.0.0.2|5000|",
        b"EPRT |1|127.0.0.1|80|",
        b"EPRT |1|localhost|5000|",
    ],
)
def test_port_and_eprt_bounce_refused_with_501(root, line):
    loop = logged_in(root)
    assert codes(loop.feed(line + b"\r\nRETR a.txt\r\n")) == [501, 425]
    assert not any(isinstance(a, ftp.ConnectActive) for a in loop.actions)


@pytest.mark.parametrize(
    "line", [b"PORT 1,2,3", b"PORT 256,0,0,1,4,1", b"PORT a,b,c,d,e,f", b"EPRT |1|127.0.0.1|"]
)
def test_malformed_port_501(root, line):
    assert codes(logged_in(root).feed(line + b"\r\n")) == [501]


def test_eprt_other_family_522(root):
    assert codes(logged_in(root).feed(b"EPRT |2|::1|5000|\r\n")) == [522]


def test_eprt_to_the_peer(root):
    loop = logged_in(root)
    assert codes(loop.feed(b"EPRT |1|127.0.0.1|5000|\r\n")) == [200]
    loop.feed(b"NLST\r\n")
    assert ftp.ConnectActive("127.0.0.1", 5000) in loop.actions


def test_transfer_without_data_channel_is_425(root):
    assert logged_in(root).feed(b"RETR a.txt\r\n") == [
        "425 Can't open data connection: use PASV, EPSV, PORT or EPRT first.\r\n"
    ]


def test_each_data_channel_serves_one_transfer(root):
    loop = logged_in(root)
    passive(loop)
    assert codes(loop.feed(b"RETR a.txt\r\nRETR a.txt\r\n")) == [150, 226, 425]


# --- retrieving ------------------------------------------------------------------


def test_retr_150_then_226_and_the_bytes(root):
    loop = logged_in(root)
    passive(loop)
    replies = loop.feed(b"RETR sub/inner.txt\r\n")
    assert replies == [
        "150 File status okay; about to open data connection: /sub/inner.txt (5 bytes, ASCII mode).\r\n",
        "226 Closing data connection. Requested file action successful.\r\n",
    ]
    assert loop.sent == [b"inner"]


def test_retr_with_rest_resumes(root):
    loop = logged_in(root)
    loop.feed(b"TYPE I\r\n")
    passive(loop)
    assert codes(loop.feed(b"REST 2\r\nRETR a.txt\r\n")) == [350, 150, 226]
    assert loop.sent == [b"llo\n"]
    assert [a.offset for a in loop.actions if isinstance(a, ftp.SendFile)] == [2]


def test_a_whole_retr_tells_the_console_what_went_out_and_an_aborted_one_does_not(root):
    loop = logged_in(root)
    loop.feed(b"TYPE I\r\n")
    passive(loop)
    loop.feed(b"REST 2\r\nRETR a.txt\r\n")
    assert [a for a in loop.actions if isinstance(a, ftp.FileSent)] == [ftp.FileSent("/a.txt", 4)]
    loop.hold_transfers = True
    passive(loop)
    loop.feed(b"RETR a.txt\r\n")
    loop.feed(b"ABOR\r\n")
    loop.event(ftp.TransferDone())
    assert len([a for a in loop.actions if isinstance(a, ftp.FileSent)]) == 1


def test_rest_beyond_the_end_554(root):
    loop = logged_in(root)
    passive(loop)
    assert codes(loop.feed(b"REST 100\r\nRETR a.txt\r\n")) == [350, 554]


@pytest.mark.parametrize(
    "name", ["../secret.txt", "/../secret.txt", "sub/../../secret.txt", "nothing", "sub"]
)
def test_retr_outside_or_missing_is_550(root, name):
    loop = logged_in(root)
    passive(loop)
    assert codes(loop.feed(f"RETR {name}\r\n".encode())) == [550]


def test_retr_through_a_link_out_of_the_root_is_550(root):
    (root / "sub" / "leak.txt").symlink_to(root.parent / "secret.txt")
    (root / "sub" / "ok.txt").symlink_to("inner.txt")
    loop = logged_in(root)
    passive(loop)
    assert codes(loop.feed(b"RETR sub/leak.txt\r\n")) == [550]
    assert codes(loop.feed(b"RETR sub/ok.txt\r\n")) == [150, 226]
    assert loop.sent == [b"inner"]


def test_abor_during_transfer_426_then_226_and_file_closed(root):
    loop = logged_in(root)
    loop.hold_transfers = True
    passive(loop)
    loop.feed(b"RETR a.txt\r\n")
    fd = loop.running.file.fd
    assert codes(loop.feed(b"ABOR\r\n")) == [426, 226]
    with pytest.raises(OSError):
        os.fstat(fd)
    assert codes(loop.event(ftp.TransferDone())) == []  # late news of the aborted transfer


def test_commands_during_a_transfer_wait_their_turn(root):
    loop = logged_in(root)
    loop.hold_transfers = True
    passive(loop)
    assert codes(loop.feed(b"RETR a.txt\r\nNOOP\r\nPWD\r\n")) == [150]
    assert "A transfer is in progress" in only(loop.feed(b"STAT\r\n"))
    assert codes(loop.event(ftp.TransferDone())) == [226, 200, 257]


def test_errors_during_a_transfer_keep_the_reply_order(root):
    loop = logged_in(root)
    loop.hold_transfers = True
    passive(loop)
    loop.feed(b"RETR a.txt\r\n")
    assert loop.feed(b"X" * (ftp.MAX_COMMAND_BYTES + 1) + b"\r\n\xc3\x28\r\n") == []
    assert codes(loop.event(ftp.TransferDone())) == [226, 500, 501]


def test_too_many_queued_commands_421(root):
    loop = logged_in(root)
    loop.hold_transfers = True
    passive(loop)
    loop.feed(b"RETR a.txt\r\n")
    replies = loop.feed(b"NOOP\r\n" * (ftp.MAX_QUEUED_COMMANDS + 1))
    assert codes(replies) == [421] and loop.session.closed


@pytest.mark.parametrize(("event", "code"), [(ftp.TransferBroken(), 426), (ftp.DataConnectFailed(), 425)])
def test_transfer_outcomes(root, event, code):
    loop = logged_in(root)
    loop.hold_transfers = True
    passive(loop)
    loop.feed(b"RETR a.txt\r\n")
    assert codes(loop.event(event)) == [code]
    assert codes(loop.event(ftp.TransferFailed())) == []


def test_local_error_451(root):
    loop = logged_in(root)
    loop.hold_transfers = True
    passive(loop)
    loop.feed(b"RETR a.txt\r\n")
    assert loop.event(ftp.TransferFailed()) == [
        "451 Requested action aborted: local error in processing.\r\n"
    ]


# --- listings ---------------------------------------------------------------------


def listing(root, command: bytes, **settings) -> list[str]:
    loop = logged_in(root, **settings)
    passive(loop)
    assert codes(loop.feed(command + b"\r\n")) == [150, 226]
    return loop.sent[0].decode().split("\r\n")[:-1]


def test_list_ls_style(root):
    lines = listing(root, b"LIST")
    assert lines[0] == f"-rw-r--r-- 1 ftp ftp {6:>12} Jan  3 18:13 a.txt"
    assert re.fullmatch(r"drwxr-xr-x 1 ftp ftp +\d+ \w{3} [ \d]\d [ \d]\d:\d\d sub", lines[1])


def test_list_old_file_shows_the_year(root):
    os.utime(root / "a.txt", (0, 0))
    assert listing(root, b"LIST -la")[0].endswith("Jan  1  1970 a.txt")


def test_list_of_a_subdirectory_and_of_a_file(root):
    assert [line.rsplit(" ", 1)[1] for line in listing(root, b"LIST sub")] == ["deeper", "inner.txt"]
    assert listing(root, b"LIST sub/inner.txt")[0].endswith(" inner.txt")


def test_nlst_and_mlsd(root):
    assert listing(root, b"NLST") == ["a.txt", "sub"]
    deeper = root / "sub" / "deeper"
    assert listing(root, b"MLSD sub") == [
        f"type=dir;size={deeper.stat().st_size};modify={_mtime(deeper)};perm=el; deeper",
        "type=file;size=5;modify=20270103181320;perm=r; inner.txt",
    ]


def _mtime(path: Path) -> str:
    return ftp.mlsx_time(path.stat().st_mtime)


def test_a_name_cannot_forge_a_listing_line(root):
    (root / "evil\r\n-rw-r--r-- 1 ftp ftp 1 Jan  1 00:00 fake").write_bytes(b"x")
    lines = listing(root, b"LIST")
    assert len(lines) == 3
    assert any("evil\\x0d\\x0a-rw-r--r--" in line for line in lines)
    assert "fake" not in "".join(listing(root, b"NLST"))
    assert all("fake" not in line for line in listing(root, b"MLSD"))


def test_listing_outside_the_root_550(root):
    loop = logged_in(root)
    passive(loop)
    assert codes(loop.feed(b"LIST ../..\r\n")) == [150, 226]  # ".." stops at the root
    passive(loop)
    assert codes(loop.feed(b"LIST nothing\r\nMLSD a.txt\r\n")) == [550, 501]


# --- uploads -----------------------------------------------------------------------


def upload(root, command: bytes, data: bytes, **settings) -> tuple[FakeLoop, list[str]]:
    loop = logged_in(root, **settings)
    loop.upload_data = data
    passive(loop)
    return loop, loop.feed(command + b"\r\n")


def leftovers(directory: Path) -> list[str]:
    return [name for name in os.listdir(directory) if name.startswith(UPLOAD_TEMP_PREFIX)]


@pytest.mark.parametrize("command", [b"STOR new.txt", b"APPE new.txt", b"DELE a.txt", b"MKD d"])
def test_upload_commands_refused_when_uploads_are_off(root, command):
    loop = logged_in(root)
    passive(loop)
    assert loop.feed(command + b"\r\n") == [
        "550 Requested action not taken: uploads are disabled on this server.\r\n"
    ]
    assert not (root / "new.txt").exists() and not (root / "d").exists()


def test_stor_creates_the_file_and_announces_it(root):
    loop, replies = upload(root, b"STOR sub/new.txt", b"0123456789" * 10, allow_upload=True)
    assert codes(replies) == [150, 226]
    assert (root / "sub" / "new.txt").read_bytes() == b"0123456789" * 10
    assert ftp.UploadFinished("/sub/new.txt", 100) in loop.actions
    assert leftovers(root / "sub") == []


def test_stor_never_overwrites_unless_allowed(root):
    _, replies = upload(root, b"STOR a.txt", b"new", allow_upload=True)
    assert codes(replies) == [553]
    assert (root / "a.txt").read_bytes() == b"hello\n"
    _, replies = upload(root, b"STOR a.txt", b"new", allow_upload=True, allow_overwrite=True)
    assert codes(replies) == [150, 226]
    assert (root / "a.txt").read_bytes() == b"new"


def test_appe_appends_when_overwrite_is_allowed(root):
    _, replies = upload(root, b"APPE a.txt", b"more", allow_upload=True, allow_overwrite=True)
    assert codes(replies) == [150, 226]
    assert (root / "a.txt").read_bytes() == b"hello\nmore"


def test_upload_over_the_limit_552_and_nothing_left(root):
    _, replies = upload(root, b"STOR big.bin", b"x" * 100, allow_upload=True, max_upload_bytes=50)
    assert codes(replies) == [150, 552]
    assert not (root / "big.bin").exists() and leftovers(root) == []


def test_upload_without_free_space_452(root):
    _, replies = upload(root, b"STOR big.bin", b"x", allow_upload=True, min_free_bytes=2**62)
    assert codes(replies) == [452]
    assert not (root / "big.bin").exists()


def test_broken_upload_leaves_nothing(root):
    loop = logged_in(root, allow_upload=True)
    loop.hold_transfers = True
    passive(loop)
    loop.feed(b"STOR half.txt\r\n")
    loop.running.upload.write(b"half of it")
    assert codes(loop.event(ftp.TransferBroken())) == [426]
    assert not (root / "half.txt").exists() and leftovers(root) == []


def test_upload_racing_another_of_the_same_name(root):
    first = logged_in(root, allow_upload=True)
    first.hold_transfers = True
    passive(first)
    first.feed(b"STOR race.txt\r\n")
    first.running.upload.write(b"first")
    _, replies = upload(root, b"STOR race.txt", b"second", allow_upload=True)
    assert codes(replies) == [150, 226]
    assert codes(first.event(ftp.TransferDone())) == [553]
    assert (root / "race.txt").read_bytes() == b"second" and leftovers(root) == []


@pytest.mark.parametrize("name", ["../evil.txt", "/../evil.txt", "sub/../../evil.txt", "../../../evil.txt"])
def test_upload_dot_dot_stops_at_the_root(root, name):
    _, replies = upload(root, f"STOR {name}".encode(), b"x", allow_upload=True)
    assert codes(replies) == [150, 226]
    assert (root / "evil.txt").read_bytes() == b"x"
    assert not (root.parent / "evil.txt").exists()


@pytest.mark.parametrize("name", ["nodir/x.txt", "sub/deeper", "sub", "a.txt/x", "/"])
def test_upload_to_bad_names_refused(root, name):
    before = sorted(p.name for p in root.rglob("*"))
    _, replies = upload(root, f"STOR {name}".encode(), b"x", allow_upload=True, allow_overwrite=True)
    assert codes(replies) == [550]
    assert sorted(p.name for p in root.rglob("*")) == before


def test_upload_through_a_link_out_of_the_root(root):
    (root / "out").symlink_to(root.parent)
    (root / "link.txt").symlink_to(root.parent / "secret.txt")
    _, replies = upload(root, b"STOR out/evil.txt", b"x", allow_upload=True, allow_overwrite=True)
    assert codes(replies) == [550]
    _, replies = upload(root, b"STOR link.txt", b"x", allow_upload=True, allow_overwrite=True)
    assert codes(replies) == [550]
    assert (root.parent / "secret.txt").read_bytes() == b"secret" and not (root.parent / "evil.txt").exists()


def test_mkd_and_dele(root):
    loop = logged_in(root, allow_upload=True)
    assert loop.feed(b"MKD sub/new dir\r\n") == ['257 "/sub/new dir" created.\r\n']
    assert (root / "sub" / "new dir").is_dir()
    assert codes(loop.feed(b"MKD sub\r\nDELE a.txt\r\n")) == [550, 550]
    loop = logged_in(root, allow_upload=True, allow_overwrite=True)
    assert codes(loop.feed(b"DELE a.txt\r\nDELE sub\r\nDELE ../secret.txt\r\n")) == [250, 550, 550]
    assert not (root / "a.txt").exists() and (root.parent / "secret.txt").exists()


def test_rest_before_stor_is_refused(root):
    loop = logged_in(root, allow_upload=True)
    passive(loop)
    assert codes(loop.feed(b"REST 5\r\nSTOR x.txt\r\n")) == [350, 554]


# --- catalogues and fuzzing ---------------------------------------------------------


def test_ftp_replies_exist_in_both_languages():
    assert {key for key in ENGLISH if key.startswith("ftp_")} == {
        key for key in SPANISH if key.startswith("ftp_")
    }


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=12))
def test_fuzz_any_bytes_give_well_formed_replies(tmp_path_factory, chunks):
    root = tmp_path_factory.mktemp("fuzz")
    (root / "a.txt").write_bytes(b"a")
    loop = FakeLoop(make_session(root, allow_upload=True))
    loop.run()
    loop.feed(b"USER fuzz\r\nPASS x\r\n")
    for chunk in chunks:
        loop.feed(chunk)
    for text in loop.replies:
        assert re.fullmatch(
            r"(\d{3}) [^\r\n]*\r\n|(\d{3})-[^\r\n]*\r\n( [^\r\n]*\r\n)*\2 [^\r\n]*\r\n", text
        ), text
    assert not [path for path in root.rglob("*") if path.name.startswith(UPLOAD_TEMP_PREFIX)]
    assert len(loop.session._buffer.unread) < ftp.MAX_COMMAND_BYTES


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(sorted(ftp.COMMANDS)), max_size=8), st.text(max_size=40))
def test_fuzz_commands_with_any_argument(tmp_path_factory, verbs, argument):
    root = tmp_path_factory.mktemp("fuzz")
    (root / "a.txt").write_bytes(b"a")
    loop = logged_in(root)
    for verb in verbs:
        line = f"{verb} {argument}".replace("\r", "").replace("\n", "") + "\r\n"
        replies = loop.feed(line.encode())
        if loop.session.closed:
            break
        assert replies or loop.session.busy, (verb, argument)
    assert os.listdir(root) == ["a.txt"]  # uploads are off: nothing was written


def test_names_that_are_not_utf8_are_escaped_in_list_and_left_out_of_nlst(root):
    os.close(os.open(os.fsencode(root) + b"/caf\xe9.txt", os.O_CREAT | os.O_WRONLY))
    assert listing(root, b"NLST") == ["a.txt", "sub"]
    assert any(line.endswith("caf\\udce9.txt") for line in listing(root, b"LIST"))


def test_connection_lost_mid_upload_leaves_nothing(root):
    loop = logged_in(root, allow_upload=True)
    loop.hold_transfers = True
    passive(loop)
    loop.feed(b"STOR gone.txt\r\n")
    loop.running.upload.write(b"partial")
    loop.session.connection_lost()
    assert loop.session.next_action() is None
    assert codes(loop.event(ftp.TransferDone())) == []
    assert not (root / "gone.txt").exists() and leftovers(root) == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3 * ftp.MAX_COMMAND_BYTES), st.lists(st.integers(1, 5000), max_size=20))
def test_fuzz_line_buffer_gives_the_same_lines_whatever_the_chunking(data, cuts):
    whole = lines_of(ftp.LineBuffer(), data)
    chunked_buffer = ftp.LineBuffer()
    chunked, position = [], 0
    for cut in [*cuts, len(data)]:
        chunked += lines_of(chunked_buffer, data[position : position + cut])
        position += cut
    chunked += lines_of(chunked_buffer, data[position:])
    assert chunked == whole
    assert all(line is ftp.TOO_LONG or len(line) < ftp.MAX_COMMAND_BYTES for line in whole)


RFC_959_TEXT = {
    150: "File status okay; about to open data connection",
    200: "Command okay",
    220: "Service ready for new user",
    221: "Service closing control connection",
    226: "Closing data connection",
    230: "User logged in, proceed",
    250: "Requested file action okay, completed",
    331: "User name okay, need password",
    350: "Restarting at",  # RFC 3659 5.3
    425: "Can't open data connection",
    426: "Connection closed; transfer aborted",
    451: "Requested action aborted: local error in processing",
    452: "Insufficient storage space",
    500: "Syntax error, command unrecognized",
    501: "Syntax error in parameters or arguments",
    502: "Command not implemented",
    503: "Bad sequence of commands",
    504: "Command not implemented for that parameter",
    522: "Network protocol not supported",  # RFC 2428
    530: "Not logged in",
    552: "Exceeded storage allocation",
    554: "Requested action not taken: invalid REST parameter",  # RFC 3659 5.4
}


def test_reply_texts_start_with_the_rfc_wording(root):
    loop = FakeLoop(make_session(root, allow_upload=True, max_upload_bytes=3))
    loop.run()
    loop.upload_data = b"too big"
    script = [
        b"PWD", b"USER ana", b"PASS x", b"USER b", b"NOOP", b"XYZ", b"CWD", b"TYPE E", b"CWD sub", b"CDUP",
        b"EPSV 2", b"PORT 127,0,0,2,4,1", b"RETR a.txt", b"PASV", b"RETR a.txt", b"REST 99", b"EPSV",
        b"RETR a.txt", b"EPSV", b"STOR big.txt", b"X" * ftp.MAX_COMMAND_BYTES, b"QUIT",
    ]  # fmt: skip
    for line in script:
        loop.feed(line + b"\r\n")
    seen = {int(text[:3]) for text in loop.replies}
    assert seen >= set(RFC_959_TEXT) - {426, 451, 452}
    for text in loop.replies:
        code = int(text[:3])
        if code in RFC_959_TEXT:
            assert text[4:].startswith(RFC_959_TEXT[code]), text
    loop = logged_in(root)
    loop.hold_transfers = True
    passive(loop)
    loop.feed(b"RETR a.txt\r\n")
    loop.event(ftp.TransferBroken())
    passive(loop)
    loop.feed(b"RETR a.txt\r\n")
    loop.event(ftp.TransferFailed())
    for text in loop.replies[-2:] + upload(root, b"STOR x", b"x", allow_upload=True, min_free_bytes=2**62)[1]:
        assert text[4:].startswith(RFC_959_TEXT[int(text[:3])]), text


def session_over(root, peer: tuple[str, int], local: tuple[str, int]) -> FakeLoop:
    session = ftp.FtpSession(
        tree=Tree(Storage(str(root))),
        settings=ftp.FtpSettings(),
        messages=Messages("en"),
        peer=peer,
        local=local,
        anonymous_number=lambda: 1,
    )
    loop = FakeLoop(session)
    loop.run()
    loop.feed(b"USER ana\r\nPASS x\r\n")
    return loop


def test_ipv6_control_connection(root):
    loop = session_over(root, ("::1", 40000), ("::1", 2100))
    assert codes(loop.feed(b"PASV\r\n")) == [425]
    assert codes(loop.feed(b"EPSV 1\r\nEPSV 2\r\n")) == [522, 229]
    assert codes(loop.feed(b"PORT 127,0,0,1,4,1\r\nEPRT |1|127.0.0.1|5000|\r\n")) == [501, 522]
    assert codes(loop.feed(b"EPRT |2|::2|5000|\r\nEPRT |2|::1|5000|\r\n")) == [501, 200]
    loop.feed(b"NLST\r\n")
    assert ftp.ConnectActive("::1", 5000) in loop.actions


def test_ipv4_mapped_addresses_of_a_dual_stack_socket(root):
    loop = session_over(root, ("::ffff:127.0.0.1", 40000), ("::ffff:127.0.0.1", 2100))
    assert only(loop.feed(b"PASV\r\n")).startswith("227 Entering Passive Mode (127,0,0,1,")
    assert codes(loop.feed(b"PORT 127,0,0,1,4,1\r\n")) == [200]
    assert codes(loop.feed(b"PORT 127,0,0,2,4,1\r\n")) == [501]


# --- fairness: bounded steps --------------------------------------------------------


def test_pipelined_stat_lines_are_answered_in_bounded_steps(root):
    """8,000 `STAT /` lines in one read: each step answers at most LINES_PER_STEP of
    them, and the session holds them as bytes until asked (issue 17, item 4)."""
    loop = logged_in(root)
    loop.session.receive_data(b"STAT /\r\n" * 8000)
    assert not loop.session.wants_data
    answered, steps = 0, 0
    while loop.session.has_work:
        replies = "".join(loop.step())
        count = replies.count("213 End of status\r\n")
        assert count <= ftp.LINES_PER_STEP
        answered += count
        steps += 1
    assert answered == 8000 and steps >= 8000 // ftp.LINES_PER_STEP
    assert loop.session.wants_data


def test_a_step_builds_a_bounded_amount_of_reply(root):
    """STAT of a 20,000-entry folder goes out in pieces of about REPLY_BYTES_PER_STEP,
    each built only when the loop asks: never one reply over the output cap."""
    big = root / "big"
    big.mkdir()
    for number in range(20_000):
        (big / f"file-{number:05}.txt").touch()
    loop = logged_in(root)
    loop.session.receive_data(b"STAT big\r\nNOOP\r\n")
    sizes = []
    while loop.session.has_work:
        sizes.append(len("".join(loop.step()).encode()))
    assert max(sizes) < ftp.REPLY_BYTES_PER_STEP + 64 * 1024 and len(sizes) > 10
    text = "".join(loop.replies[-(len(loop.replies) - 3) :])
    assert text.count("file-") == 20_000 and text.endswith("213 End of status\r\n200 Command okay.\r\n")


def test_a_plain_stat_is_answered_during_a_transfer_and_a_stat_of_a_path_waits(root):
    loop = logged_in(root)
    loop.hold_transfers = True
    passive(loop)
    loop.feed(b"RETR a.txt\r\n")
    assert codes(loop.feed(b"STAT sub\r\nSTAT\r\n")) == [211]  # the plain STAT at once
    after = "".join(loop.event(ftp.TransferDone()))  # the long one after the 226, whole
    assert after.startswith("226 ") and after.endswith("213 End of status\r\n") and "inner.txt" in after


def test_listings_are_sent_in_pieces(root):
    for number in range(1000):
        (root / f"n{number:04}").touch()
    loop = logged_in(root)
    loop.hold_transfers = True
    passive(loop)
    loop.feed(b"NLST\r\n")
    pieces = list(loop.running.pieces)
    sent = [piece for piece in pieces if piece is not None]
    assert pieces[0] is None, "the folder is read in steps, a None each, before its first line"
    assert len(sent) > 1 and b"".join(sent).count(b"\r\n") == 1002


# --- renaming, removing folders, times, hashes --------------------------------------


def test_rename_a_file(root):
    loop = logged_in(root, allow_upload=True, allow_overwrite=True)
    assert codes(loop.feed(b"RNFR a.txt\r\nRNTO sub/b.txt\r\n")) == [350, 250]
    assert (root / "sub" / "b.txt").read_bytes() == b"hello\n" and not (root / "a.txt").exists()
    assert ftp.Renamed("/a.txt", "/sub/b.txt") in loop.actions


def test_rnto_must_follow_rnfr(root):
    loop = logged_in(root, allow_upload=True, allow_overwrite=True)
    assert codes(loop.feed(b"RNTO b.txt\r\nRNFR a.txt\r\nNOOP\r\nRNTO b.txt\r\n")) == [503, 350, 200, 503]
    assert (root / "a.txt").exists()


def test_rename_needs_overwrite_except_for_own_uploads(root):
    """ncftpput -S: STOR to a temporary name, then RNFR/RNTO, with --allow-upload alone."""
    loop, replies = upload(root, b"STOR x.tmp", b"data", allow_upload=True)
    assert codes(replies) == [150, 226]
    assert codes(loop.feed(b"RNFR a.txt\r\n")) == [550]  # someone else's file
    assert codes(loop.feed(b"RNFR x.tmp\r\nRNTO x.txt\r\n")) == [350, 250]
    assert (root / "x.txt").read_bytes() == b"data" and not (root / "x.tmp").exists()
    assert codes(loop.feed(b"RNFR x.txt\r\nRNTO a.txt\r\n")) == [350, 553]  # over a name: overwrite
    assert (root / "a.txt").read_bytes() == b"hello\n"


def test_rename_over_a_name_with_overwrite_replaces_a_file_never_a_folder(root):
    loop = logged_in(root, allow_upload=True, allow_overwrite=True)
    (root / "b.txt").write_bytes(b"b")
    assert codes(loop.feed(b"RNFR b.txt\r\nRNTO a.txt\r\n")) == [350, 250]
    assert (root / "a.txt").read_bytes() == b"b"
    assert codes(loop.feed(b"RNFR a.txt\r\nRNTO sub\r\n")) == [350, 553]
    assert (root / "sub").is_dir() and (root / "a.txt").exists()


def test_a_unicode_twin_counts_as_the_same_name_for_a_rename(root):
    """Renaming to Café.txt never lands beside the teacher's Cafe\u0301.txt: refused
    without --allow-overwrite; with it, the twin is what gets replaced (as for STOR)."""
    (root / "Cafe\u0301.txt").write_bytes(b"teacher")
    loop, _ = upload(root, b"STOR mine.tmp", b"mine", allow_upload=True)
    assert codes(loop.feed("RNFR mine.tmp\r\nRNTO Caf\u00e9.txt\r\n".encode())) == [350, 553]
    assert (root / "Cafe\u0301.txt").read_bytes() == b"teacher" and (root / "mine.tmp").exists()
    loop = logged_in(root, allow_upload=True, allow_overwrite=True)
    assert codes(loop.feed("RNFR a.txt\r\nRNTO Caf\u00e9.txt\r\n".encode())) == [350, 250]
    assert (root / "Cafe\u0301.txt").read_bytes() == b"hello\n" and not (root / "Caf\u00e9.txt").exists()


def test_a_file_can_be_renamed_to_its_own_twin(root):
    (root / "Cafe\u0301.txt").write_bytes(b"mac")
    loop = logged_in(root, allow_upload=True, allow_overwrite=True)
    assert codes(loop.feed("RNFR Cafe\u0301.txt\r\nRNTO Caf\u00e9.txt\r\n".encode())) == [350, 250]
    assert sorted(os.listdir(root)) == ["Caf\u00e9.txt", "a.txt", "sub"]


@pytest.mark.parametrize("target", [".hidden", "-rf", "sub/.git", "a\x01b"])
def test_rename_to_a_name_not_allowed_is_553(root, target):
    loop = logged_in(root, allow_upload=True, allow_overwrite=True)
    replies = loop.feed(b"RNFR a.txt\r\nRNTO " + target.encode() + b"\r\n")
    assert codes(replies) == [350, 553] and "not allowed" in replies[1]
    assert sorted(os.listdir(root)) == ["a.txt", "sub"]


def test_rename_never_leaves_the_root_or_touches_hidden_names(root):
    (root / ".secret").write_bytes(b"s")
    (root / "out").symlink_to(root.parent)
    loop = logged_in(root, allow_upload=True, allow_overwrite=True)
    assert codes(loop.feed(b"RNFR ../secret.txt\r\n")) == [550]  # ".." stops at the root: /secret.txt
    assert codes(loop.feed(b"RNFR .secret\r\n")) == [550]
    assert codes(loop.feed(b"RNFR a.txt\r\nRNTO out/a.txt\r\n")) == [350, 550]
    assert (root / "a.txt").exists() and not (root.parent / "a.txt").exists()
    assert (root.parent / "secret.txt").exists()


def test_rename_a_folder_and_not_into_itself(root):
    loop = logged_in(root, allow_upload=True, allow_overwrite=True)
    assert codes(loop.feed(b"RNFR sub\r\nRNTO sub/deeper/sub\r\n")) == [350, 550]
    assert codes(loop.feed(b"RNFR sub\r\nRNTO moved\r\n")) == [350, 250]
    assert (root / "moved" / "inner.txt").exists()


def test_rmd_removes_an_empty_folder_only_with_overwrite(root):
    loop = logged_in(root, allow_upload=True)
    assert codes(loop.feed(b"RMD sub/deeper\r\n")) == [550]
    loop = logged_in(root, allow_upload=True, allow_overwrite=True)
    replies = loop.feed(b"RMD sub\r\nRMD sub/deeper\r\nRMD a.txt\r\nRMD /\r\n")
    assert codes(replies) == [550, 250, 550, 550]
    assert "not empty" in replies[0]
    assert not (root / "sub" / "deeper").exists() and (root / "sub" / "inner.txt").exists()


def test_rmd_of_a_link_removes_nothing(root):
    (root / "link").symlink_to(root / "sub")
    loop = logged_in(root, allow_upload=True, allow_overwrite=True)
    assert codes(loop.feed(b"RMD link\r\n")) == [550]
    assert (root / "link").is_symlink() and (root / "sub").is_dir()


def test_mfmt_sets_a_files_time(root):
    loop = logged_in(root, allow_upload=True)
    replies = loop.feed(b"MFMT 20200102030405 sub/inner.txt\r\n")
    assert replies == ["213 Modify=20200102030405; /sub/inner.txt\r\n"]
    assert (root / "sub" / "inner.txt").stat().st_mtime == 1577934245
    assert codes(
        loop.feed(b"MFMT 2020 a.txt\r\nMFMT 20201302030405 a.txt\r\nMFMT 20200102030405 no\r\n")
    ) == [
        501,
        501,
        550,
    ]


def test_mfmt_needs_uploads(root):
    assert codes(logged_in(root).feed(b"MFMT 20200102030405 a.txt\r\n")) == [550]


def test_hash_is_the_sha256_of_the_file_and_is_cached(root):
    import hashlib

    data = os.urandom(3 * 1024 * 1024 + 5)
    (root / "big.bin").write_bytes(data)
    loop = logged_in(root)
    loop.session.receive_data(b"HASH big.bin\r\nNOOP\r\n")
    steps = [loop.step() for _ in range(4)]
    assert steps[:3] == [[], [], []]  # one 1 MiB read per step, nothing said meanwhile
    expected = f"213 SHA-256 0-{len(data)} {hashlib.sha256(data).hexdigest()} /big.bin\r\n"
    assert steps[3][0] == expected
    assert loop.feed(b"HASH big.bin\r\n") == [expected]  # from the cache: at once
    assert codes(loop.feed(b"HASH nothing\r\nHASH sub\r\n")) == [550, 550]


def test_opts_hash(root):
    loop = logged_in(root)
    assert loop.feed(b"OPTS HASH\r\nOPTS HASH SHA-256\r\n") == ["200 SHA-256\r\n"] * 2
    assert codes(loop.feed(b"OPTS HASH MD5\r\n")) == [501]


@pytest.mark.parametrize(
    ("rights", "mfmt"),
    [({}, False), ({"allow_upload": True}, True), ({"allow_upload": True, "allow_overwrite": True}, True)],
)
def test_feat_lists_what_works(root, rights, mfmt):
    reply = only(logged_in(root, **rights).feed(b"FEAT\r\n"))
    assert (" MFMT\r\n" in reply) is mfmt and " HASH SHA-256*\r\n" in reply
    for verb in ("MFMT", "HASH", "RNFR", "RMD"):
        assert verb in ftp.COMMANDS


@pytest.mark.parametrize(
    ("rights", "folder", "file"),
    [
        ({}, "el", "r"),
        ({"allow_upload": True}, "elcm", "r"),
        ({"allow_upload": True, "allow_overwrite": True}, "elcmdfp", "radfw"),
    ],
)
def test_mlsd_perm_facts_follow_the_rights(root, rights, folder, file):
    lines = listing(root, b"MLSD", **rights)
    assert f"perm={file}; a.txt" in lines[0] and f"perm={folder}; sub" in lines[1]


def test_own_upload_shows_the_rename_permission(root):
    loop, _ = upload(root, b"STOR mine.txt", b"x", allow_upload=True)
    passive(loop)
    loop.feed(b"MLSD\r\n")
    lines = loop.sent[-1].decode().split("\r\n")
    assert any(line.endswith("perm=rf; mine.txt") for line in lines)
    assert any(line.endswith("perm=r; a.txt") for line in lines)


# --- names not allowed, folder limits, QUIT during an upload -------------------------


@pytest.mark.parametrize("name", [".bashrc", "-rf", "sub/.hidden", ".git/x", "a\x01b"])
def test_stor_of_a_name_not_allowed_is_553(root, name):
    _, replies = upload(root, f"STOR {name}".encode(), b"x", allow_upload=True, allow_overwrite=True)
    assert codes(replies) == [553] and "not allowed" in replies[0]
    assert sorted(os.listdir(root)) == ["a.txt", "sub"]


def test_mkd_of_a_name_not_allowed_is_553(root):
    loop = logged_in(root, allow_upload=True)
    assert codes(loop.feed(b"MKD .ssh\r\nMKD -x\r\n")) == [553, 553]


def test_mkd_has_a_depth_limit(root):
    loop = logged_in(root, allow_upload=True)
    path = "/".join(["d"] * ftp.MAX_FOLDER_DEPTH)
    for depth in range(1, ftp.MAX_FOLDER_DEPTH + 1):
        assert codes(loop.feed(f"MKD {'/'.join(['d'] * depth)}\r\n".encode())) == [257]
    assert codes(loop.feed(f"MKD {path}/d\r\n".encode())) == [553]


def test_mkd_has_a_count_limit_per_connection(root):
    loop = logged_in(root, allow_upload=True)
    replies = loop.feed(b"".join(b"MKD d%d\r\n" % n for n in range(ftp.MAX_FOLDERS_PER_SESSION + 1)))
    assert codes(replies) == [257] * ftp.MAX_FOLDERS_PER_SESSION + [552]
    assert len(os.listdir(root)) == 2 + ftp.MAX_FOLDERS_PER_SESSION


def test_mkd_keeps_the_reserve(root):
    loop = logged_in(root, allow_upload=True, min_free_bytes=2**62)
    replies = loop.feed(b"MKD d\r\n")
    assert codes(replies) == [452] and "space" in replies[0]
    loop = logged_in(root, allow_upload=True, min_free_inodes=2**62)
    replies = loop.feed(b"MKD d\r\n")
    assert codes(replies) == [452] and "inodes" in replies[0]
    assert not (root / "d").exists()


def test_quit_during_an_upload_is_answered_after_it(root):
    loop = logged_in(root, allow_upload=True)
    loop.hold_transfers = True
    passive(loop)
    loop.feed(b"STOR q.txt\r\n")
    loop.running.upload.write(b"all of it")
    assert loop.feed(b"QUIT\r\n") == [] and loop.session.quit_waiting
    assert codes(loop.event(ftp.TransferDone())) == [226, 221]
    assert (root / "q.txt").read_bytes() == b"all of it"


def test_commands_pipelined_after_pass_wait_for_the_join_not_the_queue(root):
    """The lines after PASS stay unread until the Room answers: a client that
    pipelines a whole script after its login is not cut off as "too many queued"."""
    session = make_session(root)
    session.receive_data(b"USER ana\r\nPASS x\r\n" + b"NOOP\r\n" * 100)
    session.advance()
    actions = list(iter(session.next_action, None))
    assert isinstance(actions[-1], ftp.Join) and not session.has_work
    loop = FakeLoop(session)
    assert codes(loop.event(ftp.Joined())) == [230] + [200] * 100
