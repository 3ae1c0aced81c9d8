"""The lab guide's Wireshark exercise, with real programs on 127.0.0.1 and tshark recording
the loopback interface: the same session (ana chats and gets a file) captured in clear and
over TLS. In clear the ftplab dissector (tools/wireshark/ftplab.lua) reads the chat and the
file's name; over TLS it reads nothing, until TLS is given the client's key log
(SSLKEYLOGFILE, which the client's ssl.create_default_context honours): then the dissector
decodes the decrypted stream as it decodes a clear one."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.certificates import tls_args
from support.tshark import LoopbackCapture, count, decode, over_tls

from .harness import make_file, run_client

FILE = "notas del examen.bin"
FILE_SIZE = 200_000
CHAT = "el examen es el martes a las nueve"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    files = tmp_path / "files"
    files.mkdir()
    make_file(files / FILE, FILE_SIZE, seed=7)
    return files


def captured_session(port: int, pcap: Path, download_dir: Path, *client_options: str) -> Path:
    """ana's session (chat, get, quit) on `port`, recorded into `pcap`."""
    capture = LoopbackCapture(port, pcap).start()
    try:
        commands = [CHAT, f"get {FILE}", "quit"]
        result = run_client(port, commands, name="ana", download_dir=download_dir, extra_args=client_options)
        assert result.returncode == 0, (result.stdout, result.stderr)
        assert (download_dir / FILE).stat().st_size == FILE_SIZE
        return capture.stop()
    finally:
        capture.close()


def assert_session_decoded(fields: dict[str, list[str]]) -> None:
    assert CHAT in fields["text"], fields["text"]
    assert fields["file.name"] == [FILE]
    assert fields["file.size"] == [str(FILE_SIZE)]
    assert sum(int(length) for length in fields["data.length"]) == FILE_SIZE
    assert set(fields["download"]) == {FILE}


def test_in_clear_the_dissector_reads_the_chat_and_the_file_name(start_server, root, client_dir, tmp_path):
    server = start_server(root=root)
    pcap = captured_session(server.port, tmp_path / "clear.pcap", client_dir("ana"))
    assert_session_decoded(decode(pcap, preferences={"ftplab.port": str(server.port)}))


def test_over_tls_the_dissector_reads_nothing_without_the_key_log_and_everything_with_it(
    start_server, root, client_dir, tmp_path, certificates, monkeypatch
):
    server = start_server(root=root, extra_args=tls_args(certificates))
    keylog = tmp_path / "keys.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(keylog))  # the client's environment; the server runs already
    ca = ["--ca", str(certificates.ca)]
    pcap = captured_session(server.port, tmp_path / "tls.pcap", client_dir("ana"), *ca)
    assert "CLIENT_TRAFFIC_SECRET_0" in keylog.read_text(), "the client wrote its TLS secrets"

    hidden = over_tls(server.port, keylog=None)
    assert count(pcap, "tls.app_data", hidden) > 0, "application data in TLS records"
    assert count(pcap, "ftplab", hidden) == 0
    assert CHAT.encode() not in pcap.read_bytes() and FILE.encode() not in pcap.read_bytes()

    assert_session_decoded(decode(pcap, preferences=over_tls(server.port, keylog)))
