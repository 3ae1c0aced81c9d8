"""The client's downloads: what was asked for, and the one file being received.

Files are taken only when asked for (`Request`s, names compared in NFC), in
the order the server queued them: a `!FILE` for anything else is refused and
its bytes skipped. A `!QUEUED` name counts as asked for only if it matches one of the
latest `mget` patterns or is a word of a `get` of several names still
pending. A protocol-2 server names each refused request (`!REFUSED`); with an
older one, a refusal forgets the oldest request. Saving itself (temporary
file, SHA-256, final name) is `download_file.Download`.

Two counts: `failed`, transfers that began and did not end saved (cut,
corrupt, not writable), and `refused`, requests answered no at once (a
mistyped name, a pattern matching nothing). A cancelled download is neither.
When the connection is lost and the client will come back (`connection_lost`),
what arrived of the file under way is kept as a partial, even without
--keep-partial, so that asking again resumes it; it is removed once done."""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import os
from dataclasses import dataclass

from .. import protocol
from ..filenames import is_servable
from ..messages import Messages, human_size
from ..text import visible
from .actions import FileSaved, FileStarted, Screen
from .commands import same_name, words_of
from .download_file import (
    Corrupt,
    Download,
    DownloadError,
    HeldPart,
    SetAside,
    UnsafeName,
    held_prefix,
    partial_path,
)
from .progress import Progress
from .receiving import GATHER_BYTES

MAX_PATTERNS = 32
"""The latest `mget` patterns remembered to check `!QUEUED` names against."""


@dataclass(frozen=True)
class Request:
    """A file asked for: as typed (`sub/a.txt`, `a b`), the name its `!FILE` will carry, and
    the `cd` lines that led to the folder it was asked in (to ask again from there)."""

    typed: str
    name: str
    folder: tuple[str, ...] = ()
    several: bool = False
    """The server took it as several names (`get a.txt b.txt`), each `!QUEUED` on its own."""

    @classmethod
    def of(cls, typed: str, folder: tuple[str, ...] = ()) -> Request:
        typed = same_name(typed)
        return cls(typed, typed.rstrip("/").rpartition("/")[2], folder)


@dataclass(frozen=True)
class DownloadSettings:
    directory: str
    keep_partial: bool = False


