"""Faults of machines and of the network, with real containers: `docker kill`, `docker stop`,
`docker pause` and `docker network disconnect` of a client and of the server, a degraded
link (bandwidth cap and packet loss) and a high-latency link (delay, with and without a cap).

What must hold whatever happens: a download arrives byte-identical or fails cleanly, with
nothing under its final name and no `.ftplab-*.part` left in the download directory; the
server frees the slot of a client that went away; a client whose connection is gone says so
and exits 1; a crashed server that its restart policy brings back serves new clients.

Link faults are made with `tc` and `iptables` in the containers' network namespaces (nsenter,
as root on the Docker host). This kernel has no `sch_netem`, so added *delay* and netem's
loss/reordering are not available: bandwidth is capped with `htb`/`tbf`, and packets are
lost with iptables' `statistic` match. Those tests are skipped where they cannot run.
Latency is emulated in user space instead: a relay machine (`delay_relay.py`) between the
clients and the server holds every chunk a fixed time each way. It adds delay only: no
jitter, no reordering, no loss (the loss test above covers that).
"""

from __future__ import annotations

import re
import time

import pytest

from ftplab.net import (
    CLIENT_USER_TIMEOUT_MS,
    KEEPALIVE_IDLE_SECONDS,
    KEEPALIVE_INTERVAL_SECONDS,
    KEEPALIVE_PROBES,
)

from .lab import (
    BIG_FILE,
    CONNECTION_LOST,
    DOWNLOAD_DIR,
    SERVER_CLOSING,
    SMALL_FILE,
    SPANISH_FILE,
    TIMEOUT,
    assert_least_privileged,
    can_shape_links,
    drop_incoming,
    dropped_packets,
    limit_rate,
    limit_rate_to,
    unlimit,
    wait_until,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(can_shape_links() is not None, reason=str(can_shape_links())),
]

SAVED_BIG = re.compile(rf"^Guardado .*{re.escape(BIG_FILE)}")
DOWNLOADING = f"Descargando {BIG_FILE}"
KILL_SERVER_PROCESS = (
    "import os, signal\n"
    "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
    "    with open(f'/proc/{pid}/cmdline', 'rb') as f:\n"
    "        if f.read().split(b'\\0')[:3] == [b'python3', b'-m', b'ftplab.server']:\n"
    "            os.kill(int(pid), signal.SIGKILL)\n"
)


LOST_PEER_BOUND = (
    max(KEEPALIVE_IDLE_SECONDS + KEEPALIVE_INTERVAL_SECONDS * KEEPALIVE_PROBES, CLIENT_USER_TIMEOUT_MS / 1000)
    + 10.0
)
"""How long one side may take to notice that the other machine is gone: what TCP keepalive
and the client's user timeout allow (about 12 s), plus room for a loaded machine."""


def _slow_download(lab, server, host, rate: str = "1mbit"):
    """`host`'s client asks for the big file over a link capped at `rate`; returns the client
    once the download has started (its header arrived), far from finished."""
    client = host.interactive("alice")
    limit_rate_to(server, host.ip, rate)
    client.send(f"get {BIG_FILE}")
    client.expect(DOWNLOADING)
    return client


def _assert_slot_freed(lab, server, expected_who: str, host=None) -> None:
    """A new machine is let in (the server has max_clients=2 and one other client)."""
    code, out, err = (host or lab.client_host("carol", server)).session("carol", ["who"])
    assert code == 0, (code, out, err)
    assert expected_who in out, out


# --- a client machine fails -------------------------------------------------------------


def test_paused_client_is_dropped_its_slot_reused_and_it_fails_cleanly(lab):
    server = lab.server(max_clients=2, data_timeout=2)
    bob = lab.client_host("bob", server).interactive("bob")
    alice_host = lab.client_host("alice", server)
    alice = _slow_download(lab, server, alice_host)

    alice_host.pause()  # frozen: it takes no more data
    server.wait_for_log(re.compile(r"disconnect alice@\S+ \(no data taken for 2 s\)"))
    _assert_slot_freed(lab, server, "Conectados (2): bob, carol")
    bob.send("who")
    bob.expect("Conectados (1): bob")  # carol came and went; alice is gone

    unlimit(server)
    alice_host.unpause()
    assert alice.wait() == 1, alice.transcript()
    assert CONNECTION_LOST in alice.stderr.text, alice.stderr.text
    assert alice_host.files() == [], "nothing under the final name, no .part left"
    assert bob.quit() == 0


