"""The classroom (scripts/lab): a class of students, the published port, the client image on
its own, status, a capture decoded by the Wireshark dissector, impaired links, clean server
logs with a teacher's console that still redraws, export and import, and no untagged images.

One lab of four students (alice, bob, carol, student04) serves the module's tests; each test
adds its own clients and leaves the lab as it found it."""

from __future__ import annotations

import contextlib
import io
import os
import pty
import re
import select
import signal
import socket
import subprocess
import time
import uuid

import docker
import pytest

from support.tshark import decode, require_tshark

from .classroom import LAB, LabScript
from .lab import BIG_FILE, E2E_TAG, SERVED_DIR, TIMEOUT, client_session, wait_until

pytestmark = pytest.mark.e2e

STUDENTS = ["alice", "bob", "carol", "student04"]
LOGO = "logo.png"


def _throwaway_image(docker_client, base: str, tag: str) -> str:
    """An image tagged `tag` that a rebuild will displace: what an older build leaves."""
    dockerfile = f"FROM {base}\nLABEL ftplab.e2e.old={uuid.uuid4().hex}\n"
    image, _ = docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    return image.id


@pytest.fixture(scope="module")
def classroom(docker_client, e2e_images):
    lab = LabScript(docker_client, e2e_images["base"])
    # An older client image under the tag: `up` rebuilds and must not leave it behind untagged.
    old_image = _throwaway_image(docker_client, e2e_images["client"], e2e_images["client"])
    try:
        lab.up_output = lab.check("up", "--students", "4", "--publish")
        lab.old_image = old_image
        yield lab
    finally:
        lab.down()
        with contextlib.suppress(docker.errors.ImageNotFound):  # if `up` failed to remove it
            docker_client.images.remove(old_image)


@pytest.fixture(autouse=True)
def _show_lab_logs_on_failure(request):
    if "classroom" in request.fixturenames:
        request.node._ftplab_compose = request.getfixturevalue("classroom")


def test_up_gives_each_student_a_name_an_address_and_a_seat_at_the_server(classroom):
    for number, name in enumerate(["server", *STUDENTS], start=10):
        container = classroom.container(name)
        networks = container.attrs["NetworkSettings"]["Networks"]
        assert [n["IPAddress"] for n in networks.values()] == [classroom.address(number)], name
        assert container.attrs["Config"]["Hostname"] == name
    for name in STUDENTS:
        classroom.wait_for_server_log(f"joined {name}@")

    status = wait_until(
        lambda: (out := classroom.check("status")) and "Connected to the server (4)" in out and out,
        message="status to list the four students as connected",
    )
    for number, name in enumerate(["server", *STUDENTS], start=10):
        assert re.search(rf"^\s+{name}\s+{re.escape(classroom.address(number))}\s+running", status, re.M), (
            status
        )
    assert "alice, bob, carol, student04" in status


def test_up_leaves_no_untagged_image_behind(classroom, docker_client):
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(classroom.old_image)


def test_the_published_port_takes_a_client_from_this_computer(classroom):
    with socket.create_connection(("127.0.0.1", classroom.published_port()), timeout=TIMEOUT) as sock:
        lines = sock.makefile("rb")
        sock.sendall(b"visitante> \n")
        assert lines.readline().startswith(b"profe> !HELLO "), "no welcome on the published port"
        sock.sendall(b"visitante> quit\n")
        assert lines.readline().startswith(b"profe> !BYE "), "no goodbye"
        lines.close()
    classroom.wait_for_server_log("disconnect visitante@")


