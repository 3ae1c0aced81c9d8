"""The servers the bench measures, each a process of its own on 127.0.0.1: ftplab (its lab door and,
with `ftp=True`, its FTP door), pyftpdlib, vsftpd (Debian's, with a generated configuration) and a
bare sendfile sender for the loopback limit; each of the first three also with TLS (`Tls`, made
by `make_tls`). `Server.cpu()` reads what the process has used."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .core import HOST, Settings, process_cpu

SERVER_NAME = "profe"
PYFTPDLIB_SERVER = """
import logging, os, sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.log import config_logging
from pyftpdlib.servers import FTPServer
config_logging(level=logging.WARNING)
if os.environ.get("BENCH_TLS_CERT"):  # explicit FTPS (needs pyOpenSSL)
    from pyftpdlib.handlers import TLS_FTPHandler as FTPHandler
    FTPHandler.certfile = os.environ["BENCH_TLS_CERT"]
    FTPHandler.keyfile = os.environ["BENCH_TLS_KEY"]
authorizer = DummyAuthorizer()
authorizer.add_anonymous(sys.argv[1])
FTPHandler.authorizer = authorizer
if len(sys.argv) > 4:
    FTPHandler.passive_ports = range(int(sys.argv[4]), int(sys.argv[5]) + 1)
server = FTPServer(("127.0.0.1", 0), FTPHandler, backlog=int(sys.argv[3]))
server.max_cons = int(sys.argv[2])
server.max_cons_per_ip = 0
print(server.socket.getsockname()[1], flush=True)
server.serve_forever(handle_exit=True)
"""
PASSIVE_PORTS = (20000, 29999)
"""The passive range every FTP server gets in the sessions part: below Linux's ephemeral range
(32768-60999). With port 0 instead, each PASV's bind searches an ephemeral range crowded with
TIME-WAIT sockets, and a server slows down as they pile up (see sessions.py)."""


@dataclass(frozen=True)
class Tls:
    """A throwaway CA and the certificate it signed for 127.0.0.1, with its key (PEM files)."""

    ca: Path
    cert: Path
    key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_tls(directory: Path) -> Tls:
    """A CA and a server certificate (EC P-256, valid 2 days) in `directory`, by Debian's openssl."""
    if shutil.which("openssl") is None:
        raise RuntimeError("openssl is not installed (apt-get install openssl)")
    directory.mkdir(exist_ok=True)
    ca, ca_key, csr = directory / "ca.pem", directory / "ca.key", directory / "server.csr"
    tls, extensions = Tls(ca, directory / "server.pem", directory / "server.key"), directory / "server.ext"
    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _openssl(
        "req", "-x509", *new_key, "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
        "-subj", "/CN=bench-ca", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign",
    )  # fmt: skip
    _openssl("req", *new_key, "-keyout", str(tls.key), "-out", str(csr), "-subj", "/CN=localhost")
    extensions.write_text(f"subjectAltName=IP:{HOST},DNS:localhost\nextendedKeyUsage=serverAuth\n")
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(tls.cert), "-days", "2", "-extfile", str(extensions),
    )  # fmt: skip
    for path in directory.iterdir():
        path.chmod(0o644)  # vsftpd reads them as root; nothing here outlives the run
    return tls


def free_port() -> int:
    with socket.create_server((HOST, 0)) as probe:
        return probe.getsockname()[1]


def listening_ports(pid: int) -> set[int]:
    """The TCP ports a process listens on, read from /proc."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    with open("/proc/net/tcp") as table:
        for row in table.readlines()[1:]:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:
                ports.add(int(fields[1].split(":")[1], 16))
    return ports


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


class Server:
    """A server process and its port; stopped (SIGTERM to its process group, then SIGKILL) on exit.

    `port` is read from its first stdout line (`port_from_stdout`), or else is the one port it
    listens on besides `other_ports`, found in /proc."""

    def __init__(
        self,
        command: list[str],
        env: dict | None = None,
        port_from_stdout: bool = False,
        other_ports: tuple[int, ...] = (),
        timeout: float = 60,
    ):
        self.process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE if port_from_stdout else subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid = self.process.pid
        try:
            self.port = self._read_port(port_from_stdout, set(other_ports), timeout)
        except RuntimeError:
            self.stop()
            raise

    def _read_port(self, from_stdout: bool, others: set[int], timeout: float) -> int:
        if from_stdout:
            port = self.process.stdout.readline().strip()
            if port.isdigit():
                return int(port)
            raise RuntimeError(f"{self.process.args[0]} did not say its port")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            with contextlib.suppress(OSError):
                ports = listening_ports(self.pid) - others
                if ports and (not others or listening_ports(self.pid) & others):
                    return min(ports)
            time.sleep(0.02)
        code = self.process.poll()
        ended = f"ended with status {code}" if code is not None else f"did not listen within {timeout:g} s"
        raise RuntimeError(f"{' '.join(map(str, self.process.args[:3]))} {ended}")

    @property
    def address(self) -> tuple[str, int]:
        return HOST, self.port

    def cpu(self) -> float:
        return process_cpu(self.pid)

    def scheduled(self) -> tuple[float, float]:
        """Seconds its main thread has run on a core, and waited runnable for one (the kernel's
        schedstat, in nanoseconds: fine enough for a few milliseconds, which ticks are not)."""
        with open(f"/proc/{self.pid}/schedstat") as stat:
            ran, waited = stat.read().split()[:2]
        return int(ran) / 1e9, int(waited) / 1e9

    def wait_for_sessions(self, timeout: float = 10) -> None:
        """Until the process has no child left (vsftpd's session processes end after the client
        does): only then does cpu() count what they used."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if not Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().strip():
                    return
            time.sleep(0.01)

    def console(self, line: str) -> None:
        self.process.stdin.write(f"{line}\n".encode())
        self.process.stdin.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)  # what the leader left: vsftpd's session processes
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()


