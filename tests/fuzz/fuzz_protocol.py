"""Coverage-guided fuzzing of the wire parser, by hand (not part of the test run).

Feeds arbitrary bytes, cut into arbitrary pieces, to `protocol.Receiver` in both
directions (the server's side and the client's) and fails on anything but a
ProtocolError: any other exception, a partial line held past MAX_LINE_BYTES, an
event of the wrong kind for the direction, a `!DATA` payload larger than the
limit, or a fatal error that does not stick. tests/unit/test_protocol.py
(test_garbage_only_raises_protocol_errors) checks the same property with
hypothesis on every test run; this goes deeper when you have the time.

    python -m venv /tmp/fuzz && /tmp/fuzz/bin/pip install atheris
    /tmp/fuzz/bin/python tests/fuzz/fuzz_protocol.py -max_total_time=60
    /tmp/fuzz/bin/python tests/fuzz/fuzz_protocol.py CRASH_FILE    # replay a finding

Any libFuzzer option works (-runs=N, -jobs=N, a corpus directory...).
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "app"))

with atheris.instrument_imports():
    from ftplab import protocol

CLIENT_EVENTS = (protocol.Line,)
SERVER_EVENTS = (
    protocol.Message,
    protocol.Hello,
    protocol.Error,
    protocol.FileStart,
    protocol.FileData,
    protocol.FileAbort,
    protocol.Bye,
)


def _pieces(provider: atheris.FuzzedDataProvider) -> list[bytes]:
    """The rest of the input, cut where the input says."""
    pieces = []
    while provider.remaining_bytes():
        size = provider.ConsumeIntInRange(1, 8192)
        pieces.append(provider.ConsumeBytes(size))
    return pieces


def _drain(receiver: protocol.Receiver, from_server: bool) -> protocol.ProtocolError | None:
    """Take every event now ready; the fatal error met, if any."""
    allowed = SERVER_EVENTS if from_server else CLIENT_EVENTS
    while True:
        try:
            event = receiver.next_event()
        except protocol.ProtocolError as error:
            if error.fatal:
                return error
            continue
        if event is None:
            return None
        if not isinstance(event, allowed):
            raise AssertionError(f"{type(event).__name__} from the {'server' if from_server else 'client'}")
        if isinstance(event, protocol.FileData) and not 0 < len(event.data) <= protocol.MAX_DATA_BYTES:
            raise AssertionError(f"a data event of {len(event.data)} bytes")


def test_one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    from_server = provider.ConsumeBool()
    receiver = protocol.Receiver(from_server=from_server)
    fatal = None
    for piece in _pieces(provider):
        receiver.feed(piece)
        if receiver.buffered >= protocol.MAX_LINE_BYTES:
            raise AssertionError(f"{receiver.buffered} bytes of a partial line held")
        fatal = fatal or _drain(receiver, from_server)
    if fatal is not None:
        try:
            receiver.next_event()
        except protocol.BadFrame:
            return
        raise AssertionError("the stream went on after a fatal error")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
