"""scripts/ftp-compat, the compatibility table's writer, in its quick mode
(ftplab only, curl and ftplib): the table is produced, and its cells are
true: what ftplab allows is `ok`, what it refuses without --allow-overwrite
is reported as `fail` with the server's reason, what a client cannot do is `n/a`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ftp-compat"
PASSIVE_BASE = 31600
"""Ten passive ports for the script's ftplab, below the ephemeral range."""


def table(text: str, server: str) -> dict[str, dict[str, str]]:
    """The section `## server`'s table: {client: {operation: cell}}."""
    section = text.split(f"## {server}", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    rows = [line.strip("|").split(" | ") for line in lines]
    header, *body = rows
    operations = [word.strip() for word in header[1:]]
    return {row[0].strip(): dict(zip(operations, (c.strip() for c in row[1:]), strict=True)) for row in body}


def test_quick_table_without_overwrite_tells_the_truth(tmp_path):
    if shutil.which("curl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("curl is not installed (apt-get install curl)")
        pytest.skip("curl is not installed")
    output = tmp_path / "clients.md"
    args = ["--quick", "--no-overwrite", "--output", str(output), "--passive-base", str(PASSIVE_BASE)]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr
    text = output.read_text()
    assert f"`scripts/ftp-compat {' '.join(args)}`" in text
    assert re.search(r"on \d{4}-\d\d-\d\d \d\d:\d\d UTC", text)
    assert re.search(r"\| curl \| \d+\.\d+", text) and "| ftplib | Python " in text

    cells = table(text, "ftplab")
    assert set(cells) == {"curl", "ftplib"}
    for client in ("curl", "ftplib"):
        for operation in ("list", "download", "upload", "mkdir", "resume", "parallel"):
            assert cells[client][operation] == "ok", (client, operation, cells[client])
        for operation in ("rename", "delete", "rmdir"):  # refused without --allow-overwrite
            assert re.fullmatch(r"fail \(.*550.*\)", cells[client][operation]), (client, operation)
    assert cells["ftplib"]["mtime"] == "ok"  # MFMT needs --allow-upload only
    assert cells["curl"]["mtime"] == "n/a"
    assert "## pyftpdlib" not in text and "## vsftpd" not in text