def _writing_in(machine, directory: str) -> bool:
    """The client holds a file open in `directory`: its temporary download, which has no
    name at all (O_TMPFILE) and shows in /proc as 'DIR/#INODE (deleted)'."""
    code, out, _ = machine.exec(["sh", "-c", "ls -l /proc/[0-9]*/fd/ 2>/dev/null"])
    return code == 0 and f" -> {directory}/" in out


def test_stopped_client_machine_mid_download_removes_its_partial_file(lab):
    server = lab.server(max_clients=2, data_timeout=3)
    alice = lab.main_client("alice", server)  # the container's main process: docker stop signals it
    bob = lab.client_host("bob", server).interactive("bob")
    limit_rate_to(server, alice.ip, "1mbit")
    alice.send(f"get {BIG_FILE}")
    alice.wait_for_output(DOWNLOADING)
    downloads = alice.volume_of(DOWNLOAD_DIR)
    wait_until(
        lambda: _writing_in(alice, DOWNLOAD_DIR),
        message="the download's temporary file open",
        timeout=TIMEOUT,
    )

    took = alice.stop(timeout=10)
    assert took < 5, f"docker stop of a client took {took:.1f} s"
    assert alice.exit_code() == 143, alice.logs()  # SIGTERM: 128 + 15
    assert lab.volume_listing(downloads) == [], "no final name and no .part after SIGTERM"
    server.wait_for_log(re.compile(r"disconnect alice@"))
    _assert_slot_freed(lab, server, "Conectados (2): bob, carol")
    assert bob.quit() == 0


def test_killed_client_machine_mid_download_frees_its_slot_and_no_final_name(lab):
    server = lab.server(max_clients=2, data_timeout=2)
    bob = lab.client_host("bob", server).interactive("bob")
    alice_host = lab.client_host("alice", server)
    alice = _slow_download(lab, server, alice_host)
    downloads = alice_host.volume_of(DOWNLOAD_DIR)

    alice_host.kill()
    alice.wait()
    server.wait_for_log(re.compile(r"disconnect alice@"))
    _assert_slot_freed(lab, server, "Conectados (2): bob, carol")
    assert BIG_FILE not in lab.volume_listing(downloads)
    assert bob.quit() == 0


def test_killed_client_machine_leaves_no_partial_file(lab):
    server = lab.server()
    alice = lab.main_client("alice", server)
    limit_rate_to(server, alice.ip, "1mbit")
    alice.send(f"get {BIG_FILE}")
    alice.wait_for_output(DOWNLOADING)
    downloads = alice.volume_of(DOWNLOAD_DIR)
    alice.kill()
    alice.wait_for_status("exited")
    # The same machine started again: a new client session in the same download directory.
    alice.container.start()
    alice.wait_for_output(re.compile(r"Hola, alice\..*"))
    wait_until(lambda: server.stderr_log().count("joined alice@") == 2, message="alice back", timeout=TIMEOUT)
    assert lab.volume_listing(downloads) == []


def test_client_machine_cut_from_the_network_is_dropped_and_fails_cleanly_on_return(lab):
    server = lab.server(max_clients=2, data_timeout=2)
    bob = lab.client_host("bob", server).interactive("bob")
    alice_host = lab.client_host("alice", server)
    carol_host = lab.client_host("carol", server)  # before alice's address is free for others
    alice = _slow_download(lab, server, alice_host)
    address = alice_host.ip

    alice_host.disconnect()  # the cable is pulled: nothing is acknowledged any more
    # the data timeout, as the loop measures it or as TCP_USER_TIMEOUT (the same 2 s) does
    server.wait_for_log(
        re.compile(r"disconnect alice@\S+ \((no data taken for 2 s|\w+ failed: .*timed out)\)")
    )
    _assert_slot_freed(lab, server, "Conectados (2): bob, carol", carol_host)

    alice_host.connect(address)  # plugged in again; the server forgot this connection
    alice.send("who")
    assert alice.wait() == 1, alice.transcript()
    assert CONNECTION_LOST in alice.stderr.text, alice.stderr.text
    assert alice_host.files() == [], "nothing under the final name, no .part left"
    assert bob.quit() == 0


