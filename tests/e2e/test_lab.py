"""The lab across real containers: one server machine and client machines, each its own host
with its own address on a Docker network, the programs run exactly as a student runs them."""

from __future__ import annotations

import re
import time
import uuid

import pytest

from .lab import (
    BIG_FILE,
    CONNECTION_LOST,
    DOWNLOAD_DIR,
    SERVER_CLOSING,
    SMALL_FILE,
    SPANISH_FILE,
    TIMEOUT,
    can_shape_links,
    limit_rate_to,
    wait_until,
)

pytestmark = pytest.mark.e2e

SAVED = re.compile(r"^Guardado ")


def test_three_client_machines_list_get_chat_and_quit(lab):
    server = lab.server()
    names = ["alice", "bob", "carol"]
    hosts = {name: lab.client_host(name, server) for name in names}
    clients = {name: hosts[name].interactive(name) for name in names}

    # Each machine connects from its own address, and the server's log says so.
    addresses = {name: server.address_of(name) for name in names}
    assert addresses == {name: hosts[name].ip for name in names}, server.stderr_log()
    assert len(set(addresses.values())) == 3

    wanted = {name: server.served_sha256(name) for name in (BIG_FILE, SPANISH_FILE)}
    for name, client in clients.items():
        client.send("list")
        client.expect("Archivos en el servidor (")
        client.expect(re.compile(rf"\s{re.escape(BIG_FILE)}$"))
        for file_name in wanted:
            client.send(f"get {file_name}")
            client.expect(re.compile(rf"^Guardado .*{re.escape(file_name)}"))
        for file_name, digest in wanted.items():
            assert hosts[name].sha256(f"{DOWNLOAD_DIR}/{file_name}") == digest, (name, file_name)
        assert hosts[name].files() == sorted(wanted), "no temporary files left behind"

    # Chat: each machine's message reaches the two others, prefixed with its sender.
    token = uuid.uuid4().hex[:8]
    for name, client in clients.items():
        client.send(f"hola desde {name} {token}")
    for name, client in clients.items():
        for other in names:
            if other != name:
                client.wait_for(f"{other}> hola desde {other} {token}")  # in any order
    for name, client in clients.items():
        client.send("who")  # a round trip after its own line: an echo would have come before the answer
        client.wait_for(f"Conectados ({len(clients)}): ")
        assert not client.has(f"{name}> hola desde {name} {token}"), "no echo of one's own chat"

    for name, client in clients.items():
        assert client.quit() == 0, client.transcript()
        server.wait_for_log(re.compile(rf"disconnect {name}@{re.escape(addresses[name])}:\d+"))
    assert "Traceback" not in server.logs()


def test_full_server_refuses_a_third_machine_and_takes_it_once_a_slot_frees(lab):
    server = lab.server(max_clients=2)
    alice = lab.client_host("alice", server).interactive("alice")
    bob = lab.client_host("bob", server).interactive("bob")
    carol_host = lab.client_host("carol", server)

    code, out, err = carol_host.session("carol", ["who"])
    assert code == 1, (code, out, err)
    assert "Servidor lleno (2 clientes)" in err, err
    server.wait_for_log(re.compile(rf"refused \?@{re.escape(carol_host.ip)}:\d+: full"))

    assert alice.quit() == 0
    server.wait_for_log(re.compile(r"disconnect alice@"))
    code, out, err = carol_host.session("carol", ["who"])
    assert code == 0, (code, out, err)
    assert re.search(r"Conectados \(2\): .*bob.*carol|Conectados \(2\): carol, bob", out), out
    bob.send("who")
    bob.expect("Conectados (1): bob")
    assert bob.quit() == 0