def lab(
    settings: Settings,
    max_clients: int,
    ftp: bool = False,
    extra: tuple[str, ...] = (),
    tls: Tls | None = None,
) -> Server:
    """ftplab's server from `settings.app`; with `ftp`, its FTP door too (on `server.ftp_port`);
    with `tls`, both doors speak TLS (the lab door only TLS; the FTP door explicit FTPS)."""
    if tls:
        extra = (*extra, "--tls-cert", str(tls.cert), "--tls-key", str(tls.key))
    for _ in range(2):  # a port found free may be taken before the server binds it: try again
        with contextlib.suppress(RuntimeError):
            return _lab_once(settings, max_clients, ftp, extra)
    return _lab_once(settings, max_clients, ftp, extra)


def _lab_once(settings: Settings, max_clients: int, ftp: bool, extra: tuple[str, ...]) -> Server:
    command = [sys.executable, "-m", "ftplab.server", "--host", HOST, "--port", "0"]
    command += ["--root", str(settings.files), "--name", SERVER_NAME, "--max-clients", str(max_clients)]
    command += ["--lang", "en", "--log-level", "WARNING", *extra]
    ftp_port = free_port() if ftp else None
    if ftp_port:
        command += ["--ftp-port", str(ftp_port)]
    server = Server(
        command, env=dict(os.environ, PYTHONPATH=str(settings.app)), other_ports=(ftp_port,) if ftp else ()
    )
    server.ftp_port = ftp_port
    return server


def pyftpdlib(
    settings: Settings, max_sessions: int, passive: tuple[int, int] | None = None, tls: Tls | None = None
) -> Server:
    """pyftpdlib counts every socket in its loop against max_cons: a session has up to three.
    `passive`: its passive port range (else any port the kernel picks); `tls`: its TLS_FTPHandler."""
    backlog = str(min(int(Path("/proc/sys/net/core/somaxconn").read_text()), 4096))
    command = [sys.executable, "-c", PYFTPDLIB_SERVER, str(settings.files), str(3 * max_sessions), backlog]
    command += [str(port) for port in passive or ()]
    env = dict(os.environ, BENCH_TLS_CERT=str(tls.cert), BENCH_TLS_KEY=str(tls.key)) if tls else None
    return Server(command, env=env, port_from_stdout=True)


def vsftpd_missing() -> str | None:
    """Why vsftpd cannot be measured here, or None."""
    if shutil.which("vsftpd") is None:
        return "vsftpd is not installed (apt-get install vsftpd)"
    if os.geteuid() != 0:
        return "vsftpd needs root (it chroots and drops to the ftp user)"
    return None


def vsftpd_config(settings: Settings, port: int, tls: Tls | None = None) -> str:
    """Anonymous, read-only, on loopback, in the foreground; no logs; vsftpd's seccomp sandbox off
    (it refuses some kernels' syscalls in containers). Not Debian's service: its own config file.
    With `tls`: explicit FTPS, anonymous logins allowed in it and their data connections forced to
    PROT P; require_ssl_reuse stays at its default, YES (the bench's client resumes the session)."""
    low, high = PASSIVE_PORTS
    options = {
        "listen": "YES",
        "listen_ipv6": "NO",
        "listen_address": HOST,
        "listen_port": port,
        "background": "NO",
        "anonymous_enable": "YES",
        "anon_root": settings.files,
        "ftp_username": "ftp",
        "local_enable": "NO",
        "write_enable": "NO",
        "pasv_enable": "YES",
        "pasv_min_port": low,
        "pasv_max_port": high,
        "max_clients": 0,
        "max_per_ip": 0,
        "xferlog_enable": "NO",
        "dirmessage_enable": "NO",
        "seccomp_sandbox": "NO",
        "secure_chroot_dir": "/var/run/vsftpd/empty",
    }
    if tls:
        options |= {
            "ssl_enable": "YES",
            "rsa_cert_file": tls.cert,
            "rsa_private_key_file": tls.key,
            "allow_anon_ssl": "YES",
            "force_anon_logins_ssl": "YES",
            "force_anon_data_ssl": "YES",
        }
    return "".join(f"{key}={value}\n" for key, value in options.items())


def vsftpd(settings: Settings, tls: Tls | None = None) -> Server:
    port = free_port()
    config = settings.work / ("vsftpd-tls.conf" if tls else "vsftpd.conf")
    config.write_text(vsftpd_config(settings, port, tls))
    Path("/var/run/vsftpd/empty").mkdir(parents=True, exist_ok=True)
    for path in (settings.work, settings.files, *settings.files.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)  # the ftp user reads what is served
    return Server(["vsftpd", str(config)])


SENDFILE_SERVER = """
import os, socket, sys
path = sys.argv[1]
size = os.path.getsize(path)
with socket.create_server(("127.0.0.1", 0)) as listener:
    print(listener.getsockname()[1], flush=True)
    while True:
        connection, _ = listener.accept()
        with connection, open(path, "rb") as file:
            offset = 0
            while offset < size:
                offset += os.sendfile(connection.fileno(), file.fileno(), offset, size - offset)
"""
"""The loopback limit's sender: each connection gets the whole file by os.sendfile, nothing else."""


def sendfile(path: Path) -> Server:
    return Server([sys.executable, "-c", SENDFILE_SERVER, str(path)], port_from_stdout=True)
