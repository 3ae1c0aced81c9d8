"""client/known_hosts.py: the store of servers trusted on first use, on a real
directory: look-ups, a remembered server replacing its old line, other lines kept,
atomic rewrites readable by the user only, and bad input refused."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ftplab.client import known_hosts
from ftplab.client.known_hosts import KnownHosts, normal_fingerprint, server_key

FIRST = ":".join(["AB"] * 32)
SECOND = "cd" * 32


@pytest.fixture
def store(tmp_path: Path) -> KnownHosts:
    return KnownHosts(tmp_path / "config" / "ftplab" / "known_hosts")


def test_an_empty_store_knows_nobody_and_is_not_created_by_a_lookup(store):
    assert store.lookup("127.0.0.1", 9000) is None
    assert not store.path.exists()


def test_a_remembered_server_is_found_by_host_and_port_only(store):
    store.remember("127.0.0.1", 9000, FIRST)
    assert store.lookup("127.0.0.1", 9000) == known_hosts.Known(FIRST, 1)
    assert store.lookup("127.0.0.1", 9001) is None
    assert store.lookup("localhost", 9000) is None
    assert store.path.read_text() == f"127.0.0.1:9000 {FIRST}\n"


def test_remembering_again_replaces_the_old_line_and_keeps_the_others(store):
    store.path.parent.mkdir(parents=True)
    store.path.write_text(f"# mis servidores\naula:9000 {FIRST}\nlinea rota\n")
    store.remember("::1", 9000, SECOND)
    store.remember("aula", 9000, SECOND)
    normal = normal_fingerprint(SECOND)
    assert (
        store.path.read_text() == f"# mis servidores\nlinea rota\n[::1]:9000 {normal}\naula:9000 {normal}\n"
    )
    assert store.lookup("aula", 9000) == known_hosts.Known(normal, 4)
    assert store.lookup("::1", 9000).fingerprint == normal


def test_the_file_and_its_folder_are_the_users_only_and_no_temporary_file_is_left(store):
    store.remember("aula", 9000, FIRST)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    assert os.listdir(store.path.parent) == ["known_hosts"]


def test_a_failed_write_leaves_the_old_file_whole(store, monkeypatch):
    store.remember("aula", 9000, FIRST)

    def broken_replace(_source, _target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(known_hosts.os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        store.remember("aula", 9000, SECOND)
    assert store.path.read_text() == f"aula:9000 {FIRST}\n"
    assert os.listdir(store.path.parent) == ["known_hosts"]


def test_a_bad_fingerprint_is_refused_and_bad_lines_are_ignored(store):
    with pytest.raises(ValueError):
        store.remember("aula", 9000, "AB:CD")
    store.path.parent.mkdir(parents=True)
    store.path.write_text("aula:9000 not-a-fingerprint\naula:9000\n")
    assert store.lookup("aula", 9000) is None


def test_a_huge_file_is_not_read(store, monkeypatch):
    monkeypatch.setattr(known_hosts, "MAX_FILE_BYTES", 100)
    store.path.parent.mkdir(parents=True)
    store.path.write_text("#" * 200 + "\n")
    with pytest.raises(OSError, match="larger than"):
        store.lookup("aula", 9000)


def test_the_default_path_follows_xdg_config_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert known_hosts.default_path() == tmp_path / "ftplab" / "known_hosts"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert known_hosts.default_path() == tmp_path / "home" / ".config" / "ftplab" / "known_hosts"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SECOND, ":".join(["CD"] * 32)),
        (FIRST.lower(), FIRST),
        ("AB" * 31, None),
        ("ZZ" * 32, None),
    ],
)
def test_fingerprints_are_compared_in_one_form(text, expected):
    assert normal_fingerprint(text) == expected


def test_ipv6_servers_are_bracketed():
    assert server_key("::1", 9000) == "[::1]:9000"
    assert server_key("aula", 9000) == "aula:9000"
