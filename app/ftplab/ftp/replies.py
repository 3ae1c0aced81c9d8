"""Reply lines and listings: RFC 959 replies (multi-line too), `ls -l` lines,
RFC 3659 facts. Every name and text is escaped here, so none can forge a line."""

from __future__ import annotations

import time

from ..filenames import is_servable
from ..storage import TreeEntry
from ..text import visible

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


def mlsx_facts(entry: TreeEntry, *, writable: bool) -> str:
    kind = "dir" if entry.is_dir else "file"
    perm = ("elcm" if writable else "el") if entry.is_dir else "r"
    return f"type={kind};size={entry.size};modify={mlsx_time(entry.mtime)};perm={perm};"


def mlsd_lines(entries: list[TreeEntry], *, writable: bool) -> list[str]:
    return [f"{mlsx_facts(e, writable=writable)} {e.name}" for e in entries if fetchable(e)]


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
