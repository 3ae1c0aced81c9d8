"""The settings of both programs, as plain frozen values: cli.py fills them
from options and FTPLAB_* variables, the server and the client only read
them. Nothing here imports the rest of ftplab, so every module may import it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


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
    log_file: str = ""
    selector: str = "best"
    ftp_port: int | None = None
    ftp_password: str = ""
    passive_ports: str = ""
    masquerade_address: str = ""
    allow_upload: bool = False
    allow_overwrite: bool = False
    max_upload_bytes: int = 1024**3
    tls_cert: str = ""
    """--tls-cert: the lab port speaks TLS, the FTP door offers AUTH TLS."""
    tls_key: str = ""
    require_tls: bool = False
    ftps_port: int | None = None
    """--ftps-port: the FTP door also listens there with implicit TLS (off by default)."""
    users: str = ""
    """--users: the accounts file; empty, the open lab (any name, no password)."""
    allow_clear_passwords: bool = False
    """--allow-clear-passwords: accounts may log in without TLS (the Wireshark exercise)."""

    def with_name(self, name: str) -> ServerConfig:
        return dataclasses.replace(self, name=name)

    @property
    def timeouts(self) -> Timeouts:
        return Timeouts(self.idle_timeout, self.data_timeout, self.join_timeout)


@dataclass(frozen=True)
class Timeouts:
    """Seconds a connection may go without a line (idle), without taking its
    output (data) and without giving a name (join); 0 turns one off."""

    idle: float
    data: float
    join: float


@dataclass(frozen=True)
class ClientConfig:
    """The client's settings, from its options and FTPLAB_* variables."""

    host: str
    port: int
    name: str
    download_dir: str
    lang: str
    timeout: float
    keep_partial: bool = False
    tls: bool = False
    ca_file: str = ""
    fingerprint: str = ""
    reconnect: bool | None = None
    """Come back after a lost connection: None, at a terminal only (the default)."""
    password_file: str = ""
    """--password-file: the account's password, for a server with accounts (else
    FTPLAB_PASSWORD, else asked at the terminal)."""
