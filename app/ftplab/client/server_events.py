"""What the server says on one connection, and what each event does: `ServerEvents`.

Split from session.py (ClientSession) because the events are one job: turn the
server's bytes into events, show them and hand transfers their frames, and
remember what this connection has told us (joined, protocol 2, the keep-alive,
`!BYE`, a fatal error). A new connection gets a new `ServerEvents`, so none of
that survives a lost connection by mistake. The session keeps what outlives a
connection (the user, the transfers, coming back, how it ends)."""

from __future__ import annotations

from .. import protocol
from ..messages import listing_line
from ..text import visible

OLD_GET_REFUSAL_CODES = frozenset(
    code.value
    for code in (
        protocol.ErrorCode.NO_FILE,
        protocol.ErrorCode.NOT_FILE,
        protocol.ErrorCode.DENIED,
        protocol.ErrorCode.AMBIGUOUS,
        protocol.ErrorCode.RESOURCES,
    )
)
"""From a server older than protocol 2 (no `!REFUSED`), the codes that refuse a pending `get`."""
OLD_NOT_QUEUED_CODES = frozenset({protocol.ErrorCode.NO_MATCH.value, protocol.ErrorCode.QUEUE_FULL.value})
"""From such a server, files asked for that will not come (a pattern matching nothing, the queue full)."""


class ServerEvents:
    """One connection's events from the server for the ClientSession given, and what it has said so far."""

    def __init__(self, session):
        self._session = session
        self._receiver = protocol.Receiver(from_server=True)
        self.joined = False
        """`!HELLO` came: the name was taken."""
        self.protocol_2 = False
        """The server speaks protocol 2 (`!PROTO`): refusals name their file."""
        self.keep_alive_seconds: float | None = None
        self.said_bye = False
        self.fatal: protocol.Error | None = None
        """An error that ends the connection: said once, on its own line, when the client ends."""
        downloads, uploads = session.downloads, session.uploads
        self._handlers = {
            protocol.Message: lambda event: self._show(event.sender, event.text),
            protocol.Hello: self._on_hello,
            protocol.Version: self._on_version,
            protocol.Error: self._on_error,
            protocol.Refused: downloads.on_refused,
            protocol.ListEntry: self._on_entry,
            protocol.Queued: downloads.on_queued,
            protocol.FileStart: downloads.on_file_start,
            protocol.FileResume: downloads.on_file_resume,
            protocol.FileData: downloads.on_file_data,
            protocol.FileAbort: self._on_file_abort,
            protocol.UploadReady: uploads.on_ready,
            protocol.UploadSaved: uploads.on_saved,
            protocol.KeepAlive: self._on_keep_alive,
            protocol.Bye: self._on_bye,
            protocol.Earlier: self._on_earlier,
            protocol.PasswordRequest: lambda _event: session.password.asked(),
        }

    def received(self, data) -> None:
        """Bytes from the server, each whole event handled (raises protocol.ProtocolError)."""
        self._receiver.feed(data)
        while (event := self._receiver.next_event()) is not None:
            self._handlers[type(event)](event)

    def _show(self, sender: str, text: str) -> None:
        self._session.screen.show(f"{visible(sender)}> {visible(text)}")

    def _on_hello(self, event: protocol.Hello) -> None:
        self.joined = True
        self._session.outbox.release()
        self._show(event.sender, event.text)
        self._session.comeback.joined()

    def _on_version(self, event: protocol.Version) -> None:
        self.protocol_2 = event.number >= 2

    def _on_earlier(self, event: protocol.Earlier) -> None:
        """A line said before we joined: labelled, so it is not taken for one said now."""
        say = self._session.say
        self._session.screen.show(say("earlier_line", name=visible(event.name), text=visible(event.text)))

    def _on_entry(self, event: protocol.ListEntry) -> None:
        self._show(event.sender, listing_line(event.is_dir, event.size, event.mtime, event.name))
        self._session.listing.append(f"{event.name}/" if event.is_dir else event.name)

    def _on_error(self, event: protocol.Error) -> None:
        if protocol.is_fatal(event.code):
            self.fatal = event
            return
        self._show(event.sender, event.text)
        downloads, uploads = self._session.downloads, self._session.uploads
        if event.code in protocol.UPLOAD_ERROR_CODES and uploads.current is not None:
            uploads.on_error()
        elif not self.protocol_2 and event.code in OLD_GET_REFUSAL_CODES:
            downloads.on_refusal_without_name()  # an older server: no `!REFUSED` says which
        elif not self.protocol_2 and event.code in OLD_NOT_QUEUED_CODES:
            downloads.refused += 1

    def _on_file_abort(self, event: protocol.FileAbort) -> None:
        self._show(event.sender, event.text)
        self._session.downloads.on_file_abort()

    def _on_keep_alive(self, event: protocol.KeepAlive) -> None:
        self.keep_alive_seconds = event.seconds

    def _on_bye(self, event: protocol.Bye) -> None:
        self._show(event.sender, event.text)
        self.said_bye = True
