"""A TCP relay that adds a fixed one-way delay: a high-latency link in user space.

The lab's fault tests would add delay with `tc qdisc ... netem delay`, but this
kernel has no `sch_netem` ("Specified qdisc kind is unknown"). So latency is
emulated here instead, on a machine of its own between the clients and the
server: the clients connect to this relay, and it connects each of them to the
upstream server and forwards the bytes both ways, holding every chunk it reads
for `--delay-ms` before it writes it on. An answer to a request therefore
comes at least two delays later, as over a link with that much latency each
way.

What it is and is not:

- Each direction is a queue of (due time, bytes). A chunk is written once its
  due time has come, in order; nothing is reordered, duplicated or dropped,
  and there is no jitter (every chunk waits the same time).
- The buffer per direction is bounded: while more than `--max-buffer` bytes
  wait in a direction, the relay stops reading from that side, so TCP slows
  the sender down (backpressure) and memory stays bounded. As on a real link,
  throughput is then about (buffer + socket buffers) / delay.
- The end of a stream takes the delay too: end of file from one side becomes
  `shutdown(SHUT_WR)` on the other once the bytes queued before it are
  written (half-close is carried through); the connection pair is closed when
  both directions have ended. A reset or any error on either side aborts the
  pair at once (closed with a reset, queued bytes dropped).
- It is not a packet-level emulator: the two TCP connections are each on a
  fast local link, so retransmissions, loss and the kernel's own round-trip
  estimates do not see the delay; only the application does.

Standard library only, one file, one thread (`selectors`, non-blocking
sockets). Run as, for example:

    python3 delay_relay.py --listen 0.0.0.0:2121 --upstream server:2121 --delay-ms 150
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import errno
import selectors
import signal
import socket
import struct
import sys
import time

READ_BYTES = 64 * 1024
DEFAULT_MAX_BUFFER = 256 * 1024
CONNECT_TIMEOUT_SECONDS = 10.0
BACKLOG = 128


def log(message: str) -> None:
    print(f"delay-relay: {message}", file=sys.stderr, flush=True)


class Direction:
    """Bytes read from `source`, waiting to be written to `sink` when due."""

    def __init__(self, name: str):
        self.name = name
        self.queue: collections.deque[tuple[float, memoryview]] = collections.deque()
        self.queued = 0  # bytes in `queue`
        self.eof_due: float | None = None  # when the source's end of file is due at the sink
        self.ended = False  # the sink was shut down for writing: nothing more goes this way
        self.blocked = False  # the sink's send buffer is full: wait until it is writable

    def next_due(self) -> float | None:
        if self.ended or self.blocked:
            return None
        if self.queue:
            return self.queue[0][0]
        return self.eof_due


class Pair:
    """One client connection and its connection to the upstream server."""

    def __init__(self, relay: Relay, down: socket.socket, peer: str, upstream: tuple[str, int]):
        self.relay = relay
        self.down = down
        self.peer = peer
        self.up = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.up.setblocking(False)
        self.connected = False
        self.connect_deadline = time.monotonic() + CONNECT_TIMEOUT_SECONDS
        self.to_up = Direction("to upstream")  # read from down, written to up
        self.to_down = Direction("to client")  # read from up, written to down
        self.closed = False
        self.registered: dict[socket.socket, int] = {}
        for sock in (self.down, self.up):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        code = self.up.connect_ex(upstream)
        if code not in (0, errno.EINPROGRESS):
            raise OSError(code, f"connect to upstream: {errno.errorcode.get(code, code)}")

    # --- reading -------------------------------------------------------------

    def wants_read(self, direction: Direction, source_connected: bool = True) -> bool:
        return source_connected and direction.eof_due is None and direction.queued <= self.relay.max_buffer

    def read(self, source: socket.socket, direction: Direction, now: float) -> None:
        try:
            data = source.recv(READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        due = now + self.relay.delay
        if data:
            direction.queue.append((due, memoryview(data)))
            direction.queued += len(data)
        else:
            direction.eof_due = due

    # --- writing -------------------------------------------------------------

    def pump(self, sink: socket.socket, direction: Direction, now: float) -> None:
        """Write what is due to `sink`; shut it for writing once the source's end is due."""
        if direction.ended or not self.connected:
            return
        direction.blocked = False
        while direction.queue and direction.queue[0][0] <= now:
            due, chunk = direction.queue[0]
            try:
                sent = sink.send(chunk)
            except (BlockingIOError, InterruptedError):
                sent = 0
            direction.queued -= sent
            if sent < len(chunk):
                direction.queue[0] = (due, chunk[sent:])
                direction.blocked = True
                return
            direction.queue.popleft()
        if not direction.queue and direction.eof_due is not None and direction.eof_due <= now:
            sink.shutdown(socket.SHUT_WR)
            direction.ended = True

    # --- the pair's life -----------------------------------------------------

    def finish_connect(self) -> None:
        code = self.up.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            raise OSError(code, f"connect to upstream: {errno.errorcode.get(code, code)}")
        self.connected = True

    def step(self, now: float) -> None:
        """Write what is due, both ways; close the pair when both ways have ended."""
        if not self.connected and now >= self.connect_deadline:
            raise OSError(errno.ETIMEDOUT, "connect to upstream: timed out")
        self.pump(self.up, self.to_up, now)
        self.pump(self.down, self.to_down, now)
        if self.to_up.ended and self.to_down.ended:
            self.close(abort=False)

    def next_due(self) -> float | None:
        if not self.connected:  # nothing can be written before the upstream connection is made
            return self.connect_deadline
        dues = (self.to_up.next_due(), self.to_down.next_due())
        return min((due for due in dues if due is not None), default=None)

    def interests(self) -> dict[socket.socket, int]:
        down, up = 0, 0
        if self.wants_read(self.to_up):
            down |= selectors.EVENT_READ
        if self.wants_read(self.to_down, self.connected):
            up |= selectors.EVENT_READ
        if self.to_down.blocked:
            down |= selectors.EVENT_WRITE
        if self.to_up.blocked or not self.connected:
            up |= selectors.EVENT_WRITE
        return {self.down: down, self.up: up}

    def update_registration(self) -> None:
        selector = self.relay.selector
        for sock, events in self.interests().items():
            old = self.registered.get(sock, 0)
            if events == old:
                continue
            if not events:
                selector.unregister(sock)
                del self.registered[sock]
            elif not old:
                selector.register(sock, events, self)
                self.registered[sock] = events
            else:
                selector.modify(sock, events, self)
                self.registered[sock] = events

    def on_event(self, sock: socket.socket, events: int, now: float) -> None:
        if sock is self.up and not self.connected:
            if events & selectors.EVENT_WRITE:
                self.finish_connect()
            else:
                return
        if events & selectors.EVENT_READ:
            if sock is self.down:
                self.read(self.down, self.to_up, now)
            else:
                self.read(self.up, self.to_down, now)
        # Writable sockets are written by `step`, which runs for every pair after the events.

    def close(self, abort: bool) -> None:
        if self.closed:
            return
        self.closed = True
        for sock in list(self.registered):
            self.relay.selector.unregister(sock)
        self.registered.clear()
        for sock in (self.down, self.up):
            if abort:  # the other side gets a reset, as it would from the failed peer
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        self.relay.pairs.discard(self)
        log(f"closed {self.peer}{' (aborted)' if abort else ''}")


