"""tshark with ftplab's Wireshark dissector (tools/wireshark/ftplab.lua), for the tests.

`decode(pcap)` runs Debian's tshark on a capture with the dissector loaded and
returns every value of each ftplab field in capture order (senders, texts,
commands, control lines, error codes, payload lengths, download names);
`preferences` are tshark's `-o NAME:VALUE` (`over_tls` gives those of a server
speaking TLS, with the client's key log or without). `count` counts the frames a
display filter keeps. `LoopbackCapture` records one TCP port on the loopback
interface while a test runs real programs. `require_tshark()` skips when tshark
is missing, and fails under CI=true (scripts/test installs it)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from .waiting import LineStream, wait_until

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


def over_tls(port: int, keylog: Path | None) -> dict[str, str]:
    """The preferences for a capture of a server speaking TLS on `port`: the dissector is told
    so, and TLS gets the client's key log (SSLKEYLOGFILE) when there is one."""
    preferences = {"ftplab.port": str(port), "ftplab.tls": "TRUE"}
    if keylog is not None:
        preferences["tls.keylog_file"] = str(keylog)
    return preferences


def _read(pcap: Path, preferences: dict[str, str] | None) -> list[str]:
    command = [require_tshark(), "-n", "-r", str(pcap), "-X", f"lua_script:{DISSECTOR}"]
    for name, value in (preferences or {}).items():
        command += ["-o", f"{name}:{value}"]
    return command


def count(
    pcap: Path, display_filter: str, preferences: dict[str, str] | None = None, *, growing: bool = False
) -> int:
    """How many frames of the capture `display_filter` keeps; `growing`: of a capture still
    being written, whose last packet may be cut short."""
    command = [*_read(pcap, preferences), "-Y", display_filter, "-T", "fields", "-e", "frame.number"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=_quiet_env())
    assert result.returncode == 0 or growing, f"tshark failed ({result.returncode}): {result.stderr}"
    return len(result.stdout.split())


def decode(
    pcap: Path, timeout: float = 120, preferences: dict[str, str] | None = None
) -> dict[str, list[str]]:
    """Every value of each ftplab field in the capture, in order: {"sender": [...], ...}."""
    command = [*_read(pcap, preferences), "-Y", "ftplab"]
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


class LoopbackCapture:
    """tshark recording TCP `port` on the loopback interface into `path`, from `start()` (which
    returns once it listens) to `stop()` (once every connection recorded has ended both ways,
    so no packet of the session is still on its way into the file)."""

    def __init__(self, port: int, path: Path):
        self.port = port
        self.path = path
        self.process: subprocess.Popen | None = None

    def start(self) -> LoopbackCapture:
        command = [require_tshark(), "-n", "-i", "lo", "-f", f"tcp port {self.port}", "-w", str(self.path)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=_quiet_env(),
        )  # fmt: skip
        self.log = LineStream(self.process.stderr, "tshark", 30)
        wait_until(self._listening, message="tshark capturing on lo", timeout=30)
        return self

    def _listening(self) -> bool:
        if self.process.poll() is not None:
            self.log.join(5)
            message = f"tshark cannot capture on lo (exit {self.process.returncode}): {self.log.text()}"
            if in_ci():
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        return self.log.has("Capturing on")

    def _ended(self) -> bool:
        return count(self.path, "tcp.flags.fin == 1", growing=True) >= 2 if self.path.exists() else False

    def stop(self) -> Path:
        wait_until(self._ended, message="both ends' FIN in the capture", timeout=30)
        self.close()
        return self.path

    def close(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.log.join(5)
            self.process = None
