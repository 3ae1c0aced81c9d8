"""What is waiting to be sent on one socket, sent only as the socket takes it.

The queue holds runs of bytes and slices of open files. Bytes count against
the connection's memory; a file slice does not: it goes from disk to socket
with os.sendfile where the platform allows, or through a small read otherwise.
Nothing here blocks: `flush` sends what the socket accepts now and keeps the
rest, like asyncio's selector transport.

Lines overtake a frame that has not begun: bytes added while the queue ends
with a frame (its header and its slice, `add_frame`) none of which has gone
out are put before that frame, so a chat line waits for at most the frame
already going out, never for one merely queued. The protocol allows lines
between any two frames; a download queues its own lines (`!FILE`, `!ABORT`)
only when none of its frames waits, so they keep their place.

Under a file budget (`file_budget`, set by a download's pacer) a frame starts
only when the socket takes the whole of it: it then never sits half sent in the
queue, where a line would have to wait for the rest of it, and the loop wakes
once a frame instead of once for each part the kernel took.
"""

from __future__ import annotations

import errno
import os
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .storage import FileChanged

READ_FALLBACK_BYTES = 64 * 1024
_SENDFILE_UNSUPPORTED = frozenset(
    {errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOTSOCK}
)


def _unlimited() -> None:
    return None


@dataclass
class FileSlice:
    """`count` bytes of the open file `fd` from `offset`, to go out with sendfile."""

    fd: int
    offset: int
    count: int


