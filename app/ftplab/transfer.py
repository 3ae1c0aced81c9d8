"""One file on its way to one client, in steps small enough never to stall the loop.

A transfer is queued by its path from the root and opens its file, through
storage.Tree like every other way in, only when it reaches the front of its
client's queue, so queued downloads hold no descriptors. It
first hashes the file (the SHA-256 goes in the `!FILE` header, so
the client can verify what it saved), a bounded number of bytes per loop turn,
and remembers the digest by the file's identity so the next download of an
unchanged file starts at once. Downloads of one file that wait for its digest
together share it (FileDigest): a class that asks for the same new file at once
reads and hashes it once, not once per student (30 x 100 MiB took the loop about
2 s before anyone got a byte). Then it hands out `!DATA` frames one at a time:
a header line and a slice of the file for the outbox, as big as the scheduler
asks (pacing.py sizes frames to what the connection drains).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import OrderedDict

from . import protocol
from .pacing import MAX_FRAME_BYTES
from .storage import FileChanged, OpenFile, Tree, file_identity

HASH_STEP_BYTES = 1024 * 1024
HASH_CACHE_ENTRIES = 256


class FileDigest:
    """One file's SHA-256 in the making, a step at a time, for every transfer that waits for it."""

    def __init__(self) -> None:
        self._hasher = hashlib.sha256()
        self.hashed = 0
        self.sha256: str | None = None
        self.users = 0

    def step(self, file: OpenFile, end: int) -> None:
        """Hash up to HASH_STEP_BYTES more of `file`, stopping at `end`; the digest once at its
        end. Raises FileChanged if the file ends early."""
        data = os.pread(file.fd, min(HASH_STEP_BYTES, end - self.hashed), self.hashed)
        if not data and self.hashed < file.size:
            raise FileChanged(file.name)
        self._hasher.update(data)
        self.hashed += len(data)
        if self.hashed >= file.size:
            self.sha256 = self._hasher.hexdigest()

    def so_far(self) -> str:
        """The digest of the bytes hashed so far."""
        return self._hasher.copy().hexdigest()


class HashCache:
    """Digests of recently served files, keyed by (device, inode, size, mtime, ctime), and those
    being made, shared by the downloads that wait for them."""

    def __init__(self, capacity: int = HASH_CACHE_ENTRIES):
        self._capacity = capacity
        self._digests: OrderedDict[tuple, str] = OrderedDict()
        self._making: dict[tuple, FileDigest] = {}

    def making(self, identity: tuple) -> FileDigest:
        """The digest being made for the file `identity`, shared: `release` it when done with."""
        digest = self._making.setdefault(identity, FileDigest())
        digest.users += 1
        return digest

    def release(self, identity: tuple, digest: FileDigest) -> None:
        """One transfer less waits for `digest`; the last one's going forgets it (a file that
        failed is then read anew by the next download that asks)."""
        digest.users -= 1
        if digest.users == 0:  # `making` shares one digest per identity: this is the one held
            del self._making[identity]

    def get(self, identity: tuple) -> str | None:
        digest = self._digests.get(identity)
        if digest is not None:
            self._digests.move_to_end(identity)
        return digest

    def put(self, identity: tuple, digest: str) -> None:
        self._digests[identity] = digest
        self._digests.move_to_end(identity)
        while len(self._digests) > self._capacity:
            self._digests.popitem(last=False)


