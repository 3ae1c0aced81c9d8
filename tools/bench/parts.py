"""Every part of the bench by its `--only` name, in the order a run measures them."""

from . import fanout, sessions, transfers

PARTS = {
    "transfers": transfers.measure,
    "sessions": sessions.measure,
    "fanout": fanout.measure,
    "selectors": fanout.measure_selectors,
}
