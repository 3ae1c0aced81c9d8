"""Hardening, round 3: `mget` patterns from a hostile student (issue 19, item 1), against a
real server on 127.0.0.1. fnmatch compiled a pattern of 4,000 unclosed `[` in 0.4 s and cached
every pattern for good: a burst of them froze the loop for seconds and grew the server's
memory. Now a pattern is refused or matched in milliseconds, and chat goes on meanwhile.

All load goes to 127.0.0.0/8, bounded in count and in time."""

from __future__ import annotations

import time
from pathlib import Path

from ftplab import protocol
from support.constants import RSS_GROWTH_LIMIT_KIB

from .harness import TIMEOUT, RawConnection, message_containing, rss_kib

PROMPT_SECONDS = 1.0
"""How long a chat line may take to reach another client while the patterns come in: far
more than it needs (milliseconds), far less than the seconds each batch froze the loop for."""
BATCHES = 12
PATTERNS_PER_BATCH = 10


def _hostile_pattern(index: int) -> str:
    """Distinct each time (no cache can help): 4,000 unclosed brackets, or a valid pattern
    that makes every long name in the folder cost a hundred comparisons."""
    if index % 2 == 0:
        return "[" * 4000 + f"{index:04d}"
    return "[ab]" * 120 + f"*{index:04d}"


def _drain(raw: RawConnection) -> None:
    """Read whatever the server has sent to `raw` so far, so its answers never pile up."""
    while not raw.eof:
        try:
            raw.receive(timeout=0.01)
        except TimeoutError:
            return


def test_hostile_mget_patterns_do_not_hold_up_chat_or_memory(start_server, tmp_path: Path):
    root = tmp_path / "root"
    root.mkdir()
    for index in range(200):
        (root / f"{'a' * 150}{index:03d}.txt").write_bytes(b"x")
    server = start_server(root)
    with (
        RawConnection(server.port, "mallory", source="127.0.0.3") as mallory,
        RawConnection(server.port, "ana", source="127.0.0.1") as ana,
        RawConnection(server.port, "bea", source="127.0.0.2") as bea,
    ):
        for raw in (mallory, ana, bea):
            raw.join()
        before = rss_kib(server.pid)
        waits = []
        for batch in range(BATCHES):
            numbers = range(batch * PATTERNS_PER_BATCH, (batch + 1) * PATTERNS_PER_BATCH)
            lines = "".join(f"mallory> mget {_hostile_pattern(number)}\n" for number in numbers)
            mallory.sock.sendall(lines.encode())
            started = time.monotonic()
            ana.send_line(f"probe {batch}")
            bea.expect(message_containing(f"probe {batch}"), timeout=TIMEOUT)
            waits.append(time.monotonic() - started)
            _drain(mallory)
        mallory.fence(timeout=TIMEOUT)
        growth = rss_kib(server.pid, peak=True) - before

    assert max(waits) < PROMPT_SECONDS, f"chat took up to {max(waits):.2f} s while the patterns came in"
    assert growth < RSS_GROWTH_LIMIT_KIB, f"server memory grew {growth} KiB"
    refusals = [event.code for event in mallory.events if isinstance(event, protocol.Error)]
    assert refusals.count("usage") == BATCHES * PATTERNS_PER_BATCH, f"each pattern refused: {refusals}"
