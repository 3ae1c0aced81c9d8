"""Issue 19, item 2: with --keep-partial and a download folder others can write to, what is
planted at `.NAME.ftplab-partial` is never followed, waited on or described to the server."""

from __future__ import annotations

import hashlib
import os
import re

from .harness import run_client

CONTENT = os.urandom(300_000)
HELD = 100_000
"""The victim holds the file's first bytes: exactly what a resume would append to."""


def _serve(tmp_path, start_server):
    root = tmp_path / "root"
    root.mkdir()
    (root / "f.bin").write_bytes(CONTENT)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    return start_server(root=root), downloads


def _get(server, downloads):
    return run_client(
        server.port, ["get f.bin"], name="ana", download_dir=downloads, extra_args=["--keep-partial"]
    )


def _saved_whole(result, downloads) -> bool:
    return result.returncode == 0 and (downloads / "f.bin").read_bytes() == CONTENT


def test_a_symlink_at_the_partial_name_is_never_written_through(tmp_path, start_server):
    server, downloads = _serve(tmp_path, start_server)
    victim = tmp_path / "victim"
    victim.write_bytes(CONTENT[:HELD])
    (downloads / ".f.bin.ftplab-partial").symlink_to(victim)

    result = _get(server, downloads)

    assert _saved_whole(result, downloads), result
    assert victim.read_bytes() == CONTENT[:HELD], "the link's target is untouched"
    assert result.has("apartado"), result
    assert not any("Continuando" in line for line in result.stdout), "nothing about the target was sent"
    server.wait_for_log(re.compile(rf"sent f\.bin to ana@\S+: {len(CONTENT)} bytes"))


def test_a_fifo_at_the_partial_name_does_not_hang_get(tmp_path, start_server):
    server, downloads = _serve(tmp_path, start_server)
    os.mkfifo(downloads / ".f.bin.ftplab-partial")

    result = _get(server, downloads)

    assert _saved_whole(result, downloads), result
    assert result.has("apartado"), result


def test_a_hard_linked_partial_is_not_used(tmp_path, start_server):
    server, downloads = _serve(tmp_path, start_server)
    victim = tmp_path / "victim"
    victim.write_bytes(CONTENT[:HELD])
    os.link(victim, downloads / ".f.bin.ftplab-partial")

    result = _get(server, downloads)

    assert _saved_whole(result, downloads), result
    assert hashlib.sha256(victim.read_bytes()).digest() == hashlib.sha256(CONTENT[:HELD]).digest()
    assert not any("Continuando" in line for line in result.stdout), result
