"""The command table: for each verb, its argument, whether it needs a login or
uploads, and its syntax for HELP. FtpSession checks it in one place (`_run`)
and dispatches through `session.COMMAND_HANDLERS` to a `cmd_<verb>` function."""

from __future__ import annotations

from dataclasses import dataclass

NO_ARGUMENT, OPTIONAL, REQUIRED = "none", "optional", "required"
HASH_NAME = "SHA-256"
"""HASH's one algorithm (FEAT, OPTS HASH and the 213 reply name it)."""


@dataclass(frozen=True)
class Command:
    """What a command needs before its `cmd_` function runs."""

    argument: str
    syntax: str
    login: bool = True
    upload: bool = False
    download: bool = False
    """Reads a file's bytes (RETR, HASH): refused to an account without the download right."""
    during_transfer: bool = False
    """Answered at once even while a transfer is under way (ABOR, STAT)."""


COMMANDS = {
    "USER": Command(REQUIRED, "USER <SP> username", login=False),
    "PASS": Command(OPTIONAL, "PASS <SP> password", login=False),
    "QUIT": Command(NO_ARGUMENT, "QUIT", login=False),
    "NOOP": Command(NO_ARGUMENT, "NOOP", login=False),
    "SYST": Command(NO_ARGUMENT, "SYST", login=False),
    "FEAT": Command(NO_ARGUMENT, "FEAT", login=False),
    "HELP": Command(OPTIONAL, "HELP [<SP> command]", login=False),
    "OPTS": Command(REQUIRED, "OPTS <SP> UTF8 ON", login=False),
    "AUTH": Command(REQUIRED, "AUTH <SP> TLS", login=False),
    "PBSZ": Command(REQUIRED, "PBSZ <SP> 0", login=False),
    "PROT": Command(REQUIRED, "PROT <SP> C | P", login=False),
    "PWD": Command(NO_ARGUMENT, "PWD"),
    "CWD": Command(REQUIRED, "CWD <SP> pathname"),
    "CDUP": Command(NO_ARGUMENT, "CDUP"),
    "TYPE": Command(REQUIRED, "TYPE <SP> A | I"),
    "MODE": Command(REQUIRED, "MODE <SP> S"),
    "STRU": Command(REQUIRED, "STRU <SP> F"),
    "PASV": Command(NO_ARGUMENT, "PASV"),
    "EPSV": Command(OPTIONAL, "EPSV [<SP> 1 | 2 | ALL]"),
    "PORT": Command(REQUIRED, "PORT <SP> h1,h2,h3,h4,p1,p2"),
    "EPRT": Command(REQUIRED, "EPRT <SP> |proto|address|port|"),
    "LIST": Command(OPTIONAL, "LIST [<SP> pathname]"),
    "NLST": Command(OPTIONAL, "NLST [<SP> pathname]"),
    "MLSD": Command(OPTIONAL, "MLSD [<SP> pathname]"),
    "MLST": Command(OPTIONAL, "MLST [<SP> pathname]"),
    "SIZE": Command(REQUIRED, "SIZE <SP> pathname"),
    "MDTM": Command(REQUIRED, "MDTM <SP> pathname"),
    "REST": Command(REQUIRED, "REST <SP> offset"),
    "RETR": Command(REQUIRED, "RETR <SP> pathname", download=True),
    "ABOR": Command(NO_ARGUMENT, "ABOR", during_transfer=True),
    "STAT": Command(OPTIONAL, "STAT [<SP> pathname]", during_transfer=True),
    "STOR": Command(REQUIRED, "STOR <SP> pathname", upload=True),
    "APPE": Command(REQUIRED, "APPE <SP> pathname", upload=True),
    "DELE": Command(REQUIRED, "DELE <SP> pathname", upload=True),
    "MKD": Command(REQUIRED, "MKD <SP> pathname", upload=True),
    "RMD": Command(REQUIRED, "RMD <SP> pathname", upload=True),
    "RNFR": Command(REQUIRED, "RNFR <SP> pathname", upload=True),
    "RNTO": Command(REQUIRED, "RNTO <SP> pathname", upload=True),
    "MFMT": Command(REQUIRED, "MFMT <SP> YYYYMMDDHHMMSS <SP> pathname", upload=True),
    "HASH": Command(REQUIRED, "HASH <SP> pathname", download=True),
}


@dataclass(frozen=True)
class Rights:
    """What the door's options allow (or, with --users, the account's rights):
    --allow-upload (new names, folders, times), --allow-overwrite (replacing,
    deleting, renaming), `download` (RETR, HASH: every login without accounts).
    `rename` alone: a file this connection uploaded, which it may rename without
    --allow-overwrite."""

    upload: bool = False
    overwrite: bool = False
    rename: bool = False
    download: bool = True


_ALWAYS = ("EPRT", "EPSV", "HASH SHA-256*", "MDTM", "MLST type*;size*;modify*;perm*;", "PASV", "REST STREAM")


_TLS = ("AUTH TLS", "PBSZ", "PROT")


def features(rights: Rights, tls: bool = False) -> list[str]:
    """FEAT's lines: exactly what works with these rights (MFMT needs uploads) and TLS."""
    optional = [*(["MFMT"] if rights.upload else []), *(_TLS if tls else [])]
    return sorted([*_ALWAYS, "SIZE", "UTF8", *optional])
