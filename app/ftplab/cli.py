"""Command-line options of both programs (every option has an FTPLAB_*
variable), and the server command itself: logging, signals, the console."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys

from . import __version__, protocol
from .accounts import UsersFileError, readable_by_others
from .config import ClientConfig, ServerConfig
from .console import PlainConsole, open_console
from .ftp import options as ftp_options
from .logs import ConsoleLogHandler, RepeatLimiter, quiet_on_console
from .messages import CATALOGUES, CLIENT_HELP_KEYS, CONSOLE_HELP_KEYS, DEFAULT_LANGUAGE, Messages
from .tls import EncryptedKey
from .users_command import users_main

log = logging.getLogger("ftplab.server")

DEFAULT_PORT = 2121


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


BYTE_SUFFIXES = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def _byte_count(value: str) -> int:
    """A size as people write it: 2097152, 2M, 512K or 1G (binary multiples)."""
    text = value.strip().upper().removesuffix("B").removesuffix("I")
    suffix = text[-1:] if text[-1:] in BYTE_SUFFIXES else ""
    return _count(text[: len(text) - len(suffix)]) * BYTE_SUFFIXES[suffix]


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


LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")
"""Where the locale's language is read, in POSIX order of precedence."""


def locale_language() -> str:
    """The locale's language when we speak it (`en_GB.UTF-8` -> en), else the default (es)."""
    for variable in LOCALE_VARIABLES:
        value = os.environ.get(variable, "")
        if value:
            language = value.split("_")[0].split(".")[0].lower()
            return language if language in CATALOGUES else DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def chosen_language(argv: list[str]) -> str:
    """--lang, else FTPLAB_LANG, else the locale: known before the options are parsed,
    so that --help and the usage errors speak it."""
    for index, word in enumerate(argv):
        value = word.partition("=")[2] if word.startswith("--lang=") else None
        if word == "--lang" and index + 1 < len(argv):
            value = argv[index + 1]
        if value in CATALOGUES:
            return value
    language = _env("LANG", "")
    return language if language in CATALOGUES else locale_language()


class _Options:
    """Builds a parser whose every text (help, defaults, section titles) is in one language."""

    def __init__(self, prog: str, argv: list[str], description_key: str, commands: tuple[str, ...]):
        self.say = Messages(chosen_language(argv))
        epilog = "\n".join(self.say(key) for key in commands)
        self.parser = argparse.ArgumentParser(
            prog=prog,
            description=self.say(description_key),
            epilog=epilog,
            add_help=False,
            formatter_class=_formatter(self.say),
        )
        self.group = self.parser.add_argument_group(self.say("options_title"))
        self.group.add_argument("-h", "--help", action="help", help=self.say("opt_help"))
        self.group.add_argument(
            "--version", action="version", version=f"%(prog)s {__version__}", help=self.say("opt_version")
        )
        self.add("--lang", "LANG", locale_language(), "opt_lang", choices=tuple(CATALOGUES))

    def add(self, flag: str, variable: str, default, key: str, group=None, **kwargs) -> None:
        """An option read from FTPLAB_<variable>; its help says the variable and the value it takes now."""
        value = _env(variable, default)
        shown = self.say("default_none") if value in ("", None) else value
        text = self.say(key) + " " + self.say("option_default", variable=f"FTPLAB_{variable}", value=shown)
        (group or self.group).add_argument(flag, default=value, help=text.replace("%", "%%"), **kwargs)


def _formatter(say: Messages):
    class LocalisedHelp(argparse.RawDescriptionHelpFormatter):
        """argparse's layout, with its one English word ("usage") in our language."""

        def add_usage(self, usage, actions, groups, prefix=None):
            super().add_usage(usage, actions, groups, prefix or say("usage_prefix"))

    return LocalisedHelp