def test_the_client_image_runs_on_its_own_like_on_a_student_computer(classroom):
    server_address = classroom.address(10)
    command = ["docker", "run", "--rm", "-i", "--network", classroom.network_name()]
    command += [f"ftplab/client:{E2E_TAG}", "--host", server_address, "--name", "ana"]
    result = subprocess.run(command, input="who\nquit\n", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert re.search(r"Conectados \(5\): alice, ana, bob, carol, student04", result.stdout), result.stdout


def test_server_logs_are_clean_text_and_the_teachers_console_redraws(classroom):
    token = uuid.uuid4().hex[:8]
    pid, terminal = pty.fork()
    if pid == 0:  # the child: scripts/lab attach server, on a terminal
        try:
            os.execve(str(LAB), [str(LAB), "attach", "server"], classroom.env)
        finally:
            os._exit(127)
    screen = b""
    try:
        screen = _read_until(terminal, b"profe> ", screen)
        os.write(terminal, b"hola clase")  # half a line, when a student's chat arrives
        code, out, err = client_session(classroom.container("alice"), "alice5", [f"pregunta {token}", "quit"])
        assert code == 0, (out, err)
        # The chat is printed above, then the half-typed line is drawn again under it.
        chat = f"alice5> pregunta {token}".encode()
        screen = _read_until(terminal, chat, screen)
        chat_at = screen.index(chat)
        screen = screen[:chat_at] + _read_until(terminal, b"\x1b[Kprofe> hola clase", screen[chat_at:])
        os.write(terminal, f" {token}\r".encode())
        wait_until(
            lambda: (
                f"profe> hola clase {token}" in classroom.container("bob").logs().decode("utf-8", "replace")
            ),
            message="the teacher's line on bob's screen",
        )
        os.write(terminal, b"\x04")  # Ctrl-D: leave the console
        screen = _read_until(terminal, None, screen)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        _, status = os.waitpid(pid, 0)
        os.close(terminal)
    assert os.waitstatus_to_exitcode(status) == 0, screen
    assert "\x1b" not in classroom.server_log(), "docker logs of the server has terminal codes"
    assert "\x1b" not in classroom.check("logs", "server"), "scripts/lab logs server has terminal codes"
    assert classroom.container("server").status == "running"


def _read_until(fd: int, wanted: bytes | None, screen: bytes) -> bytes:
    """Read the terminal until `wanted` appears (None: until it closes)."""
    deadline = time.monotonic() + TIMEOUT
    while wanted is None or wanted not in screen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"waited for {wanted!r} on the terminal: {screen!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the other side closed
            chunk = b""
        if not chunk:
            assert wanted is None, f"the terminal closed before {wanted!r}: {screen!r}"
            return screen
        screen += chunk
    return screen


def test_a_captured_session_decodes_in_the_wireshark_dissector(classroom, tmp_path):
    require_tshark()
    pcap = tmp_path / "session.pcap"
    capture = classroom.popen("capture", "server", "--seconds", "120", "-w", str(pcap))
    stderr = b""
    try:
        stderr = _read_stream_until(capture.stderr, b"listening on eth0")
        commands = [
            "list",
            f"get {LOGO}",
            f"get {BIG_FILE}",
            "get nada.txt",
            "who",
            "hola desde la captura",
            "quit",
        ]
        code, out, err = client_session(
            classroom.container("alice"), "alice2", commands, args=["--download-dir", "/tmp"]
        )
        assert code == 4, (out, err)  # `get nada.txt` failed, as it should: exit status 4
        classroom.wait_for_server_log("disconnect alice2@")
        os.killpg(capture.pid, signal.SIGINT)
        capture.wait(TIMEOUT)
    finally:
        if capture.poll() is None:
            os.killpg(capture.pid, signal.SIGKILL)
            capture.wait(TIMEOUT)
        stderr += capture.stderr.read()
        capture.stdout.close()
        capture.stderr.close()
    assert capture.returncode == 0, stderr.decode("utf-8", "replace")
    assert pcap.stat().st_size > 4 * 1024 * 1024
    assert not list(tmp_path.glob("*.partial")), "no partial capture left"

    fields = decode(pcap)
    assert {"alice2", "profe"} <= set(fields["sender"])
    assert fields["command"] == ["join", "list", "get", "get", "get", "who", "chat", "quit"]
    assert "nofile" in fields["err.code"]
    assert {"HELLO", "FILE", "DATA", "ERR", "BYE"} <= set(fields["control"])
    served = classroom.container("server")
    sizes = {
        name: int(_exec(served, "stat", "-c", "%s", f"{SERVED_DIR}/{name}")) for name in (LOGO, BIG_FILE)
    }
    assert fields["file.name"][-2:] == [LOGO, BIG_FILE]
    assert [int(size) for size in fields["file.size"][-2:]] == [sizes[LOGO], sizes[BIG_FILE]]
    downloads = list(zip(fields["download"], (int(n) for n in fields["data.length"]), strict=True))
    for name, size in sizes.items():
        assert sum(length for file_name, length in downloads if file_name == name) == size, name
    assert len([1 for file_name, _ in downloads if file_name == BIG_FILE]) > 1, (
        "the big file came in many frames"
    )


def test_a_capture_stops_by_itself_after_its_seconds(classroom, tmp_path):
    started = time.monotonic()
    output = classroom.check("capture", "bob", "--seconds", "2", "-w", "bob.pcap", cwd=tmp_path)
    assert time.monotonic() - started < TIMEOUT, output
    magic = (tmp_path / "bob.pcap").read_bytes()[:4]
    assert magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4"), "a pcap file, written where the command ran"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bob.pcap"], "nothing else left behind"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["term", "hup"])
