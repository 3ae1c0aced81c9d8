"""FtpSession: one control connection's state machine (see the package docstring).

This page is the session's table of contents: its state, the loop's side
(`receive_data`, `advance`, `handle`, `next_action`), the one place a command's
needs are checked (`_run`, against `commands.COMMANDS`), and the two tables that
dispatch commands and events to the modules that answer them:

    login        USER PASS, anonymous visits, accounts, the delay after a wrong password
    security     AUTH PBSZ PROT (explicit FTPS)
    basics       QUIT NOOP SYST FEAT OPTS HELP TYPE MODE STRU
    files        PWD CWD CDUP MKD DELE RMD RNFR RNTO
    facts        SIZE MDTM MLST HASH MFMT
    listings     LIST NLST MLSD STAT
    datachannel  PASV EPSV PORT EPRT
    transfers    REST RETR STOR APPE ABOR, and how a transfer ends

Each handler is a function taking the session (`cmd_pwd(session, argument)`,
like h11's readers and writers): the modules import this one only for their
annotations (`if TYPE_CHECKING:`) and reach the session only through the
interface `FtpSession`'s docstring lists. A module's own state is a small
dataclass of its own, which the session keeps under the module's name.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache, partial

from ..accounts import Accounts
from ..logins import LoginGuard
from ..messages import Messages
from ..storage import MIN_FREE_BYTES, MIN_FREE_INODES, FileProblem, NoSuchFile, Tree, split_path
from ..transfer import HashCache
from .basics import cmd_feat, cmd_help, cmd_mode, cmd_noop, cmd_opts, cmd_quit, cmd_stru, cmd_syst, cmd_type
from .commands import COMMANDS, NO_ARGUMENT, REQUIRED, Rights
from .datachannel import (
    DataChannelState,
    cmd_eprt,
    cmd_epsv,
    cmd_pasv,
    cmd_port,
    on_passive_failed,
    on_passive_opened,
)
from .events import (
    Close,
    CloseData,
    DataConnectFailed,
    DelayOver,
    Joined,
    JoinRefused,
    PassiveFailed,
    PassiveOpened,
    SendReply,
    TransferBroken,
    TransferDone,
    TransferFailed,
)
from .facts import cmd_hash, cmd_mdtm, cmd_mfmt, cmd_mlst, cmd_size
from .files import FilesState, cmd_cdup, cmd_cwd, cmd_dele, cmd_mkd, cmd_pwd, cmd_rmd, cmd_rnfr, cmd_rnto
from .lines import MAX_COMMAND_BYTES, TOO_LONG, LineBuffer, parse_command
from .listings import cmd_list, cmd_mlsd, cmd_nlst, cmd_stat
from .login import LoginState, cmd_pass, cmd_user, on_delay_over, on_join_refused, on_joined
from .problems import NameNotAllowed
from .replies import reply
from .security import cmd_auth, cmd_pbsz, cmd_prot
from .transfers import (
    TransfersState,
    cmd_abor,
    cmd_appe,
    cmd_rest,
    cmd_retr,
    cmd_stor,
    end_transfer,
    on_data_connect_failed,
    on_transfer_broken,
    on_transfer_done,
    on_transfer_failed,
)

MAX_QUEUED_COMMANDS = 16
LINES_PER_STEP = 32
"""Command lines one `advance` runs at most: one connection's pipelined lines
never hold the loop for long (the lab door takes 32 lines per turn too)."""
REPLY_BYTES_PER_STEP = 64 * 1024
"""One `advance` stops once it has built this much reply text (a long reply
goes out in pieces of about this size, each built only when asked for)."""
FIXED_REPLIES_KEPT = 256
"""Replies without values remembered, per catalogue (each language's are a few dozen)."""


@dataclass(frozen=True)
class FtpSettings:
    """The door's options (--ftp-password, --allow-upload, ...)."""

    password: str | None = None
    allow_upload: bool = False
    allow_overwrite: bool = False
    max_upload_bytes: int = 1024**3
    masquerade_address: str | None = None
    min_free_bytes: int = MIN_FREE_BYTES
    min_free_inodes: int = MIN_FREE_INODES
    tls: bool = False
    """--tls-cert: AUTH TLS, PBSZ and PROT are offered."""
    require_tls: bool = False
    """--require-tls: no login in clear."""
    accounts: Accounts | None = None
    """--users: only these accounts log in, each with its password and rights."""
    allow_clear_passwords: bool = False
    """--allow-clear-passwords: accounts may log in without TLS (the Wireshark exercise)."""


class FtpSession:
    """One FTP control connection: bytes and events in, replies and actions out.

    The loop's side is the package docstring's. The command modules' side (each
    handler takes the session):

        say(code, key, **values)   reply with a message of the catalogue
        refuse(problem, code)      reply with a FileProblem's message
        emit(action)               an action for the loop (SendReply for a reply built by hand)
        start_long_reply(pieces)   a reply built piece by piece (STAT of a folder, HASH)
        close()                    close both connections (QUIT)
        forget_unread_input()      drop the lines read but not run (AUTH TLS)
        path(argument), new_path(argument)   the path a command names, or one about to be made
        rights, rights_for(parts)  what this login may do, and on one entry
        waiting                    the event awaited (Joined, PassiveOpened, DelayOver): no
                                   line runs until its handler sets it back to None

    Shared state: `name`, `cwd`, `transfer_type`, `tls_active`, `buffer_size_set`,
    `data_protected`, `quit_waiting`. Each module's own state: `login`
    (`login.LoginState`), `files` (`files.FilesState`), `datachannel`
    (`datachannel.DataChannelState`), `transfers` (`transfers.TransfersState`; the
    session is `busy` while one runs). What it is given: `tree`, `settings`,
    `messages`, `logins`, `digests`, `clock`, `anonymous_number`, the hosts.
    Its underscored names are its own."""

    def __init__(
        self,
        *,
        tree: Tree,
        settings: FtpSettings,
        messages: Messages,
        peer: tuple[str, int],
        local: tuple[str, int],
        anonymous_number: Callable[[], int],
        clock: Callable[[], float] = time.time,
        digests: HashCache | None = None,
        logins: LoginGuard | None = None,
        address_key: str = "",
    ):
        self.tree = tree
        self.logins = logins if logins is not None else LoginGuard()
        self.digests = digests if digests is not None else HashCache()
        self.settings = settings
        self.messages = messages
        self.peer_host, self.local_host = peer[0], local[0]
        self.address_key = address_key or self.peer_host
        """The address as limits count it (an IPv4-mapped address as IPv4): the lab door's key
        for the same client, so failed logins through both doors share one budget."""
        self.anonymous_number = anonymous_number
        self.clock = clock
        self.closed = False
        self._buffer = LineBuffer()
        self._actions: deque = deque()
        self._queued: deque = deque()
        self.waiting: type | None = None
        """Joined, PassiveOpened or DelayOver, while we wait for it (no line runs meanwhile)."""
        self._long_reply: Iterator[bytes | None] | None = None  # a reply built piece by piece
        self._built = 0  # reply bytes built in this step
        # login
        self.name: str | None = None
        self.login = LoginState()
        # security
        self.tls_active = False
        """AUTH TLS was answered (or --ftps-port): the control connection speaks TLS."""
        self.data_protected = False
        """PROT P (or --ftps-port, until PROT C): data connections speak TLS too."""
        self.buffer_size_set = False
        """PBSZ was said (or --ftps-port): PROT may follow."""
        # basics, files
        self.transfer_type = "A"
        """TYPE: A (ASCII) or I (binary)."""
        self.cwd: tuple[str, ...] = ()
        self.files = FilesState()
        # datachannel, transfers
        self.datachannel = DataChannelState()
        self.transfers = TransfersState()
        self.quit_waiting = False
        """QUIT came during a transfer: the client means to end cleanly (RFC 959:
        finish the transfer, then reply), so its upload is kept even if it
        closes the control connection before reading the 226."""
        self.say(220, "ftp_ready")

    # -- the loop's side --

    def begin_implicit_tls(self) -> None:
        """--ftps-port: the control connection is already TLS; data is protected by default."""
        self.tls_active = True
        self.data_protected = True
        self.buffer_size_set = True

    def receive_data(self, data: bytes) -> None:
        """Bytes read from the control connection: only kept; `advance` runs them.
        The loop reads again only while `wants_data` (at most one read is held)."""
        if not self.closed:
            self._buffer.add(data)

    @property
    def wants_data(self) -> bool:
        """No whole line is waiting: the loop may read the control connection."""
        return not self.closed and not self._buffer.has_line

    @property
    def has_work(self) -> bool:
        """`advance` has something to do: lines to run, or a long reply to continue."""
        if self.closed:
            return False
        runnable_queue = bool(self._queued) and not self.busy
        readable = self.waiting is None and self._buffer.has_line
        return self._long_reply is not None or runnable_queue or readable

    def advance(self, max_lines: int = LINES_PER_STEP) -> int:
        """One bounded step: run at most `max_lines` command lines (none while a
        Join or a passive port is awaited: the loop answers those when it carries
        out the actions; during a transfer, lines are read so that ABOR is seen,
        and queued), and build at
        most about REPLY_BYTES_PER_STEP of replies (a long reply continues by one
        piece; a HASH by one HASH_STEP_BYTES read). The loop calls it only while
        the control connection's output is below its high-water mark, and again
        on a later turn while `has_work`: no reply is built that cannot be sent.
        Returns how many command lines it ran."""
        self._built = 0
        lines = 0
        while not self.closed and lines < max_lines and self._built < REPLY_BYTES_PER_STEP:
            if self._long_reply is not None:
                if not self._continue_long_reply():
                    break
            elif self._queued and not self.busy:
                self._queued.popleft()()
                lines += 1
            elif self.waiting is None and (line := self._buffer.next_line()) is not None:
                self._take_line(line)
                lines += 1
            else:
                break
        return lines

    def _continue_long_reply(self) -> bool:
        """The next piece of a long reply; False after a hashing step (one per `advance`)."""
        piece = next(self._long_reply, b"")
        if piece is None:
            return False
        if piece:
            self.emit(SendReply(piece))
        else:
            self._long_reply = None
            self._run_queued()
        return True

    def handle(self, event) -> None:
        """An event from the loop (see the module docstring)."""
        if not self.closed:
            EVENT_HANDLERS[type(event)](self, event)
            self._run_queued()

    def next_action(self):
        """The next action for the loop, or None."""
        return self._actions.popleft() if self._actions else None

    def shut_down(self, key: str, **values) -> None:
        """Say 421 (idle, server closing, ...) and close; ends any transfer."""
        if not self.closed:
            end_transfer(self)
            self._drop_long_reply()
            self.emit(SendReply(reply(421, self.messages(key, **values))))
            self.close()

    def connection_lost(self) -> None:
        """The control connection is gone: drop any transfer (an upload in
        progress is discarded), say nothing more."""
        end_transfer(self)
        self._drop_long_reply()
        self._actions.clear()
        self.closed = True

    def forget_unread_input(self) -> None:
        """Drop the lines read but not yet run (AUTH TLS: nothing said in clear after it may
        run inside TLS)."""
        self._buffer = LineBuffer()

    @property
    def busy(self) -> bool:
        """Waiting for the Room, a passive port or a transfer: commands queue."""
        return self.waiting is not None or self.transfers.running is not None

    # -- the command modules' side (see the class docstring) --

    def emit(self, action) -> None:
        """An action for the loop (counted against this step's reply bytes if it is one)."""
        if isinstance(action, SendReply):
            self._built += len(action.data)
        self._actions.append(action)

    def start_long_reply(self, pieces: Iterator[bytes | None]) -> None:
        """A reply too long to build at once: `advance` emits it piece by piece
        (None marks a step of work with nothing to say yet); lines wait meanwhile."""
        self._long_reply = pieces
        self._continue_long_reply()

    def _drop_long_reply(self) -> None:
        pieces, self._long_reply = self._long_reply, None
        if pieces is not None:
            pieces.close()

    def say(self, code: int, key: str, **values) -> None:
        """Reply with CODE and the message KEY (its values filled in)."""
        data = reply(code, self.messages(key, **values)) if values else _fixed_reply(self.messages, code, key)
        self.emit(SendReply(data))

    def close(self) -> None:
        """Close the data and control connections after what was said (QUIT)."""
        self.emit(CloseData())
        self.emit(Close())
        self.closed = True

    def _take_line(self, line) -> None:
        """Answer the line now, or queue it while busy: replies keep the order
        of the lines, so nothing is said between a transfer's 150 and 226
        except to ABOR and STAT."""
        if line is TOO_LONG:
            step = partial(self.say, 500, "ftp_line_too_long", limit=MAX_COMMAND_BYTES)
        else:
            try:
                verb, argument = parse_command(line)
            except UnicodeDecodeError:
                step = partial(self.say, 501, "ftp_bad_encoding")
            else:
                step = partial(self._run, verb, argument)
                command = COMMANDS.get(verb)
                # STAT of a path waits: its long reply must not cut into a transfer's replies
                at_once = command and command.during_transfer and not (verb == "STAT" and argument)
                if at_once and self.transfers.running is not None:
                    step()
                    return
                if verb == "QUIT" and self.transfers.running is not None:
                    self.quit_waiting = True
        if self.busy:
            self._queue(step)
        else:
            step()

    def _queue(self, step: Callable[[], None]) -> None:
        if len(self._queued) >= MAX_QUEUED_COMMANDS:
            self.shut_down("ftp_too_many_queued")
        else:
            self._queued.append(step)

    def _run_queued(self) -> None:
        while self._queued and not self.busy and not self.closed and self._long_reply is None:
            self._queued.popleft()()

    def _run(self, verb: str, argument: str) -> None:
        """The one place where a command's needs are checked."""
        command = COMMANDS.get(verb)
        if command is None:
            self.say(502, "ftp_not_implemented")
        elif command.login and self.name is None:
            self.say(530, "ftp_login_first")
        elif (command.argument == REQUIRED and not argument) or (
            command.argument == NO_ARGUMENT and argument
        ):
            self.say(501, "ftp_syntax", syntax=command.syntax)
        elif command.upload and not self.rights.upload:
            self.say(550, "ftp_uploads_off")
        elif command.download and not self.rights.download:
            self.say(550, "ftp_downloads_off")
        else:
            if verb != "RNTO":
                self.files.rename_from = None  # RNTO must come right after RNFR
            COMMAND_HANDLERS[verb](self, argument)

    def path(self, argument: str) -> tuple[str, ...]:
        """The path ARGUMENT names from the current directory (`storage.split_path`: NoSuchFile
        for a way out of the root)."""
        return split_path(self.cwd, argument)

    def new_path(self, argument: str) -> tuple[str, ...]:
        """The path for a name about to be made (STOR, MKD, RNTO): NameNotAllowed
        (553) for a hidden or otherwise unservable name, not "no such file"."""
        try:
            return self.path(argument)
        except NoSuchFile:
            raise NameNotAllowed(argument) from None

    def refuse(self, problem: FileProblem, code: int = 550) -> None:
        """Reply with the message of a FileProblem, naming its file."""
        self.say(code, problem.message_key, name=problem.name)

    @property
    def rights(self) -> Rights:
        """The logged-in account's rights; without accounts, the door's switches."""
        account = self.login.account
        if account is None:
            return Rights(upload=self.settings.allow_upload, overwrite=self.settings.allow_overwrite)
        return Rights(
            upload=account.may("upload"), overwrite=account.may("overwrite"), download=account.may("download")
        )

    def rights_for(self, parts: tuple[str, ...]) -> Rights:
        """The rights in force on one entry: a file this connection uploaded may be renamed."""
        rights = self.rights
        if parts in self.files.own_uploads and not rights.overwrite:
            return dataclasses.replace(rights, rename=True)
        return rights


COMMAND_HANDLERS: dict[str, Callable[[FtpSession, str], None]] = {
    "USER": cmd_user,
    "PASS": cmd_pass,
    "AUTH": cmd_auth,
    "PBSZ": cmd_pbsz,
    "PROT": cmd_prot,
    "QUIT": cmd_quit,
    "NOOP": cmd_noop,
    "SYST": cmd_syst,
    "FEAT": cmd_feat,
    "OPTS": cmd_opts,
    "HELP": cmd_help,
    "TYPE": cmd_type,
    "MODE": cmd_mode,
    "STRU": cmd_stru,
    "PWD": cmd_pwd,
    "CWD": cmd_cwd,
    "CDUP": cmd_cdup,
    "MKD": cmd_mkd,
    "DELE": cmd_dele,
    "RMD": cmd_rmd,
    "RNFR": cmd_rnfr,
    "RNTO": cmd_rnto,
    "SIZE": cmd_size,
    "MDTM": cmd_mdtm,
    "MLST": cmd_mlst,
    "HASH": cmd_hash,
    "MFMT": cmd_mfmt,
    "LIST": cmd_list,
    "NLST": cmd_nlst,
    "MLSD": cmd_mlsd,
    "STAT": cmd_stat,
    "PASV": cmd_pasv,
    "EPSV": cmd_epsv,
    "PORT": cmd_port,
    "EPRT": cmd_eprt,
    "REST": cmd_rest,
    "RETR": cmd_retr,
    "STOR": cmd_stor,
    "APPE": cmd_appe,
    "ABOR": cmd_abor,
}
"""Each verb of `commands.COMMANDS` and the function that answers it, once `_run` has checked its needs."""

EVENT_HANDLERS: dict[type, Callable[[FtpSession, object], None]] = {
    Joined: on_joined,
    DelayOver: on_delay_over,
    JoinRefused: on_join_refused,
    PassiveOpened: on_passive_opened,
    PassiveFailed: on_passive_failed,
    TransferDone: on_transfer_done,
    TransferBroken: on_transfer_broken,
    TransferFailed: on_transfer_failed,
    DataConnectFailed: on_data_connect_failed,
}
"""What the loop reports and the function that takes it (`handle`)."""


@lru_cache(maxsize=FIXED_REPLIES_KEPT)
def _fixed_reply(messages: Messages, code: int, key: str) -> bytes:
    """A reply with no values in it (220, 331, 226, 221...), made once per catalogue, not per session."""
    return reply(code, messages(key))
