"""The served directory: the only code that lists or opens files in it.

A file name from the network is a single path component. It is opened with
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
import unicodedata
from dataclasses import dataclass

from .protocol import ErrorCode

MAX_NAME_BYTES = 255
_OPEN_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
)
_SYMLINK_ERRNOS = frozenset({errno.ELOOP, errno.EMLINK})  # what O_NOFOLLOW says of a link (EMLINK on FreeBSD)
_DENIED_ERRNOS = frozenset({errno.EACCES, errno.EPERM})
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})


class FileProblem(Exception):
    """A file cannot be served. `code` is the wire error; `message_key` names its text in the catalogue."""

    code = ErrorCode.NO_FILE
    message_key = "no_such_file_named"

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class NoSuchFile(FileProblem):
    """Missing, or outside the root: the same answer, so nothing leaks."""


class NotAFile(FileProblem):
    """A directory, FIFO, device or socket: only regular files are served."""

    code = ErrorCode.NOT_FILE
    message_key = "not_a_file"


class Unreadable(FileProblem):
    """The server may not read it (permissions)."""

    code = ErrorCode.DENIED
    message_key = "unreadable_file"


class OutOfResources(FileProblem):
    """The server cannot open a file right now (no descriptors or memory): not the file's fault."""

    code = ErrorCode.RESOURCES
    message_key = "server_out_of_resources"


class FileChanged(Exception):
    """A file got shorter while it was being read: what was announced cannot be sent."""


@dataclass(frozen=True)
class Entry:
    name: str
    size: int
    mtime: float


@dataclass(frozen=True)
class OpenFile:
    """An open regular file. `identity` changes whenever its content may have."""

    fd: int
    name: str
    size: int
    identity: tuple

    def close(self) -> None:
        os.close(self.fd)


def is_plain_name(name: str) -> bool:
    """True for a single, ordinary path component."""
    return (
        bool(name)
        and name not in (".", "..")
        and not any(ch in name for ch in "/\\\0")
        and len(os.fsencode(name)) <= MAX_NAME_BYTES
    )


def has_control_characters(name: str) -> bool:
    """A name with CR, LF, ESC and the like cannot travel in a protocol line."""
    return any(unicodedata.category(ch) == "Cc" for ch in name)


def file_identity(info: os.stat_result) -> tuple:
    """What changes whenever a file's content may have changed."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


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
        """The regular files in the root, sorted by name: those that `open`
        serves, and those whose names hold control characters (shown escaped
        by the caller; nobody can ask for them in a line)."""
        entries = []
        with os.scandir(self.root) as scan:
            for item in scan:
                info = self._servable_stat(item)
                if info is not None:
                    entries.append(Entry(item.name, info.st_size, info.st_mtime))
        return sorted(entries, key=lambda entry: entry.name)

    def _servable_stat(self, item: os.DirEntry) -> os.stat_result | None:
        if not is_plain_name(item.name):
            return None
        try:
            if item.is_symlink() and not self.contains(item.path):
                return None
            info = item.stat()
        except OSError:
            return None
        return info if stat.S_ISREG(info.st_mode) else None

    def open(self, name: str) -> OpenFile:
        """Open `name` for reading, or raise a FileProblem saying why not."""
        if not is_plain_name(name) or has_control_characters(name):
            raise NoSuchFile(name)
        path = os.path.join(self.root, name)
        fd = self._open_no_follow(path, name)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise NotAFile(name)
        except BaseException:
            os.close(fd)
            raise
        return OpenFile(fd, name, info.st_size, file_identity(info))

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
        if error.errno in _RESOURCE_ERRNOS:
            return OutOfResources(name)
        if error.errno in (errno.ENXIO, errno.ENODEV):
            return NotAFile(name)
        return NoSuchFile(name)
