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

The write path copies nothing it need not: chunks (memoryviews of the
client's receive buffers) go to the file with `os.write` and to SHA-256, each
in a helper thread (`BackgroundWriter`: both release the GIL), so writing and
hashing overlap each other and the receiving of the next chunk.
`ReceiveBuffers` lends the client a buffer again only once the writer is done
with what it last held. A small chunk that finds its helper idle is written or
hashed at once instead, in the caller's thread: handing it over costs more than
the work. A student in a class of 30 receives about 25 KiB at a time; handed
over, each piece woke both helpers and passed the GIL around (about 18 futex
calls a piece), and the client spent about 5-6 core-seconds per GiB where the
same client receiving 1 MiB at a time spends 1.3.

With --keep-partial, an interrupted download (not a corrupt one) is kept under
a hidden name, `.NAME.ftplab-partial`, never its final name; `resuming` takes
it up again, and the SHA-256 checked at the end is the whole file's. The
download folder may be writable by others, so a partial is opened with
O_NOFOLLOW|O_NONBLOCK and used only when it is a regular file of ours with
one link; anything else found at that name (a symlink, a FIFO, a hard link to
someone's file) is renamed aside and never read, written or described to the
server.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import queue
import stat
import tempfile
import threading
from typing import NamedTuple

from ..filenames import MAX_NAME_BYTES, is_servable
from ..messages import Reason
from ..text import visible

MAX_NUMBERED_COPIES = 1000
TEMP_PREFIX = ".ftplab-"
TEMP_SUFFIX = ".part"
PARTIAL_SUFFIX = ".ftplab-partial"
ASIDE_SUFFIX = ".set-aside"
PARTIAL_OPEN_FLAGS = os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
"""A partial is never followed through a link, and opening a FIFO planted there does not wait."""
HASH_CHUNK_BYTES = 1024 * 1024
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV})
RECEIVE_BUFFERS = 4
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
"""A receive buffer's size. On loopback a verified `get` of 1 GiB into tmpfs went from 0.88 to
1.09 GB/s and from 1.72 to 1.46 client core-seconds with 4 MiB instead of 1 MiB (six paired runs
each, medians): fewer turns of the loop, hand-overs and waits for a buffer; 8 MiB gained nothing
more. Untouched pages cost no memory: a slow download fills a few hundred KiB of each."""
INLINE_CHUNK_BYTES = 256 * 1024
"""A chunk this size or smaller is written and hashed in the caller's thread when the helper
threads are idle (the module's docstring says why): about 0.2 ms of work at most."""


class DownloadError(Exception):
    """The download cannot be saved; `reason` says why, in the user's language (messages.Reason)."""

    def __init__(self, reason: Reason):
        super().__init__(reason)
        self.reason = reason


class UnsafeName(DownloadError):
    """The server's file name is not one this client saves (filenames.is_servable)."""


class Corrupt(DownloadError):
    """What arrived is not what the server announced (size or SHA-256)."""


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
        raise UnsafeName(Reason("bad_file_name"))
    return name


class _Worker:
    """Does `work` to each chunk, in order: a small chunk at once when nothing is queued, any
    other in a helper thread (started when first needed); `done` counts the chunks finished."""

    def __init__(self, work, name: str):
        self.done = 0
        self._given = 0
        self._work = work
        self._dropping = False
        self._chunks: queue.SimpleQueue = queue.SimpleQueue()
        self._progress = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def put(self, chunk) -> None:
        self._given += 1
        if len(chunk) <= INLINE_CHUNK_BYTES and self.done == self._given - 1:
            self._do_here(chunk)  # the thread, if any, has finished every chunk before this one
            return
        if self._thread.ident is None:
            self._thread.start()
        self._chunks.put(chunk)

    def _do_here(self, chunk) -> None:
        if not self._dropping:
            self._work(chunk)
        with self._progress:
            self.done += 1

    def wait(self, count: int) -> None:
        with self._progress:
            self._progress.wait_for(lambda: self.done >= count)

    def stop(self, *, drop: bool) -> None:
        """Finish the queued chunks (or, with `drop`, skip them) and end the thread."""
        self._dropping = self._dropping or drop
        if self._thread.is_alive():
            self._chunks.put(None)
            self._thread.join()

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            if not self._dropping:
                self._work(chunk)
            with self._progress:
                self.done += 1
                self._progress.notify_all()


