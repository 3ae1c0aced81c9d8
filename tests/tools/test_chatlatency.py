"""tools/chatlatency.py's reader against a scripted server: which lines it measures and when it
asks for the file again. tests/integration/test_chat_latency.py runs it against a real one."""

from __future__ import annotations

import io
import json
import socket
import threading
import time

import chatlatency
from chatlatency import CHAT_PREFIX, FILE_NAME, SERVER_NAME

FILE = b"abcd"


def chat_line() -> bytes:
    return f"ana> {CHAT_PREFIX}{time.monotonic_ns()}\n".encode()


def one_download(*, chat_inside: bool) -> bytes:
    middle = chat_line() if chat_inside else b""
    return (
        f"{SERVER_NAME}> !FILE {len(FILE)}\n".encode()
        + middle
        + f"{SERVER_NAME}> !DATA {len(FILE)}\n".encode()
        + FILE
    )


def serve(listener: socket.socket, answers: list[bytes], requests: list[str]) -> None:
    """Answer each `get` with the next of `answers`, noting what the reader said."""
    connection, _ = listener.accept()
    next_answer = iter(answers)
    with connection, connection.makefile("rb") as lines:
        for line in lines:
            requests.append(line.decode().rstrip("\n"))
            if line.endswith(f"get {FILE_NAME}\n".encode()):
                connection.sendall(next(next_answer))


def read(answers: list[bytes], min_lines: int) -> tuple[dict, list[str]]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        requests: list[str] = []
        server = threading.Thread(target=serve, args=(listener, answers, requests), daemon=True)
        server.start()
        out = io.StringIO()
        chatlatency.read_download("127.0.0.1", listener.getsockname()[1], "dl", out, True, min_lines)
        server.join(10)
    started, report = out.getvalue().splitlines()
    assert started == "started"
    return json.loads(report), requests


def test_a_file_that_went_by_without_a_line_is_asked_for_again_and_lines_between_files_do_not_count():
    first = one_download(chat_inside=False) + chat_line()  # a line after the file: not behind it
    second = one_download(chat_inside=True)

    report, requests = read([first, second], min_lines=1)

    assert requests == ["dl> ", f"dl> get {FILE_NAME}", f"dl> get {FILE_NAME}"]
    assert report["downloads"] == 2
    assert len(report["latencies_ms"]) == 1
    assert report["bytes"] == len(FILE)


def test_a_download_that_brought_enough_lines_is_the_only_one():
    report, requests = read([one_download(chat_inside=True)], min_lines=1)

    assert requests == ["dl> ", f"dl> get {FILE_NAME}"]
    assert report["downloads"] == 1
    assert len(report["latencies_ms"]) == 1