class Transfer:
    """One queued download of the file at `parts` (from the root): opened when it
    starts, hashed, then cut into `!DATA` frames whose `!FILE` header names only
    the file, as the client saves it."""

    def __init__(self, parts: tuple[str, ...], cache: HashCache, resume_from: tuple[int, str] | None = None):
        self.parts = parts
        self.name = "/".join(parts)
        self.resume_from = resume_from
        """(offset, SHA-256 of the client's first `offset` bytes): a `resume` request."""
        self._prefix_sha256: str | None = None
        self.file: OpenFile | None = None
        self._cache = cache
        self._digest: FileDigest | None = None
        """The digest this transfer waits for: shared, or its own for a resume (which needs its
        prefix's digest on the way)."""
        self.sha256: str | None = None
        self.offset = 0
        self.header_sent = False
        self.cancelled = False
        """The client cancelled it once under way: it ends after the frame already queued."""
        self.started = time.monotonic()

    @property
    def opened(self) -> bool:
        return self.file is not None

    def open(self, tree: Tree) -> None:
        """Open the file now (raises a storage.FileProblem); its digest may be cached."""
        self.file = tree.open(self.parts)
        if self.resume_from is not None:  # a resume hashes anyway: it needs the prefix's digest
            self._digest = FileDigest()
            return
        self.sha256 = self._cache.get(self.file.identity)
        if self.sha256 is None:
            self._digest = self._cache.making(self.file.identity)

    @property
    def hashing(self) -> bool:
        return self.sha256 is None

    @property
    def done(self) -> bool:
        return not self.hashing and self.offset >= self.file.size

    def hash_step(self) -> None:
        """Hash the next HASH_STEP_BYTES (unless a transfer sharing the digest has just finished
        it); sets `sha256` when the whole file is read."""
        digest = self._digest
        if digest.sha256 is None:
            digest.step(self.file, self._hash_end())
        if self.resume_from is not None and digest.hashed == self.resume_from[0]:
            self._prefix_sha256 = digest.so_far()
        if digest.sha256 is not None:
            self.sha256 = digest.sha256
            self._cache.put(self.file.identity, self.sha256)
            self._forget_digest()

    def _hash_end(self) -> int:
        """The file's end, or a resume's offset until its prefix digest is taken."""
        if self.resume_from is not None and self._digest.hashed < self.resume_from[0]:
            return min(self.file.size, self.resume_from[0])
        return self.file.size

    def _forget_digest(self) -> None:
        if self._digest is not None and self.resume_from is None:
            self._cache.release(self.file.identity, self._digest)
        self._digest = None

    @property
    def resumes(self) -> bool:
        """A resume whose prefix is the file's own: only the rest is sent."""
        if self.resume_from is None or self._prefix_sha256 is None:
            return False
        offset, prefix_sha256 = self.resume_from
        return offset < self.file.size and self._prefix_sha256 == prefix_sha256

    def header(self, sender: str) -> bytes:
        """The `!FILE` line (or `!RESUME`, sending from the client's offset on); the
        transfer's clock starts when it is sent."""
        self.header_sent = True
        self.started = time.monotonic()
        file = self.file
        if self.resumes:
            self.offset = self.resume_from[0]
            return protocol.encode(
                protocol.FileResume(sender, self.offset, file.size, self.sha256, file.file_name)
            )
        return protocol.encode(protocol.FileStart(sender, file.size, self.sha256, file.file_name))

    def next_frame(self, sender: str, most: int = MAX_FRAME_BYTES) -> tuple[bytes, int, int]:
        """The next `!DATA` header line, and the (offset, count) of file it carries (at most `most` bytes)."""
        count = min(most, self.file.size - self.offset)
        offset = self.offset
        self.offset += count
        return protocol.encode_data_header(sender, count), offset, count

    def changed_since_opened(self) -> bool:
        """The file on disk is no longer what was announced (rewritten, grown or truncated)."""
        try:
            return file_identity(os.fstat(self.file.fd)) != self.file.identity
        except OSError:
            return True

    def close(self) -> None:
        if self.file is not None:
            self._forget_digest()
            self.file.close()
            self.file = None

    def summary(self) -> tuple[int, float, float]:
        """(bytes, seconds, bytes per second) for the log."""
        seconds = max(time.monotonic() - self.started, 1e-6)
        sent = self.offset - (self.resume_from[0] if self.resumes else 0)
        return sent, seconds, sent / seconds
