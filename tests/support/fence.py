"""A fence: one round trip through the server that proves it has handled everything a
connection sent before it.

A check that something did *not* happen ("this line must not appear") means nothing until
the server is known to have got past the point where it would have happened; a fence is that
proof. A client's fence is `get` of a file that does not exist, named anew for every fence,
so its answer (the `nofile` error naming it) cannot be confused with an earlier one. A
command, not chat: chat may be dropped by flood limits, a command is only ever delayed.
The console has no commands: its fence is a private line to that same nobody."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

_serial = itertools.count()


@dataclass(frozen=True)
class Fence:
    """One fence: the line to send and the pattern its answer matches."""

    name: str = field(default_factory=lambda: f"valla-{next(_serial)}.none")

    @property
    def command(self) -> str:
        """What a client sends: a request for a file no test serves."""
        return f"get {self.name}"

    @property
    def console_line(self) -> str:
        """What the server's console types: a private message to a name nobody has."""
        return f"@{self.name} ?"

    @property
    def answer(self) -> re.Pattern:
        """Matches the text of the answer (an error naming this fence) and no other."""
        return re.compile(rf"(?<![\w.-]){re.escape(self.name)}(?![\w.-])")
