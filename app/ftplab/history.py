"""The last lines of the conversation, for whoever joins or comes back.

Only what everyone heard is kept: chat to all (a student's or the teacher's).
Private messages, news of people coming and going, and answers to one person
never enter it. It is bounded twice, by lines and by bytes, so a class that
writes long lines holds no more memory than one that writes short ones.
No I/O: the room asks for the lines and sends them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

HISTORY_LINES = 20
"""The most lines a newcomer is shown again."""

HISTORY_BYTES = 64 * 1024
"""The most bytes (names and texts, UTF-8) kept in all."""


@dataclass(frozen=True)
class Said:
    """One line of the conversation: who said it (a member or the server), and what."""

    sender: str
    text: str

    @property
    def size(self) -> int:
        return len(self.sender.encode()) + len(self.text.encode())


class ChatHistory:
    """The newest lines said to everyone, oldest first, within both bounds."""

    def __init__(self, max_lines: int = HISTORY_LINES, max_bytes: int = HISTORY_BYTES):
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._lines: deque[Said] = deque()
        self._bytes = 0

    def add(self, sender: str, text: str) -> None:
        """Keep `text` said by `sender`, forgetting the oldest lines past either bound."""
        said = Said(sender, text)
        self._lines.append(said)
        self._bytes += said.size
        while self._lines and (len(self._lines) > self._max_lines or self._bytes > self._max_bytes):
            self._bytes -= self._lines.popleft().size

    def lines(self) -> list[Said]:
        return list(self._lines)

    def __len__(self) -> int:
        return len(self._lines)
