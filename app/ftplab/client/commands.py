"""The client's command table and the reading of what the user typed.

A typed line is a command when its first word (any case) is in COMMANDS;
aliases share their command's entry, so they take the same argument (`ls
fotos` is `list fotos`). Anything else goes to the server as typed: its own
commands (`who`, `pwd`, `help`: a protocol-2 client is answered with this
client's commands), or chat. ClientSession checks the table in one place
and dispatches to its `_cmd_<action>` method."""

from __future__ import annotations

import os
import shlex
import unicodedata
from dataclasses import dataclass

WILDCARDS = frozenset("*?[")


@dataclass(frozen=True)
class Command:
    """`action` names the session's `_cmd_<action>` method; a command that takes no argument
    and is given one is not this command (`quit now` is sent to the server as typed)."""

    action: str
    takes_argument: bool = True
    offline: bool = False
    """It works with no connection (while the client is coming back, or after a kick)."""


COMMANDS = {
    "list": Command("list"),
    "ls": Command("list"),
    "dir": Command("list"),
    "get": Command("get"),
    "mget": Command("mget"),
    "put": Command("put"),
    "cd": Command("cd"),
    "cancel": Command("cancel"),
    "reconnect": Command("reconnect", takes_argument=False, offline=True),
    "clear": Command("clear", takes_argument=False, offline=True),
    "quit": Command("quit", takes_argument=False, offline=True),
    "exit": Command("quit", takes_argument=False, offline=True),
    "bye": Command("quit", takes_argument=False, offline=True),
}

COMPLETED_COMMANDS = ("list", "get", "mget", "put", "cd", "cancel", "pwd", "who", "help", "quit")
"""What Tab offers for the first word."""


def command_for(text: str) -> tuple[Command | None, str]:
    """The command a typed line runs, and its argument (None: send the line as typed)."""
    word, _, argument = text.partition(" ")
    argument = argument.strip()
    command = COMMANDS.get(word.lower())
    if command is None or (argument and not command.takes_argument):
        return None, argument
    return command, argument


def same_name(name: str) -> str:
    """File names compare after NFC normalisation: a typed name matches its decomposed twin."""
    return unicodedata.normalize("NFC", name)


def file_name_argument(argument: str) -> str:
    """The file name in what follows `get`: quoted and escaped as in a shell
    (`"name with spaces"`), or, when that does not give one word, the text as typed
    (a name with spaces, or an apostrophe, needs no quotes)."""
    try:
        words = shlex.split(argument)
    except ValueError:
        words = []
    return words[0] if len(words) == 1 else argument.strip()


def words_of(argument: str) -> list[str]:
    """The words of `argument` split as a shell would (quotes, backslashes); one word, the
    text as typed, when it cannot be split (an unclosed quote)."""
    try:
        return shlex.split(argument)
    except ValueError:
        return [argument]


def partial_name(text: str) -> str:
    """The start of a name being typed, perhaps inside a quote not yet closed."""
    for closing in ("", "'", '"'):
        try:
            words = shlex.split(text + closing)
        except ValueError:
            continue
        return words[0] if len(words) == 1 else text.strip()
    return text.strip()


def quoted(name: str) -> str:
    return shlex.quote(name) if any(ch in name for ch in " \"'\\") else name


def has_wildcard(word: str) -> bool:
    return any(ch in WILDCARDS for ch in word)


def local_names(typed: str) -> list[str]:
    """Files and folders (ending in "/") of the local directory `typed` is in, for Tab after `put`."""
    directory, _, _start = typed.rpartition("/")
    base = os.path.expanduser(directory) if directory else "."
    try:
        with os.scandir(base) as scan:
            entries = [(item.name, item.is_dir()) for item in scan if not item.name.startswith(".")]
    except OSError:
        return []
    prefix = f"{directory}/" if directory else ""
    return sorted(f"{prefix}{name}/" if is_dir else f"{prefix}{name}" for name, is_dir in entries)


def completions(before: str, listing: list[str]) -> list[str]:
    """Tab: command names for the first word; after `get ` the names of the last `list`,
    after `cd ` its folders, after `put ` the local files."""
    word, space, rest = before.partition(" ")
    if not space:
        return [f"{command} " for command in COMPLETED_COMMANDS if command.startswith(word.lower())]
    typed = partial_name(rest)
    candidates = {
        "get": listing,
        "cd": [name for name in listing if name.endswith("/")],
        "put": local_names(typed),
    }.get(word.lower(), [])
    return [f"{word} {quoted(name)}" for name in candidates if name.startswith(typed)]


class UserCommands:
    """Runs what the user typed against a ClientSession: one `_cmd_` method per action."""

    def __init__(self, session):
        self._session = session

    def run(self, text: str) -> None:
        command, argument = command_for(text)
        if command is None:
            self._session.send_typed(text, as_typed=True)
        elif self._session.away and not command.offline:
            self._session.screen.show(self._session.say("not_connected"))
        else:
            getattr(self, f"_cmd_{command.action}")(argument)

    def _cmd_list(self, argument: str) -> None:
        """`list`, `ls`, `dir`, each with the folder it was given."""
        self._session.listing = []
        self._session.send_typed(f"list {argument}".rstrip())

    def _cmd_get(self, argument: str) -> None:
        """`get a.txt b.txt` goes as typed: the server takes it as one name if a file has it,
        else as several (`!QUEUED` for each). With a wildcard (`get *.txt`, not a listed
        name), each word goes on its own, a pattern as `mget`."""
        if argument in self._session.listing or not any(
            self._is_pattern(word) for word in words_of(argument)
        ):
            self._get(argument)
        else:
            self._cmd_mget(argument)

    def _cmd_mget(self, argument: str) -> None:
        """`mget PATTERN...`: each word a pattern the server expands, a plain name a `get`."""
        session = self._session
        words = words_of(argument) if argument else []
        if not words:
            session.screen.show(session.say("usage_mget"))
        for word in words:
            if not self._is_pattern(word):
                self._get(quoted(word))
            elif session.send_typed(f"mget {word}"):
                session.downloads.asked_pattern(word)

    def _get(self, argument: str) -> None:
        session = self._session
        name = file_name_argument(argument)
        if not name:
            session.send_typed("get")  # the server explains the usage
            return
        if session.send_typed(session.downloads.request_line(name)):
            session.downloads.asked(name)

    def _is_pattern(self, word: str) -> bool:
        return has_wildcard(word) and word not in self._session.listing

    def _cmd_put(self, argument: str) -> None:
        """`put FILE`: the upload is opened, hashed and announced (uploads.py)."""
        session = self._session
        path = os.path.expanduser(file_name_argument(argument))
        if not path:
            session.screen.show(session.say("usage_put_client"))
            return
        session.uploads.put(path)

    def _cmd_cd(self, argument: str) -> None:
        line = f"cd {file_name_argument(argument)}".strip()  # quoted as for get
        if self._session.send_typed(line):
            self._session.went_to_folder(line)

    def _cmd_cancel(self, argument: str) -> None:
        """`cancel [NAME]`: the download arriving, or NAME's (ClientSession.cancel)."""
        self._session.cancel(file_name_argument(argument) if argument else "")

    def _cmd_reconnect(self, _argument: str) -> None:
        self._session.reconnect_now()

    def _cmd_clear(self, _argument: str) -> None:
        self._session.screen.clear()

    def _cmd_quit(self, _argument: str) -> None:
        self._session.quit()
