"""Accounts (--users FILE): who may log in, with which password and rights.

The file is plain text, one account a line, fields separated by spaces:

    # comments and blank lines are ignored
    ana   download,upload            scrypt:16384:8:1:SALT:HASH
    profe download,upload,overwrite  scrypt:16384:8:1:SALT:HASH
    visita -                         scrypt:16384:8:1:SALT:HASH

NAME is a lab name (no whitespace, so the fields cannot be confused); RIGHTS is
a comma list of `download`, `upload` and `overwrite`, or `-` for none; the last
field is the password's scrypt hash (hashlib.scrypt) with its own parameters
(N, r, p), a random salt and the key, both in base64, so the parameters can be
raised later without invalidating older entries. `ftplab-server users` writes
it (atomically, mode 0600); the server only reads it, once, at start.

Names are compared as the server compares them (`usernames.name_key`): `Ana`,
`ana` and a Cyrillic `аna` are one account, so a twin cannot be taken without
the account's password, and a file may not hold two twins.

Checking a password costs one scrypt (about 40 ms at N=16384, in the server's
one thread): failed logins are budgeted per address (logins.LoginGuard), and a
name without an account is checked against a dummy hash, so the time taken does
not tell which names have accounts.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass

from .usernames import name_key, name_problem

RIGHTS = ("download", "upload", "overwrite")
"""What an account may do: fetch files, upload new ones, replace or delete existing ones."""
NO_RIGHTS = "-"

SCHEME = "scrypt"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
"""Parameters for new hashes (16 MiB, about 40 ms); each entry keeps its own."""
SALT_BYTES = 16
KEY_BYTES = 32
MAX_SCRYPT_MEMORY = 64 * 1024**2
"""The most memory one check may take: a hand-edited N or r cannot make a login exhaust the server."""
MAX_FILE_BYTES = 1024**2
HEADER = (
    "# ftplab accounts: NAME RIGHTS HASH, one a line (RIGHTS: download,upload,overwrite or -).\n"
    "# Written by `ftplab-server users`; see README.md, Accounts.\n"
)


class UsersFileError(ValueError):
    """A users file that cannot be used; the text says where and why (in English, as the log)."""


@dataclass(frozen=True)
class Account:
    name: str
    rights: frozenset[str]
    password_hash: str

    def may(self, right: str) -> bool:
        return right in self.rights

    def line(self) -> str:
        rights = ",".join(right for right in RIGHTS if right in self.rights) or NO_RIGHTS
        return f"{self.name} {rights} {self.password_hash}\n"


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """`scrypt:N:r:p:SALT:KEY` for `password`, with a new random salt."""
    salt = os.urandom(SALT_BYTES)
    key = _scrypt(password.encode(), salt, n, r, p)
    return ":".join([SCHEME, str(n), str(r), str(p), _b64(salt), _b64(key)])


def password_matches(password: str, password_hash: str) -> bool:
    """True when `password` is the one `password_hash` was made from (compared in constant time)."""
    n, r, p, salt, key = _parse_hash(password_hash)
    derived = _scrypt(password.encode(), salt, n, r, p, len(key))
    return hmac.compare_digest(derived, key)


@functools.cache
def _dummy_hash() -> str:
    """Checked for a name without an account, so that it costs the same time as one with."""
    return hash_password("")


class Accounts:
    """The accounts of a users file, found by name as the room compares names."""

    def __init__(self, accounts: Iterable[Account] = ()):
        self._by_key: dict[str, Account] = {}
        for account in accounts:
            self.put(account)

    def __iter__(self):
        return iter(sorted(self._by_key.values(), key=lambda account: name_key(account.name)))

    def __len__(self) -> int:
        return len(self._by_key)

    def find(self, name: str) -> Account | None:
        """The account of `name` or of its Unicode twin."""
        return self._by_key.get(name_key(name))

    def put(self, account: Account) -> None:
        """Add `account`, replacing one of the same name or twin."""
        self._by_key[name_key(account.name)] = account

    def remove(self, name: str) -> Account | None:
        return self._by_key.pop(name_key(name), None)

    def check(self, name: str, password: str) -> Account | None:
        """The account when `password` is its password; None otherwise (a name without an
        account costs one scrypt too)."""
        account = self.find(name)
        matches = password_matches(password, account.password_hash if account else _dummy_hash())
        return account if matches and account is not None else None


# --- the file ---------------------------------------------------------------------------


def load(path: str) -> Accounts:
    """The accounts in `path`; UsersFileError for a missing, unsafe or malformed file."""
    try:
        with open(path, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            data = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise UsersFileError(
            f"{path}: no such file (create it with `ftplab-server users add NAME`)"
        ) from None
    except OSError as error:
        raise UsersFileError(f"{path}: {error.strerror or error}") from None
    if not stat.S_ISREG(mode):
        raise UsersFileError(f"{path}: not a regular file")
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UsersFileError(f"{path}: writable by other users (chmod 600 {path})")
    if len(data) > MAX_FILE_BYTES:
        raise UsersFileError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise UsersFileError(f"{path}: not UTF-8 text") from None
    return parse(text, path)


def readable_by_others(path: str) -> bool:
    """The file's hashes can be read by other local users (worth a warning, not a refusal)."""
    return bool(os.stat(path).st_mode & (stat.S_IRGRP | stat.S_IROTH))


