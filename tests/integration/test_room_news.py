"""Who is in the room and what everyone is told of it, against a real server on 127.0.0.1:
join and leave floods limited per address (issue 19, item 3), several FTP connections of one
person (issue 17, item 2), and how uploads are named (issue 17, item 7).

All load goes to 127.0.0.0/8, bounded in count and in time."""

from __future__ import annotations

import ftplib
import io
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ftplab import protocol
from ftplab.logs import LINES_PER_WINDOW, WINDOW_SECONDS
from ftplab.news import NAMED_BURST, NAMED_PER_SECOND, SUMMARY_SECONDS
from ftplab.room import FTP_VISIT_GRACE_SECONDS
from ftplab.session import COMMANDS_PER_SECOND
from support.waiting import join_thread

from .harness import HOST, TIMEOUT, RawConnection, installed_tool

CLIENT_TIMEOUT = 20
FLOOD_CYCLES = {"lab": 1000, "ftp": 300}
MAX_CHAT_SECONDS = 1.0
"""How long the observer's `who` may take while a flood runs (a loaded machine; about 1 ms idle)."""

NAMED = re.compile(r"^(\S+) se ha (unido|ido)$")
COUNTED = re.compile(r"^Más (llegadas|salidas) en los últimos \d+ s: (\d+)$")

needs_loopback_addresses = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="127.0.0.x addresses are Linux's"
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    files = tmp_path / "files"
    (files / "sub").mkdir(parents=True)
    (files / "big.bin").write_bytes(os.urandom(8 * 1024 * 1024 + 5))
    return files


@pytest.fixture
def door(start_server, root):
    """A server with its FTP door (uploads allowed); `door.ftp_port` is the door's port."""
    server = start_server(root=root, extra_args=["--ftp-port", "0", "--allow-upload"])
    server.ftp_port = server.ftp_port()
    return server


def ftp_login(port: int, user: str, source: str | None = None) -> ftplib.FTP:
    client = ftplib.FTP(source_address=(source, 0) if source else None)
    client.connect(HOST, port, timeout=CLIENT_TIMEOUT)
    client.login(user, "x")
    return client


def news_of(observer: RawConnection) -> list[str]:
    """The server's lines about people coming and going that `observer` received."""
    return [
        event.text
        for event in observer.events
        if isinstance(event, protocol.Message)
        and event.sender == "profe"
        and (NAMED.match(event.text) or COUNTED.match(event.text))
    ]


def told(news: list[str]) -> dict[str, int]:
    """How many joins and departures the news accounts for, named or counted."""
    totals = {"unido": 0, "ido": 0}
    for line in news:
        if named := NAMED.match(line):
            totals[named.group(2)] += 1
        else:
            counted = COUNTED.match(line)
            totals["unido" if counted.group(1) == "llegadas" else "ido"] += int(counted.group(2))
    return totals


def is_news(event) -> bool:
    return isinstance(event, protocol.Message) and bool(NAMED.match(event.text) or COUNTED.match(event.text))


# --- issue 19, item 3: a join and quit flood ------------------------------------------------------------


def _lab_cycle(server, number: int) -> None:
    with RawConnection(server.port, f"evil{number}") as raw:
        raw.join()  # the others' news is out before the welcome is sent


def _ftp_cycle(server, number: int) -> None:
    ftp_login(server.ftp_port, f"evil{number}").quit()


