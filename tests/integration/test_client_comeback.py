"""Students who come back by themselves (issue 18): real servers and clients. A server
that crashes or restarts mid-download is found again, the name taken back and the download
resumed and verified; at a terminal the client keeps running while the server is away; a
kicked student stays out until asking to come back."""

from __future__ import annotations

import hashlib
import re

from .harness import TerminalClient, free_port, frozen_mid_download, make_big_file

SIZE = 32 * 1024 * 1024


def _restart(start_server, server, root):
    """A new server on the same port (as compose's restart policy brings one back)."""
    return start_server(root=root, extra_args=["--port", str(server.port)])


def test_a_crash_mid_download_is_survived_and_the_download_resumed_and_verified(
    tmp_path, start_server, start_client
):
    root = tmp_path / "root"
    root.mkdir()
    whole_sha256 = make_big_file(root / "grande.bin", SIZE)
    server = start_server(root=root)
    client = start_client(server, "ana", extra_args=["--reconnect"])

    with frozen_mid_download(server, client, "grande.bin"):
        server.kill()
    client.expect(re.compile(r"grande\.bin: descarga interrumpida al \d+ %; continuará"))
    client.expect("Se ha perdido la conexión con el servidor: reconectando")

    again = _restart(start_server, server, root)
    client.expect("De nuevo conectado como ana")
    resumed = client.expect(re.compile(r"Continuando grande\.bin desde \d+ "))
    client.expect("SHA-256 verificado")
    assert client.quit() == 0, "nothing failed in the end"

    held = int(re.search(r"desde (\d+) ", resumed).group(1))
    assert 0 < held < SIZE
    assert hashlib.sha256((client.download_dir / "grande.bin").read_bytes()).hexdigest() == whole_sha256
    assert sorted(path.name for path in client.download_dir.iterdir()) == ["grande.bin"], "no part left"
    again.wait_for_log(re.compile(rf"sent grande\.bin to ana@\S+: {SIZE - held} bytes"))


def test_at_a_terminal_a_server_restart_is_said_and_the_client_comes_back_by_itself(
    tmp_path, start_server, client_dir
):
    root = tmp_path / "root"
    root.mkdir()
    server = start_server(root=root)
    with TerminalClient(server.port, "ana", client_dir("ana")) as ana:
        ana.wait_for("Hola, ana.")
        ana.type("cd /\r")
        ana.wait_for("Carpeta actual: /")
        server.stop()  # SIGTERM: the server says it is closing
        mark = ana.wait_for("El servidor ha cerrado la conexión (")
        ana.wait_for("reconectando (quit para salir)", start=mark)
        assert ana.process.poll() is None, "the terminal stays in the client"

        again = _restart(start_server, server, root)
        back = ana.wait_for("De nuevo conectado como ana", start=mark)
        ana.type("who\r")
        ana.wait_for("Conectados (1): ana", start=back)
        again.wait_for_log(re.compile(r"joined ana@"))
        ana.type("quit\r")
        assert ana.wait() == 0


def test_a_kicked_student_is_told_why_stays_in_the_client_and_does_not_come_back(
    start_server, start_client, client_dir
):
    server = start_server()
    bob = start_client(server, "bob")
    with TerminalClient(server.port, "ana", client_dir("ana")) as ana:
        ana.wait_for("Hola, ana.")
        bob.expect("profe> ana se ha unido")
        server.console("/kick ana basta de spam")
        kicked = ana.wait_for("profe te ha desconectado: basta de spam. No se vuelve a conectar solo")
        bob.expect("profe> ana se ha ido")

        ana.type("hola\r")  # the client is alive and knows it has no connection
        ana.wait_for("Sin conexión: no se ha enviado", start=kicked)
        bob.send("who")
        bob.expect("profe> Conectados (1): bob")

        ana.type("reconnect\r")  # a command brings it back
        ana.wait_for("De nuevo conectado como ana", start=kicked)
        bob.expect("profe> ana se ha unido")
        ana.type("quit\r")
        assert ana.wait() == 0
    assert bob.quit() == 0


def test_a_name_in_use_at_the_prompt_is_asked_again(start_server, start_client, client_dir):
    server = start_server()
    ana = start_client(server, "ana")
    with TerminalClient(server.port, None, client_dir("other")) as other:
        other.wait_for("Tu nombre: ")
        other.type("ana\r")
        asked = other.wait_for("El nombre ana ya está en uso: elige otro")
        other.wait_for("Tu nombre: ", start=asked)
        other.type("berta\r")
        other.wait_for("Hola, berta.", start=asked)
        ana.expect("profe> berta se ha unido")
        other.type("quit\r")
        assert other.wait() == 0
    assert ana.quit() == 0


def test_at_a_terminal_a_server_not_there_yet_is_waited_for(tmp_path, start_server, client_dir):
    port = free_port()
    with TerminalClient(port, "ana", client_dir("ana")) as ana:
        ana.wait_for(f"No se puede conectar con 127.0.0.1:{port}: conexión rechazada")
        ana.wait_for("reintentando (quit para salir)")
        assert ana.process.poll() is None, "the terminal stays in the client"
        start_server(extra_args=["--port", str(port)])
        ana.wait_for("Hola, ana.")
        ana.type("quit\r")
        assert ana.wait() == 0
