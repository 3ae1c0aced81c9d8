"""The served directory: the only code that lists or opens files in it.

Which names exist is filenames.py's rule, shared with the client: `list` shows
the plain names that are not hidden, and `open` serves only names shown as they
are, matched in Unicode normal form C when no file has exactly the name asked
for. A file name from the network is a single path component. It is opened with
O_NOFOLLOW relative to the resolved root, so `..`, absolute paths, separators
and NUL bytes never reach the file system, and a symlink is served only when it
resolves to a regular file inside the root (resolved once, that path checked
and opened with O_NOFOLLOW, and the open file's real location checked again),
so a link swapped in between cannot lead outside.
Only regular files are served: a FIFO or device is refused without blocking.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import defaultdict
from dataclasses import dataclass

from .filenames import is_listed, is_servable, shown_apart, typed_form
from .text import visible

_OPEN_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
)
_SYMLINK_ERRNOS = frozenset({errno.ELOOP, errno.EMLINK})  # what O_NOFOLLOW says of a link (EMLINK on FreeBSD)
_DENIED_ERRNOS = frozenset({errno.EACCES, errno.EPERM})


class FileProblem(Exception):
    """A file cannot be served. `message_key` names its text in the catalogue."""

    message_key = "no_such_file_named"

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class NoSuchFile(FileProblem):
    """Missing, or outside the root: the same answer, so nothing leaks."""


class NotAFile(FileProblem):
    message_key = "not_a_file"


class Unreadable(FileProblem):
    message_key = "unreadable_file"


class AmbiguousName(FileProblem):
    """No file has exactly the name asked for, and several have it in another
    Unicode form: which one was meant cannot be known."""

    message_key = "ambiguous_file_name"


@dataclass(frozen=True)
class Entry:
    """A file in a listing; `shown` is its name made safe, and told apart from its twins."""

    name: str
    size: int
    mtime: float
    shown: str


@dataclass(frozen=True)
class OpenFile:
    """An open regular file. `identity` changes whenever its content may have."""

    fd: int
    name: str
    size: int
    identity: tuple

    def close(self) -> None:
        os.close(self.fd)


def _identity(info: os.stat_result) -> tuple:
    """Changes whenever the content may have: ctime too, since a rewrite in
    place can keep the size and put the mtime back (`touch -d`, `cp -p`)."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _typed_twins(names) -> set[str]:
    """The names that share their typed form with another name."""
    by_form = defaultdict(list)
    for name in names:
        by_form[typed_form(name)].append(name)
    return {name for group in by_form.values() if len(group) > 1 for name in group}


class Storage:
    def __init__(self, root: str):
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise NotADirectoryError(self.root)

    def contains(self, path: str) -> bool:
        """True when the resolved `path` lies strictly inside the root.

        commonpath compares whole components, so /srv/files2 is not inside
        /srv/files."""
        return self._holds(os.path.realpath(path))

    def _holds(self, resolved: str) -> bool:
        """`contains` for a path that is already resolved."""
        return resolved != self.root and os.path.commonpath([self.root, resolved]) == self.root

    def list(self) -> list[Entry]:
        """The listed regular files in the root, sorted by name: those that
        `open` serves, and those shown escaped (nobody can ask for them).
        Names that are one name when typed are shown apart."""
        found = []
        with os.scandir(self.root) as scan:
            for item in scan:
                info = self._listed_stat(item)
                if info is not None:
                    found.append((item.name, info))
        twins = _typed_twins(name for name, _info in found)
        entries = [
            Entry(name, info.st_size, info.st_mtime, shown_apart(name) if name in twins else visible(name))
            for name, info in found
        ]
        return sorted(entries, key=lambda entry: entry.name)

    def _listed_stat(self, item: os.DirEntry) -> os.stat_result | None:
        if not is_listed(item.name):
            return None
        try:
            if item.is_symlink() and not self.contains(item.path):
                return None
            info = item.stat()
        except OSError:
            return None
        return info if stat.S_ISREG(info.st_mode) else None

    def open(self, name: str) -> OpenFile:
        """Open `name` for reading, or raise a FileProblem saying why not: the
        file of exactly that name, else the one file whose name is `name` in
        another Unicode form (AmbiguousName if several are)."""
        if not is_servable(name):
            raise NoSuchFile(name)
        if not os.path.lexists(os.path.join(self.root, name)):
            name = self._only_other_form(name)
        return self._open_exact(name)

    def _only_other_form(self, name: str) -> str:
        wanted = typed_form(name)
        try:
            with os.scandir(self.root) as scan:
                matches = [
                    item.name for item in scan if is_servable(item.name) and typed_form(item.name) == wanted
                ]
        except OSError as error:
            raise self._problem(error, name) from None
        if not matches:
            raise NoSuchFile(name)
        if len(matches) > 1:
            raise AmbiguousName(name)
        return matches[0]

    def _open_exact(self, name: str) -> OpenFile:
        path = os.path.join(self.root, name)
        fd = self._open_no_follow(path, name)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise NotAFile(name)
        except BaseException:
            os.close(fd)
            raise
        return OpenFile(fd, name, info.st_size, _identity(info))

    def _open_no_follow(self, path: str, name: str) -> int:
        try:
            return os.open(path, _OPEN_FLAGS)
        except OSError as error:
            if error.errno in _SYMLINK_ERRNOS:
                return self._open_link_target(path, name)
            raise self._problem(error, name) from None

    def _open_link_target(self, path: str, name: str) -> int:
        """Resolve the link once, check that very path, open it without
        following a link again, then check where the open file really is: a
        link swapped in at any moment cannot lead outside the root."""
        target = os.path.realpath(path)
        if not self._holds(target):
            raise NoSuchFile(name)
        try:
            fd = os.open(target, _OPEN_FLAGS)
        except OSError as error:
            raise self._problem(error, name) from None
        if not self._opened_inside(fd):
            os.close(fd)
            raise NoSuchFile(name)
        return fd

    def _opened_inside(self, fd: int) -> bool:
        """Where the kernel says `fd` is (Linux's /proc); elsewhere the single
        resolution above has to do."""
        try:
            return self._holds(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            return True

    @staticmethod
    def _problem(error: OSError, name: str) -> FileProblem:
        if error.errno in _DENIED_ERRNOS:
            return Unreadable(name)
        if error.errno in (errno.ENXIO, errno.ENODEV):
            return NotAFile(name)
        return NoSuchFile(name)
