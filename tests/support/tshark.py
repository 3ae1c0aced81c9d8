"""tshark with ftplab's Wireshark dissector (tools/wireshark/ftplab.lua), for the tests.

`decode(pcap)` runs Debian's tshark on a capture with the dissector loaded and
returns every value of each ftplab field in capture order (senders, texts,
commands, control lines, error codes, payload lengths, download names).
`require_tshark()` skips when tshark is missing, and fails under CI=true
(scripts/test installs it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

DISSECTOR = Path(__file__).resolve().parents[2] / "tools" / "wireshark" / "ftplab.lua"
FIELDS = (
    "ftplab.sender",
    "ftplab.text",
    "ftplab.direction",
    "ftplab.command",
    "ftplab.control",
    "ftplab.err.code",
    "ftplab.file.size",
    "ftplab.file.name",
    "ftplab.data.length",
    "ftplab.download",
    "ftplab.argument",
    "ftplab.join.option",
    "ftplab.proto.version",
    "ftplab.entry.kind",
    "ftplab.entry.size",
    "ftplab.entry.mtime",
    "ftplab.entry.name",
    "ftplab.refused.code",
    "ftplab.refused.name",
    "ftplab.earlier.sender",
    "ftplab.earlier.text",
    "ftplab.resume.offset",
    "ftplab.queued.name",
    "ftplab.upload.path",
)
SEPARATOR = "\x1f"  # between the occurrences of one field in a frame: never in the text we send


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require_tshark() -> str:
    path = shutil.which("tshark")
    if path is None:
        message = "tshark is not installed (scripts/test installs it with apt-get)"
        if in_ci():
            pytest.fail(f"{message}; CI=true: not skipping", pytrace=False)
        pytest.skip(message)
    return path


def decode(pcap: Path, timeout: float = 120) -> dict[str, list[str]]:
    """Every value of each ftplab field in the capture, in order: {"sender": [...], ...}."""
    command = [require_tshark(), "-n", "-r", str(pcap), "-X", f"lua_script:{DISSECTOR}", "-Y", "ftplab"]
    command += ["-T", "fields", "-E", "occurrence=a", "-E", f"aggregator={SEPARATOR}", "-E", "separator=\t"]
    for field in FIELDS:
        command += ["-e", field]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=_quiet_env())
    assert result.returncode == 0, f"tshark failed ({result.returncode}): {result.stderr}"
    assert "Lua" not in result.stderr, result.stderr
    values: dict[str, list[str]] = {field.removeprefix("ftplab."): [] for field in FIELDS}
    for line in result.stdout.splitlines():
        for field, column in zip(values, line.split("\t"), strict=False):
            if column:
                values[field].extend(column.split(SEPARATOR))
    return values


def _quiet_env() -> dict[str, str]:
    """tshark's own settings from an empty home: no personal plugins or preferences."""
    home = Path(os.environ.get("TMPDIR", "/tmp"))
    return {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".ftplab-tshark-config")}
