"""Command-line options of both programs. Every option has an FTPLAB_* variable."""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass

from . import __version__

DEFAULT_PORT = 2121


@dataclass(frozen=True)
class ServerConfig:
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

    def with_name(self, name: str) -> ServerConfig:
        return dataclasses.replace(self, name=name)


@dataclass(frozen=True)
class ClientConfig:
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
        help="clients at once [FTPLAB_MAX_CLIENTS]",
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
    args = parser.parse_args(argv)
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
