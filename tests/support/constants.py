"""Constants the integration and e2e suites share: what the servers are called, sizes and limits."""

from __future__ import annotations

import re

SERVER_NAME = "profe"
"""The name every test server speaks as."""
SPANISH_FILE_NAME = "canción de prueba.txt"
"""A served file whose name is not ASCII."""
MIB = 1024 * 1024
RSS_GROWTH_LIMIT_KIB = 20 * 1024
"""How much a server's resident memory may grow while a test misbehaves at it: bounded, and far
below the size of what the test sends."""
WHO_REPLY = re.compile(r"(Conectados|Connected) \(\d+\): ")
"""The server's answer to `who`, in Spanish or English."""
CHAT_BURST_LINES = 20
CHAT_LINES_PER_SECOND = 5.0
"""The documented chat limit (docs/security.md): a burst of 20 lines, then 5 a second. Tests
read it here, not from the server's modules, so they check the server as a user sees it."""