def test_idle_client_machine_cut_from_the_network_frees_its_slot(lab):
    """With no idle timeout (as in compose.yaml) and nothing in our queue, only TCP tells
    either side that the other machine is gone: keepalive when everything was
    acknowledged, the user timeout (the server's --data-timeout) when the last reply's
    acknowledgement was lost with the cable (kernel retransmissions alone would hold the
    slot for about 15 minutes)."""
    server = lab.server(max_clients=2, idle_timeout=0, data_timeout=4)
    bob = lab.client_host("bob", server).interactive("bob")
    alice_host = lab.client_host("alice", server)
    carol_host = lab.client_host("carol", server)  # before alice's address is free for others
    alice = alice_host.interactive("alice")
    alice.send("who")
    alice.expect("Conectados (2): alice, bob")

    alice_host.disconnect()  # idle on both sides: no data in flight to time out
    gone = re.compile(r"disconnect alice@\S+ \(receive failed: .*timed out")
    server.wait_for_log(gone, timeout=LOST_PEER_BOUND)
    _assert_slot_freed(lab, server, "Conectados (2): bob, carol", carol_host)
    assert alice.wait(LOST_PEER_BOUND) == 1, alice.transcript()
    assert CONNECTION_LOST in alice.stderr.text, alice.stderr.text
    assert bob.quit() == 0


# --- the server machine fails -------------------------------------------------------------


def test_server_stopped_before_a_download_clients_get_its_goodbye(lab):
    server = lab.server()
    alice_host = lab.client_host("alice", server)
    alice = alice_host.interactive("alice")
    limit_rate_to(server, alice_host.ip, "1mbit")  # a slow link, nothing in flight on it
    alice.send("who")
    alice.expect("Conectados (1): alice")

    took = server.stop(timeout=10)
    assert took < 5 and server.exit_code() == 0, (took, server.logs())
    assert alice.wait() == 3, alice.transcript()  # a planned shutdown
    assert SERVER_CLOSING in alice.stderr.text, alice.stderr.text
    assert alice_host.files() == []


def test_server_stopped_mid_download_clients_get_its_goodbye_and_no_file(lab):
    server = lab.server()
    alice_host = lab.client_host("alice", server)
    alice = _slow_download(lab, server, alice_host)

    took = server.stop(timeout=10)
    assert took < 5 and server.exit_code() == 0, (took, server.logs())
    assert alice.wait(LOST_PEER_BOUND) in (1, 3), alice.transcript()  # lost, or a planned shutdown
    # The goodbye cannot overtake the file data already queued on a slow link; the
    # client learns it from the goodbye, the reset or its keepalive: clearly, either way.
    stderr = alice.stderr.text
    assert SERVER_CLOSING in stderr or CONNECTION_LOST in stderr, stderr
    assert alice_host.files() == [], "nothing under the final name, no .part left"


def test_server_killed_mid_download_clients_report_the_lost_connection(lab):
    server = lab.server()
    alice_host = lab.client_host("alice", server)
    alice = _slow_download(lab, server, alice_host)

    server.kill()
    assert alice.wait(LOST_PEER_BOUND) == 1, alice.transcript()
    assert CONNECTION_LOST in alice.stderr.text, alice.stderr.text
    assert alice_host.files() == [], "nothing under the final name, no .part left"


def test_server_killed_between_downloads_clients_report_the_lost_connection(lab):
    server = lab.server()
    alice_host = lab.client_host("alice", server)
    alice = alice_host.interactive("alice")
    alice.send(f"get {SMALL_FILE}")
    alice.expect(re.compile(rf"^Guardado .*{re.escape(SMALL_FILE)}"))

    server.kill()
    assert alice.wait(LOST_PEER_BOUND) == 1, alice.transcript()
    assert CONNECTION_LOST in alice.stderr.text, alice.stderr.text
    assert alice_host.files() == [SMALL_FILE]