class Outbox:
    """One socket's queue of bytes and file slices, sent as the socket takes them."""

    def __init__(self) -> None:
        self._segments: deque = deque()
        self.buffered_bytes = 0
        self._file_slices = 0
        self._head_started = False
        self._frame_header: bytearray | None = None
        """The header of the frame at the end of the queue (lines added go before it while it waits)."""
        self.use_sendfile = hasattr(os, "sendfile")
        self.file_budget: Callable[[], int | None] = _unlimited
        """How many file bytes the socket may be handed now (None: as many as it takes); a
        download's pacer bounds it so the kernel holds little unsent (see pacing.py). A frame
        starts only when its whole slice is within it."""

    def __bool__(self) -> bool:
        return bool(self._segments)

    @property
    def sendable(self) -> bool:
        """Something the socket could take once writable (what the loop watches for)."""
        return bool(self)

    @property
    def has_file_slice(self) -> bool:
        return self._file_slices > 0

    def add(self, data: bytes) -> None:
        """Queue bytes: at the end, or before a frame that has not begun (see the module's docstring)."""
        if not data:
            return
        self.buffered_bytes += len(data)
        if self._frame_waits():
            self._segments.rotate(2)  # the frame's header and slice to the front, for a moment
            self._append_bytes(data)
            self._segments.rotate(-2)
        else:
            self._append_bytes(data)

    def _append_bytes(self, data: bytes) -> None:
        tail = self._segments[-1] if self._segments else None
        if isinstance(tail, bytearray) and tail is not self._frame_header:
            tail += data
        else:
            self._segments.append(bytearray(data))

    def _frame_waits(self) -> bool:
        """The queue ends with a frame none of whose bytes has gone out."""
        segments = self._segments
        if len(segments) < 2 or segments[-2] is not self._frame_header:
            return False
        return len(segments) > 2 or not self._head_started

    def add_frame(self, header: bytes, fd: int, offset: int, count: int) -> None:
        """Queue a frame: its header line, then `count` bytes of the file `fd` from `offset`."""
        self._frame_header = bytearray(header)
        self._segments.append(self._frame_header)
        self.buffered_bytes += len(header)
        self.add_file_slice(fd, offset, count)

    def add_file_slice(self, fd: int, offset: int, count: int) -> None:
        self._segments.append(FileSlice(fd, offset, count))
        self._file_slices += 1

    def discard_unstarted(self) -> None:
        """Forget what has not started to go out, to make room for a last
        message, but keep the stream well framed: a segment partly sent stays,
        and so does the file slice whose `!DATA` header has gone (or is going)
        out, since a header always ends the byte run right before its slice."""
        segments = list(self._segments)
        keep = []
        if segments and (isinstance(segments[0], FileSlice) or self._head_started):
            keep.append(segments[0])
            header_went = isinstance(segments[0], bytearray) and len(segments) > 1
            if header_went and isinstance(segments[1], FileSlice):
                keep.append(segments[1])
        self._segments = deque(keep)
        self.buffered_bytes = sum(len(segment) for segment in keep if isinstance(segment, bytearray))
        self._file_slices = sum(1 for segment in keep if isinstance(segment, FileSlice))

    def replace_head_with_zeros(self) -> int:
        """After FileChanged: pad the broken frame so the peer can still parse
        the stream. Returns how many bytes were padded."""
        head = self._segments.popleft()
        self._file_slices -= 1
        self._segments.appendleft(bytearray(head.count))
        self.buffered_bytes += head.count
        return head.count

    def take(self, limit: int) -> bytes:
        """Up to `limit` bytes from the head, taken out of the queue (a file slice
        read with pread), for a layer that must transform them (TLS). Raises
        FileChanged when a file ends early (its slice stays queued)."""
        head = self._segments[0]
        if isinstance(head, FileSlice):
            data = os.pread(head.fd, min(head.count, limit), head.offset)
            if not data:
                raise FileChanged()
            head.offset += len(data)
            head.count -= len(data)
            if head.count == 0:
                self._segments.popleft()
                self._file_slices -= 1
            self._head_started = head.count > 0
            return data
        data = bytes(head[:limit])
        del head[:limit]
        self.buffered_bytes -= len(data)
        if not head:
            self._segments.popleft()
        self._head_started = bool(head)
        return data

    def finish(self) -> None:
        """The connection is closing (a TLS outbox adds its close_notify)."""

    def flush(self, sock: socket.socket) -> int:
        """Send what the socket takes now; return how many bytes went.

        Raises OSError when the connection is broken, FileChanged when a file
        ends early (the head slice stays queued for `replace_head_with_zeros`)."""
        sent = 0
        while self._segments:
            head = self._segments[0]
            if head is self._frame_header and not self._head_started and not self._room_for_frame():
                break  # the socket says when it takes more (TCP_NOTSENT_LOWAT): room for all of it
            try:
                count = (
                    self._send_file(sock, head)
                    if isinstance(head, FileSlice)
                    else self._send_bytes(sock, head)
                )
            except (BlockingIOError, InterruptedError):
                break
            sent += count
            if self._segments and self._segments[0] is head:
                self._head_started = True
                break
            self._head_started = False
        return sent

    def _room_for_frame(self) -> bool:
        """The frame at the head (its header, then its slice) fits within the file budget."""
        budget = self.file_budget()
        return budget is None or budget >= self._segments[1].count

    def _send_bytes(self, sock: socket.socket, head: bytearray) -> int:
        count = sock.send(head)
        self.buffered_bytes -= count
        if count == len(head):
            self._segments.popleft()
        else:
            del head[:count]
        return count

    def _send_file(self, sock: socket.socket, head: FileSlice) -> int:
        budget = self.file_budget()
        most = head.count if budget is None else min(head.count, budget)
        if most <= 0:
            raise BlockingIOError  # the socket says when it takes more (TCP_NOTSENT_LOWAT)
        count = (
            self._sendfile(sock, head, most) if self.use_sendfile else self._read_and_send(sock, head, most)
        )
        if count == 0:
            raise FileChanged()
        head.offset += count
        head.count -= count
        if head.count == 0:
            self._segments.popleft()
            self._file_slices -= 1
        return count

    def _sendfile(self, sock: socket.socket, head: FileSlice, most: int) -> int:
        try:
            return os.sendfile(sock.fileno(), head.fd, head.offset, most)
        except OSError as error:
            if error.errno not in _SENDFILE_UNSUPPORTED:
                raise
            self.use_sendfile = False
            return self._read_and_send(sock, head, most)

    @staticmethod
    def _read_and_send(sock: socket.socket, head: FileSlice, most: int) -> int:
        data = os.pread(head.fd, min(most, READ_FALLBACK_BYTES), head.offset)
        return sock.send(data) if data else 0