@pytest.mark.skipif(can_shape_links() is not None, reason=str(can_shape_links()))
def test_client_machine_killed_mid_download_leaves_the_server_serving_the_others(lab):
    server = lab.server(data_timeout=3)
    victim_host = lab.client_host("alice", server)
    bob = lab.client_host("bob", server).interactive("bob")
    victim = victim_host.interactive("alice")
    limit_rate_to(server, victim_host.ip, "1mbit")  # 4 MiB would take half a minute

    victim.send(f"get {BIG_FILE}")
    victim.expect(f"Descargando {BIG_FILE}")
    victim_host.kill()
    victim.wait()

    # Meanwhile and afterwards the others are served: chat, a download, a new machine.
    bob.send("¿sigue ahí el servidor?")
    bob.send(f"get {SMALL_FILE}")
    bob.expect(re.compile(rf"^Guardado .*{re.escape(SMALL_FILE)}"))
    server.wait_for_log(re.compile(r"disconnect alice@"), timeout=TIMEOUT)
    code, out, err = lab.client_host("carol", server).session("carol", ["who", f"get {SPANISH_FILE}"])
    assert code == 0, (out, err)
    assert "Conectados (2): bob, carol" in out, out
    assert SAVED.search(out.split("Descargando")[-1].splitlines()[1]), out
    assert server.status == "running"
    # The killed download never got its final name.
    assert BIG_FILE not in lab.volume_listing(victim_host.volume_of(DOWNLOAD_DIR))
    assert bob.quit() == 0


def test_stopping_the_server_machine_ends_its_clients_with_its_goodbye(lab):
    server = lab.server()
    clients = [lab.client_host(name, server).interactive(name) for name in ("alice", "bob")]
    for client in clients:
        server.joined_line(client.name)

    took = server.stop(timeout=10)
    assert took < 5, f"docker stop took {took:.1f} s: SIGTERM did not end the server"
    assert server.exit_code() == 0, server.logs()
    log = server.stderr_log()
    assert "received SIGTERM" in log and "stopped" in log, log
    for client in clients:
        assert client.wait() == 3, client.transcript()  # a planned shutdown, not a lost connection
        stderr = client.stderr.text
        assert "El servidor ha cerrado la conexión" in stderr and SERVER_CLOSING in stderr, stderr
        assert not client.has(SERVER_CLOSING), "said once, on stderr"


def test_a_person_attached_to_a_tty_client_types_who_and_reads_the_answer(lab):
    server = lab.server()
    machine = lab.tty_client("alice", server)
    server.joined_line("alice")

    sock = machine.container.attach_socket(params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
    raw = getattr(sock, "_sock", sock)  # docker-py hands back a SocketIO around the socket
    raw.settimeout(1.0)
    try:
        raw.sendall(b"who\r")  # Enter on a terminal sends CR
        screen = b""
        deadline = time.monotonic() + TIMEOUT
        while b"Conectados (1): alice" not in screen:
            assert time.monotonic() < deadline, f"no answer to who on the terminal: {screen!r}"
            try:
                chunk = raw.recv(4096)
            except TimeoutError:
                continue
            assert chunk, f"the attached stream ended: {screen!r}"
            screen += chunk
        raw.sendall(b"quit\r")
        while b"Adi\xc3\xb3s, alice" not in screen:
            assert time.monotonic() < deadline, f"no goodbye on the terminal: {screen!r}"
            try:
                chunk = raw.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                break
            screen += chunk
    finally:
        sock.close()
    assert b"Adi\xc3\xb3s, alice" in screen, f"the stream ended with no goodbye: {screen!r}"
    machine.wait_for_status("exited")
    assert machine.exit_code() == 0, machine.logs()
    server.wait_for_log("disconnect alice@")


def test_a_client_that_loses_its_server_says_so_and_exits_1(lab):
    server = lab.server()
    alice = lab.client_host("alice", server).interactive("alice")
    server.joined_line("alice")
    server.kill()  # no goodbye: the connection just ends
    assert alice.wait() == 1, alice.transcript()
    assert CONNECTION_LOST in alice.stderr.text, alice.stderr.text
    wait_until(
        lambda: server.status == "exited", message="the killed server's container to end", timeout=TIMEOUT
    )
