"""Saving one download on the client: verified, atomic, never outside its directory.

Bytes go to a temporary file in the download directory: unnamed where the
system allows (Linux), so even a killed client leaves nothing behind; hidden
(`.ftplab-*.part`) elsewhere. Only when the
size and the SHA-256 announced by the server match is the file given its final
name, with a hard link that fails rather than replace an existing file (the
next free "name (1).ext" is used instead). A download that fails for any
reason removes its temporary file, so no partial file ever has a final name.
The name comes from the server, so it is checked with the rule the server
follows (filenames.py): a plain, visible name that is not hidden.

With --keep-partial, an interrupted download (not a corrupt one) is kept under
a hidden name, `.NAME.ftplab-partial`, never its final name; `resuming` takes
it up again, and the SHA-256 checked at the end is the whole file's.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile

from .filenames import MAX_NAME_BYTES, is_servable
from .text import visible

MAX_NUMBERED_COPIES = 1000
TEMP_PREFIX = ".ftplab-"
TEMP_SUFFIX = ".part"
PARTIAL_SUFFIX = ".ftplab-partial"
HASH_CHUNK_BYTES = 1024 * 1024
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV})


class DownloadError(Exception):
    """The download cannot be saved; `reason` says why, for the user."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class UnsafeName(DownloadError):
    pass


class Corrupt(DownloadError):
    pass


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _open_temp(directory: str) -> tuple[int, str | None]:
    """A file with no name in `directory` where the system has them (Linux's
    O_TMPFILE: it disappears with the process, however the process dies), else
    a hidden named one. Returns the fd and the name, if any."""
    unnamed = getattr(os, "O_TMPFILE", 0)
    if unnamed:
        try:
            return os.open(directory, unnamed | os.O_WRONLY | os.O_CLOEXEC, 0o666), None
        except OSError as error:
            if error.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                raise
    fd, path = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=directory)
    os.fchmod(fd, 0o666 & ~_current_umask())  # mkstemp makes it 0600; a download gets normal permissions
    return fd, path


def safe_name(name: str) -> str:
    """The server's file name if the server may serve it (filenames.py's rule:
    plain, not hidden, shown as it is); else UnsafeName."""
    if not is_servable(name):
        raise UnsafeName(visible(name))
    return name


def numbered_name(name: str, copy: int) -> str:
    """`name` for copy 0, else "stem (copy).ext", the stem shortened (whole
    characters) so the name still fits in MAX_NAME_BYTES; a name whose
    "extension" is most of it gets its number at the end instead."""
    if copy == 0:
        return name
    stem, extension = os.path.splitext(name)
    if len(os.fsencode(extension)) > MAX_NAME_BYTES // 2:
        stem, extension = name, ""
    suffix = f" ({copy}){extension}"
    while len(os.fsencode(stem + suffix)) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return stem + suffix


def partial_path(directory: str, name: str) -> str:
    """Where an interrupted download of `name` is kept: hidden, so never taken for the file."""
    return os.path.join(directory, f".{name}{PARTIAL_SUFFIX}")


def held_prefix(directory: str, name: str) -> tuple[int, str] | None:
    """(bytes, their SHA-256) of a kept partial download of `name`, if there is one."""
    hasher, size = hashlib.sha256(), 0
    try:
        with open(partial_path(directory, name), "rb") as partial:
            while chunk := partial.read(HASH_CHUNK_BYTES):
                hasher.update(chunk)
                size += len(chunk)
    except OSError:
        return None
    return (size, hasher.hexdigest()) if size else None


