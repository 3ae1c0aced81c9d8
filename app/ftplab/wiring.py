"""Putting a server together from its settings: the loop, admission and its
listeners, the lab door (room, handlers, downloads, uploads, console) and,
with --ftp-port or --ftps-port, the FTP door. Nothing here runs: `build_server` returns a
`Server` for cli.py to bind and serve."""

from __future__ import annotations

import logging
import selectors

from . import accounts
from .admission import FD_SETSIZE, Admission, Limits, Listener
from .clock import LoopClock
from .config import ServerConfig
from .console import PlainConsole
from .downloads import Downloads
from .ftp import FtpSettings
from .ftpdoor import FtpDoor, ImplicitTlsEntrance
from .handlers import Handlers
from .lab_logins import LabLogins
from .labdoor import LabDoor, keep_alive_seconds
from .logins import LoginGuard
from .messages import Messages
from .passive import PassivePorts, parse_port_range
from .room import PROGRESS_WINDOW_SECONDS, Room
from .server import Server
from .storage import Storage, Tree
from .tls import ServerCredentials
from .uploads import Uploads, UploadSettings

log = logging.getLogger("ftplab.server")

SELECTORS = {
    "select": selectors.SelectSelector,
    "poll": getattr(selectors, "PollSelector", selectors.SelectSelector),
    "epoll": getattr(
        selectors, "EpollSelector", getattr(selectors, "KqueueSelector", selectors.DefaultSelector)
    ),
    "best": selectors.DefaultSelector,
}
"""`--selector`: select() is the lab's lesson (and its FD_SETSIZE limit); epoll scales."""


def build_server(
    config: ServerConfig,
    storage: Storage,
    console: PlainConsole | None = None,
    clock: LoopClock | None = None,
) -> Server:
    """A server for `config`, serving `storage`, with `console` (if any) as its own voice.
    Raises OSError (ssl.SSLError, tls.EncryptedKey) when --tls-cert or --tls-key cannot
    be loaded (they are read here, once), and accounts.UsersFileError when --users cannot be used."""
    users = accounts.load(config.users) if config.users else None
    selector = SELECTORS[config.selector]()
    server = Server(selector, clock)
    guard = LoginGuard(clock=lambda: server.now)
    """Failed logins per address, through either door."""
    highest_fd = FD_SETSIZE - 1 if isinstance(selector, selectors.SelectSelector) else None
    limits = Limits(config.max_clients, config.max_per_ip, config.data_timeout, highest_fd)
    server.admission = Admission(server, limits, lambda: server.connection_count)
    say = Messages(config.lang)
    tls = ServerCredentials(config.tls_cert, config.tls_key) if config.tls_cert else None
    if tls is not None:
        log.info("TLS certificate %s, SHA-256 %s", config.tls_cert, tls.fingerprint)
        server.certificate_fingerprint = tls.fingerprint
    lab = _lab_door(server, config, storage, say, console, tls, users, guard)
    server.doors.append(lab)
    server.admission.add_listener(Listener("lab", config.host, config.port, lab, server.admission))
    if config.ftp_port is not None or config.ftps_port is not None:
        _add_ftp_door(server, config, storage, say, lab, tls, users, guard)
    return server


def _lab_door(
    server: Server,
    config: ServerConfig,
    storage: Storage,
    say: Messages,
    console: PlainConsole | None,
    tls: ServerCredentials | None,
    users: accounts.Accounts | None,
    guard: LoginGuard,
) -> LabDoor:
    window = min(PROGRESS_WINDOW_SECONDS, config.data_timeout or PROGRESS_WINDOW_SECONDS)
    show = console.show if console is not None else (lambda _text: None)
    room = Room(config.name, say, server, show, window)
    logins = (
        LabLogins(users, guard, room, allow_clear=config.allow_clear_passwords) if users is not None else None
    )
    downloads = Downloads(storage, room, server)
    settings = UploadSettings(config.allow_upload, config.allow_overwrite, config.max_upload_bytes)
    uploads = Uploads(Tree(storage), room, settings)
    handlers = Handlers(
        room,
        downloads,
        storage,
        uploads,
        keep_alive_seconds=keep_alive_seconds(config.idle_timeout),
        stop=server.request_stop,
        logins=logins,
    )
    watched = console if console is not None and not console.at_eof else None
    context = tls.context if tls is not None else None
    return LabDoor(server, room, handlers, downloads, uploads, config.timeouts, watched, context)


def _add_ftp_door(
    server: Server,
    config: ServerConfig,
    storage: Storage,
    say: Messages,
    lab: LabDoor,
    tls: ServerCredentials | None,
    users: accounts.Accounts | None,
    guard: LoginGuard,
) -> None:
    """The FTP door shares the lab door's room, and its digest cache (HASH answers from it);
    it listens on --ftp-port (clear, AUTH TLS offered) and on --ftps-port (implicit TLS)."""
    settings = FtpSettings(
        password=config.ftp_password or None,
        allow_upload=config.allow_upload,
        allow_overwrite=config.allow_overwrite,
        max_upload_bytes=config.max_upload_bytes,
        masquerade_address=config.masquerade_address or None,
        tls=bool(config.tls_cert),
        require_tls=config.require_tls,
        accounts=users,
        allow_clear_passwords=config.allow_clear_passwords,
    )
    ports = PassivePorts(parse_port_range(config.passive_ports) if config.passive_ports else None)
    contexts = tls.new_context if tls is not None else None
    digests = lab.downloads.digests
    door = FtpDoor(server, lab.room, storage, settings, say, ports, config.timeouts, digests, contexts, guard)
    server.doors.append(door)
    admission = server.admission
    if config.ftp_port is not None:
        admission.add_listener(Listener("ftp", config.host, config.ftp_port, door, admission))
    if config.ftps_port is not None:
        implicit = ImplicitTlsEntrance(door)
        admission.add_listener(Listener("ftps", config.host, config.ftps_port, implicit, admission))
