"""A fence: one round trip through the server that proves it has handled everything a
connection sent before it.

A check that something did *not* happen ("this line must not appear") means nothing until
the server is known to have got past the point where it would have happened; a fence is that
proof. A fence is a private message to a name nobody has, named anew for every fence, so
its answer (the `no-user` error naming it) cannot be confused with an earlier one. Not a
`get` of a missing file: with piped input a failed `get` makes the client's exit status
non-zero. The chat limits (20 lines at once per connection) are far above what a test
fences; the console's fence is the same line."""

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
        """What a client sends: a private message to a name nobody has."""
        return f"@{self.name} ?"

    @property
    def console_line(self) -> str:
        """What the server's console types: a private message to a name nobody has."""
        return f"@{self.name} ?"

    @property
    def answer(self) -> re.Pattern:
        """Matches the text of the answer (an error naming this fence) and no other."""
        return re.compile(rf"(?<![\w.-]){re.escape(self.name)}(?![\w.-])")
