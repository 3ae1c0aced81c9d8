"""compose.yaml's and deploy/stack.yaml's restart policies (issue 18): a kicked student is not
brought back into the class by Docker, and the teacher's /quit (status 0) is a stop while a
crash restarts the server. Read from the files themselves (no YAML library at runtime or in the
tests' extras)."""

from __future__ import annotations

import re
from pathlib import Path

COMPOSE = Path(__file__).resolve().parents[2] / "compose.yaml"
STACK = Path(__file__).resolve().parents[2] / "deploy" / "stack.yaml"


def _block(text: str, header: str) -> str:
    """The lines under `header` (a line of the file), up to the next line indented as little."""
    lines = text.splitlines()
    start = lines.index(header)
    indent = len(header) - len(header.lstrip())
    body = []
    for line in lines[start + 1 :]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        body.append(line)
    return "\n".join(body)


def _restart(block: str) -> str:
    found = re.findall(r"^\s+restart:\s*(\S+)", block, re.MULTILINE)
    assert len(found) == 1, block
    return found[0].strip("\"'")


def test_clients_are_never_restarted_by_docker_so_a_kick_sticks():
    text = COMPOSE.read_text()
    assert _restart(_block(text, "x-client: &client")) == "no"
    for student in ("alice", "bob", "carol"):
        assert "restart:" not in _block(text, f"  {student}:"), "each student takes the client's policy"


def test_the_server_restarts_after_a_crash_but_not_after_quit():
    text = COMPOSE.read_text()
    assert _restart(_block(text, "  server:")) == "on-failure"


def test_in_swarm_too_the_server_comes_back_after_a_crash_but_not_after_quit():
    server = _block(STACK.read_text(), "  server:")
    policy = _block(server, "      restart_policy:")
    assert re.findall(r"^\s+condition:\s*(\S+)", policy, re.MULTILINE) == ["on-failure"]
