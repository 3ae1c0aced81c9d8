"""The servers a user chose to trust on first use, like ssh's known_hosts: one
`host:port FINGERPRINT` line per server (`[host]:port` for an IPv6 address),
the certificate's SHA-256 as openssl shows it. The file lives in the user's
config ($XDG_CONFIG_HOME/ftplab/known_hosts, else ~/.config/ftplab/known_hosts),
readable by the user only, and is rewritten whole through a temporary file and
a rename: a crash leaves the old file or the new one, never half of one. Lines
it does not understand (comments, a typo) are kept as they are and ignored."""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

MAX_FILE_BYTES = 1024 * 1024
"""A known_hosts larger than this is not read (it is the user's own file, but bounded all the same)."""


def default_path() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(config) / "ftplab" / "known_hosts"


def server_key(host: str, port: int) -> str:
    """How a server is named in the file: `host:port`, `[host]:port` for IPv6."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def normal_fingerprint(text: str) -> str | None:
    """`text` as 'AB:CD:...' (64 hex digits, with or without colons, any case); None if it is not one."""
    digits = text.replace(":", "").strip().upper()
    if len(digits) != 64 or any(c not in "0123456789ABCDEF" for c in digits):
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 64, 2))


@dataclass(frozen=True)
class Known:
    """A server's remembered fingerprint, and the line of the file that says so."""

    fingerprint: str
    line: int


class KnownHosts:
    """The file of trusted servers (read at each look-up: another client may have written it)."""

    def __init__(self, path: Path | None = None):
        self.path = path or default_path()

    def lookup(self, host: str, port: int) -> Known | None:
        """The fingerprint remembered for host:port (the first line that names it), or None.
        Raises OSError when the file exists but cannot be read."""
        key = server_key(host, port)
        for number, line in enumerate(self._lines(), start=1):
            fields = line.split()
            if len(fields) == 2 and fields[0] == key and (fingerprint := normal_fingerprint(fields[1])):
                return Known(fingerprint, number)
        return None

    def remember(self, host: str, port: int, fingerprint: str) -> None:
        """Trust `fingerprint` for host:port from now on (replacing what was said of it before).
        Raises OSError (the file is left as it was) or ValueError for a bad fingerprint."""
        normal = normal_fingerprint(fingerprint)
        if normal is None:
            raise ValueError(f"not a SHA-256 fingerprint: {fingerprint!r}")
        key = server_key(host, port)
        kept = [line for line in self._lines() if line.split()[:1] != [key]]
        self._write([*kept, f"{key} {normal}"])

    def _lines(self) -> list[str]:
        try:
            with open(self.path, "rb") as file:
                data = file.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            return []
        if len(data) > MAX_FILE_BYTES:
            raise OSError(f"{self.path}: larger than {MAX_FILE_BYTES} bytes")
        return data.decode("utf-8", errors="replace").splitlines()

    def _write(self, lines: list[str]) -> None:
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=".known_hosts.", dir=directory)  # mode 0600
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write("".join(line + "\n" for line in lines))
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
