"""Reply lines and listings: RFC 959 replies (multi-line too), `ls -l` lines,
RFC 3659 facts. Every name and text is escaped here, so none can forge a line."""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable, Generator, Iterable, Iterator

from ..filenames import is_servable
from ..storage import FolderReading, TreeEntry
from ..text import visible
from .commands import Rights

LINES_PER_PIECE = 256
"""Lines of a long reply or listing built at a time (a piece is at most a few tens of KiB)."""
RECENT_SECONDS = 180 * 24 * 3600
"""`ls -l` shows the time of day for files younger than this, else the year."""

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def reply(code: int, *lines: str) -> bytes:
    """One reply; several lines make an RFC 959 multi-line reply ("123-first",
    the middle lines indented by one space, "123 last"). Control characters
    in the text are escaped, so no text can forge a line."""
    shown = [visible(line) for line in lines]
    if len(shown) == 1:
        return f"{code} {shown[0]}\r\n".encode()
    middle = "".join(f" {line}\r\n" for line in shown[1:-1])
    return f"{code}-{shown[0]}\r\n{middle}{code} {shown[-1]}\r\n".encode()


Entries = FolderReading | list[TreeEntry]
"""A listing's entries: a folder read a step at a time, or the one entry of a file."""
Render = Callable[[Iterable[TreeEntry]], Iterable[str]]
"""The lines of a listing from its entries (`ls -l`, names only, MLSD facts)."""


def reply_pieces(
    code: int, first: str, entries: Entries, render: Render, last: str
) -> Iterator[bytes | None]:
    """`reply(code, first, *lines, last)` in pieces of LINES_PER_PIECE lines,
    built only as they are asked for: a long reply never sits whole in memory.
    None while the folder is read (a step each, see `entries_in_steps`): nothing is said
    before the folder is read, so a FolderReadFailed comes before any piece."""
    taken = yield from entries_in_steps(entries)
    yield f"{code}-{visible(first)}\r\n".encode()
    yield from _pieces(f" {visible(line)}" for line in render(taken))
    yield f"{code} {visible(last)}\r\n".encode()


def listing_pieces(entries: Entries, render: Render) -> Iterator[bytes | None]:
    """A data-connection listing in pieces of LINES_PER_PIECE lines (names that
    are not UTF-8 go out as their own bytes); None for each step of reading the folder."""
    taken = yield from entries_in_steps(entries)
    yield from _pieces(render(taken))


def entries_in_steps(entries: Entries) -> Generator[None, None, Iterable[TreeEntry]]:
    """Read a folder a step at a time, a None for each step but the last (the loop serves
    others between them); returns its entries in name order. The folder is closed when the
    listing ends, however it ends."""
    if isinstance(entries, list):
        return entries
    try:
        while not entries.read_some():
            yield None
    finally:
        entries.close()
    return entries.entries()


def _pieces(lines: Iterable[str]) -> Iterator[bytes]:
    batch: list[str] = []
    for line in lines:
        batch.append(line + "\r\n")
        if len(batch) == LINES_PER_PIECE:
            yield "".join(batch).encode("utf-8", "surrogateescape")
            batch.clear()
    if batch:
        yield "".join(batch).encode("utf-8", "surrogateescape")


def quote_path(path: str) -> str:
    """A path in a 257 reply: in double quotes, its own quotes doubled (RFC 959)."""
    return '"' + path.replace('"', '""') + '"'


def _month_day(moment: time.struct_time) -> str:
    return f"{_MONTHS[moment.tm_mon - 1]} {moment.tm_mday:2d}"


def ls_line(entry: TreeEntry, now: float) -> str:
    """`ls -l` style: fixed modes and owner, size, date, the name with every
    control character escaped so that no name can forge a line."""
    moment = time.gmtime(entry.mtime)
    if 0 <= now - entry.mtime < RECENT_SECONDS:
        when = f"{_month_day(moment)} {moment.tm_hour:02d}:{moment.tm_min:02d}"
    else:
        when = f"{_month_day(moment)}  {moment.tm_year}"
    mode = "drwxr-xr-x" if entry.is_dir else "-rw-r--r--"
    return f"{mode} 1 ftp ftp {entry.size:>12} {when} {visible(entry.name)}"


def mlsx_time(mtime: float) -> str:
    """YYYYMMDDHHMMSS in UTC (RFC 3659 time-val, MDTM and the modify fact)."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(mtime))


_TIME_VAL = re.compile(r"\d{14}")


def parse_mlsx_time(text: str) -> float | None:
    """The UTC time of a YYYYMMDDHHMMSS time-val (MFMT); None when malformed."""
    if not _TIME_VAL.fullmatch(text):
        return None
    try:
        return float(calendar.timegm(time.strptime(text, "%Y%m%d%H%M%S")))
    except (ValueError, OverflowError):
        return None


def permissions(entry: TreeEntry, rights: Rights) -> str:
    """RFC 3659 perm facts true to the rights in force: a folder can always be
    entered and listed (e, l), files and folders made in it with --allow-upload
    (c, m), it deleted or renamed with --allow-overwrite (d, f, p); a file
    read (r) with the download right (always, without accounts), replaced or
    appended to (w, a) and deleted (d) with --allow-overwrite, renamed (f) with
    it or when this connection uploaded it."""
    if entry.is_dir:
        made = "cm" if rights.upload else ""
        return "el" + made + ("dfp" if rights.upload and rights.overwrite else "")
    changed = "adw" if rights.upload and rights.overwrite else ""
    renamed = "f" if rights.upload and (rights.overwrite or rights.rename) else ""
    read = "r" if rights.download else ""
    return read + "".join(sorted(changed + renamed))


def mlsx_facts(entry: TreeEntry, rights: Rights) -> str:
    kind = "dir" if entry.is_dir else "file"
    return f"type={kind};size={entry.size};modify={mlsx_time(entry.mtime)};perm={permissions(entry, rights)};"


def mlsd_line(entry: TreeEntry, rights: Rights) -> str:
    return f"{mlsx_facts(entry, rights)} {entry.name}"


def fetchable(entry: TreeEntry) -> bool:
    """Machine-read listings (NLST, MLSD) leave out names nobody can fetch
    (filenames.is_servable), or bytes that are not UTF-8 (held as surrogates)."""
    if not is_servable(entry.name):
        return False
    try:
        entry.name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
