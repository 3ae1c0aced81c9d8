"""A stand-in for the server loop that drives an FtpSession in unit tests.

It carries out the session's actions the way the real loop must (replies
collected, Join answered, a passive port "opened", transfers run against the
real files) and feeds the outcome back as events. `hold_transfers` leaves a
transfer running so that a test can feed its own event (ABOR, a broken peer).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ftplab import ftp
from ftplab.messages import Messages
from ftplab.storage import FileProblem, Storage, Tree

PEER = ("127.0.0.1", 40000)
LOCAL = ("127.0.0.1", 2100)
PASSIVE_PORT = 30001


@dataclass
class FakeLoop:
    """Runs a session's actions; what it did is kept for the test to check."""

    session: ftp.FtpSession
    upload_data: bytes = b""
    hold_transfers: bool = False
    refuse_join: str | None = None
    hold_delays: bool = False
    delays: list[float] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)
    actions: list = field(default_factory=list)
    running: object = None

    def feed(self, data: bytes) -> list[str]:
        """Feed bytes and advance the session until it has no more work, as
        the loop would over several turns; returns the replies they caused."""
        start = len(self.replies)
        self.session.receive_data(data)
        self.run()
        while self.session.has_work:
            self.step()
        return self.replies[start:]

    def step(self) -> list[str]:
        """One turn of the loop: one `advance`, its actions carried out."""
        start = len(self.replies)
        self.session.advance()
        self.run()
        return self.replies[start:]

    def event(self, event) -> list[str]:
        """Feed an event, then advance like `feed`; returns the replies it caused."""
        start = len(self.replies)
        self.session.handle(event)
        self.run()
        while self.session.has_work:
            self.step()
        return self.replies[start:]

    def run(self) -> None:
        while (action := self.session.next_action()) is not None:
            self.actions.append(action)
            handler = getattr(self, f"_do_{type(action).__name__}", None)
            if handler is not None:
                handler(action)

    def _do_SendReply(self, action: ftp.SendReply) -> None:
        self.replies.append(action.data.decode())

    def _do_Join(self, action: ftp.Join) -> None:
        answer = ftp.JoinRefused(self.refuse_join) if self.refuse_join else ftp.Joined()
        self.session.handle(answer)

    def _do_Delay(self, action: ftp.Delay) -> None:
        """The loop answers a Delay when its time has come; here at once, unless held."""
        self.delays.append(action.seconds)
        if not self.hold_delays:
            self.session.handle(ftp.DelayOver())

    def _do_OpenPassive(self, _action: ftp.OpenPassive) -> None:
        self.session.handle(ftp.PassiveOpened(PASSIVE_PORT))

    def _do_SendFile(self, action: ftp.SendFile) -> None:
        self._transfer(
            action, lambda: self.sent.append(os.pread(action.file.fd, action.file.size, action.offset))
        )

    def _do_SendListing(self, action: ftp.SendListing) -> None:
        self._transfer(action, lambda: self.sent.append(b"".join(p for p in action.pieces if p is not None)))

    def _do_ReceiveUpload(self, action: ftp.ReceiveUpload) -> None:
        self._transfer(action, lambda: self._write_upload(action.upload))

    def _write_upload(self, upload) -> None:
        for start in range(0, len(self.upload_data), 7):
            upload.write(self.upload_data[start : start + 7])

    def _transfer(self, action, work) -> None:
        self.running = action
        if self.hold_transfers:
            return
        try:
            work()
        except FileProblem as problem:
            self.session.handle(ftp.TransferFailed(problem))
            return
        self.session.handle(ftp.TransferDone())


def make_session(
    root, *, clock=lambda: 1_800_000_000.0, language="en", logins=None, peer=PEER, **settings
) -> ftp.FtpSession:
    counter = iter(range(1, 1000))
    return ftp.FtpSession(
        tree=Tree(Storage(str(root))),
        settings=ftp.FtpSettings(**settings),
        messages=Messages(language),
        peer=peer,
        local=LOCAL,
        anonymous_number=lambda: next(counter),
        clock=clock,
        logins=logins,
    )


def logged_in(root, name: str = "alice", **settings) -> FakeLoop:
    loop = FakeLoop(make_session(root, **settings))
    loop.run()
    loop.feed(f"USER {name}\r\nPASS x\r\n".encode())
    assert loop.session.name is not None, loop.replies
    return loop