class Download:
    """One file being received: into a temporary file, verified, then given its name."""

    def __init__(self, directory: str, name: str, size: int, sha256: str):
        self.name = safe_name(name)
        self.directory = directory
        self.size = size
        self.received = 0
        self.started_from = 0
        """Bytes already held when this download started (a resumed one)."""
        self._expected = sha256
        self._hasher = hashlib.sha256()
        try:
            fd, self._temp_path = _open_temp(directory)
        except OSError as error:
            raise DownloadError(error.strerror or str(error)) from None
        self._file = os.fdopen(fd, "wb")

    @property
    def complete(self) -> bool:
        return self.received >= self.size

    @property
    def percent(self) -> int:
        return 100 if not self.size else self.received * 100 // self.size

    def write(self, data: bytes) -> None:
        if self.received + len(data) > self.size:
            self.discard()
            raise Corrupt(f"more than the {self.size} bytes announced")
        try:
            self._file.write(data)
        except OSError as error:
            self.discard()
            raise DownloadError(error.strerror or str(error)) from None
        self._hasher.update(data)
        self.received += len(data)

    def finish(self) -> str:
        """Verify and give the file its final name; returns the path it got."""
        try:
            self._file.flush()
        except OSError as error:
            self.discard()
            raise DownloadError(error.strerror or str(error)) from None
        if self.received != self.size or self._hasher.hexdigest() != self._expected:
            self.discard()
            raise Corrupt("SHA-256")
        try:
            return self._link_to_free_name()
        finally:
            self.discard()

    def _link_to_free_name(self) -> str:
        for copy in range(MAX_NUMBERED_COPIES):
            candidate = numbered_name(self.name, copy)
            path = os.path.join(self.directory, candidate)
            try:
                self._link(path)
                return path
            except FileExistsError:
                continue
            except OSError as error:
                if self._temp_path is None or error.errno not in _NO_HARD_LINKS:
                    raise DownloadError(error.strerror or str(error)) from None
                return self._rename_without_links(path)
        raise DownloadError(f"{MAX_NUMBERED_COPIES} copies of {self.name} already exist")

    def _link(self, path: str) -> None:
        """A new name for the temporary file; fails if `path` exists.

        An unnamed file is linked from /proc/self/fd with linkat and
        AT_SYMLINK_FOLLOW (what os.link does when given a dir fd)."""
        if self._temp_path is not None:
            os.link(self._temp_path, path)
            return
        directory_fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
        try:
            source = f"/proc/self/fd/{self._file.fileno()}"
            os.link(source, os.path.basename(path), dst_dir_fd=directory_fd, follow_symlinks=True)
        finally:
            os.close(directory_fd)

    def _rename_without_links(self, path: str) -> str:
        """For file systems without hard links: claim the name, then replace our own claim."""
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            os.replace(self._temp_path, path)
        except OSError as error:
            raise DownloadError(error.strerror or str(error)) from None
        return path

    @classmethod
    def resuming(cls, directory: str, name: str, offset: int, size: int, sha256: str) -> Download:
        """Go on with the kept partial download of `name`, which must hold `offset` bytes."""
        download = cls.__new__(cls)
        download.name = safe_name(name)
        download.directory, download.size, download._expected = directory, size, sha256
        download._temp_path = partial_path(directory, download.name)
        held = held_prefix(directory, download.name)
        if held is None or held[0] != offset:
            raise DownloadError(f"the kept part of {visible(name)} is gone or changed")
        download.received, download.started_from, download._hasher = offset, offset, hashlib.sha256()
        try:
            download._file = open(download._temp_path, "ab")  # noqa: SIM115 (closed by finish/discard/keep)
            with open(download._temp_path, "rb") as partial:
                while chunk := partial.read(HASH_CHUNK_BYTES):
                    download._hasher.update(chunk)
        except OSError as error:
            raise DownloadError(error.strerror or str(error)) from None
        return download

    def keep_partial(self) -> bool:
        """Keep what arrived under the hidden partial name (for a later resume); False if it
        could not be kept (then it is removed, as by `discard`)."""
        path = partial_path(self.directory, self.name)
        try:
            self._file.flush()
            if self._temp_path != path:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                self._link(path)
        except OSError:
            self.discard()
            return False
        self._file.close()
        if self._temp_path not in (None, path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._temp_path)
        return True

    def discard(self) -> None:
        """Remove the temporary file; safe to call more than once."""
        if not self._file.closed:
            with contextlib.suppress(OSError):
                self._file.close()
        if self._temp_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._temp_path)
