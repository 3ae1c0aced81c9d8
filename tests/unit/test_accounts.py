"""The users file (accounts.py): scrypt hashes, the file's lines, its permissions, and
writing it atomically."""

from __future__ import annotations

import io
import os
import stat

import pytest

from ftplab import accounts
from ftplab.accounts import Account, Accounts, UsersFileError
from ftplab.messages import Messages
from ftplab.users_command import users_main

CHEAP = {"n": 2**4, "r": 1, "p": 1}
"""scrypt parameters that cost nothing: the code paths are the same."""


def account(name: str, password: str = "pw", rights: str = "download") -> Account:
    return Account(name, accounts.parse_rights(rights), accounts.hash_password(password, **CHEAP))


def test_a_hash_checks_its_password_and_no_other():
    hashed = accounts.hash_password("correcto caballo", **CHEAP)
    assert hashed.startswith("scrypt:16:1:1:")
    assert accounts.password_matches("correcto caballo", hashed)
    assert not accounts.password_matches("correcto caballo ", hashed)
    assert not accounts.password_matches("", hashed)


def test_each_hash_has_its_own_salt_and_new_ones_use_the_default_parameters():
    first, second = accounts.hash_password("pw"), accounts.hash_password("pw")
    assert first != second
    assert first.split(":")[1:4] == [str(accounts.SCRYPT_N), str(accounts.SCRYPT_R), str(accounts.SCRYPT_P)]


def test_entries_with_other_parameters_still_work():
    """The parameters are stored per entry: raising the defaults later keeps old entries valid."""
    text = account("ana", "uno").line() + Account("bob", frozenset(), accounts.hash_password("dos")).line()
    found = accounts.parse(text)
    assert found.check("ana", "uno").name == "ana"
    assert found.check("bob", "dos").name == "bob"


def test_names_are_found_as_the_room_compares_them():
    found = Accounts([account("ana", "pw")])
    for twin in ("Ana", "ANA", "\u0430na", "Ａna"):  # Cyrillic a, full-width A
        assert found.find(twin).name == "ana", twin
        assert found.check(twin, "pw").name == "ana", twin
    assert found.check("ana", "otra") is None
    assert found.check("bob", "pw") is None  # a name without an account: the same answer


def test_a_file_is_read_with_its_comments_blank_lines_and_rights(tmp_path):
    path = tmp_path / "users"
    text = (
        "# cuentas\n\n"
        + account("ana", rights="download,upload").line()
        + account("visita", rights="-").line()
    )
    path.write_text(text)
    path.chmod(0o600)
    found = accounts.load(str(path))
    assert [a.name for a in found] == ["ana", "visita"]
    assert found.find("ana").rights == {"download", "upload"}
    assert found.find("visita").rights == frozenset()


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("ana download", "expected NAME RIGHTS HASH"),
        ("ana download scrypt:16:1:1:AAAA:AAAA extra", "expected NAME RIGHTS HASH"),
        ("an>a download {hash}", "not a valid name"),
        ("ana fly {hash}", "unknown right 'fly'"),
        ("ana download bcrypt:16:1:1:AAAA:AAAA", "the hash must be scrypt"),
        ("ana download scrypt:15:1:1:AAAA:AAAAAAAAAAAAAAAAAAAAAAAAAAAA", "out of range"),
        ("ana download scrypt:1048576:8:1:AAAA:AAAAAAAAAAAAAAAAAAAAAAAAAAAA", "out of range"),
        ("ana download scrypt:16:1:1:no!base64:AAAA", "base64"),
        ("ana download scrypt:16:x:1:AAAA:AAAA", "not a number"),
    ],
)
def test_a_bad_line_is_refused_with_its_number_and_why(line, reason):
    text = "# first\n" + line.format(hash=accounts.hash_password("pw", **CHEAP)) + "\n"
    with pytest.raises(UsersFileError, match=reason) as refused:
        accounts.parse(text, "users.txt")
    assert str(refused.value).startswith("users.txt:2: ")


def test_two_twins_in_one_file_are_refused():
    text = account("ana").line() + account("ANA").line()
    with pytest.raises(UsersFileError, match="users:2: ANA is the same name as ana"):
        accounts.parse(text)


def test_a_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(UsersFileError, match="no such file .*users add NAME"):
        accounts.load(str(tmp_path / "nope"))


def test_a_file_others_may_write_is_refused_and_one_they_may_read_is_flagged(tmp_path):
    path = tmp_path / "users"
    path.write_text(account("ana").line())
    path.chmod(0o620)
    with pytest.raises(UsersFileError, match="writable by other users"):
        accounts.load(str(path))
    path.chmod(0o644)
    assert accounts.load(str(path)).find("ana") is not None
    assert accounts.readable_by_others(str(path))
    path.chmod(0o600)
    assert not accounts.readable_by_others(str(path))


def test_a_folder_or_binary_file_is_refused(tmp_path):
    with pytest.raises(UsersFileError, match="not a regular file|Is a directory"):
        accounts.load(str(tmp_path))
    binary = tmp_path / "users"
    binary.write_bytes(b"\xff\xfe ana")
    binary.chmod(0o600)
    with pytest.raises(UsersFileError, match="not UTF-8"):
        accounts.load(str(binary))


def test_saving_writes_mode_600_atomically_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "users"
    path.write_text("old\n")
    path.chmod(0o644)
    accounts.save(str(path), Accounts([account("bob"), account("ana", rights="download,overwrite")]))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(tmp_path) == ["users"]
    text = path.read_text()
    assert text.startswith("# ftplab accounts")
    assert [line.split()[:2] for line in text.splitlines() if not line.startswith("#")] == [
        ["ana", "download,overwrite"],
        ["bob", "download"],
    ]
    assert accounts.load(str(path)).check("bob", "pw") is not None


def test_a_failed_save_keeps_the_old_file_and_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "users"
    path.write_text("# old\n")

    def full_disk(_descriptor):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError):
        accounts.save(str(path), Accounts([account("ana")]))
    assert path.read_text() == "# old\n"
    assert os.listdir(tmp_path) == ["users"]


@pytest.mark.parametrize("where", ["before", "after"])
def test_the_users_command_takes_the_file_before_or_after_its_action(tmp_path, where):
    users = str(tmp_path / "users.txt")
    add = ["add", "ana", "--rights", "download,upload"]
    argv = ["--users", users, *add] if where == "before" else [*add, "--users", users]
    said = io.StringIO()
    assert users_main(argv, Messages("en"), stdin=io.StringIO("caballo correcto\n"), stdout=said) == 0
    assert users_main(["list", "--users", users], Messages("en"), stdout=said) == 0
    assert said.getvalue().splitlines()[-1].split() == ["ana", "download,upload"]