def test_a_capture_told_to_stop_keeps_what_it_caught_and_leaves_no_container(classroom, tmp_path, stop):
    """`timeout 60 scripts/lab capture`, a kill, a closed terminal: the signal goes to the script
    alone, which stops tcpdump and writes the file as for a Ctrl-C."""
    capture = classroom.popen("capture", "server", "--seconds", "120", "-w", str(tmp_path / "server.pcap"))
    try:
        _read_stream_until(capture.stderr, b"listening on eth0")
        capture.send_signal(stop)
        capture.wait(TIMEOUT)
    finally:
        if capture.poll() is None:
            os.killpg(capture.pid, signal.SIGKILL)
            capture.wait(TIMEOUT)
        stderr = capture.stderr.read().decode("utf-8", "replace")
        capture.stdout.close()
        capture.stderr.close()
    assert capture.returncode == 0, stderr
    magic = (tmp_path / "server.pcap").read_bytes()[:4]
    assert magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4"), "a pcap file"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["server.pcap"], "nothing else left behind"
    left = classroom.docker.containers.list(all=True, filters={"name": f"{classroom.project}-capture-"})
    assert not left, [container.name for container in left]


def _read_stream_until(stream, wanted: bytes) -> bytes:
    seen = b""
    deadline = time.monotonic() + TIMEOUT
    fd = stream.fileno()
    while wanted not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"waited for {wanted!r}: {seen!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 4096)
            assert chunk, f"ended before {wanted!r}: {seen!r}"
            seen += chunk
    return seen


def _exec(container, *argv: str) -> str:
    result = container.exec_run(list(argv))
    assert result.exit_code == 0, result.output
    return result.output.decode("utf-8", "replace")


