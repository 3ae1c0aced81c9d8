"""File names: the one rule for which names the server lists and serves and the client saves.

The server and the client agree because both ask this module. A name is
*listed* when it is one plain path component (not `.` or `..`, no `/`, `\\` or
NUL, at most 255 bytes) that is not hidden; it is *servable* when it is also
shown exactly as it is: nothing in it a terminal would show as an escape
(control, format or bidi characters). A listed name that is not servable is
shown escaped by `list`, and `get` answers that it does not exist, since the
client would refuse to save it anyway.

Hidden names (starting with `.`, as `ls` and ftp hide them, or with `-`, which
a later `rm *` would take for an option) are neither listed nor served: a
served directory's `.git` or `.DS_Store` is not what a class came
for, and a client must never be made to save a `.bashrc` or `.profile`.

Names typed by people are compared in Unicode normal form C, so `Café.txt`
typed with one code point for `é` finds a file whose name spells it with two
(`Cafe\\u0301.txt`, as macOS writes names), and the other way round.
"""

from __future__ import annotations

import os
import unicodedata

from .text import visible

MAX_NAME_BYTES = 255
HIDDEN_PREFIXES = (".", "-")
"""Hidden as `ls` hides dotfiles; and a name starting with "-" would be read as an
option by a later `rm *` or `ls *` in the directory it is saved to."""


def is_plain_name(name: str) -> bool:
    """True for a single, ordinary path component."""
    return (
        bool(name)
        and name not in (".", "..")
        and not any(ch in name for ch in "/\\\0")
        and len(os.fsencode(name)) <= MAX_NAME_BYTES
    )


def is_hidden(name: str) -> bool:
    return name.startswith(HIDDEN_PREFIXES)


def is_listed(name: str) -> bool:
    """A file `list` shows (escaped if it is not servable)."""
    return is_plain_name(name) and not is_hidden(name)


def is_servable(name: str) -> bool:
    """A file `get` serves and the client saves: listed, and shown exactly as it is."""
    return is_listed(name) and visible(name) == name


def typed_form(name: str) -> str:
    """The form in which names are compared with what someone typed (NFC)."""
    return unicodedata.normalize("NFC", name)


def _escaped(ch: str) -> str:
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def shown_apart(name: str) -> str:
    """`name` for a listing where another name has the same `typed_form`: the
    one in normal form C as it is, any other with every non-ASCII character
    escaped, so `Café.txt` and `Cafe\\u0301.txt` are two different lines."""
    shown = visible(name)
    if name == typed_form(name):
        return shown
    return "".join(ch if ch.isascii() else _escaped(ch) for ch in shown)
