"""A fence: one round trip through the server that proves it has handled everything a
connection sent before it.

A check that something did *not* happen ("this line must not appear") means nothing until
the server is known to have got past the point where it would have happened; a fence is that
proof. The fence line is a private message to a name nobody has, new for every fence, so
its answer (the `no-user` error naming it) cannot be confused with an earlier one."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

_serial = itertools.count()


@dataclass(frozen=True)
class Fence:
    """One fence: the line to send and the pattern its answer matches."""

    name: str = field(default_factory=lambda: f"valla{next(_serial)}")

    @property
    def line(self) -> str:
        """What to send: a private message to nobody."""
        return f"@{self.name} ?"

    @property
    def answer(self) -> re.Pattern:
        """Matches the text of the answer (the error naming this fence's addressee) and no other."""
        return re.compile(rf"(?<![\w-]){re.escape(self.name)}(?![\w-])")
