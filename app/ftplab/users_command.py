"""`ftplab-server users add NAME | remove NAME | list`: the accounts file (--users).

`add` asks for the password twice, without echo, at a terminal; from a pipe it
reads one line (for scripts: `printf '%s\\n' "$pw" | ftplab-server users add ana`).
Every change rewrites the file atomically, mode 0600 (accounts.save). `list`
shows names and rights, never the hashes.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable

from . import accounts
from .messages import CATALOGUES, Messages
from .usernames import name_problem

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def users_main(argv: list[str], say: Messages, stdin=None, stdout=None) -> int:
    """Run one `users` subcommand; its exit status."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    args = _parser(say).parse_args(argv)
    if not args.users:
        _complain(say("users_no_file"))
        return EXIT_USAGE
    try:
        if args.action == "list":
            return _list(args.users, say, stdout)
        if name_problem(args.name) is not None:
            _complain(say("users_bad_name", name=args.name))
            return EXIT_USAGE
        if args.action == "remove":
            return _remove(args.users, args.name, say)
        return _add(args.users, args.name, args.rights, say, _password_reader(stdin, say))
    except accounts.UsersFileError as error:
        _complain(say("bad_users_file", reason=error))
        return EXIT_FAILURE
    except OSError as error:
        _complain(say("users_cannot_write", path=args.users, reason=error.strerror or error))
        return EXIT_FAILURE


def _parser(say: Messages) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ftplab-server users", description=say("users_description"))
    parser.add_argument("--users", default=os.environ.get("FTPLAB_USERS", ""), help=say("users_opt_file"))
    parser.add_argument("--lang", choices=tuple(CATALOGUES), help=say("opt_lang"))  # read before parsing
    after = argparse.ArgumentParser(add_help=False)  # --users after the action too: `users add ana --users F`
    after.add_argument("--users", default=argparse.SUPPRESS, help=say("users_opt_file"))
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help=say("users_cmd_add"), parents=[after])
    add.add_argument("name")
    add.add_argument("--rights", default="download", type=_rights(say), help=say("users_opt_rights"))
    actions.add_parser("remove", help=say("users_cmd_remove"), parents=[after]).add_argument("name")
    actions.add_parser("list", help=say("users_cmd_list"), parents=[after])
    return parser


def _rights(say: Messages) -> Callable[[str], frozenset[str]]:
    def parse(text: str) -> frozenset[str]:
        try:
            return accounts.parse_rights(text)
        except accounts.UsersFileError as error:
            raise argparse.ArgumentTypeError(say("users_bad_rights", reason=error)) from None

    return parse


def _add(path: str, name: str, rights: frozenset[str], say: Messages, read_password) -> int:
    known = accounts.load_or_empty(path)  # first: a broken file is said before the password is asked
    password = read_password(name)
    if password is None:
        return EXIT_FAILURE
    account = accounts.Account(name, rights, accounts.hash_password(password))
    known.remove(name)  # a twin's entry too: the name is spelled as given now
    known.put(account)
    accounts.save(path, known)
    print(say("users_added", name=name, path=path, rights=_shown(rights)))
    return EXIT_OK


def _remove(path: str, name: str, say: Messages) -> int:
    known = accounts.load(path)
    removed = known.remove(name)
    if removed is None:
        _complain(say("users_no_such", name=name, path=path))
        return EXIT_FAILURE
    accounts.save(path, known)
    print(say("users_removed", name=removed.name, path=path))
    return EXIT_OK


def _list(path: str, say: Messages, stdout) -> int:
    known = accounts.load(path)
    width = max((len(account.name) for account in known), default=0)
    for account in known:
        print(f"{account.name:<{width}}  {_shown(account.rights)}", file=stdout)
    if not len(known):
        print(say("users_none"), file=stdout)
    return EXIT_OK


def _shown(rights: frozenset[str]) -> str:
    return ",".join(right for right in accounts.RIGHTS if right in rights) or accounts.NO_RIGHTS


def _password_reader(stdin, say: Messages) -> Callable[[str], str | None]:
    """Asks twice without echo at a terminal; reads one line from a pipe. None: refused (said)."""

    def read(name: str) -> str | None:
        if stdin.isatty():
            password = getpass.getpass(say("ask_new_password", name=name))
            if getpass.getpass(say("ask_new_password_again")) != password:
                _complain(say("users_passwords_differ"))
                return None
        else:
            password = stdin.readline().removesuffix("\n").removesuffix("\r")
        if not password:
            _complain(say("users_empty_password"))
            return None
        return password

    return read


def _complain(text: str) -> None:
    print(f"ftplab-server users: {text}", file=sys.stderr)