def parse_server_args(argv: list[str] | None = None) -> ServerConfig:
    argv = sys.argv[1:] if argv is None else argv
    options = _Options("ftplab-server", argv, "server_description", CONSOLE_HELP_KEYS)
    add = options.add
    add("--host", "HOST", "0.0.0.0", "opt_server_host")
    add("--port", "PORT", DEFAULT_PORT, "opt_port", type=_port)
    add("--root", "ROOT", ".", "opt_root")
    add("--name", "NAME", "", "opt_server_name")
    add("--max-clients", "MAX_CLIENTS", 100, "opt_max_clients", type=_count)
    add("--max-per-ip", "MAX_PER_IP", 0, "opt_max_per_ip", type=_count)
    add("--idle-timeout", "IDLE_TIMEOUT", 600, "opt_idle_timeout", type=_seconds)
    add("--data-timeout", "DATA_TIMEOUT", 60, "opt_data_timeout", type=_seconds)
    add("--join-timeout", "JOIN_TIMEOUT", 30, "opt_join_timeout", type=_seconds)
    add("--log-level", "LOG_LEVEL", "INFO", "opt_log_level", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    add("--log-file", "LOG_FILE", "", "opt_log_file")
    add("--selector", "SELECTOR", "best", "opt_selector", choices=("best", "select", "poll", "epoll"))
    _add_ftp_options(options)
    _add_tls_options(options)
    _add_account_options(options)
    parser = options.parser
    args = parser.parse_args(argv)
    masquerade = args.masquerade_address
    try:  # checked at start (ftp.options), not when the first PASV fails
        say = Messages(args.lang)
        if args.passive_ports:
            ftp_options.passive_ports(
                args.passive_ports, say, own_ports=(args.port, args.ftp_port, args.ftps_port)
            )
        if masquerade and (args.ftp_port, args.ftps_port) != (None, None):
            masquerade = ftp_options.masquerade_address(masquerade, say)
    except ftp_options.OptionError as error:
        parser.error(str(error))
    if args.max_clients < 1:
        parser.error(Messages(args.lang)("max_clients_zero"))
    needs_tls = args.require_tls or args.ftps_port is not None
    if bool(args.tls_cert) != bool(args.tls_key) or (needs_tls and not args.tls_cert):
        parser.error(Messages(args.lang)("tls_options_incomplete"))
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
        log_file=args.log_file,
        selector=args.selector,
        ftp_port=args.ftp_port,
        ftp_password=args.ftp_password,
        passive_ports=args.passive_ports,
        masquerade_address=masquerade,
        allow_upload=args.allow_upload,
        allow_overwrite=args.allow_overwrite,
        max_upload_bytes=args.max_upload_bytes,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        require_tls=args.require_tls,
        ftps_port=args.ftps_port,
        users=args.users,
        allow_clear_passwords=args.allow_clear_passwords,
    )


