"""FtpSession: one control connection's state machine (see the package docstring)."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import os
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache, partial

from ..accounts import Account, Accounts
from ..logins import LoginGuard
from ..messages import Messages
from ..protocol import name_problem
from ..storage import (
    MIN_FREE_BYTES,
    MIN_FREE_INODES,
    AlreadyExists,
    DiskFull,
    FileProblem,
    FolderReadFailed,
    FolderReading,
    NoSuchFile,
    Tree,
    TreeEntry,
    UploadFailed,
    UploadTooBig,
    display_path,
    split_path,
)
from ..transfer import HASH_STEP_BYTES, HashCache
from .commands import COMMANDS, NO_ARGUMENT, REQUIRED, features
from .events import (
    Close,
    CloseData,
    ConnectActive,
    DataConnectFailed,
    Delay,
    DelayOver,
    FileSent,
    Join,
    Joined,
    JoinRefused,
    OpenPassive,
    PassiveFailed,
    PassiveOpened,
    ReceiveUpload,
    Renamed,
    SendFile,
    SendListing,
    SendReply,
    TransferBroken,
    TransferDone,
    TransferFailed,
    UploadFinished,
)
from .lines import MAX_COMMAND_BYTES, TOO_LONG, LineBuffer, ip_address, parse_command, parse_eprt, parse_port
from .replies import (
    Rights,
    fetchable,
    listing_pieces,
    ls_line,
    mlsd_line,
    mlsx_facts,
    mlsx_time,
    parse_mlsx_time,
    quote_path,
    reply,
    reply_pieces,
)
from .security import SecurityCommands

MAX_QUEUED_COMMANDS = 16
LINES_PER_STEP = 32
"""Command lines one `advance` runs at most: one connection's pipelined lines
never hold the loop for long (the lab door takes 32 lines per turn too)."""
REPLY_BYTES_PER_STEP = 64 * 1024
"""One `advance` stops once it has built this much reply text (a long reply
goes out in pieces of about this size, each built only when asked for)."""
MAX_FOLDERS_PER_SESSION = 256
MAX_FOLDER_DEPTH = 16
"""MKD limits: folders one connection may make, and how deep below the root."""
OWN_UPLOADS_REMEMBERED = 256
"""Files this connection uploaded, which it may rename without --allow-overwrite
(ncftpput -S and friends upload to a temporary name, then rename it)."""
HASH_NAME = "SHA-256"
MAX_LOGIN_FAILURES = 3
ANONYMOUS_NAMES = frozenset({"anonymous", "ftp"})
LOWEST_ACTIVE_PORT = 1024
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


class FtpSession(SecurityCommands):
    """One FTP control connection: bytes and events in, replies and actions out."""

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
        self._logins = logins if logins is not None else LoginGuard()
        self._digests = digests if digests is not None else HashCache()
        self.settings = settings
        self.messages = messages
        self.peer_host, self.local_host = peer[0], local[0]
        self.address_key = address_key or self.peer_host
        """The address as limits count it (an IPv4-mapped address as IPv4): the lab door's key
        for the same client, so failed logins through both doors share one budget."""
        self._anonymous_number = anonymous_number
        self._clock = clock
        self.name: str | None = None
        self.closed = False
        self.cwd: tuple[str, ...] = ()
        self._buffer = LineBuffer()
        self._actions: deque = deque()
        self._queued: deque = deque()
        self._user: str | None = None
        self._account: Account | None = None
        """The account logged in with (--users), whose rights are in force."""
        self._login_failures = 0
        self._waiting: type | None = None  # Joined, PassiveOpened or DelayOver, while we wait for it
        self._after_delay: Callable[[], None] | None = None  # what runs when a Delay is over (a 530, a PASS)
        self._passive_extended = False
        self._data: tuple | None = None  # ("passive", port) or ("active", host, port)
        self._epsv_all = False
        self._type = "A"
        self._rest = 0
        self._transfer = None  # the running transfer action
        self._receiving: tuple[str, ...] | None = None  # where the running upload goes
        self._long_reply: Iterator[bytes | None] | None = None  # a reply built piece by piece
        self._built = 0  # reply bytes built in this step
        self._rename_from: tuple[str, ...] | None = None
        self._own_uploads: OrderedDict[tuple[str, ...], None] = OrderedDict()
        self._folders_made = 0
        self.quit_waiting = False
        """QUIT came during a transfer: the client means to end cleanly (RFC 959:
        finish the transfer, then reply), so its upload is kept even if it
        closes the control connection before reading the 226."""
        self._say(220, "ftp_ready")

    # -- the loop's side --

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
        readable = self._waiting is None and self._buffer.has_line
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
            elif self._waiting is None and (line := self._buffer.next_line()) is not None:
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
            self._emit(SendReply(piece))
        else:
            self._long_reply = None
            self._run_queued()
        return True

    def handle(self, event) -> None:
        """An event from the loop (see the module docstring)."""
        if not self.closed:
            self._EVENT_HANDLERS[type(event)](self, event)
            self._run_queued()

    def next_action(self):
        """The next action for the loop, or None."""
        return self._actions.popleft() if self._actions else None

    def shut_down(self, key: str, **values) -> None:
        """Say 421 (idle, server closing, ...) and close; ends any transfer."""
        if not self.closed:
            self._end_transfer()
            self._drop_long_reply()
            self._emit(SendReply(reply(421, self.messages(key, **values))))
            self._close()

    def connection_lost(self) -> None:
        """The control connection is gone: drop any transfer (an upload in
        progress is discarded), say nothing more."""
        self._end_transfer()
        self._drop_long_reply()
        self._actions.clear()
        self.closed = True

    @property
    def busy(self) -> bool:
        """Waiting for the Room, a passive port or a transfer: commands queue."""
        return self._waiting is not None or self._transfer is not None

    # -- plumbing --

    def _emit(self, action) -> None:
        if isinstance(action, SendReply):
            self._built += len(action.data)
        self._actions.append(action)

    def _start_long_reply(self, pieces: Iterator[bytes | None]) -> None:
        """A reply too long to build at once: `advance` emits it piece by piece
        (None marks a step of work with nothing to say yet); lines wait meanwhile."""
        self._long_reply = pieces
        self._continue_long_reply()

    def _drop_long_reply(self) -> None:
        pieces, self._long_reply = self._long_reply, None
        if pieces is not None:
            pieces.close()

    def _say(self, code: int, key: str, **values) -> None:
        data = reply(code, self.messages(key, **values)) if values else _fixed_reply(self.messages, code, key)
        self._emit(SendReply(data))

    def _close(self) -> None:
        self._emit(CloseData())
        self._emit(Close())
        self.closed = True

    def _take_line(self, line) -> None:
        """Answer the line now, or queue it while busy: replies keep the order
        of the lines, so nothing is said between a transfer's 150 and 226
        except to ABOR and STAT."""
        if line is TOO_LONG:
            step = partial(self._say, 500, "ftp_line_too_long", limit=MAX_COMMAND_BYTES)
        else:
            try:
                verb, argument = parse_command(line)
            except UnicodeDecodeError:
                step = partial(self._say, 501, "ftp_bad_encoding")
            else:
                step = partial(self._run, verb, argument)
                command = COMMANDS.get(verb)
                # STAT of a path waits: its long reply must not cut into a transfer's replies
                at_once = command and command.during_transfer and not (verb == "STAT" and argument)
                if at_once and self._transfer is not None:
                    step()
                    return
                if verb == "QUIT" and self._transfer is not None:
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
            self._say(502, "ftp_not_implemented")
        elif command.login and self.name is None:
            self._say(530, "ftp_login_first")
        elif (command.argument == REQUIRED and not argument) or (
            command.argument == NO_ARGUMENT and argument
        ):
            self._say(501, "ftp_syntax", syntax=command.syntax)
        elif command.upload and not self._rights.upload:
            self._say(550, "ftp_uploads_off")
        elif command.download and not self._rights.download:
            self._say(550, "ftp_downloads_off")
        else:
            if verb != "RNTO":
                self._rename_from = None  # RNTO must come right after RNFR
            getattr(self, f"_cmd_{verb.lower()}")(argument)

    def _path(self, argument: str) -> tuple[str, ...]:
        return split_path(self.cwd, argument)

    def _new_path(self, argument: str) -> tuple[str, ...]:
        """The path for a name about to be made (STOR, MKD, RNTO): NameNotAllowed
        (553) for a hidden or otherwise unservable name, not "no such file"."""
        try:
            return self._path(argument)
        except NoSuchFile:
            raise NameNotAllowed(argument) from None

    def _refuse(self, problem: FileProblem, code: int = 550) -> None:
        self._say(code, problem.message_key, name=problem.name)

    @property
    def _rights(self) -> Rights:
        """The logged-in account's rights; without accounts, the door's switches."""
        account = self._account
        if account is None:
            return Rights(upload=self.settings.allow_upload, overwrite=self.settings.allow_overwrite)
        return Rights(
            upload=account.may("upload"), overwrite=account.may("overwrite"), download=account.may("download")
        )

    # -- login --

    def _cmd_user(self, argument: str) -> None:
        if self._clear_login_refused() or self._clear_password_refused():
            return
        if self.name is not None:
            self._say(503, "ftp_already_logged_in")
            return
        if self._refused_address():
            return
        name = argument
        if name.lower() in ANONYMOUS_NAMES and self.settings.accounts is not None:
            self._say(530, "ftp_no_anonymous")
            return
        if name.lower() in ANONYMOUS_NAMES:
            name = f"anon-{self._anonymous_number()}"
        if name_problem(name) is not None:
            self._user = None
            self._say(530, "bad_name", name=name)
            return
        self._user = name
        self._say(331, "ftp_need_password")

    def _cmd_pass(self, argument: str) -> None:
        if self.name is not None:
            self._say(503, "ftp_already_logged_in")
        elif self._user is None:
            self._say(503, "ftp_user_first")
        elif self._refused_address():
            return
        elif self.settings.accounts is not None and (wait := self._logins.check_wait(self.address_key)):
            self._wait_then(wait, partial(self._cmd_pass, argument))  # checks are rationed (logins.py)
        elif self.settings.accounts is not None:
            self._log_in_to_account(self.settings.accounts, argument)
        elif self.settings.password is not None and not hmac.compare_digest(
            argument.encode(), self.settings.password.encode()
        ):
            self._wrong_password()
        else:
            if self.settings.password is not None:
                self._logins.succeeded(self.address_key)
            self._waiting = Joined
            self._emit(Join(self._user))

    def _clear_password_refused(self) -> bool:
        """--users: no account's password in clear (530 at USER, before the client sends
        it), unless --allow-clear-passwords."""
        settings = self.settings
        if settings.accounts is None or settings.allow_clear_passwords or self.tls_active:
            return False
        self._say(530, "ftp_clear_password_refused" if settings.tls else "ftp_clear_password_no_tls")
        return True

    def _log_in_to_account(self, accounts: Accounts, password: str) -> None:
        """--users: the name's account and its password, or a wrong password (a name
        without an account too, after the same work: the reply tells no names apart)."""
        account = accounts.check(self._user, password)
        if account is None:
            self._wrong_password()
            return
        self._account = account
        self._waiting = Joined
        self._emit(Join(self._user))

    def _refused_address(self) -> bool:
        """421 and close when this address has failed too often (its password is not even looked at)."""
        seconds = self._logins.blocked_for(self.address_key)
        if seconds:
            self.shut_down("ftp_address_blocked", minutes=max(1, round(seconds / 60)))
        return bool(seconds)

    def _wrong_password(self) -> None:
        """Counted for the address; the 530 (or the 421 past the budget) only after
        the guard's delay, and no line is read meanwhile (pipelined guesses wait too)."""
        delay = self._logins.failed(self.address_key, self._user, "FTP")
        self._user = None
        self._wait_then(delay, self._after_wrong_password)

    def _wait_then(self, seconds: float, then: Callable[[], None]) -> None:
        """No line is read for `seconds` (the loop's `Delay`); then `then` runs."""
        self._after_delay = then
        self._waiting = DelayOver
        self._emit(Delay(seconds))

    def _after_wrong_password(self) -> None:
        if not self._refused_address():
            self._login_failed(self.messages("ftp_login_incorrect"))

    def _on_delay_over(self, _event: DelayOver) -> None:
        if self._waiting is DelayOver:
            self._waiting = None
            then, self._after_delay = self._after_delay, None
            then()

    def _login_failed(self, text: str) -> None:
        self._user = self._account = None
        self._login_failures += 1
        if self._login_failures >= MAX_LOGIN_FAILURES:
            self.shut_down("ftp_too_many_failures")
        else:
            self._emit(SendReply(reply(530, text)))

    def _on_joined(self, _event: Joined) -> None:
        if self._waiting is Joined:
            self._waiting = None
            self.name = self._user
            self._say(230, "ftp_logged_in", name=self.name)

    def _on_join_refused(self, event: JoinRefused) -> None:
        if self._waiting is Joined:
            self._waiting = None
            self._login_failed(event.text)

    # -- simple commands --

    def _cmd_quit(self, _argument: str) -> None:
        self._say(221, "ftp_goodbye")
        self._close()

    def _cmd_noop(self, _argument: str) -> None:
        self._say(200, "ftp_noop")

    def _cmd_syst(self, _argument: str) -> None:
        self._emit(SendReply(reply(215, "UNIX Type: L8")))

    def _cmd_feat(self, _argument: str) -> None:
        offered = features(self._rights, self.settings.tls)
        lines = [self.messages("ftp_features"), *offered, self.messages("ftp_end")]
        self._emit(SendReply(reply(211, *lines)))

    def _cmd_opts(self, argument: str) -> None:
        words = argument.upper().split()
        if words == ["UTF8", "ON"]:
            self._say(200, "ftp_utf8")
        elif words[:1] == ["HASH"] and words[1:] in ([], [HASH_NAME]):
            self._emit(SendReply(reply(200, HASH_NAME)))  # the one algorithm, always selected
        elif words[:1] == ["HASH"]:
            self._say(501, "ftp_hash_unknown", algorithm=HASH_NAME)
        else:
            self._say(501, "ftp_syntax", syntax=COMMANDS["OPTS"].syntax)

    def _cmd_help(self, argument: str) -> None:
        if not argument:
            names = " ".join(sorted(COMMANDS))
            lines = [self.messages("ftp_help_title"), names, self.messages("ftp_help_end")]
            self._emit(SendReply(reply(214, *lines)))
        elif argument.upper() in COMMANDS:
            self._say(214, "ftp_syntax_help", syntax=COMMANDS[argument.upper()].syntax)
        else:
            self._say(502, "ftp_not_implemented")

    def _cmd_type(self, argument: str) -> None:
        kind = {"A": "A", "A N": "A", "I": "I", "L 8": "I"}.get(argument.upper())
        if kind is None:
            self._say(504, "ftp_parameter_not_implemented")
            return
        self._type = kind
        self._say(200, "ftp_type_set", type=kind)

    def _cmd_mode(self, argument: str) -> None:
        self._only_parameter(argument, "S", "ftp_mode_set")

    def _cmd_stru(self, argument: str) -> None:
        self._only_parameter(argument, "F", "ftp_structure_set")

    def _only_parameter(self, argument: str, accepted: str, key: str) -> None:
        if argument.upper() == accepted:
            self._say(200, key, value=accepted)
        else:
            self._say(504, "ftp_parameter_not_implemented")

    # -- directories --

    def _cmd_pwd(self, _argument: str) -> None:
        self._say(257, "ftp_current_directory", path=quote_path(display_path(self.cwd)))

    def _cmd_cwd(self, argument: str) -> None:
        self._change_directory(argument, 250, "ftp_directory_changed")

    def _cmd_cdup(self, _argument: str) -> None:
        self._change_directory("..", 200, "ftp_directory_up")

    def _change_directory(self, argument: str, code: int, key: str) -> None:
        try:
            parts = self._path(argument)
        except FileProblem as problem:
            self._say(550, "not_a_directory", name=problem.name)
            return
        if not self.tree.is_dir(parts):
            self._say(550, "not_a_directory", name=display_path(parts))
            return
        self.cwd = parts
        self._say(code, key, path=display_path(parts))

    def _cmd_mkd(self, argument: str) -> None:
        try:
            parts = self._new_path(argument)
        except FileProblem as problem:
            self._refuse(problem, 553)
            return
        if self._folders_made >= MAX_FOLDERS_PER_SESSION:
            self._say(552, "ftp_folder_limit", limit=MAX_FOLDERS_PER_SESSION)
        elif len(parts) > MAX_FOLDER_DEPTH:
            self._say(553, "ftp_folder_too_deep", limit=MAX_FOLDER_DEPTH)
        else:
            self._make_folder(parts)

    def _make_folder(self, parts: tuple[str, ...]) -> None:
        try:
            self.tree.make_dir(
                parts,
                min_free_bytes=self.settings.min_free_bytes,
                min_free_inodes=self.settings.min_free_inodes,
            )
        except FileProblem as problem:
            self._refuse(problem, 550 if isinstance(problem, AlreadyExists) else _failure_code(problem))
            return
        self._folders_made += 1
        self._say(257, "ftp_directory_created", path=quote_path(display_path(parts)))

    def _cmd_dele(self, argument: str) -> None:
        self._remove(argument, self.tree.delete, "ftp_deleted")

    def _cmd_rmd(self, argument: str) -> None:
        self._remove(argument, self.tree.remove_dir, "ftp_directory_removed")

    def _remove(self, argument: str, remove: Callable[[tuple[str, ...]], None], key: str) -> None:
        """DELE and RMD: only with --allow-overwrite (a deletion loses someone's work)."""
        if not self._rights.overwrite:
            self._say(550, "ftp_overwrite_off")
            return
        try:
            parts = self._path(argument)
            remove(parts)
        except FileProblem as problem:
            self._refuse(problem)
            return
        self._own_uploads.pop(parts, None)
        self._say(250, key)

    # -- renaming (RNFR, then RNTO) --

    def _cmd_rnfr(self, argument: str) -> None:
        located = self._located(argument)
        if located is None:
            return
        parts, entry = located
        if not parts or not self._may_rename(parts, entry):
            self._say(550, "ftp_overwrite_off")
            return
        self._rename_from = parts
        self._say(350, "ftp_rename_ready")

    def _may_rename(self, parts: tuple[str, ...], entry: TreeEntry) -> bool:
        """Renaming takes a name away, like deleting: --allow-overwrite, except
        for a file this connection uploaded itself (a temporary name)."""
        return self._rights.overwrite or (not entry.is_dir and parts in self._own_uploads)

    def _cmd_rnto(self, argument: str) -> None:
        source, self._rename_from = self._rename_from, None
        if source is None:
            self._say(503, "ftp_rnfr_first")
            return
        try:
            target = self._new_path(argument)
            self.tree.rename(source, target, overwrite=self._rights.overwrite)
        except FileProblem as problem:
            self._refuse(problem, 553 if isinstance(problem, (NameNotAllowed, AlreadyExists)) else 550)
            return
        if source in self._own_uploads:  # still this connection's own file, under its new name
            del self._own_uploads[source]
            self._remember_upload(target)
        self._emit(Renamed(display_path(source), display_path(target)))
        self._say(250, "ftp_renamed", path=display_path(target))

    def _remember_upload(self, parts: tuple[str, ...]) -> None:
        self._own_uploads[parts] = None
        while len(self._own_uploads) > OWN_UPLOADS_REMEMBERED:
            self._own_uploads.popitem(last=False)

    # -- facts over the control connection --

    def _located(self, argument: str) -> tuple[tuple[str, ...], TreeEntry] | None:
        """The path ARGUMENT names and its entry in the tree, or None once the
        reason there is none (missing, outside the root, a link) has been answered."""
        try:
            parts = self._path(argument)
            return parts, self.tree.entry(parts)
        except FileProblem as problem:
            self._refuse(problem)
            return None

    def _cmd_size(self, argument: str) -> None:
        self._answer_file_fact(argument, lambda entry: str(entry.size))

    def _cmd_mdtm(self, argument: str) -> None:
        self._answer_file_fact(argument, lambda entry: mlsx_time(entry.mtime))

    def _answer_file_fact(self, argument: str, fact: Callable[[TreeEntry], str]) -> None:
        located = self._located(argument)
        if located is None:
            return
        _, entry = located
        if entry.is_dir:
            self._say(550, "not_a_file", name=argument)
        else:
            self._emit(SendReply(reply(213, fact(entry))))

    def _cmd_mfmt(self, argument: str) -> None:
        """MFMT YYYYMMDDHHMMSS path: set a file's modification time (keeps an
        upload's time, as rclone and lftp ask). A time is not content: --allow-upload."""
        stamp, _, name = argument.partition(" ")
        mtime = parse_mlsx_time(stamp)
        if mtime is None or not name:
            self._say(501, "ftp_syntax", syntax=COMMANDS["MFMT"].syntax)
            return
        try:
            parts = self._path(name)
            self.tree.set_mtime(parts, mtime)
        except FileProblem as problem:
            self._refuse(problem)
            return
        self._emit(SendReply(reply(213, f"Modify={mlsx_time(mtime)}; {display_path(parts)}")))

    def _cmd_hash(self, argument: str) -> None:
        """HASH path: the file's SHA-256 (draft-bryan-ftp-hash), from the digest
        cache the lab door's `get` fills, else read HASH_STEP_BYTES per step."""
        try:
            parts = self._path(argument)
            opened = self.tree.open(parts)
        except FileProblem as problem:
            self._refuse(problem)
            return
        self._start_long_reply(self._hash_reply(opened, display_path(parts)))

    def _hash_reply(self, opened, path: str) -> Iterator[bytes | None]:
        try:
            digest = self._digests.get(opened.identity)
            if digest is None:
                hasher = hashlib.sha256()
                for offset in range(0, opened.size, HASH_STEP_BYTES):
                    hasher.update(os.pread(opened.fd, HASH_STEP_BYTES, offset))
                    yield None
                digest = hasher.hexdigest()
                self._digests.put(opened.identity, digest)
        except OSError:
            yield reply(451, self.messages("ftp_local_error"))
            return
        finally:
            opened.close()
        yield reply(213, f"{HASH_NAME} 0-{opened.size} {digest} {path}")

    def _cmd_mlst(self, argument: str) -> None:
        located = self._located(argument)
        if located is None:
            return
        parts, entry = located
        path = display_path(parts)
        facts = mlsx_facts(entry, self._rights_for(parts))
        lines = [self.messages("ftp_listing", path=path), f"{facts} {path}", self.messages("ftp_end")]
        self._emit(SendReply(reply(250, *lines)))

    def _cmd_stat(self, argument: str) -> None:
        if argument:
            self._stat_path(argument)
            return
        transfer = self.messages("ftp_stat_transfer" if self._transfer else "ftp_stat_idle")
        lines = [
            self.messages("ftp_stat_title"),
            self.messages("ftp_stat_user", name=self.name, path=display_path(self.cwd)),
            self.messages("ftp_stat_type", type=self._type),
            transfer,
            self.messages("ftp_stat_end"),
        ]
        self._emit(SendReply(reply(211, *lines)))

    def _stat_path(self, argument: str) -> None:
        """A listing over the control connection, built and sent in pieces."""
        try:
            entries = self._listing_entries(argument)
        except FileProblem as problem:
            self._refuse(problem)
            return
        now = self._clock()
        first, last = self.messages("ftp_stat_of", path=argument), self.messages("ftp_stat_end")
        pieces = reply_pieces(213, first, entries, lambda taken: (ls_line(e, now) for e in taken), last)
        self._start_long_reply(self._unless_unreadable(pieces))

    def _unless_unreadable(self, pieces: Iterator[bytes | None]) -> Iterator[bytes | None]:
        """A long reply's `pieces`, or 451 when its folder fails partway through being read
        (before any piece was said: see `reply_pieces`)."""
        try:
            yield from pieces
        except FolderReadFailed as problem:
            yield reply(451, self.messages(problem.message_key, name=problem.name))

    # -- data connections --

    def _cmd_pasv(self, _argument: str) -> None:
        if self._epsv_all:
            self._say(503, "ftp_epsv_all")
        elif not isinstance(self._advertised_address(), ipaddress.IPv4Address):
            self._say(425, "ftp_use_epsv")
        else:
            self._open_passive(extended=False)

    def _advertised_address(self):
        """The address a 227 reply gives: --masquerade-address, else ours."""
        return ip_address(self.settings.masquerade_address or self.local_host)

    def _cmd_epsv(self, argument: str) -> None:
        if argument.upper() == "ALL":
            self._epsv_all = True
            self._say(200, "ftp_epsv_all_ok")
        elif argument and argument != self._family():
            self._say(522, "ftp_network_protocol", family=self._family())
        else:
            self._open_passive(extended=True)

    def _family(self) -> str:
        return "1" if isinstance(ip_address(self.local_host), ipaddress.IPv4Address) else "2"

    def _open_passive(self, *, extended: bool) -> None:
        self._drop_data_channel()
        self._passive_extended = extended
        self._waiting = PassiveOpened
        self._emit(OpenPassive())

    def _drop_data_channel(self) -> None:
        if self._data is not None:
            self._emit(CloseData())
            self._data = None

    def _on_passive_opened(self, event: PassiveOpened) -> None:
        if self._waiting is not PassiveOpened:
            return
        self._waiting = None
        self._data = ("passive", event.port)
        if self._passive_extended:
            self._say(229, "ftp_extended_passive", port=f"(|||{event.port}|)")
            return
        host = str(self._advertised_address()).replace(".", ",")
        self._say(227, "ftp_passive", address=f"({host},{event.port // 256},{event.port % 256})")

    def _on_passive_failed(self, _event: PassiveFailed) -> None:
        if self._waiting is PassiveOpened:
            self._waiting = None
            self._say(425, "ftp_no_data_connection")

    def _cmd_port(self, argument: str) -> None:
        target = parse_port(argument)
        if target is None:
            self._say(501, "ftp_syntax", syntax=COMMANDS["PORT"].syntax)
        else:
            self._set_active(*target)

    def _cmd_eprt(self, argument: str) -> None:
        target = parse_eprt(argument)
        if target is None:
            self._say(501, "ftp_syntax", syntax=COMMANDS["EPRT"].syntax)
        elif target[0] != self._family():
            self._say(522, "ftp_network_protocol", family=self._family())
        else:
            self._set_active(target[1], target[2])

    def _set_active(self, host: str, port: int) -> None:
        """PORT and EPRT lead back only to the peer itself, above the
        privileged ports (RFC 2577: no bounce attacks)."""
        if self._epsv_all:
            self._say(503, "ftp_epsv_all")
            return
        address = ip_address(host)
        if address is None or address != ip_address(self.peer_host) or port < LOWEST_ACTIVE_PORT:
            self._say(501, "ftp_bounce")
            return
        self._drop_data_channel()
        self._data = ("active", str(address), port)
        self._say(200, "ftp_port_ok")

    def _start_transfer(self, action, key: str, **values) -> None:
        """150 now, then the data connection and the transfer (the loop's part)."""
        mode, *where = self._data
        self._data = None
        self._rest = 0
        self._say(150, key, **values)
        if mode == "active":
            self._emit(ConnectActive(*where))
        self._transfer = action
        self._emit(action)

    def _have_data_channel(self) -> bool:
        if self._data is None:
            self._say(425, "ftp_use_pasv")
            return False
        return True

    # -- listings --

    def _listing_entries(self, argument: str) -> FolderReading | list[TreeEntry]:
        """A directory's entries, read in steps (FolderReading), or the one entry of a file."""
        words = argument.split(" ")
        while words and words[0].startswith("-"):  # "LIST -la": options ls would take
            words.pop(0)
        parts = self._path(" ".join(words))
        entry = self.tree.entry(parts)
        return self.tree.read_folder(parts) if entry.is_dir else [entry]

    def _send_listing(self, argument: str, render: Callable[[Iterable[TreeEntry]], Iterator[str]]) -> None:
        if not self._have_data_channel():
            return
        try:
            entries = self._listing_entries(argument)
        except FileProblem as problem:
            self._refuse(problem)
            return
        self._start_transfer(SendListing(listing_pieces(entries, render)), "ftp_listing_opening")

    def _cmd_list(self, argument: str) -> None:
        now = self._clock()
        self._send_listing(argument, lambda entries: (ls_line(e, now) for e in entries))

    def _cmd_nlst(self, argument: str) -> None:
        self._send_listing(argument, lambda entries: (e.name for e in entries if fetchable(e)))

    def _cmd_mlsd(self, argument: str) -> None:
        try:
            if argument and not self.tree.entry(self._path(argument)).is_dir:
                self._say(501, "not_a_directory", name=argument)
                return
        except FileProblem as problem:
            self._refuse(problem)
            return
        folder = self._path(argument)
        self._send_listing(
            argument,
            lambda entries: (
                mlsd_line(e, self._rights_for((*folder, e.name))) for e in entries if fetchable(e)
            ),
        )

    def _rights_for(self, parts: tuple[str, ...]) -> Rights:
        """The rights in force on one entry: a file this connection uploaded may be renamed."""
        rights = self._rights
        if parts in self._own_uploads and not rights.overwrite:
            return dataclasses.replace(rights, rename=True)
        return rights

    # -- files --

    def _cmd_rest(self, argument: str) -> None:
        if not (argument.isascii() and argument.isdigit() and len(argument) <= 19):
            self._say(501, "ftp_syntax", syntax=COMMANDS["REST"].syntax)
            return
        self._rest = int(argument)
        self._say(350, "ftp_restarting", offset=self._rest)

    def _cmd_retr(self, argument: str) -> None:
        if not self._have_data_channel():
            return
        try:
            opened = self.tree.open(self._path(argument))
        except FileProblem as problem:
            self._refuse(problem)
            return
        if self._rest > opened.size:
            opened.close()
            self._rest = 0
            self._say(554, "ftp_bad_restart", size=opened.size)
            return
        kind = "BINARY" if self._type == "I" else "ASCII"
        action = SendFile(opened, self._rest)
        self._start_transfer(action, "ftp_opening", kind=kind, name=opened.name, size=opened.size)

    def _cmd_stor(self, argument: str) -> None:
        self._receive(argument, append=False)

    def _cmd_appe(self, argument: str) -> None:
        self._receive(argument, append=True)

    def _receive(self, argument: str, *, append: bool) -> None:
        if not self._have_data_channel():
            return
        if self._rest:
            self._rest = 0
            self._say(554, "ftp_no_upload_restart")
            return
        try:
            parts = self._new_path(argument)
            upload = self.tree.start_upload(
                parts,
                overwrite=self._rights.overwrite,
                max_bytes=self.settings.max_upload_bytes,
                append=append,
                min_free_bytes=self.settings.min_free_bytes,
            )
        except FileProblem as problem:
            self._refuse(problem, _failure_code(problem))
            return
        self._receiving = parts
        self._start_transfer(ReceiveUpload(upload), "ftp_receiving", name=upload.name)

    def _cmd_abor(self, _argument: str) -> None:
        if self._transfer is not None:
            self._end_transfer()
            self._emit(CloseData())
            self._say(426, "ftp_transfer_aborted")
        else:
            self._drop_data_channel()
        self._say(226, "ftp_abort_ok")

    # -- transfer outcomes --

    def _end_transfer(self):
        """Forget the running transfer, closing its file or dropping its upload."""
        action, self._transfer = self._transfer, None
        if isinstance(action, SendFile):
            action.file.close()
        elif isinstance(action, ReceiveUpload):
            action.upload.abort()
        return action

    def _on_transfer_done(self, _event: TransferDone) -> None:
        if not isinstance(self._transfer, ReceiveUpload):
            action = self._end_transfer()
            if isinstance(action, SendFile):
                self._emit(FileSent(action.file.name, action.file.size - action.offset))
            if action is not None:
                self._say(226, "ftp_transfer_complete")
            return
        upload = self._transfer.upload
        self._transfer = None
        try:
            size = upload.finish(overwrite=self._rights.overwrite)
        except FileProblem as problem:
            self._refuse(problem, _failure_code(problem))
            return
        self._remember_upload(self._receiving)
        self._emit(UploadFinished(upload.name, size))
        self._say(226, "ftp_transfer_complete")

    def _on_transfer_broken(self, _event: TransferBroken) -> None:
        if self._end_transfer() is not None:
            self._say(426, "ftp_transfer_aborted")

    def _on_transfer_failed(self, event: TransferFailed) -> None:
        if self._end_transfer() is None:
            return
        if event.problem is None:
            self._say(451, "ftp_local_error")
        else:
            self._refuse(event.problem, _failure_code(event.problem))

    def _on_data_connect_failed(self, _event: DataConnectFailed) -> None:
        if self._end_transfer() is not None:
            self._say(425, "ftp_no_data_connection")

    _EVENT_HANDLERS = {
        Joined: _on_joined,
        DelayOver: _on_delay_over,
        JoinRefused: _on_join_refused,
        PassiveOpened: _on_passive_opened,
        PassiveFailed: _on_passive_failed,
        TransferDone: _on_transfer_done,
        TransferBroken: _on_transfer_broken,
        TransferFailed: _on_transfer_failed,
        DataConnectFailed: _on_data_connect_failed,
    }


@lru_cache(maxsize=FIXED_REPLIES_KEPT)
def _fixed_reply(messages: Messages, code: int, key: str) -> bytes:
    """A reply with no values in it (220, 331, 226, 221...), made once per catalogue, not per session."""
    return reply(code, messages(key))


class NameNotAllowed(FileProblem):
    """A name that cannot be made: hidden (a dotfile, a `-name`) or otherwise unservable."""

    message_key = "name_not_allowed"


def _failure_code(problem: FileProblem) -> int:
    """552 over the size limit, 452 without space, 553 for a name taken, 451 for an upload or a
    listing's folder that failed partway, else 550."""
    if isinstance(problem, UploadTooBig):
        return 552
    if isinstance(problem, DiskFull):
        return 452
    if isinstance(problem, (AlreadyExists, NameNotAllowed)):
        return 553
    return 451 if isinstance(problem, (UploadFailed, FolderReadFailed)) else 550
