"""Command-line options of both programs (every option has an FTPLAB_*
variable), and the server command itself: logging, signals, the console."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import sys
from dataclasses import dataclass

from . import __version__, protocol
from .console import PlainConsole, open_console
from .ftpdoor import parse_port_range
from .logs import ConsoleLogHandler, RepeatLimiter
from .messages import Messages

log = logging.getLogger("ftplab.server")

DEFAULT_PORT = 2121


@dataclass(frozen=True)
class ServerConfig:
    """The server's settings, from its options and FTPLAB_* variables."""

    host: str
    port: int
    root: str
    name: str
    max_clients: int
    max_per_ip: int
    idle_timeout: float
    data_timeout: float
    join_timeout: float
    lang: str
    log_level: str
    selector: str = "best"
    ftp_port: int | None = None
    ftp_password: str = ""
    passive_ports: str = ""
    masquerade_address: str = ""
    allow_upload: bool = False
    allow_overwrite: bool = False
    max_upload_bytes: int = 1024**3

    def with_name(self, name: str) -> ServerConfig:
        return dataclasses.replace(self, name=name)


@dataclass(frozen=True)
class ClientConfig:
    """The client's settings, from its options and FTPLAB_* variables."""

    host: str
    port: int
    name: str
    download_dir: str
    lang: str
    timeout: float


def _env(name: str, default):
    """The FTPLAB_<name> variable, or `default`. argparse converts and checks
    string defaults like typed values, so a bad variable is a usage error."""
    return os.environ.get(f"FTPLAB_{name}", default)


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number")
    return port


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return number


