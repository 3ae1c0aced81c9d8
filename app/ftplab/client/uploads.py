"""The client's uploads (`put FILE`): one at a time, the next ones waiting their turn.

A `put` opens and hashes the file and announces it; nothing more goes until
the server's `!GO`. Then frames are added to the outbox only while less than
OUTPUT_HIGH_WATER waits in it (`pump`, called again as the socket drains), so
memory stays bounded whatever the file's size. `!SAVED` or an upload error
ends it; a quit typed meanwhile waits for the end (it would cut the upload)."""

from __future__ import annotations

from .. import protocol
from ..messages import Messages, human_size
from ..text import visible
from .actions import Outbox, Screen
from .progress import Progress
from .upload_file import Outgoing, UploadError

OUTPUT_HIGH_WATER = 64 * 1024
"""Above this much output waiting for the server, no more frames are made (nor, on a
terminal, typed lines accepted; from a pipe, stdin is not read)."""


class Uploads:
    """The upload in progress, and the files waiting to follow it."""

    def __init__(self, outbox: Outbox, screen: Screen, say: Messages, clock):
        self.current: Outgoing | None = None
        self.failed = 0
        self.refused = 0
        """Files that could not even be read to go (said at once, as a refusal)."""
        self.quit_after = False
        """A quit was typed during the upload: it goes once the upload ends."""
        self._waiting: list[str] = []
        self._progress: Progress | None = None
        self._outbox = outbox
        self._screen = screen
        self._say = say
        self._clock = clock

    @property
    def sending(self) -> bool:
        """Frames are still to go (the app watches the socket for writing)."""
        return self.current is not None and self.current.sending

    def put(self, path: str) -> None:
        """`put FILE`: start it, or queue it behind the upload in progress."""
        if self.current is not None:
            self._waiting.append(path)
            self._screen.show(self._say("upload_queued", name=visible(path), ahead=len(self._waiting)))
            return
        self._start(path)

    def _start(self, path: str) -> None:
        try:
            upload = Outgoing(path)
        except UploadError as error:
            reason = error.reason.text(self._say)
            self._screen.show(self._say("put_cannot_read", path=visible(path), reason=reason))
            self.refused += 1
            return
        request = protocol.PutRequest(upload.size, upload.sha256, upload.name)
        try:
            self._outbox.raw(protocol.encode_put(self._outbox.name, request))
        except protocol.LocalProtocolError:
            upload.close()
            self._screen.show(self._say("line_too_long", limit=protocol.MAX_LINE_BYTES))
            return
        self.current = upload

    def on_ready(self, event: protocol.UploadReady) -> None:
        if self.current is None or self.current.ready:
            raise protocol.BadFrame("!GO with no put waiting")
        self.current.ready = True
        self._progress = Progress(self.current.name, self.current.size, self._clock())
        size = human_size(self.current.size)
        self._screen.show(self._say("upload_started", name=visible(event.path), size=size))
        self.pump()

    def pump(self) -> None:
        """Frames of the upload while less than OUTPUT_HIGH_WATER waits to be sent."""
        upload = self.current
        if upload is None or not upload.sending:
            return
        while upload.sending and len(self._outbox) < OUTPUT_HIGH_WATER:
            try:
                chunk = upload.next_chunk()
            except UploadError:
                self._screen.show(self._say("upload_file_changed", name=visible(upload.name)))
                self._outbox.raw(protocol.encode(protocol.FileAbort(self._outbox.name, "changed")))
                self._settle(failed=True)
                return
            self._outbox.raw(protocol.encode(protocol.FileData(self._outbox.name, chunk)))
        if upload.sending:
            self._show_progress()

    def _show_progress(self) -> None:
        now = self._clock()
        self._progress.done = self.current.sent
        if self._progress.due(now):
            self._screen.status(self._progress.line(now, self._say))

    def on_saved(self, event: protocol.UploadSaved) -> None:
        if self.current is None or not self.current.ready:
            raise protocol.BadFrame("!SAVED with no upload")
        self._progress.done = self._progress.size = event.size
        figures = self._progress.summary(self._clock())
        self._screen.show(
            self._say("upload_saved", path=visible(event.path), size=human_size(event.size), **figures)
        )
        self._settle(failed=False)

    def on_error(self) -> None:
        """The server refused or dropped our upload: stop sending, and say so if frames were going."""
        if self.current is None:
            return
        if self.current.sending:
            self._outbox.raw(protocol.encode(protocol.FileAbort(self._outbox.name, "refused")))
        self._settle(failed=True)

    def _settle(self, *, failed: bool) -> None:
        """The upload is over; the next one waiting starts."""
        self.current.close()
        self.current = None
        self._progress = None
        self._screen.status("")
        self.failed += failed
        while self._waiting and self.current is None:
            self._start(self._waiting.pop(0))

    def interrupted(self) -> None:
        """The connection ends: the upload in progress and those waiting all fail."""
        if self.current is None:
            return
        if self.current.ready:
            self._screen.status("")
            self._screen.show(self._say("upload_interrupted", name=visible(self.current.name)))
        self.failed += 1 + len(self._waiting)
        self._waiting.clear()
        self.current.close()
        self.current = None
