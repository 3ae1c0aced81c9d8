"""The client trusts like ssh (issue 19): a server no CA vouches for is shown by its
SHA-256 fingerprint and trusted on first use only when the person at the terminal
says so; the answer is remembered in their known_hosts, so the next connection is
silent; another certificate later is refused loudly; a reconnect keeps the decision;
without a terminal nobody is asked. Real server, client on a pseudo-terminal."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.certificates import Certificates, fingerprint_of, tls_args

from .harness import TIMEOUT, TerminalClient, child_env, client_args

QUESTION = "¿Confías en este servidor y lo recuerdas? (sí/no): "


def stranger_server(start_server, certificates: Certificates, *more: str):
    """A server with a certificate no CA signed (self-signed, as a teacher's laptop may have)."""
    cert = ["--tls-cert", str(certificates.self_signed), "--tls-key", str(certificates.self_signed_key)]
    return start_server(extra_args=[*cert, *more])


def trusting_client(port: int, name: str, download_dir: Path, config: Path, *more: str) -> TerminalClient:
    """`ftplab-client --tls` at a terminal, its config in `config` (XDG_CONFIG_HOME)."""
    return TerminalClient(
        port, name, download_dir, extra_args=["--tls", *more], shell=f'XDG_CONFIG_HOME="{config}" exec "$@"'
    )


def test_first_use_asks_yes_remembers_and_the_next_connection_is_silent(
    start_server, certificates, client_dir, tmp_path
):
    server = stranger_server(start_server, certificates)
    config = tmp_path / "config"
    shown = fingerprint_of(certificates.self_signed)
    server.wait_for_log(f"SHA-256 {shown}")  # what the teacher reads out to the class
    with trusting_client(server.port, "ana", client_dir("ana"), config) as ana:
        asked = ana.wait_for(QUESTION)
        assert shown in ana.screen[:asked], "the fingerprint is shown before the question"
        ana.type("quizá\r")
        again = ana.wait_for("Responde sí o no.", start=asked)
        ana.type("sí\r")
        ana.wait_for("Huella guardada en", start=again)
        ana.wait_for("Hola, ana.", start=again)
        ana.type("quit\r")
        assert ana.wait() == 0
    known = config / "ftplab" / "known_hosts"
    assert known.read_text() == f"127.0.0.1:{server.port} {shown}\n"

    with trusting_client(server.port, "ana", client_dir("ana2"), config) as ana:
        ana.wait_for("Hola, ana.")
        assert "Confías" not in ana.screen and "huella" not in ana.screen.lower()
        ana.type("quit\r")
        assert ana.wait() == 0


def test_first_use_no_connects_nowhere_and_remembers_nothing(
    start_server, certificates, client_dir, tmp_path
):
    server = stranger_server(start_server, certificates)
    config = tmp_path / "config"
    with trusting_client(server.port, "ana", client_dir("ana"), config) as ana:
        ana.wait_for(QUESTION)
        ana.type("no\r")
        ana.wait_for(f"No confías en 127.0.0.1:{server.port}: conexión cancelada")
        assert ana.wait() == 1
    assert not (config / "ftplab" / "known_hosts").exists()
    assert "joined" not in server.stderr.text


def test_a_changed_certificate_is_refused_loudly_and_says_which_line_to_delete(
    start_server, certificates, client_dir, tmp_path
):
    server = stranger_server(start_server, certificates)
    known = tmp_path / "config" / "ftplab" / "known_hosts"
    known.parent.mkdir(parents=True)
    remembered = fingerprint_of(certificates.cert)  # what this address presented before
    known.write_text(f"otro:9000 {fingerprint_of(certificates.ca)}\n127.0.0.1:{server.port} {remembered}\n")
    before = known.read_text()
    with trusting_client(server.port, "ana", client_dir("ana"), tmp_path / "config") as ana:
        ana.wait_for("¡EL CERTIFICADO DE 127.0.0.1")
        ana.wait_for(f"borra la línea 2 de {known}")
        assert remembered in ana.screen and fingerprint_of(certificates.self_signed) in ana.screen
        assert QUESTION not in ana.screen, "a changed certificate is never offered for trust"
        assert ana.wait() == 1
    assert known.read_text() == before
    assert "joined" not in server.stderr.text


def test_a_reconnect_keeps_the_decision_even_where_it_could_not_be_saved(
    start_server, certificates, client_dir, tmp_path
):
    server = stranger_server(start_server, certificates)
    config = tmp_path / "not-a-folder"
    config.write_text("")  # the known_hosts cannot be written under a file
    with trusting_client(server.port, "ana", client_dir("ana"), config, "--reconnect") as ana:
        asked = ana.wait_for(QUESTION)
        ana.type("s\r")
        ana.wait_for("No se pudo guardar la huella", start=asked)
        joined = ana.wait_for("Hola, ana.", start=asked)
        server.stop()
        away = ana.wait_for("reconectando (quit para salir)", start=joined)
        again = stranger_server(start_server, certificates, "--port", str(server.port))
        ana.wait_for("De nuevo conectado como ana", start=away)
        assert QUESTION not in ana.screen[away:], "the same certificate is not asked about again"
        again.stop()
        back = ana.wait_for("reconectando (quit para salir)", start=joined + 1)
        impostor = start_server(extra_args=tls_args(certificates, "--port", str(server.port)))
        ana.wait_for("¡El certificado del servidor ha cambiado!", start=back)
        assert ana.wait() == 1, "a changed certificate ends the comebacks"
        assert "joined" not in impostor.stderr.text


def test_without_a_terminal_nobody_is_asked_and_the_error_says_what_to_use(
    start_server, certificates, client_dir, tmp_path
):
    server = stranger_server(start_server, certificates)
    args = client_args(server.port, "ana", client_dir("ana"), extra_args=["--tls"])
    result = subprocess.run(
        args, input="who\n", capture_output=True, text=True, timeout=TIMEOUT,
        env=child_env(XDG_CONFIG_HOME=str(tmp_path / "config")),
    )  # fmt: skip
    assert result.returncode == 1, result
    shown = fingerprint_of(certificates.self_signed)
    assert "sin terminal no se puede preguntar" in result.stderr, result.stderr
    assert f"--fingerprint {shown}" in result.stderr and "--ca" in result.stderr
    assert not (tmp_path / "config").exists()
