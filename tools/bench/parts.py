"""Every part of the bench by its `--only` name, in the order a run measures them."""

from . import chat, classroom, fanout, sessions, transfers

PARTS = {
    "transfers": transfers.measure,
    "sessions": sessions.measure,
    "fanout": fanout.measure,
    "selectors": fanout.measure_selectors,
    "chat": chat.measure,
    "class": classroom.measure,
}

NEEDS_DOCKER = {"class"}
"""Parts a run measures only when asked (--class or --only class)."""