def parse(text: str, path: str = "users") -> Accounts:
    accounts = Accounts()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            account = parse_line(line)
        except UsersFileError as error:
            raise UsersFileError(f"{path}:{number}: {error}") from None
        twin = accounts.find(account.name)
        if twin is not None:
            raise UsersFileError(f"{path}:{number}: {account.name} is the same name as {twin.name}")
        accounts.put(account)
    return accounts


def parse_line(line: str) -> Account:
    fields = line.split()
    if len(fields) != 3:
        raise UsersFileError("expected NAME RIGHTS HASH")
    name, rights_text, password_hash = fields
    if name_problem(name) is not None:
        raise UsersFileError(f"{name!r} is not a valid name")
    _parse_hash(password_hash)
    return Account(name, parse_rights(rights_text), password_hash)


def parse_rights(text: str) -> frozenset[str]:
    if text == NO_RIGHTS:
        return frozenset()
    rights = frozenset(text.split(","))
    unknown = sorted(rights - set(RIGHTS))
    if unknown:
        raise UsersFileError(f"unknown right {unknown[0]!r} (rights: {','.join(RIGHTS)} or {NO_RIGHTS})")
    return rights


def save(path: str, accounts: Accounts) -> None:
    """Write `accounts` to `path` atomically (a temporary file in the same folder, mode
    0600, renamed over it): a reader sees the old file or the new one, never half."""
    folder = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(prefix=".users-", dir=folder)  # mode 0600
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(HEADER)
            file.writelines(account.line() for account in accounts)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def load_or_empty(path: str) -> Accounts:
    """For `users add`: the accounts in `path`, or none yet if it does not exist."""
    return load(path) if os.path.lexists(path) else Accounts()


# --- scrypt -------------------------------------------------------------------------------


def _parse_hash(password_hash: str) -> tuple[int, int, int, bytes, bytes]:
    parts = password_hash.split(":")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise UsersFileError(f"the hash must be {SCHEME}:N:r:p:SALT:KEY")
    n, r, p = (_small_int(value) for value in parts[1:4])
    if n < 2 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16 or 128 * n * r > MAX_SCRYPT_MEMORY:
        raise UsersFileError(
            f"scrypt parameters out of range (N a power of 2, 128*N*r <= {MAX_SCRYPT_MEMORY})"
        )
    try:
        salt, key = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except binascii.Error:
        raise UsersFileError("salt and key must be base64") from None
    if not salt or not 16 <= len(key) <= 64:
        raise UsersFileError("salt or key too short")
    return n, r, p, salt, key


def _small_int(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise UsersFileError(f"{text!r} is not a number")
    return int(text)


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int, size: int = KEY_BYTES) -> bytes:
    memory = 128 * n * r * (p + 1) + 1024**2
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=memory, dklen=size)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
