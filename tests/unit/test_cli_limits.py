"""cli: a limit of 0 clients is refused as a usage error, while 0 per address means no limit."""

from __future__ import annotations

import pytest

from ftplab.cli import parse_server_args


@pytest.mark.parametrize(("lang", "words"), [("es", "al menos 1"), ("en", "at least 1")])
def test_max_clients_0_is_a_usage_error_in_the_chosen_language(capsys, lang, words):
    with pytest.raises(SystemExit) as exited:
        parse_server_args(["--max-clients", "0", "--lang", lang])
    assert exited.value.code == 2
    assert f"--max-clients {'debe ser' if lang == 'es' else 'must be'} {words}" in capsys.readouterr().err


def test_max_clients_0_from_the_environment_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setenv("FTPLAB_MAX_CLIENTS", "0")
    with pytest.raises(SystemExit):
        parse_server_args([])
    assert "--max-clients" in capsys.readouterr().err


def test_max_per_ip_0_means_no_limit_and_one_client_is_allowed():
    config = parse_server_args(["--max-clients", "1", "--max-per-ip", "0"])
    assert (config.max_clients, config.max_per_ip) == (1, 0)
