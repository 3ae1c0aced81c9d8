"""One upload on the client: a local file announced with its size and SHA-256,
then read a frame at a time only as the socket takes them, so memory stays
bounded whatever the file's size. The server verifies both and names the file;
this side only reads."""

from __future__ import annotations

import hashlib
import os
import stat

from ..messages import Reason

FRAME_BYTES = 128 * 1024
HASH_STEP_BYTES = 1024 * 1024


class UploadError(Exception):
    """The file cannot be uploaded; `reason` says why, in the user's language (messages.Reason)."""

    def __init__(self, reason: Reason):
        super().__init__(reason)
        self.reason = reason


class Outgoing:
    """A local file on its way to the server: opened and hashed at `put`, then sent in frames."""

    def __init__(self, path: str):
        self.path = path
        self.name = os.path.basename(path.rstrip("/"))
        try:
            self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError as error:
            raise UploadError(Reason.of(error)) from None
        try:
            info = os.fstat(self._fd)
            if not stat.S_ISREG(info.st_mode):
                raise UploadError(Reason("put_not_a_file"))
            self.size = info.st_size
            self.sha256 = self._digest()
        except BaseException:
            os.close(self._fd)
            raise
        self.sent = 0
        self.ready = False
        """The server said `!GO`: frames may be sent."""

    def _digest(self) -> str:
        hasher, offset = hashlib.sha256(), 0
        try:
            while offset < self.size:
                data = os.pread(self._fd, min(HASH_STEP_BYTES, self.size - offset), offset)
                if not data:
                    break
                hasher.update(data)
                offset += len(data)
        except OSError as error:
            raise UploadError(Reason.of(error)) from None
        return hasher.hexdigest()

    @property
    def sending(self) -> bool:
        """The server is waiting for more frames from us."""
        return self.ready and self.sent < self.size

    @property
    def percent(self) -> int:
        return 100 if not self.size else self.sent * 100 // self.size

    def next_chunk(self) -> bytes:
        """The next frame's bytes; UploadError if the file shrank meanwhile."""
        try:
            data = os.pread(self._fd, min(FRAME_BYTES, self.size - self.sent), self.sent)
        except OSError as error:
            raise UploadError(Reason.of(error)) from None
        if not data:
            raise UploadError(Reason("file_shrank"))
        self.sent += len(data)
        return data

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