def test_crashed_server_is_restarted_by_its_policy_and_serves_new_clients(lab):
    server = lab.server(restart_policy={"Name": "on-failure"})  # as in compose.yaml
    alice_host = lab.client_host("alice", server)
    alice = alice_host.interactive("alice")
    server.joined_line("alice")

    # The server process dies (as if it crashed, or the OOM killer took it). `docker kill`
    # would not do: the engine counts it as a manual stop and does not restart the container.
    server.exec(["python3", "-c", KILL_SERVER_PROCESS])  # ends with the container: no status
    assert alice.wait() == 1, alice.transcript()
    assert CONNECTION_LOST in alice.stderr.text, alice.stderr.text

    wait_until(
        lambda: server.inspect()["RestartCount"] >= 1 and server.status == "running",
        message="the restart policy to start the server again",
        timeout=TIMEOUT,
    )
    wait_until(
        lambda: len(re.findall(r"listening on ", server.stderr_log())) == 2,
        message="listening again",
        timeout=TIMEOUT,
    )
    code, out, err = alice_host.session("alice", ["who", f"get {SMALL_FILE}"])
    assert code == 0, (out, err)
    assert "Conectados (1): alice" in out and "Guardado" in out, out
    assert alice_host.sha256(f"{DOWNLOAD_DIR}/{SMALL_FILE}") == server.served_sha256(SMALL_FILE)


def test_paused_server_holds_its_clients_and_the_download_resumes_intact(lab):
    server = lab.server()
    alice_host = lab.client_host("alice", server)
    carol_host = lab.client_host("carol", server)
    alice = _slow_download(lab, server, alice_host, rate="4mbit")

    server.pause()
    # Frozen: the kernel still completes a new connection, but nobody greets it.
    code, out, err = carol_host.session("carol", ["who"], timeout=3)
    assert code == 124 and "Hola" not in out, (code, out, err)
    server.unpause()

    alice.expect(SAVED_BIG, timeout=60)
    assert alice_host.sha256(f"{DOWNLOAD_DIR}/{BIG_FILE}") == server.served_sha256(BIG_FILE)
    assert alice.quit() == 0
    code, out, err = carol_host.session("carol", ["who"])
    assert code == 0 and "Conectados (1): carol" in out, (out, err)


def test_server_cut_from_the_network_briefly_the_download_completes_intact(lab):
    server = lab.server()
    alice_host = lab.client_host("alice", server)
    bob_host = lab.client_host("bob", server)
    alice = _slow_download(lab, server, alice_host, rate="4mbit")
    address = server.ip

    server.disconnect()
    # The outage is real: another machine cannot reach the server's address.
    code, out, err = bob_host.session("bob", ["who"], args=["--host", address], timeout=20)
    assert code == 1 and "No se puede conectar" in err, (code, out, err)
    server.connect(address)

    alice.expect(SAVED_BIG, timeout=60)
    assert alice_host.sha256(f"{DOWNLOAD_DIR}/{BIG_FILE}") == server.served_sha256(BIG_FILE)
    assert alice_host.files() == [BIG_FILE]
    assert alice.quit() == 0


# --- a bad link ---------------------------------------------------------------------


def test_degraded_link_downloads_arrive_byte_identical_and_chat_flows(lab):
    server = lab.server()
    alice_host = lab.client_host("alice", server)
    bob_host = lab.client_host("bob", server)
    alice = alice_host.interactive("alice")
    bob = bob_host.interactive("bob")

    limit_rate(server, "16mbit")  # everything the server sends (no netem: no added delay)
    drop_incoming(alice_host, 0.03)  # 3 % of the packets to alice are lost
    drop_incoming(server, 0.03)  # and 3 % of what reaches the server
    alice.send(f"get {BIG_FILE}")
    alice.send("hola desde un enlace malo")
    bob.send(f"get {BIG_FILE}")
    bob.expect("alice> hola desde un enlace malo", timeout=60)
    alice.expect(SAVED_BIG, timeout=90)
    bob.expect(SAVED_BIG, timeout=90)

    digest = server.served_sha256(BIG_FILE)
    for host in (alice_host, bob_host):
        assert host.sha256(f"{DOWNLOAD_DIR}/{BIG_FILE}") == digest, host.name
        assert host.files() == [BIG_FILE], host.name
    assert dropped_packets(alice_host) > 0 and dropped_packets(server) > 0, "the link really lost packets"
    assert alice.quit() == 0 and bob.quit() == 0


