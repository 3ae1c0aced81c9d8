"""tools/chatlatency.py end to end: chat lines reach a client while it downloads, on loopback
and through an 8 Mbit/s link (a veth pair into a network namespace, shaped as `scripts/lab
impair --rate` does). The figures are the bench's business; these tests check order: lines
arrive before the download ends. The shaped link needs root and iproute2 (skipped without
them; failed under CI=true, which promises both) and a kernel that lets this process make a
network namespace (skipped with the kernel's answer otherwise)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import chatlatency
import ftplab

APP = Path(ftplab.__file__).resolve().parent.parent
OLD_FRAME_BYTES = 1024 * 1024
"""The frame size before pacing: a file this big went as one frame, every line after it."""


def require_shaped_path() -> None:
    why_not = chatlatency.shaped_path_available()
    if why_not is not None:
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(f"a shaped link {why_not}; CI=true: not skipping", pytrace=False)
        pytest.skip(f"a shaped link {why_not}")
    refused = chatlatency.namespaces_allowed()
    if refused is not None:
        pytest.skip(f"this kernel does not let us make a network namespace: {refused}")


def test_on_loopback_lines_arrive_during_the_download_and_are_measured():
    result = chatlatency.measure(APP, "loopback", size=16 * 1024 * 1024, chatters=2, min_lines=3)

    assert result.samples >= 3, "lines arrived before a file ended (it is asked for until three did)"
    assert result.file_bytes == 16 * 1024 * 1024
    assert result.downloads >= 1
    assert 0 <= result.p50_ms <= result.p99_ms <= result.max_ms


def test_through_an_8_mbit_link_lines_overtake_a_file_that_once_was_one_frame():
    require_shaped_path()
    before = chatlatency.our_namespaces()

    result = chatlatency.measure(APP, "shaped", size=OLD_FRAME_BYTES, chatters=4, rate="8mbit")

    assert result.samples > 0, "lines sent after the download began arrived before its end"
    assert result.file_bytes == OLD_FRAME_BYTES
    assert chatlatency.our_namespaces() <= before, "the namespace was removed"
