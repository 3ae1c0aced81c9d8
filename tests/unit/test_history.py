"""history: the conversation kept for newcomers, bounded by lines and by bytes."""

from __future__ import annotations

from ftplab.history import ChatHistory, Said


def test_only_the_newest_lines_are_kept_oldest_first():
    history = ChatHistory(max_lines=3)
    for number in range(5):
        history.add("ana", f"línea {number}")
    assert history.lines() == [Said("ana", "línea 2"), Said("ana", "línea 3"), Said("ana", "línea 4")]


def test_long_lines_are_bounded_by_bytes_too():
    history = ChatHistory(max_lines=20, max_bytes=1000)
    for _ in range(10):
        history.add("ana", "x" * 297)
    assert len(history) == 3, "300 bytes a line: three fit in 1000"
    assert sum(said.size for said in history.lines()) <= 1000
