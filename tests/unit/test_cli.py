"""cli: every option, its FTPLAB_* variable, its default, and clear usage errors."""

from __future__ import annotations

import pytest

from ftplab.cli import DEFAULT_PORT, LOCALE_VARIABLES, chosen_language, parse_client_args, parse_server_args


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("FTPLAB_") or key in LOCALE_VARIABLES:
            monkeypatch.delenv(key)


def test_server_defaults():
    config = parse_server_args([])
    assert (config.host, config.port, config.root, config.name) == ("0.0.0.0", DEFAULT_PORT, ".", "")
    assert (config.max_clients, config.max_per_ip) == (100, 0)
    assert (config.idle_timeout, config.data_timeout, config.join_timeout) == (600, 60, 30)
    assert (config.lang, config.log_level) == ("es", "INFO")


def test_server_options_on_the_command_line():
    config = parse_server_args(
        ["--host", "::", "--port", "0", "--root", "/srv", "--name", "profe", "--max-clients", "7"]
        + ["--max-per-ip", "2", "--idle-timeout", "1.5", "--data-timeout", "0", "--join-timeout", "3"]
        + ["--lang", "en", "--log-level", "DEBUG"]
    )
    assert config.host == "::" and config.port == 0 and config.root == "/srv" and config.name == "profe"
    assert (config.max_clients, config.max_per_ip) == (7, 2)
    assert (config.idle_timeout, config.data_timeout, config.join_timeout) == (1.5, 0, 3)
    assert (config.lang, config.log_level) == ("en", "DEBUG")


def test_every_server_option_reads_its_variable(monkeypatch):
    settings = {
        "HOST": "127.0.0.2",
        "PORT": "2200",
        "ROOT": "/tmp",
        "NAME": "maestra",
        "MAX_CLIENTS": "3",
        "MAX_PER_IP": "1",
        "IDLE_TIMEOUT": "9",
        "DATA_TIMEOUT": "8",
        "JOIN_TIMEOUT": "7",
        "LANG": "en",
        "LOG_LEVEL": "WARNING",
    }
    for key, value in settings.items():
        monkeypatch.setenv(f"FTPLAB_{key}", value)
    config = parse_server_args([])
    assert (config.host, config.port, config.root, config.name) == ("127.0.0.2", 2200, "/tmp", "maestra")
    assert (config.max_clients, config.max_per_ip) == (3, 1)
    assert (config.idle_timeout, config.data_timeout, config.join_timeout) == (9, 8, 7)
    assert (config.lang, config.log_level) == ("en", "WARNING")


def test_the_command_line_wins_over_the_variable(monkeypatch):
    monkeypatch.setenv("FTPLAB_PORT", "2200")
    assert parse_server_args(["--port", "2300"]).port == 2300


@pytest.mark.parametrize(
    "argv",
    [
        ["--port", "70000"],
        ["--port", "x"],
        ["--max-clients", "-1"],
        ["--idle-timeout", "-5"],
        ["--lang", "fr"],
        ["--log-level", "LOUD"],
        ["--max-upload-bytes", "2X"],
        ["--max-upload-bytes", "-2M"],
        ["--unknown"],
    ],
)
def test_bad_server_options_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_server_args(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize(
    "written, size",
    [
        ("2097152", 2 * 1024**2),
        ("2M", 2 * 1024**2),
        ("512k", 512 * 1024),
        ("1G", 1024**3),
        ("3MiB", 3 * 1024**2),
    ],
)
def test_the_upload_limit_is_written_as_people_write_sizes(written, size):
    assert parse_server_args(["--max-upload-bytes", written]).max_upload_bytes == size


def test_a_bad_variable_is_a_usage_error_too(monkeypatch, capsys):
    monkeypatch.setenv("FTPLAB_MAX_CLIENTS", "muchos")
    with pytest.raises(SystemExit) as exit_info:
        parse_server_args([])
    assert exit_info.value.code == 2
    assert "--max-clients" in capsys.readouterr().err


def test_client_defaults_and_variables(monkeypatch):
    config = parse_client_args([])
    assert (config.host, config.port, config.name, config.download_dir, config.lang) == (
        "127.0.0.1",
        DEFAULT_PORT,
        "",
        ".",
        "es",
    )
    monkeypatch.setenv("FTPLAB_HOST", "server")
    monkeypatch.setenv("FTPLAB_NAME", "ana")
    monkeypatch.setenv("FTPLAB_DOWNLOAD_DIR", "/downloads")
    config = parse_client_args(["--port", "2100", "--lang", "en"])
    assert (config.host, config.port, config.name, config.download_dir, config.lang) == (
        "server",
        2100,
        "ana",
        "/downloads",
        "en",
    )


@pytest.mark.parametrize("name", ["best", "select", "poll", "epoll"])
def test_the_selector_can_be_chosen(name, monkeypatch):
    assert parse_server_args(["--selector", name]).selector == name
    monkeypatch.setenv("FTPLAB_SELECTOR", name)
    assert parse_server_args([]).selector == name


def test_the_default_selector_is_the_systems_best():
    assert parse_server_args([]).selector == "best"


@pytest.mark.parametrize(
    ("environment", "argv", "language"),
    [
        ({}, [], "es"),
        ({"LANG": "en_GB.UTF-8"}, [], "en"),
        ({"LANG": "fr_FR.UTF-8"}, [], "es"),
        ({"LANG": "es_ES.UTF-8", "LC_ALL": "en_US.UTF-8"}, [], "en"),
        ({"LANG": "en_GB.UTF-8", "FTPLAB_LANG": "es"}, [], "es"),
        ({"FTPLAB_LANG": "es"}, ["--lang", "en"], "en"),
        ({}, ["--lang=en", "--help"], "en"),
    ],
)
def test_the_language_is_the_option_then_ftplab_lang_then_the_locale(
    monkeypatch, environment, argv, language
):
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    assert chosen_language(argv) == language


def test_the_locale_is_the_default_language_of_both_programs(monkeypatch):
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert parse_server_args([]).lang == "en"
    assert parse_client_args([]).lang == "en"


@pytest.mark.parametrize("parse", [parse_server_args, parse_client_args])
def test_help_speaks_the_chosen_language_with_the_commands_and_the_defaults(monkeypatch, capsys, parse):
    monkeypatch.setenv("FTPLAB_LANG", "en")
    monkeypatch.setenv("FTPLAB_PORT", "2300")
    with pytest.raises(SystemExit) as leaving:
        parse(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert leaving.value.code == 0
    assert text.startswith("usage: ")
    assert "show this help and exit" in text
    assert "[FTPLAB_PORT; now: 2300]" in text
    assert (
        "/kick NAME [reason]" in text
        if parse is parse_server_args
        else "get FILE ... download one or more files" in text
    )
