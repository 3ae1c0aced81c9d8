"""ftplab's load generator, shared by scripts/bench, scripts/soak and the tests.

`channels` is the loop (one selector, many non-blocking sockets); `sessions`
holds the conversations scripts/bench and the tests run over it. All addresses
are the caller's; the scripts use 127.0.0.1 only. It needs ftplab (the protocol)
importable, and this folder (tools/) on the import path.
"""

from .channels import ARRIVAL_STAMPS, RECV_BYTES, Channel, Loop
from .sessions import (
    Conversation,
    FtpSession,
    LabListener,
    LabSession,
    SteadyRun,
    Tally,
    keep_running,
)

__all__ = [
    "ARRIVAL_STAMPS",
    "RECV_BYTES",
    "Channel",
    "Conversation",
    "FtpSession",
    "LabListener",
    "LabSession",
    "Loop",
    "SteadyRun",
    "Tally",
    "keep_running",
]
