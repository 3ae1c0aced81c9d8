"""A file coming in: written with no name in its directory, named only when it is whole.

An upload is written to a file with no name (O_TMPFILE; else a hidden
temporary) in its directory and gets its final name only in `Upload.finish`,
with a link that fails rather than replace a file (or land beside its Unicode
twin) unless overwriting is allowed. `abort` leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import errno
import os

from .opened import OpenFile
from .problems import AlreadyExists, DiskFull, UploadFailed, UploadTooBig
from .twins import other_forms

UPLOAD_TEMP_PREFIX = ".ftplab-upload\\"
"""Where O_TMPFILE is missing, an upload's hidden temporary is named with this:
the backslash makes it no plain name, so neither door ever lists or opens one."""
MIN_FREE_BYTES = 16 * 1024 * 1024
"""Uploads stop before the file system's free space falls below this."""

_SPACE_CHECK_BYTES = 1024 * 1024
_WRITE_FLAGS = os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)
NO_HARD_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV})


class Upload:
    """A file being received: nameless (or hidden) in its directory until
    `finish` gives it its name; `abort` leaves nothing behind. Owns `dir_fd`."""

    def __init__(self, dir_fd: int, name: str, shown: str, *, max_bytes: int, min_free_bytes: int):
        self.name = shown
        self.received = 0
        self._dir_fd = dir_fd
        self._final = name
        self._max_bytes = max_bytes
        self._min_free = min_free_bytes
        self._next_space_check = 0
        self._check_space(0)
        self._fd, self._temp = self._open_temp()
        self.done = False  # finished or aborted: the descriptors are closed

    def _open_temp(self) -> tuple[int, str | None]:
        unnamed = getattr(os, "O_TMPFILE", 0)
        if unnamed:
            try:
                return os.open(".", unnamed | _WRITE_FLAGS, 0o644, dir_fd=self._dir_fd), None
            except OSError as error:
                if error.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                    raise UploadFailed(self.name) from None
        temp = f"{UPLOAD_TEMP_PREFIX}{os.urandom(8).hex()}"
        flags = _WRITE_FLAGS | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            return os.open(temp, flags, 0o644, dir_fd=self._dir_fd), temp
        except OSError:
            raise UploadFailed(self.name) from None

    def _check_space(self, coming: int) -> None:
        """DiskFull when the next `coming` bytes would leave less than the reserve."""
        if self.received + coming < self._next_space_check:
            return
        info = os.fstatvfs(self._dir_fd)
        free = info.f_bavail * info.f_frsize
        if free - coming < self._min_free:
            raise DiskFull(self.name)
        self._next_space_check = self.received + coming + _SPACE_CHECK_BYTES

    def expect(self, size: int) -> None:
        """DiskFull (and the upload aborted) when `size` more bytes would not
        fit above the reserve: an announced upload is refused before it starts."""
        self._next_space_check = 0
        try:
            self._check_space(size)
        except BaseException:
            self.abort()
            raise
        self._next_space_check = self.received + _SPACE_CHECK_BYTES  # then checked as it is written

    def write(self, data: bytes) -> None:
        """Append `data`; UploadTooBig, DiskFull or UploadFailed (then the
        upload is already aborted)."""
        if self.done:
            raise UploadFailed(self.name)  # aborted meanwhile (ABOR): nothing more is written
        try:
            if self.received + len(data) > self._max_bytes:
                raise UploadTooBig(self.name)
            self._check_space(len(data))
            self._write_all(data)
        except BaseException:
            self.abort()
            raise
        self.received += len(data)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as error:
            raise (DiskFull if error.errno in (errno.ENOSPC, errno.EDQUOT) else UploadFailed)(
                self.name
            ) from None

    def copy_from(self, source: OpenFile) -> None:
        """Start with `source`'s bytes (APPE), counted against the limit.
        The copy is made at once, so appending to a big file takes a moment."""
        try:
            offset = 0
            while offset < source.size:
                chunk = os.pread(source.fd, min(_SPACE_CHECK_BYTES, source.size - offset), offset)
                if not chunk:
                    break
                self.write(chunk)
                offset += len(chunk)
        except OSError:
            self.abort()
            raise UploadFailed(self.name) from None
        finally:
            source.close()

    def finish(self, *, overwrite: bool) -> int:
        """Give the file its final name; returns its size. AlreadyExists when
        the name (or a Unicode twin of it) was taken meanwhile and `overwrite` is off."""
        try:
            os.fsync(self._fd)
            if overwrite:
                self._replace()
            else:
                self._refuse_beside_twin()
                self._link(self._final)
        except FileExistsError:
            raise AlreadyExists(self.name) from None
        except OSError as error:
            kind = DiskFull if error.errno in (errno.ENOSPC, errno.EDQUOT) else UploadFailed
            raise kind(self.name) from None
        finally:
            self.abort()
        return self.received

    def _refuse_beside_twin(self) -> None:
        """FileExistsError when a twin of the final name appeared while the file came in."""
        if other_forms(self._dir_fd, self._final):
            raise FileExistsError(self._final)

    def _link(self, name: str) -> None:
        """A new name for the file; FileExistsError if `name` is taken."""
        if self._temp is None:
            os.link(f"/proc/self/fd/{self._fd}", name, dst_dir_fd=self._dir_fd, follow_symlinks=True)
            return
        try:
            os.link(self._temp, name, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd, follow_symlinks=False)
        except OSError as error:
            if error.errno not in NO_HARD_LINKS:
                raise
            self._claim_then_replace(name)

    def _claim_then_replace(self, name: str) -> None:
        """For file systems without hard links: create the name empty (which
        fails if it exists), then replace our own claim with the file."""
        flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
        os.close(os.open(name, flags, 0o644, dir_fd=self._dir_fd))
        os.replace(self._temp, name, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd)
        self._temp = None

    def _replace(self) -> None:
        if self._temp is None:  # an unnamed file gets a hidden name first: rename needs one
            temp = f"{UPLOAD_TEMP_PREFIX}{os.urandom(8).hex()}"
            self._link(temp)
            self._temp = temp
        os.replace(self._temp, self._final, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd)
        self._temp = None

    def abort(self) -> None:
        """Drop the temporary and close everything; safe to call twice."""
        if self.done:
            return
        self.done = True
        os.close(self._fd)
        if self._temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._temp, dir_fd=self._dir_fd)
        os.close(self._dir_fd)