class Downloads:
    """Requests in order, patterns asked for, and at most one file being received."""

    def __init__(self, settings: DownloadSettings, screen: Screen, say: Messages, clock):
        self.settings = settings
        self.current: Download | None = None
        self.failed = 0
        self.refused = 0
        self.requests: list[Request] = []
        self.current_request: Request | None = None
        """The request the file arriving answers."""
        self._cancelling: set[str] = set()
        """Names of files whose cancel went to the server and is not yet answered."""
        self._kept_for_resume: set[str] = set()
        """Names whose partial was kept only to resume after a reconnection (removed when done)."""
        self.folder: tuple[str, ...] = ()
        """The `cd` lines that led to the current folder (ClientSession keeps it)."""
        self._patterns: list[str] = []
        self._skip_bytes = 0
        self._progress: Progress | None = None
        self._screen = screen
        self._say = say
        self._clock = clock

    @property
    def busy(self) -> bool:
        """A file is arriving or one asked for is still to come."""
        return self.current is not None or bool(self.requests)

    def bytes_to_gather(self) -> int:
        """How many bytes the kernel may gather before the client reads: GATHER_BYTES while a
        file arrives, never more than it has still to send (receiving.py); else 1, any byte."""
        download = self.current
        if download is None:
            return 1
        return max(1, min(GATHER_BYTES, download.size - download.received))

    # --- asking -------------------------------------------------------------------

    def request_line(self, name: str) -> str:
        """`get NAME`, or `resume OFFSET SHA256 NAME` when a sound part of NAME was kept
        (NAME may be a path: its file name is the part's)."""
        file_name = Request.of(name).name
        held = held_prefix(self.settings.directory, file_name) if self._may_keep(file_name) else None
        if isinstance(held, SetAside):
            self._screen.show(self._say("partial_set_aside", name=visible(name), path=visible(held.path)))
        if not isinstance(held, HeldPart):
            return f"get {name}"
        return protocol.resume_command(held.size, held.sha256, name)

    def asked(self, typed: str) -> None:
        """A `get` went out: say so if it waits behind a file being received."""
        ahead = len(self.requests) + 1
        self.requests.append(Request.of(typed, self.folder))
        if self.current is not None:
            self._screen.show(self._say("download_queued", name=visible(typed), ahead=ahead))

    def asked_pattern(self, pattern: str) -> None:
        self._patterns = [*self._patterns[-MAX_PATTERNS + 1 :], same_name(pattern)]

    def _asked_for_by_many(self, name: str) -> bool:
        """`name` matches an `mget` pattern asked for, or is a word of a `get` still pending."""
        name = same_name(name)
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in self._patterns):
            return True
        return any(name in words_of(request.typed) for request in self.requests if " " in request.typed)

    def _take_request(self, name: str) -> bool:
        """The first request for this file leaves the list, with any `get` of several names
        asked before it (the server took those as several: their files were `!QUEUED` each).
        Other requests stay whatever their place: an `mget`'s files are queued when the
        server reads it, so they come before a `get` typed after it, which the client learnt
        of first. A file never asked for is refused."""
        names = [request.name for request in self.requests]
        name = same_name(name)
        if name not in names:
            return False
        index = names.index(name)
        self.current_request = self.requests[index]
        earlier = [request for request in self.requests[:index] if not request.several]
        self.requests = earlier + self.requests[index + 1 :]
        return True

    # --- refusals -----------------------------------------------------------------

    def on_refused(self, event: protocol.Refused) -> None:
        """Protocol 2: the request named failed (or was cancelled): the one asked for with
        exactly that text, else the first whose file has that name (a queued download that
        fails when its turn comes is named by its path from the root)."""
        refused = Request.of(event.name)
        if event.code == protocol.ErrorCode.CANCELLED.value:
            self._cancelling.discard(refused.name)
        else:
            self.refused += 1
            self._drop_kept_part(refused.name)
        for matches in (lambda r: r.typed == refused.typed, lambda r: r.name == refused.name):
            for index, request in enumerate(self.requests):
                if matches(request):
                    del self.requests[index]
                    return

    def on_refusal_without_name(self) -> None:
        """An older server's refusal of a `get` (no `!REFUSED`): the oldest request goes."""
        if self.requests:
            self.refused += 1
            del self.requests[0]

    # --- cancelling ---------------------------------------------------------------

    def cancel_target(self, typed: str) -> Request | None:
        """What `cancel` (no name: the file arriving, else the next asked for) or `cancel NAME`
        (as asked for, or its file name) stops; None when nothing asked for matches."""
        arriving = [self.current_request] if self.current is not None and self.current_request else []
        candidates = [*arriving, *self.requests]
        if not typed:
            return candidates[0] if candidates else None
        wanted = Request.of(typed)
        for request in candidates:
            if wanted.typed in (request.typed, request.name):
                return request
        return None

    def cancelling(self, request: Request) -> None:
        """The server was asked to cancel `request`: its `!ABORT` or `!REFUSED cancelled` is no failure."""
        self._cancelling.add(request.name)

    def on_queued(self, event: protocol.Queued) -> None:
        if not self._asked_for_by_many(event.name):
            self._screen.show(self._say("download_not_asked", name=visible(event.name)))
            return
        self._mark_several(event.name)
        self.requests.append(Request.of(event.name, self.folder))
        self._screen.show(self._say("download_queued_by_server", name=visible(event.name)))

    def _mark_several(self, word: str) -> None:
        """A `get` pending with `word` among its names was taken as several."""
        word = same_name(word)
        for index, request in enumerate(self.requests):
            if " " in request.typed and word in words_of(request.typed):
                self.requests[index] = dataclasses.replace(request, several=True)
                return

    # --- a file arriving ----------------------------------------------------------

    def on_file_start(self, event: protocol.FileStart) -> None:
        if not self._may_start(event.name, event.size):
            return
        try:
            download = Download(self.settings.directory, event.name, event.size, event.sha256)
        except DownloadError as error:
            key = "download_unsafe_name" if isinstance(error, UnsafeName) else "download_failed"
            self._failed_to_start(key, event.name, error.reason.text(self._say), event.size)
            return
        self._begin(download)
        self._screen.note(FileStarted(download.name, download.size))
        self._screen.show(self._say("download_started", name=download.name, size=human_size(event.size)))
        if self._may_keep(download.name):  # asked to resume, the server sent it all: the kept part is stale
            self._drop_kept_part(download.name, always=True)
        if download.complete:
            self._finish()

    def on_file_resume(self, event: protocol.FileResume) -> None:
        if not self._may_start(event.name, event.size - event.offset):
            return
        directory = self.settings.directory
        try:
            download = Download.resuming(directory, event.name, event.offset, event.size, event.sha256)
        except DownloadError as error:
            reason = error.reason.text(self._say)
            self._failed_to_start("download_failed", event.name, reason, event.size - event.offset)
            return
        self._begin(download)
        self._screen.note(FileStarted(download.name, download.size))
        size = human_size(event.size)
        self._screen.show(self._say("download_resumed", name=download.name, offset=event.offset, size=size))

    def _may_start(self, name: str, coming: int) -> bool:
        """A file may start only after the last one, and only if asked for (else skipped)."""
        if self.current is not None or self._skip_bytes:
            raise protocol.BadFrame("a new file before the last one ended")
        if self._take_request(name):
            return True
        self._screen.show(self._say("download_not_asked", name=visible(name)))
        self._skip_bytes = coming
        return False

    def _failed_to_start(self, key: str, name: str, reason: str, coming: int) -> None:
        self._screen.show(self._say(key, name=visible(name), reason=reason))
        self.failed += 1
        self._skip_bytes = coming

    def _begin(self, download: Download) -> None:
        self.current = download
        self._progress = Progress(download.name, download.size, self._clock(), download.started_from)

    def on_file_data(self, event: protocol.FileData) -> None:
        if self._skip_bytes:
            self._skip_bytes -= min(len(event.data), self._skip_bytes)
            return
        download = self.current
        if download is None:
            raise protocol.BadFrame("file data with no file")
        try:
            download.write(event.data)
        except Corrupt as error:
            raise protocol.BadFrame(error.reason.text(self._say)) from None
        except DownloadError as error:
            reason = error.reason.text(self._say)
            self._screen.show(self._say("download_failed", name=download.name, reason=reason))
            self._skip_bytes = download.size - download.received - len(event.data)
            self._end(failed=True)
            return
        if download.complete:
            self._finish()
        else:
            self._show_progress()

    def _show_progress(self) -> None:
        now = self._clock()
        self._progress.done = self.current.received
        if self._progress.due(now):
            self._screen.status(self._progress.line(now, self._say))

    def _finish(self) -> None:
        download, progress = self.current, self._progress
        self._screen.status("")
        try:
            path = download.finish()
        except Corrupt:
            self._screen.show(self._say("download_corrupt", name=download.name))
            self._end(failed=True)
            return
        except DownloadError as error:
            reason = error.reason.text(self._say)
            self._screen.show(self._say("download_failed", name=download.name, reason=reason))
            self._end(failed=True)
            return
        self._end(failed=False)
        progress.done = download.size
        figures = progress.summary(self._clock())
        self._screen.note(FileSaved(download.name, path, download.size))
        self._screen.show(
            self._say("download_saved", path=visible(path), size=human_size(download.size), **figures)
        )

    def on_file_abort(self) -> None:
        """The server stopped the file under way: cancelled as asked, or a failure."""
        self._skip_bytes = 0
        if self.current is not None:
            cancelled = self.current.name in self._cancelling
            self._cancelling.discard(self.current.name)
            self.current.discard()
            self._end(failed=not cancelled)

    def _end(self, *, failed: bool) -> None:
        if self.current is not None:
            self._kept_for_resume.discard(self.current.name)  # a resumed file's part was its temporary file
            self._cancelling.discard(self.current.name)  # saved before its cancel came
        self.current = None
        self.current_request = None
        self._progress = None
        self.failed += failed
        self._screen.status("")

    # --- the connection lost ------------------------------------------------------

    def connection_lost(self) -> list[Request]:
        """The connection broke and the client will come back: what arrived of the file under
        way is kept to be resumed (said so); returns what to ask for again, in order."""
        again = list(self.requests)
        download, request = self.current, self.current_request
        self.requests, self._patterns, self._skip_bytes = [], [], 0
        self._cancelling.clear()
        if download is None:
            return again
        self._screen.status("")
        if is_servable(download.name) and download.received > 0 and download.keep_partial():
            if not self.settings.keep_partial:
                self._kept_for_resume.add(download.name)
        else:
            download.discard()
        self._screen.show(self._say("download_will_resume", name=download.name, percent=download.percent))
        self.current = self.current_request = None
        self._progress = None
        return [request or Request.of(download.name), *again]

    def _drop_kept_part(self, name: str, *, always: bool = False) -> None:
        """Remove a partial kept only to resume (`always`: kept by --keep-partial too)."""
        if always or name in self._kept_for_resume:
            self._kept_for_resume.discard(name)
            with contextlib.suppress(OSError):
                os.unlink(partial_path(self.settings.directory, name))

    # --- leaving ------------------------------------------------------------------

    def interrupted(self) -> None:
        """The connection ends mid-file: said once; with --keep-partial what arrived is kept."""
        download = self.current
        if download is None:
            return
        self._screen.status("")
        may_keep = self.settings.keep_partial and is_servable(download.name)
        kept = may_keep and download.received > 0 and download.keep_partial()
        if not kept:
            download.discard()
        key = "download_interrupted_kept" if kept else "download_interrupted"
        self._screen.show(self._say(key, name=download.name, percent=download.percent))
        self.current = None
        self.failed += 1

    def forget_kept_parts(self) -> None:
        """Leaving: the partials kept only to resume after a reconnection go."""
        for name in list(self._kept_for_resume):
            self._drop_kept_part(name)

    def _may_keep(self, name: str) -> bool:
        return (self.settings.keep_partial or name in self._kept_for_resume) and is_servable(name)