def _tools(classroom, service: str, *argv: str) -> str:
    """A command of the tools image in `service`'s network namespace; its output."""
    container = classroom.container(service)
    command = ["docker", "run", "--rm", "--network", f"container:{container.id}", "--cap-add", "NET_ADMIN"]
    result = subprocess.run(
        [*command, classroom.tools_image, *argv], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_impair_limits_the_rate_to_one_student_and_heal_takes_it_away(classroom):
    rate = 16e6  # bits per second
    classroom.check("impair", "server", "--rate", "16mbit", "--to", "alice")
    assert "rate 16mbit to alice" in classroom.check("status")
    try:
        started = time.monotonic()
        code, out, err = client_session(
            classroom.container("alice"),
            "alice3",
            [f"get {BIG_FILE}", "quit"],
            args=["--download-dir", "/tmp"],
        )
        took = time.monotonic() - started
        assert code == 0, (out, err)
        size = int(_exec(classroom.container("server"), "stat", "-c", "%s", f"{SERVED_DIR}/{BIG_FILE}"))
        # A lower bound only: the link cannot deliver faster than its rate (less a burst).
        assert took >= 0.8 * size * 8 / rate, f"{size} bytes in {took:.2f} s: faster than 16 mbit/s"
        classes = _tools(classroom, "server", "tc", "-s", "class", "show", "dev", "eth0")
        limited = re.search(r"class htb 1:20 .*?Sent (\d+) bytes", classes, re.S)
        assert limited and int(limited.group(1)) >= size, classes
    finally:
        classroom.check("heal", "server")
    assert "htb" not in _tools(classroom, "server", "tc", "qdisc", "show", "dev", "eth0")
    assert not re.search(r"^\s+server\s.*rate", classroom.check("status"), re.M)


GETS_UNDER_LOSS = 10
"""One logo is about 20 packets in: a 20 % drop spared them all in about 1 % of runs (0.8 ** 20),
and the test saw no drop. Ten bring about 150: 0.8 ** 150 is about 3e-15."""


def test_impair_drops_a_share_of_a_students_packets_and_tcp_still_delivers(classroom):
    classroom.check("impair", "bob", "--loss", "20%")
    try:
        code, out, err = client_session(
            classroom.container("bob"),
            "bob2",
            [*[f"get {LOGO}"] * GETS_UNDER_LOSS, "who", "quit"],
            args=["--download-dir", "/tmp"],
        )
        assert code == 0, (out, err)
        rules = _tools(classroom, "bob", "iptables", "-w", "5", "-L", "ftplab-impair", "-v", "-n", "-x")
        dropped = sum(int(line.split()[0]) for line in rules.splitlines() if "DROP" in line)
        assert dropped > 0, rules
        assert "statistic mode random probability 0.2" in rules
        assert "loss 20% in" in classroom.check("status")
    finally:
        classroom.check("heal", "bob")
    assert "ftplab-impair" not in _tools(classroom, "bob", "iptables", "-w", "5", "-S")


def test_impair_delay_needs_netem_and_says_so_where_the_kernel_has_none(classroom):
    code, out, err = classroom.run("impair", "carol", "--delay", "100ms")
    if code == 3:
        assert "netem" in err and "Nothing was changed" in err, err
        assert "qdisc netem" not in _tools(classroom, "carol", "tc", "qdisc", "show", "dev", "eth0")
        pytest.skip(
            f"not run: this kernel has no netem, and scripts/lab says so: {err.strip().splitlines()[0]}"
        )
    assert code == 0, (out, err)
    try:
        assert "netem" in _tools(classroom, "carol", "tc", "qdisc", "show", "dev", "eth0")
    finally:
        classroom.check("heal", "carol")


def test_impair_refuses_bad_input_with_a_clear_message(classroom):
    for args, message in (
        (["impair", "alice", "--rate", "fast"], "--rate needs a rate"),
        (["impair", "alice", "--loss", "150%"], "--loss needs a share"),
        (["impair", "alice"], "say what"),
        (["impair", "nadie", "--rate", "1mbit"], "no machine called 'nadie'"),
    ):
        code, _, err = classroom.run(*args)
        assert code != 0 and message in err, (args, code, err)


def test_export_writes_both_images_to_one_tar_that_import_loads(classroom, docker_client, tmp_path):
    tag = f"{E2E_TAG}-export-{uuid.uuid4().hex[:6]}"
    images = {
        f"ftplab/{kind}:{tag}": docker_client.images.get(f"ftplab/{kind}:{E2E_TAG}")
        for kind in ("server", "client")
    }
    for name, image in images.items():
        image.tag(name)
    settings = {**classroom.env, "FTPLAB_IMAGE_TAG": tag}
    try:
        exported = subprocess.run(
            [str(LAB), "export", "aula.tar"],
            env=settings,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert exported.returncode == 0, exported.stderr
        assert (tmp_path / "aula.tar").stat().st_size > 0
        assert not list(tmp_path.glob("*.partial"))
        for name in images:
            docker_client.images.remove(name)
        imported = subprocess.run(
            [str(LAB), "import", "aula.tar"],
            env=settings,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert imported.returncode == 0, imported.stderr
        for name, image in images.items():
            assert docker_client.images.get(name).id == image.id, name
        assert f"docker run -it --rm ftplab/client:{tag}" in imported.stderr
    finally:
        for name in images:
            with contextlib.suppress(Exception):
                docker_client.images.remove(name)


def test_up_with_a_published_port_says_an_address_to_connect_to(classroom):
    # The tests publish on 127.0.0.1 only: said as such, never "connect at 0.0.0.0".
    assert "0.0.0.0" not in classroom.up_output, classroom.up_output
    port = classroom.published_port()
    assert f"published on this computer only: connect at 127.0.0.1:{port}" in classroom.up_output


def _status_line(classroom, name: str) -> str:
    status = classroom.check("status")
    line = re.search(rf"^\s+{name}\s.*$", status, re.M)
    assert line, status
    return line.group(0)


def test_status_keeps_impairments_in_force_through_an_up_that_recreates_nothing(classroom):
    classroom.check("impair", "alice", "--loss", "10%")
    try:
        before = classroom.container("alice").id
        classroom.check("up", "--students", "4", "--publish")  # the same class: nothing is recreated
        assert classroom.container("alice").id == before
        assert "loss 10% in" in _status_line(classroom, "alice")
        rules = _tools(classroom, "alice", "iptables", "-w", "5", "-S")
        assert "ftplab-impair" in rules, "the impairment is still in force"
        # A restart gives alice a new network namespace: nothing is in force, and status says so.
        classroom.container("alice").restart(timeout=5)
        wait_until(lambda: classroom.container("alice").status == "running", message="alice running again")
        assert "ftplab-impair" not in _tools(classroom, "alice", "iptables", "-w", "5", "-S")
        assert _status_line(classroom, "alice").split()[-1] == "-"
    finally:
        classroom.check("heal", "alice")


def test_status_shows_an_exited_student_in_the_right_columns(classroom):
    student = classroom.container("student04")
    student.stop(timeout=5)  # stopped by hand: the restart policy leaves it stopped
    try:
        line = _status_line(classroom, "student04")
        # MACHINE, ADDRESS (none while stopped), STATE, IMPAIRMENTS
        assert re.match(r"^\s+student04\s+-\s+exited\S*\s+-$", line), line
    finally:
        student.start()
        wait_until(lambda: classroom.container("student04").status == "running", message="student04 back")


def test_logs_of_every_machine_have_machine_prefixes_and_no_terminal_codes(classroom):
    out = classroom.check("logs")
    assert "\x1b" not in out, "scripts/lab logs has terminal codes"
    assert re.search(r"^\S*server\S*\s+\|", out, re.M), out[-2000:]
    assert re.search(r"^\S*alice\S*\s+\|", out, re.M), out[-2000:]


def test_attach_logs_and_exec_of_an_unknown_machine_name_it_and_exit_2(classroom):
    for args in (["attach", "nadie"], ["logs", "nadie"], ["exec", "nadie", "ls"]):
        code, out, err = classroom.run(*args)
        assert code == 2, (args, code, out, err)
        assert err.strip() == (
            "lab: no machine called 'nadie' in the lab (machines: server alice bob carol student04)"
        ), err


def test_files_add_puts_files_and_folders_on_the_server_owned_by_its_user(classroom, tmp_path):
    token = uuid.uuid4().hex[:8]
    (tmp_path / f"apuntes-{token}.txt").write_text("tema 1\n")
    folder = tmp_path / f"practica-{token}"
    folder.mkdir()
    (folder / "enunciado.txt").write_text("ejercicio\n")
    out = classroom.check("files", "add", f"apuntes-{token}.txt", folder.name, cwd=tmp_path)
    assert "2 added" in out, out
    server = classroom.container("server")
    owners = _exec(
        server, "stat", "-c", "%u %n", f"{SERVED_DIR}/apuntes-{token}.txt", f"{SERVED_DIR}/practica-{token}"
    )
    assert [line.split()[0] for line in owners.splitlines()] == ["10001", "10001"], owners
    assert _exec(server, "cat", f"{SERVED_DIR}/practica-{token}/enunciado.txt") == "ejercicio\n"
    # A name already there is kept, and said so; --replace replaces it.
    (tmp_path / f"apuntes-{token}.txt").write_text("tema 2\n")
    code, _, err = classroom.run("files", "add", f"apuntes-{token}.txt", cwd=tmp_path)
    assert code == 1 and "--replace" in err, (code, err)
    assert _exec(server, "cat", f"{SERVED_DIR}/apuntes-{token}.txt") == "tema 1\n"
    classroom.check("files", "add", "--replace", f"apuntes-{token}.txt", cwd=tmp_path)
    assert _exec(server, "cat", f"{SERVED_DIR}/apuntes-{token}.txt") == "tema 2\n"
    assert f"apuntes-{token}.txt" in classroom.check("files", "list")
    code, out, err = client_session(classroom.container("bob"), "bob7", ["list", "quit"])
    assert code == 0 and f"apuntes-{token}.txt" in out, (out, err)


def test_the_demo_passes_again_and_shows_the_real_students_no_run_numbers(classroom):
    """`scripts/lab demo` (issue 18): the real alice, bob and carol see its chat, in plain
    words (no run number to make the lines unique); a second run passes too, its checks
    telling its own lines from the first run's, which come back as earlier ones."""
    for _ in range(2):
        out = classroom.check("demo")
        assert "FAIL" not in out, out
    for name in ("alice", "bob", "carol"):
        screen = classroom.container(name).logs().decode("utf-8", "replace")
        assert "alice-demo> hola a todos, soy alice-demo" in screen, name
        assert not re.search(r"\(\d+-\d+\)", screen), f"{name} was shown a run number"


def test_up_allow_upload_and_server_options_reach_the_server_without_editing_compose(classroom):
    """Last in the module: it recreates the server (its options change), then restores the class."""
    try:
        classroom.check(
            "up", "--students", "4", "--publish", "--allow-upload", "--server-option", "max-upload-bytes=2M"
        )
        env = classroom.container("server").attrs["Config"]["Env"]
        assert "FTPLAB_ALLOW_UPLOAD=yes" in env and "FTPLAB_MAX_UPLOAD_BYTES=2M" in env, env
        code, _, err = classroom.run("up", "--students", "4", "--server-option", "no-such-option=1")
        assert code == 1 and "no option --no-such-option" in err, err
    finally:
        classroom.check("up", "--students", "4", "--publish")
    assert "FTPLAB_ALLOW_UPLOAD=yes" not in classroom.container("server").attrs["Config"]["Env"]