class BackgroundWriter:
    """Writes chunks to a file (if given one) and hashes them with SHA-256, in two helper threads
    (a small chunk, when they are idle, at once: see INLINE_CHUNK_BYTES).

    os.write and hashlib both release the GIL, so writing, hashing and the
    receiving of the next chunk all run at once. A chunk must stay unchanged
    until done: `mark` counts the chunks given so far, and `wait(mark)`
    returns once those are written and hashed. The first write error is kept
    in `error` and later chunks are not written. `hexdigest` stops the threads
    when all is done; `close` stops them, dropping what is still queued."""

    def __init__(self, fd: int | None = None, sha256=None):
        """`sha256`: a hash already fed with what the file holds (a resumed download)."""
        self.error: OSError | None = None
        self._fd = fd
        self._given = 0
        self._sha256 = sha256 or hashlib.sha256()
        self._workers = [_Worker(self._sha256.update, "ftplab-sha256")]
        if fd is not None:
            self._workers.append(_Worker(self._write, "ftplab-writer"))

    @property
    def mark(self) -> int:
        return self._given

    def put(self, chunk) -> None:
        self._given += 1
        for worker in self._workers:
            worker.put(chunk)

    def wait(self, mark: int) -> None:
        for worker in self._workers:
            worker.wait(mark)

    def hexdigest(self) -> str:
        for worker in self._workers:
            worker.stop(drop=False)
        return self._sha256.hexdigest()

    def close(self) -> None:
        for worker in self._workers:
            worker.stop(drop=True)

    def _write(self, chunk) -> None:
        if self.error is not None:
            return
        try:
            _write_all(self._fd, chunk)
        except OSError as error:
            self.error = error


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


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


class HeldPart(NamedTuple):
    """What a kept partial download holds: its size and the SHA-256 of those bytes."""

    size: int
    sha256: str


class SetAside(NamedTuple):
    """Something that is not our own partial download was found at its name and moved to `path`."""

    path: str


def open_partial(directory: str, name: str) -> int | SetAside | None:
    """A descriptor (read/write) on the kept partial of `name`, only if it is a regular file
    owned by this user with one link; anything else there is renamed aside (SetAside), never
    followed; None when there is nothing."""
    path = partial_path(directory, name)
    try:
        fd = os.open(path, PARTIAL_OPEN_FLAGS)
    except FileNotFoundError:
        return None
    except OSError:
        return _set_aside(path)
    info = os.fstat(fd)
    if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid() and info.st_nlink == 1:
        return fd
    os.close(fd)
    return _set_aside(path)


def _set_aside(path: str) -> SetAside | None:
    """Rename what is at `path` (the entry itself, never what a link points to) out of the way."""
    aside = path + ASIDE_SUFFIX
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return None
    except OSError:
        return SetAside(path)  # it stays, but is still not used
    return SetAside(aside)


def _feed(fd: int, hasher) -> int:
    """Feed `hasher` everything the file at `fd` holds; returns its size."""
    size = 0
    while chunk := os.pread(fd, HASH_CHUNK_BYTES, size):
        hasher.update(chunk)
        size += len(chunk)
    return size


def held_prefix(directory: str, name: str) -> HeldPart | SetAside | None:
    """(bytes, their SHA-256) of a kept partial download of `name`, if there is a sound one;
    SetAside if something else was at its name; None otherwise."""
    opened = open_partial(directory, name)
    if not isinstance(opened, int):
        return opened
    hasher = hashlib.sha256()
    try:
        size = _feed(opened, hasher)
    except OSError:
        return None
    finally:
        os.close(opened)
    return HeldPart(size, hasher.hexdigest()) if size else None