def _seconds(value: str) -> float:
    number = float(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return number


def _positive_seconds(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number of seconds")
    return number


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--lang", choices=("es", "en"), default=_env("LANG", "es"), help="es (default) or en [FTPLAB_LANG]"
    )
    return parser


def parse_server_args(argv: list[str] | None = None) -> ServerConfig:
    parser = _parser("ftplab-server", "A select-based multi-user file server with chat.")
    parser.add_argument("--host", default=_env("HOST", "0.0.0.0"), help="address to listen on [FTPLAB_HOST]")
    parser.add_argument("--port", type=_port, default=_env("PORT", DEFAULT_PORT), help="[FTPLAB_PORT] (2121)")
    parser.add_argument(
        "--root", default=_env("ROOT", "."), help="directory whose files are served [FTPLAB_ROOT]"
    )
    parser.add_argument("--name", default=_env("NAME", ""), help="the server's name in chat [FTPLAB_NAME]")
    parser.add_argument(
        "--max-clients",
        type=_count,
        default=_env("MAX_CLIENTS", 100),
        help="clients at once, at least 1 [FTPLAB_MAX_CLIENTS]",
    )
    parser.add_argument(
        "--max-per-ip",
        type=_count,
        default=_env("MAX_PER_IP", 0),
        help="clients at once from one address, 0 for no limit [FTPLAB_MAX_PER_IP]",
    )
    parser.add_argument(
        "--idle-timeout",
        type=_seconds,
        default=_env("IDLE_TIMEOUT", 600),
        help="seconds without a command before a client is disconnected, 0 disables [FTPLAB_IDLE_TIMEOUT]",
    )
    parser.add_argument(
        "--data-timeout",
        type=_seconds,
        default=_env("DATA_TIMEOUT", 60),
        help="seconds output may sit unread before the client is dropped, 0 disables [FTPLAB_DATA_TIMEOUT]",
    )
    parser.add_argument(
        "--join-timeout",
        type=_seconds,
        default=_env("JOIN_TIMEOUT", 30),
        help="seconds a new connection has to send its name, 0 disables [FTPLAB_JOIN_TIMEOUT]",
    )
    parser.add_argument(
        "--log-level",
        default=_env("LOG_LEVEL", "INFO"),
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="[FTPLAB_LOG_LEVEL]",
    )
    parser.add_argument(
        "--selector",
        default=_env("SELECTOR", "best"),
        choices=("best", "select", "poll", "epoll"),
        help="how the loop waits: best (the system's best: epoll on Linux), or select (at most "
        "1024 descriptors), poll, epoll [FTPLAB_SELECTOR]",
    )
    _add_ftp_options(parser)
    args = parser.parse_args(argv)
    if args.passive_ports:
        try:
            parse_port_range(args.passive_ports)
        except ValueError as error:
            parser.error(f"--passive-ports {error}")
    if args.max_clients < 1:
        parser.error(Messages(args.lang)("max_clients_zero"))
    return ServerConfig(
        host=args.host,
        port=args.port,
        root=args.root,
        name=args.name,
        max_clients=args.max_clients,
        max_per_ip=args.max_per_ip,
        idle_timeout=args.idle_timeout,
        data_timeout=args.data_timeout,
        join_timeout=args.join_timeout,
        lang=args.lang,
        log_level=args.log_level,
        selector=args.selector,
        ftp_port=args.ftp_port,
        ftp_password=args.ftp_password,
        passive_ports=args.passive_ports,
        masquerade_address=args.masquerade_address,
        allow_upload=args.allow_upload,
        allow_overwrite=args.allow_overwrite,
        max_upload_bytes=args.max_upload_bytes,
    )


def _flag(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("", "0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"{value} is not yes or no")


def _add_ftp_options(parser: argparse.ArgumentParser) -> None:
    door = parser.add_argument_group("the FTP door (RFC 959) and uploads")
    door.add_argument(
        "--ftp-port",
        type=_port,
        default=_env("FTP_PORT", None),
        help="also speak FTP on this port, in the same loop (off when unset) [FTPLAB_FTP_PORT]",
    )
    door.add_argument(
        "--ftp-password",
        default=_env("FTP_PASSWORD", ""),
        help="one password every FTP user must give [FTPLAB_FTP_PASSWORD]",
    )
    door.add_argument(
        "--passive-ports",
        default=_env("PASSIVE_PORTS", ""),
        help="ports for passive data connections, e.g. 30000-30009 (any free port when unset) "
        "[FTPLAB_PASSIVE_PORTS]",
    )
    door.add_argument(
        "--masquerade-address",
        default=_env("MASQUERADE_ADDRESS", ""),
        help="the IPv4 address to give in PASV replies, behind NAT or a published port "
        "[FTPLAB_MASQUERADE_ADDRESS]",
    )
    door.add_argument(
        "--allow-upload",
        type=_flag,
        nargs="?",
        const=True,
        default=_env("ALLOW_UPLOAD", "no"),
        help="accept uploads (FTP STOR, APPE, MKD) [FTPLAB_ALLOW_UPLOAD]",
    )
    door.add_argument(
        "--allow-overwrite",
        type=_flag,
        nargs="?",
        const=True,
        default=_env("ALLOW_OVERWRITE", "no"),
        help="let uploads replace and DELE delete existing files [FTPLAB_ALLOW_OVERWRITE]",
    )
    door.add_argument(
        "--max-upload-bytes",
        type=_count,
        default=_env("MAX_UPLOAD_BYTES", 1024**3),
        help="the largest upload accepted, in bytes (1 GiB) [FTPLAB_MAX_UPLOAD_BYTES]",
    )


def parse_client_args(argv: list[str] | None = None) -> ClientConfig:
    parser = _parser("ftplab-client", "The ftplab client: files and chat from an ftplab server.")
    parser.add_argument("--host", default=_env("HOST", "127.0.0.1"), help="the server [FTPLAB_HOST]")
    parser.add_argument("--port", type=_port, default=_env("PORT", DEFAULT_PORT), help="[FTPLAB_PORT] (2121)")
    parser.add_argument("--name", default=_env("NAME", ""), help="your name in chat [FTPLAB_NAME]")
    parser.add_argument(
        "--download-dir",
        default=_env("DOWNLOAD_DIR", "."),
        help="where downloads are saved [FTPLAB_DOWNLOAD_DIR]",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=_env("TIMEOUT", 10),
        help="seconds to connect and to be welcomed by the server [FTPLAB_TIMEOUT] (10)",
    )
    args = parser.parse_args(argv)
    return ClientConfig(
        host=args.host,
        port=args.port,
        name=args.name,
        download_dir=args.download_dir,
        lang=args.lang,
        timeout=args.timeout,
    )


# --- the server command --------------------------------------------------------------


def _configure_logging(config: ServerConfig, console: PlainConsole) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if console.interactive and sys.stderr.isatty():
        handler = ConsoleLogHandler(console)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler.addFilter(RepeatLimiter())
    logging.basicConfig(level=config.log_level, handlers=[handler])


def _install_signal_handlers(server) -> None:
    def stop(signum, _frame):
        log.info("received %s", signal.Signals(signum).name)
        server.request_stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    signal.set_wakeup_fd(server.wakeup_fd, warn_on_full_buffer=False)


DESCRIPTORS_PER_CLIENT = 2
SPARE_DESCRIPTORS = 64
"""Besides one socket per client: a file per download, the listener, the console, logs..."""


def _raise_descriptor_limit(config: ServerConfig) -> None:
    """Raise our soft limit on open files to the hard limit (a desktop's soft
    limit is often 1024), and say so if even that is too low for --max-clients."""
    try:
        import resource
    except ImportError:  # not a POSIX system
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            log.info("raised the open-files limit from %d to %d", soft, hard)
            soft = hard
        except (ValueError, OSError) as error:
            log.warning("could not raise the open-files limit from %d: %s", soft, error)
    needed = config.max_clients * DESCRIPTORS_PER_CLIENT + SPARE_DESCRIPTORS
    if soft != resource.RLIM_INFINITY and soft < needed:
        log.warning(
            "the open-files limit (%d) is too low for --max-clients %d (about %d needed): "
            "clients past it will be told the server is busy; raise it with ulimit -n",
            soft,
            config.max_clients,
            needed,
        )


def _usage_problem(config: ServerConfig, say: Messages) -> str | None:
    if protocol.name_problem(config.name) is not None:
        return say("console_no_name") if not config.name else say("bad_name", name=config.name)
    return None


def server_main(argv: list[str] | None = None) -> int:
    """`ftplab-server`: parse options, open the console, serve until a signal or EOF of a stop."""
    from .server import Server
    from .storage import Storage

    config = parse_server_args(argv)
    say = Messages(config.lang)
    console = open_console(sys.stdin, sys.stdout, prompt=lambda: f"{config.name or ''}> ")
    _configure_logging(config, console)
    try:
        if not config.name:
            config = config.with_name(console.ask(say("ask_name")) if console.interactive else "")
        problem = _usage_problem(config, say)
        if problem is not None:
            print(problem, file=sys.stderr)
            return 2
        try:
            storage = Storage(config.root)
        except OSError as error:
            print(
                f"ftplab-server: {say('bad_root', root=config.root, reason=error.strerror or error)}",
                file=sys.stderr,
            )
            return 2
        _raise_descriptor_limit(config)
        server = Server(config, storage, console)
        try:
            host, port = server.bind()
        except OSError as error:
            reason = error.strerror or str(error)
            print(
                f"ftplab-server: {say('cannot_listen', host=config.host, port=config.port, reason=reason)}",
                file=sys.stderr,
            )
            return 1
        _install_signal_handlers(server)
        if console.interactive:
            console.start()
        console.show(
            say(
                "console_listening",
                name=config.name,
                host=host,
                port=port,
                root=storage.root,
                limit=config.max_clients,
            )
        )
        log.info(
            "listening on %s:%d as %s, root %s, pid %d", host, port, config.name, storage.root, os.getpid()
        )
        if server.ftp_address is not None:
            log.info("FTP door listening on %s:%d", *server.ftp_address)
        server.serve_forever()
        return 0
    finally:
        console.close()
