"""The account's password on a server with accounts (protocol 4): `PasswordStep`.

The server asks with `!PASSWORD` before its `!HELLO`. The password we know
(from --password-file or FTPLAB_PASSWORD, or typed once) is sent at once, ahead
of the lines the user typed meanwhile (the outbox holds those until `!HELLO`);
else a person at a terminal is asked without echo (an `AskPassword` action the
app carries out), and a pipe ends the session saying how to give one. Lines
typed before that question are not sent, unless they are the client's own
commands: one may be the password typed too early, which after the welcome
would reach the room as chat. The password is kept for coming back after a
lost connection, and never shown.
"""

from __future__ import annotations

from .. import protocol
from ..text import visible
from .actions import AskPassword


class PasswordStep:
    """A session's answers to `!PASSWORD`."""

    def __init__(self, session, known: str | None):
        self._session = session
        self._password = known

    def asked(self) -> None:
        """`!PASSWORD`: the one we know, else the user is asked (at a terminal only)."""
        session = self._session
        if self._password is not None:
            self._send()
        elif session.settings.interactive:
            self._take_back_typeahead()
            session.screen.note(AskPassword(session.say("ask_password", name=visible(session.name))))
        else:
            self._failed("password_not_asked")

    def _take_back_typeahead(self) -> None:
        """A line typed before the question may be the password typed too early: unless it is
        one of the client's commands it is not sent (after the welcome it would reach the
        whole room as chat), and the user is told."""
        if self._session.outbox.drop_held_as_typed():
            self._session.screen.show(self._session.say("typeahead_not_sent"))

    def given(self, password: str) -> None:
        """What the user typed when asked."""
        if self._session.connected:
            self._password = password
            self._session.wait_for_hello()  # the time the user took to type is not the server's
            self._send()

    def _send(self) -> None:
        session = self._session
        try:
            session.outbox.first(protocol.encode(protocol.Password(session.name, self._password)))
        except protocol.LocalProtocolError:  # longer than a line can carry
            self._failed("password_too_long")

    def _failed(self, key: str) -> None:
        self._session.failure = self._session.say(key)
        self._session.comeback.connection_ended()