class Download:
    """One file being received: written to a temporary file, hashed alongside, named once verified."""

    def __init__(self, directory: str, name: str, size: int, sha256: str):
        self.name = safe_name(name)
        self.directory = directory
        self.size = size
        self.received = 0
        self.started_from = 0
        """Bytes already held when this download started (a resumed one)."""
        self._expected = sha256
        try:
            self._fd, self._temp_path = _open_temp(directory)
        except OSError as error:
            raise DownloadError(Reason.of(error)) from None
        self._writer = BackgroundWriter(self._fd)

    @property
    def complete(self) -> bool:
        return self.received >= self.size

    @property
    def percent(self) -> int:
        return 100 if not self.size else self.received * 100 // self.size

    @property
    def mark(self) -> int:
        """A mark for `wait_written`: the chunks given so far."""
        return self._writer.mark

    def wait_written(self, mark: int) -> None:
        """Return once the chunks given before `mark` was taken are written and hashed (and may change)."""
        self._writer.wait(mark)

    def write(self, data: bytes | memoryview) -> None:
        """Queue a chunk to be written and hashed: it must stay unchanged until then (see `mark`)."""
        if self.received + len(data) > self.size:
            self.discard()
            raise Corrupt(Reason("more_than_announced", size=self.size))
        self._raise_write_error()
        self._writer.put(data)
        self.received += len(data)

    def _raise_write_error(self) -> None:
        if self._writer.error is not None:
            error = self._writer.error
            self.discard()
            raise DownloadError(Reason.of(error))

    def finish(self) -> str:
        """Verify and give the file its final name; returns the path it got."""
        digest = self._writer.hexdigest()
        self._raise_write_error()
        if self.received != self.size or digest != self._expected:
            self.discard()
            raise Corrupt(Reason("sha256_mismatch"))
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
                    raise DownloadError(Reason.of(error)) from None
                return self._rename_without_links(path)
        raise DownloadError(Reason("too_many_copies", count=MAX_NUMBERED_COPIES, name=self.name))

    def _link(self, path: str) -> None:
        """A new name for the temporary file; fails if `path` exists.

        An unnamed file is linked from /proc/self/fd with linkat and
        AT_SYMLINK_FOLLOW (what os.link does when given a dir fd)."""
        if self._temp_path is not None:
            os.link(self._temp_path, path)
            return
        directory_fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
        try:
            source = f"/proc/self/fd/{self._fd}"
            os.link(source, os.path.basename(path), dst_dir_fd=directory_fd, follow_symlinks=True)
        finally:
            os.close(directory_fd)

    def _rename_without_links(self, path: str) -> str:
        """For file systems without hard links: claim the name, then replace our own claim."""
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            os.replace(self._temp_path, path)
        except OSError as error:
            raise DownloadError(Reason.of(error)) from None
        return path

    @classmethod
    def resuming(cls, directory: str, name: str, offset: int, size: int, sha256: str) -> Download:
        """Go on with the kept partial download of `name`, which must hold `offset` bytes: it is
        opened once (see `open_partial`), hashed through that descriptor and appended to."""
        download = cls.__new__(cls)
        download.name = safe_name(name)
        download.directory, download.size, download._expected = directory, size, sha256
        download._temp_path = partial_path(directory, download.name)
        opened = open_partial(directory, download.name)
        if not isinstance(opened, int):
            raise DownloadError(Reason("partial_gone", name=visible(name)))
        hasher = hashlib.sha256()
        try:
            held = _feed(opened, hasher)
            os.set_blocking(opened, True)
            os.lseek(opened, 0, os.SEEK_END)
        except OSError as error:
            os.close(opened)
            raise DownloadError(Reason.of(error)) from None
        if held != offset:
            os.close(opened)
            raise DownloadError(Reason("partial_gone", name=visible(name)))
        download.received = download.started_from = offset
        download._fd = opened
        download._writer = BackgroundWriter(download._fd, hasher)
        return download

    def keep_partial(self) -> bool:
        """Keep what arrived under the hidden partial name (for a later resume); False if it
        could not be kept (then it is removed, as by `discard`)."""
        path = partial_path(self.directory, self.name)
        self._writer.wait(self._writer.mark)
        try:
            if self._writer.error is not None:
                raise self._writer.error
            if self._temp_path != path:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                self._link(path)
        except OSError:
            self.discard()
            return False
        self._writer.close()
        os.close(self._fd)
        self._fd = None
        if self._temp_path not in (None, path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._temp_path)
        return True

    def discard(self) -> None:
        """Stop writing and remove the temporary file; safe to call more than once."""
        self._writer.close()
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        if self._temp_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._temp_path)


class ReceiveBuffers:
    """A few preallocated receive buffers, lent in turn.

    What arrives in a buffer may be handed to a download as memoryviews, to be
    written and hashed in the background; `hold` notes how far the download's
    writer must get before the buffer last lent may be overwritten, and `next`
    waits for that (rarely long: the buffer was lent RECEIVE_BUFFERS turns ago)."""

    def __init__(self, count: int = RECEIVE_BUFFERS, size: int = RECEIVE_BUFFER_BYTES):
        self._buffers = [bytearray(size) for _ in range(count)]
        self._holds: list[tuple[Download, int] | None] = [None] * count
        self._current = count - 1

    def next(self) -> bytearray:
        self._current = (self._current + 1) % len(self._buffers)
        hold, self._holds[self._current] = self._holds[self._current], None
        if hold is not None:
            download, mark = hold
            download.wait_written(mark)
        return self._buffers[self._current]

    def hold(self, download: Download | None) -> None:
        """The buffer last lent may hold chunks `download` has yet to write and hash."""
        if download is not None:
            self._holds[self._current] = (download, download.mark)