@needs_loopback_addresses
@pytest.mark.parametrize("door_kind", ["lab", "ftp"])
def test_a_join_and_quit_flood_from_one_address_costs_everyone_a_few_lines(door, door_kind):
    cycles = FLOOD_CYCLES[door_kind]
    cycle = _lab_cycle if door_kind == "lab" else _ftp_cycle
    flood_seconds = []
    flood_over = threading.Event()
    failures: list[Exception] = []

    def flood() -> None:
        started = time.monotonic()
        try:
            for number in range(cycles):
                cycle(door, number)
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(error)
        finally:
            flood_seconds.append(time.monotonic() - started)
            flood_over.set()

    with RawConnection(door.port, "observa", source="127.0.0.2") as observer:
        observer.join()
        attacker = threading.Thread(target=flood, name="flood")
        attacker.start()
        answers = []
        try:
            while not flood_over.wait(1 / COMMANDS_PER_SECOND):  # within its own command rate
                asked = time.monotonic()
                observer.who()
                answers.append(time.monotonic() - asked)
        finally:
            join_thread(attacker, 120, "the flood")
        assert failures == [], "every cycle of the flood joined and left"
        while told(news_of(observer)) != {"unido": cycles, "ido": cycles}:
            observer.expect(is_news, timeout=SUMMARY_SECONDS + FTP_VISIT_GRACE_SECONDS + TIMEOUT)
        observer.fence()

    seconds = flood_seconds[0] + FTP_VISIT_GRACE_SECONDS
    news = news_of(observer)
    named = 2 * (NAMED_BURST + NAMED_PER_SECOND * seconds + 1)
    summaries = 2 * (seconds / SUMMARY_SECONDS + 2)
    assert len(news) <= named + summaries, f"{len(news)} lines told everyone of {cycles} joins and quits"
    assert max(answers) < MAX_CHAT_SECONDS, f"who took {max(answers):.2f} s during the flood"
    logged = [line for line in door.stderr.lines if "@127.0.0.1:" in line]
    kinds = 3  # connect, joined, disconnect
    windows = flood_seconds[0] / WINDOW_SECONDS + 2
    assert len(logged) <= kinds * LINES_PER_WINDOW * windows, f"{len(logged)} log lines for {cycles} cycles"


def test_a_class_from_thirty_computers_is_each_named(door):
    with RawConnection(door.port, "observa", source="127.0.0.2") as observer:
        observer.join()
        students = [RawConnection(door.port, f"alumno{n}", source=f"127.0.1.{n + 1}") for n in range(30)]
        try:
            for student in students:
                student.join()
            observer.fence()
        finally:
            for student in students:
                student.close()
    assert told(news_of(observer))["unido"] == 30
    assert not [line for line in news_of(observer) if COUNTED.match(line)], "nobody is only counted"


# --- issue 17, item 2: one person, several FTP connections ---------------------------------------------


@needs_loopback_addresses
def test_parallel_ftp_logins_as_one_name_are_one_person_in_who_and_in_the_news(door, start_client):
    lab = start_client(door, "lab")
    with RawConnection(door.port, "observa", source="127.0.0.2") as observer:
        observer.join()
        logins: list[ftplib.FTP] = []
        errors: list[Exception] = []
        start = threading.Barrier(4)

        def log_in() -> None:
            start.wait(TIMEOUT)
            try:
                logins.append(ftp_login(door.ftp_port, "ana"))
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=log_in) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            join_thread(thread, CLIENT_TIMEOUT, "an FTP login")
        try:
            assert errors == [], "every login as ana from one address succeeds"
            lab.send("who")
            lab.expect("profe> Conectados (3): ana (ftp ×4), lab, observa")
        finally:
            for client in logins:
                client.quit()
        observer.expect(lambda event: is_news(event) and event.text == "ana se ha ido")
        observer.fence()
    assert [line for line in news_of(observer) if line.startswith("ana ")] == [
        "ana se ha unido",
        "ana se ha ido",
    ]
    assert lab.quit() == 0