class Relay:
    def __init__(self, listen: tuple[str, int], upstream: tuple[str, int], delay: float, max_buffer: int):
        self.upstream = upstream
        self.delay = delay
        self.max_buffer = max_buffer
        self.selector = selectors.DefaultSelector()
        self.pairs: set[Pair] = set()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(listen)
        self.listener.listen(BACKLOG)
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ, None)

    def accept(self) -> None:
        try:
            down, address = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:  # out of descriptors, say: the next turn tries again
            log(f"accept failed: {error}")
            return
        down.setblocking(False)
        peer = f"{address[0]}:{address[1]}"
        try:
            # Resolved for each connection: the upstream machine may come back with another address.
            address = socket.getaddrinfo(*self.upstream, socket.AF_INET, socket.SOCK_STREAM)[0][4]
            pair = Pair(self, down, peer, address)
        except OSError as error:
            log(f"refused {peer}: {error}")
            down.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            down.close()
            return
        self.pairs.add(pair)
        pair.update_registration()
        log(f"accepted {peer}")

    def run(self) -> None:
        log(
            f"listening on {self.listener.getsockname()[0]}:{self.listener.getsockname()[1]}, "
            f"relaying to {self.upstream[0]}:{self.upstream[1]} "
            f"with {self.delay * 1000:g} ms delay each way"
        )
        while True:
            now = time.monotonic()
            dues = [due for pair in self.pairs if (due := pair.next_due()) is not None]
            timeout = max(0.0, min(dues) - now) if dues else None
            for key, events in self.selector.select(timeout):
                if key.data is None:
                    self.accept()
                    continue
                pair: Pair = key.data
                if pair.closed:
                    continue
                try:
                    pair.on_event(key.fileobj, events, time.monotonic())
                except OSError as error:
                    log(f"{pair.peer}: {error}")
                    pair.close(abort=True)
            now = time.monotonic()
            for pair in list(self.pairs):
                try:
                    pair.step(now)
                    if not pair.closed:
                        pair.update_registration()
                except OSError as error:
                    log(f"{pair.peer}: {error}")
                    pair.close(abort=True)


def host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="TCP relay that delays each direction by a fixed time.")
    parser.add_argument("--listen", type=host_port, default=("0.0.0.0", 2121), help="HOST:PORT to listen on")
    parser.add_argument("--upstream", type=host_port, required=True, help="HOST:PORT to connect to")
    parser.add_argument("--delay-ms", type=float, default=150.0, help="one-way delay (default 150)")
    parser.add_argument(
        "--max-buffer",
        type=int,
        default=DEFAULT_MAX_BUFFER,
        help=f"bytes held per direction before reading pauses (default {DEFAULT_MAX_BUFFER})",
    )
    args = parser.parse_args(argv)
    if args.delay_ms < 0 or args.max_buffer < 1:
        parser.error("--delay-ms must be >= 0 and --max-buffer >= 1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    relay = Relay(args.listen, args.upstream, args.delay_ms / 1000.0, args.max_buffer)
    with contextlib.suppress(KeyboardInterrupt):
        relay.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