def _flag(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("", "0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"{value} is not yes or no")


def _auto_flag(value: str) -> bool | None:
    """yes, no, or auto (None: the program decides)."""
    return None if value.lower() == "auto" else _flag(value)


def _add_ftp_options(options: _Options) -> None:
    door = options.parser.add_argument_group(options.say("ftp_options_title"))
    add = options.add
    add("--ftp-port", "FTP_PORT", None, "opt_ftp_port", door, type=_port)
    add("--ftp-password", "FTP_PASSWORD", "", "opt_ftp_password", door)
    add("--passive-ports", "PASSIVE_PORTS", "", "opt_passive_ports", door)
    add("--masquerade-address", "MASQUERADE_ADDRESS", "", "opt_masquerade_address", door)
    add("--allow-upload", "ALLOW_UPLOAD", "no", "opt_allow_upload", door, type=_flag, nargs="?", const=True)
    overwrite = ("--allow-overwrite", "ALLOW_OVERWRITE", "no", "opt_allow_overwrite", door)
    add(*overwrite, type=_flag, nargs="?", const=True)
    add("--max-upload-bytes", "MAX_UPLOAD_BYTES", 1024**3, "opt_max_upload_bytes", door, type=_byte_count)


def _add_tls_options(options: _Options) -> None:
    group = options.parser.add_argument_group("TLS")
    add = options.add
    add("--tls-cert", "TLS_CERT", "", "opt_tls_cert", group)
    add("--tls-key", "TLS_KEY", "", "opt_tls_key", group)
    add("--require-tls", "REQUIRE_TLS", "no", "opt_require_tls", group, type=_flag, nargs="?", const=True)
    add("--ftps-port", "FTPS_PORT", None, "opt_ftps_port", group, type=_port)


def _add_account_options(options: _Options) -> None:
    group = options.parser.add_argument_group(options.say("accounts_options_title"))
    add = options.add
    add("--users", "USERS", "", "opt_users", group)
    clear = ("--allow-clear-passwords", "ALLOW_CLEAR_PASSWORDS", "no", "opt_allow_clear_passwords", group)
    add(*clear, type=_flag, nargs="?", const=True)


def parse_client_args(argv: list[str] | None = None) -> ClientConfig:
    argv = sys.argv[1:] if argv is None else argv
    options = _Options("ftplab-client", argv, "client_description", CLIENT_HELP_KEYS)
    add = options.add
    add("--host", "HOST", "127.0.0.1", "opt_client_host")
    add("--port", "PORT", DEFAULT_PORT, "opt_port", type=_port)
    add("--name", "NAME", "", "opt_client_name")
    add("--download-dir", "DOWNLOAD_DIR", ".", "opt_download_dir")
    add("--timeout", "TIMEOUT", 10, "opt_timeout", type=_positive_seconds)
    add("--keep-partial", "KEEP_PARTIAL", "no", "opt_keep_partial", type=_flag, nargs="?", const=True)
    add("--tls", "TLS", "no", "opt_tls", type=_flag, nargs="?", const=True)
    add("--ca", "CA", "", "opt_ca")
    add("--fingerprint", "FINGERPRINT", "", "opt_fingerprint")
    add("--reconnect", "RECONNECT", "auto", "opt_reconnect", type=_auto_flag, nargs="?", const=True)
    add("--password-file", "PASSWORD_FILE", "", "opt_password_file")
    args = options.parser.parse_args(argv)
    return ClientConfig(
        host=args.host,
        port=args.port,
        name=args.name,
        download_dir=args.download_dir,
        lang=args.lang,
        timeout=args.timeout,
        keep_partial=args.keep_partial,
        tls=args.tls or bool(args.ca or args.fingerprint),
        ca_file=args.ca,
        fingerprint=args.fingerprint,
        reconnect=args.reconnect,
        password_file=args.password_file,
    )


# --- the server command --------------------------------------------------------------


def _configure_logging(config: ServerConfig, console: PlainConsole) -> None:
    """The full log on stderr; when stderr is the console's terminal, a quieter one there
    (no line per client command: a class of 30 stays readable); the full log in --log-file too."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if console.interactive and sys.stderr.isatty():
        handlers = [ConsoleLogHandler(console)]
        handlers[0].addFilter(quiet_on_console)
    if config.log_file:
        handlers.append(logging.FileHandler(config.log_file, encoding="utf-8"))
    limiter = RepeatLimiter()
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        handler.addFilter(limiter)
    logging.basicConfig(level=config.log_level, handlers=handlers)


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


def _root_reason(root: str, error: OSError, say: Messages) -> str:
    """Why `root` cannot be served, in the user's language (the system's words only as a last resort)."""
    if not os.path.lexists(root):
        return say("root_missing")
    if not os.path.isdir(root):
        return say("root_not_a_folder")
    if error.errno in (errno.EACCES, errno.EPERM):
        return say("root_denied")
    return error.strerror or str(error)


def _usage_problem(config: ServerConfig, say: Messages) -> str | None:
    if protocol.name_problem(config.name) is not None:
        return say("console_no_name") if not config.name else say("bad_name", name=config.name)
    return None


def _show_doors(
    console, say: Messages, config: ServerConfig, addresses: dict, fingerprint: str | None
) -> None:
    """What the teacher needs to tell the class beyond the lab port: the FTP doors, the
    certificate's `fingerprint` (what a student's client shows before trusting it), accounts."""
    for door, key in (("ftp", "console_ftp_door"), ("ftps", "console_ftps_door")):
        if door in addresses:
            host, port = addresses[door]
            console.show(say(key, host=host, port=port))
    if fingerprint is not None:
        console.show(say("console_tls", fingerprint=fingerprint))
    if config.users:
        console.show(say("console_accounts", path=config.users))


def server_main(argv: list[str] | None = None) -> int:
    """`ftplab-server`: parse options, open the console, serve until a signal or EOF of a stop."""
    from .storage import Storage  # the server's modules: not loaded by the client, which shares cli
    from .wiring import build_server

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["users"]:
        return users_main(argv[1:], Messages(chosen_language(argv)))
    config = parse_server_args(argv)
    say = Messages(config.lang)
    console = open_console(
        sys.stdin, sys.stdout, prompt=lambda: f"{config.name or ''}> ", signal_keys_as_keys=True
    )
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
            reason = _root_reason(config.root, error, say)
            print(f"ftplab-server: {say('bad_root', root=config.root, reason=reason)}", file=sys.stderr)
            return 2
        _raise_descriptor_limit(config)
        try:
            server = build_server(config, storage, console)
        except OSError as error:  # ssl.SSLError too: a certificate or key that does not load
            reason = say("tls_key_encrypted") if isinstance(error, EncryptedKey) else error
            print(f"ftplab-server: {say('bad_tls_files', reason=reason)}", file=sys.stderr)
            return 2
        except UsersFileError as error:
            print(f"ftplab-server: {say('bad_users_file', reason=error)}", file=sys.stderr)
            return 2
        if config.users and readable_by_others(config.users):
            log.warning("%s", say("users_file_readable", path=config.users))
        if config.users and config.allow_clear_passwords:
            log.warning("--allow-clear-passwords: account passwords may cross the network in clear")
        try:
            addresses = server.bind()
        except OSError as error:
            reason = error.strerror or str(error)
            print(
                f"ftplab-server: {say('cannot_listen', host=config.host, port=config.port, reason=reason)}",
                file=sys.stderr,
            )
            return 1
        host, port = addresses["lab"]
        _install_signal_handlers(server)
        # Ctrl-C reaches a terminal console as a key: it clears a half-typed line, and on an
        # empty one stops the server as SIGINT does (Ctrl-\ too).
        console.on_interrupt = console.on_quit_now = server.request_stop
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
        _show_doors(console, say, config, addresses, server.certificate_fingerprint)
        log.info(
            "listening on %s:%d as %s, root %s, pid %d", host, port, config.name, storage.root, os.getpid()
        )
        if "ftp" in addresses:
            log.info("FTP door listening on %s:%d", *addresses["ftp"])
        if "ftps" in addresses:
            log.info("FTPS door (implicit TLS) listening on %s:%d", *addresses["ftps"])
        server.serve_forever()
        return 0
    finally:
        console.close()
