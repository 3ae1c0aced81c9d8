"""Password guessing through the FTP door (issue 17, item 6), against the real
server: a guesser on twelve connections from 127.0.0.1 gets at most a handful of
tries a second (a growing delay before each 530, then its address refused with
421), while a user from 127.0.0.2 logs in at once, again and again; the
failures are logged, but not one line per guess."""

from __future__ import annotations

import ftplib
import socket
import threading
import time

from ftplab import logins

from .harness import HOST

PASSWORD = "clave-de-clase"
GUESS_SECONDS = 8.0
GUESSERS = 12
OTHER_ADDRESS = "127.0.0.2"
"""A second source address: any 127.x.y.z is the loopback on Linux."""
LOGIN_BOUND_SECONDS = 1.0


def read_reply(stream) -> str:
    """One whole reply (multi-line ones too); "" when the server closed."""
    line = stream.readline().decode()
    if line[3:4] == "-":
        while line and not (line[:3].isdigit() and line[3:4] == " "):
            line = stream.readline().decode()
    return line


def guess(port: int, until: float, tally: dict[str, int], lock: threading.Lock) -> None:
    """Wrong passwords as fast as the server answers, reconnecting when closed."""
    number = 0
    while time.monotonic() < until:
        with socket.create_connection((HOST, port), timeout=30) as sock, sock.makefile("rb") as stream:
            if not read_reply(stream).startswith("220"):
                return
            while time.monotonic() < until:
                number += 1
                sock.sendall(f"USER ana\r\nPASS intento-{number}\r\n".encode())
                answers = [read_reply(stream), read_reply(stream)]
                with lock:
                    for answer in answers:
                        key = answer[:3] or "closed"
                        key += " address" if "your address" in answer else ""
                        tally[key] = tally.get(key, 0) + 1
                if any(answer[:3] in ("421", "") for answer in answers):
                    break


def log_in_from_elsewhere(port: int) -> float:
    started = time.monotonic()
    with ftplib.FTP(timeout=30, source_address=(OTHER_ADDRESS, 0)) as session:
        session.connect(HOST, port)
        session.login("bea", PASSWORD)
        session.quit()
    return time.monotonic() - started


def test_a_guesser_gets_a_handful_of_tries_and_others_log_in(start_server, tmp_path):
    server = start_server(lang="en", extra_args=["--ftp-port", "0", "--ftp-password", PASSWORD])
    port = server.ftp_port()
    tally: dict[str, int] = {}
    lock = threading.Lock()
    started = time.monotonic()
    until = started + GUESS_SECONDS
    guessers = [threading.Thread(target=guess, args=(port, until, tally, lock)) for _ in range(GUESSERS)]
    for guesser in guessers:
        guesser.start()
    other_logins = []
    while time.monotonic() < until:
        other_logins.append(log_in_from_elsewhere(port))
    for guesser in guessers:
        guesser.join(60)
    elapsed = time.monotonic() - started

    # A password can be looked at only after a 331; once the address is refused,
    # USER gets the 421 (and so do the guesses still waiting for their delay).
    tries = tally.get("331", 0)
    worst = max(other_logins)
    print(f"guesser: {tally} in {elapsed:.1f} s; other logins: {len(other_logins)}, worst {worst:.3f} s")
    assert "230" not in tally
    assert tries <= logins.BUDGET, tally
    assert tries / elapsed < 2.0, f"{tries} tries in {elapsed:.1f} s"
    assert tally.get("421 address", 0) >= 1, "the guesser's address was never refused"
    assert len(other_logins) >= 10 and worst < LOGIN_BOUND_SECONDS, other_logins

    with socket.create_connection((HOST, port), timeout=30) as sock, sock.makefile("rb") as stream:
        read_reply(stream)
        sock.sendall(f"USER ana\r\nPASS {PASSWORD}\r\n".encode())
        refused = read_reply(stream)
    assert refused.startswith("421") and "your address" in refused, refused  # even the right password

    log = server.stderr.text
    failures_logged = log.count("failed FTP login from 127.0.0.1")
    assert 1 <= failures_logged <= 1 + GUESS_SECONDS / logins.LOG_EVERY_SECONDS, failures_logged
    assert log.count("logins from 127.0.0.1 refused") == 1
    assert "failed FTP login from 127.0.0.2" not in log