@pytest.mark.parametrize(("user", "name"), [("ana", "ana"), ("anonymous", "anon-1")])
def test_lftp_pget_with_four_connections_logs_in_each_as_the_same_person(door, root, tmp_path, user, name):
    lftp = installed_tool("lftp")
    with RawConnection(door.port, "observa") as observer:
        observer.join()
        script = (
            "set cmd:fail-exit yes; set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 10; "
            # 4 MB/s a connection: the first cannot finish before pget has opened the others
            "set pget:min-chunk-size 1024; set net:limit-rate 4M; pget -n 4 big.bin -o copia.bin; quit"
        )
        done = subprocess.run(
            [lftp, "-u", f"{user},x", "-p", str(door.ftp_port), "-e", script, HOST],
            capture_output=True,
            timeout=CLIENT_TIMEOUT * 3,
            cwd=tmp_path,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        observer.expect(lambda event: is_news(event) and event.text == f"{name} se ha ido")
        observer.fence()
    assert (tmp_path / "copia.bin").read_bytes() == (root / "big.bin").read_bytes()
    login = re.compile(rf"joined {name}@127\.0\.0\.1:\d+ \(ftp\)")
    assert len([line for line in door.stderr.lines if login.search(line)]) > 1, (
        "pget used several connections"
    )
    assert not [line for line in door.stderr.lines if "refused name" in line]
    assert news_of(observer) == [f"{name} se ha unido", f"{name} se ha ido"]


def test_five_curl_calls_in_a_row_are_one_visit(door, root, tmp_path):
    curl = installed_tool("curl")
    with RawConnection(door.port, "observa") as observer:
        observer.join()
        for call in range(5):
            done = subprocess.run(
                [
                    curl,
                    "-sS",
                    "-u",
                    "ana:x",
                    "-o",
                    str(tmp_path / f"c{call}"),
                    f"ftp://{HOST}:{door.ftp_port}/",
                ],
                capture_output=True,
                timeout=CLIENT_TIMEOUT,
                check=False,
            )
            assert done.returncode == 0, done.stderr
        observer.expect(lambda event: is_news(event) and event.text == "ana se ha ido")
        observer.fence()
    assert [line for line in news_of(observer) if line.startswith("ana ")] == [
        "ana se ha unido",
        "ana se ha ido",
    ]


@needs_loopback_addresses
def test_anonymous_logins_from_one_address_are_one_person_and_each_visit_gets_a_new_number(door):
    """FileZilla logs in again for each transfer, beside its browsing connection."""
    with RawConnection(door.port, "observa", source="127.0.0.2") as observer:
        observer.join()
        browsing, transfer = ftp_login(door.ftp_port, "anonymous"), ftp_login(door.ftp_port, "ftp")
        elsewhere = ftp_login(door.ftp_port, "anonymous", source="127.0.0.3")
        try:
            who = observer.who().text
        finally:
            for client in (browsing, transfer, elsewhere):
                client.quit()
        for name in ("anon-1", "anon-2"):
            observer.expect(lambda event, name=name: is_news(event) and event.text == f"{name} se ha ido")
        ftp_login(door.ftp_port, "anonymous").quit()  # a new visit
        observer.expect(lambda event: is_news(event) and event.text == "anon-3 se ha ido")
        observer.fence()
    assert "anon-1 (ftp ×2)" in who and "anon-2 (ftp)" in who, who
    assert sorted(news_of(observer)) == sorted(
        f"anon-{number} se ha {what}" for number in (1, 2, 3) for what in ("unido", "ido")
    )


def test_an_anonymous_login_skips_an_anon_name_someone_chose(door):
    """Before, the anonymous login got `530 name in use` for a name the door itself chose."""
    with RawConnection(door.port, "anon-1") as chosen:
        chosen.join()
        visitor = ftp_login(door.ftp_port, "anonymous")
        try:
            who = chosen.who().text
        finally:
            visitor.quit()
    assert "anon-2 (ftp)" in who, who


@needs_loopback_addresses
def test_no_name_is_taken_over_from_another_address(door):
    with RawConnection(door.port, "lab") as lab:
        lab.join()
        ana = ftp_login(door.ftp_port, "ana")
        try:
            for name in ("ana", "LAB"):
                with pytest.raises(ftplib.error_perm, match="^530 "):
                    ftp_login(door.ftp_port, name, source="127.0.0.2")
            with RawConnection(door.port, "ana", source="127.0.0.2") as thief:
                thief.send_line("")
                assert thief.expect(protocol.Error).code == "name-taken"
        finally:
            ana.quit()


# --- issue 17, item 7: uploads named from the root, without a slash ------------------------------------


def test_ftp_uploads_are_announced_without_a_leading_slash(door):
    with RawConnection(door.port, "observa") as observer:
        observer.join()
        client = ftp_login(door.ftp_port, "ana")
        try:
            client.storbinary("STOR notas.txt", io.BytesIO(b"1234"))
            client.storbinary("STOR sub/notas.txt", io.BytesIO(b"12345"))
        finally:
            client.quit()
        observer.expect(lambda event: isinstance(event, protocol.Message) and "sub/notas.txt" in event.text)
    uploads = [e.text for e in observer.events if isinstance(e, protocol.Message) and "subió" in e.text]
    assert uploads == ["ana subió notas.txt (4 B)", "ana subió sub/notas.txt (5 B)"]