RELAY_DELAY_MS = 150


def _round_trip(client, command: str, answer: str) -> float:
    """Seconds from typing `command` to its `answer` on the client's screen."""
    start = time.monotonic()
    client.send(command)
    client.expect(answer)
    return time.monotonic() - start


@pytest.mark.parametrize("rate", [None, "16mbit"], ids=["delay", "delay-and-cap"])
def test_high_latency_link_downloads_arrive_byte_identical_and_chat_flows(lab, rate):
    server = lab.server()
    relay = lab.relay("relay", server, delay_ms=RELAY_DELAY_MS)  # no netem: delay in user space
    alice_host = lab.client_host("alice", relay)  # FTPLAB_HOST=relay
    bob_host = lab.client_host("bob", relay)
    alice = alice_host.interactive("alice")
    bob = bob_host.interactive("bob")
    # Both really come through the relay: the server sees them at the relay's address.
    assert server.address_of("alice") == server.address_of("bob") == relay.ip

    # The path is slow: an answer cannot come before the request has crossed the link and the
    # answer has crossed back. A lower bound only: that is what proves the delay is there.
    took = min(_round_trip(alice, "who", "Conectados (2): alice, bob") for _ in range(3))
    assert took >= 2 * RELAY_DELAY_MS / 1000, f"who answered in {took:.3f} s: no delay on the path"

    if rate:
        limit_rate(relay, rate)  # and everything the relay sends is capped, both ways
    alice.send(f"get {BIG_FILE}")
    alice.send(f"get {SPANISH_FILE}")
    alice.send("hola desde lejos")
    bob.send(f"get {BIG_FILE}")
    bob.expect("alice> hola desde lejos", timeout=60)
    bob.send("te leo, alice")
    # Chat and "Guardado" lines arrive in any order: look from the start of each output.
    saved = [re.compile(rf"^Guardado .*{re.escape(name)}") for name in (BIG_FILE, SPANISH_FILE)]
    for client, patterns in ((alice, [*saved, "bob> te leo, alice"]), (bob, saved[:1])):
        for pattern in patterns:
            client.stdout.wait_for(pattern, timeout=60)

    for name, hosts in ((BIG_FILE, (alice_host, bob_host)), (SPANISH_FILE, (alice_host,))):
        digest = server.served_sha256(name)
        for host in hosts:
            assert host.sha256(f"{DOWNLOAD_DIR}/{name}") == digest, (host.name, name)
    assert alice_host.files() == sorted([BIG_FILE, SPANISH_FILE]) and bob_host.files() == [BIG_FILE]
    assert alice.quit() == 0 and bob.quit() == 0, (alice.transcript(), bob.transcript())
    # Each end of a connection crossed the relay in order: both pairs closed, none reset.
    wait_until(
        lambda: relay.logs().count("delay-relay: closed ") == 2,
        message="the relay to close both",
        timeout=TIMEOUT,
    )
    assert "aborted" not in relay.logs(), relay.logs()


# --- least privilege -------------------------------------------------------------------


def test_test_machines_run_least_privileged(lab):
    server = lab.server()
    host = lab.client_host("alice", server)
    relay = lab.relay("relay", server, delay_ms=0)
    assert_least_privileged(server.container, "/srv/files")
    assert_least_privileged(host.container, DOWNLOAD_DIR)
    assert_least_privileged(relay.container, "/tmp")
    code, out, err = host.session("alice", [f"get {SMALL_FILE}"])
    assert code == 0 and "Guardado" in out, (out, err)
