"""storage.Storage: only plain regular files inside the root are listed or opened."""

from __future__ import annotations

import os
import tempfile
import unicodedata
from pathlib import Path

import pytest

from ftplab.client.download_file import UnsafeName, safe_name
from ftplab.filenames import is_plain_name
from ftplab.storage import AmbiguousName, FileProblem, NoSuchFile, NotAFile, Storage, Unreadable
from support.folders import listed_files


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """tmp/x/files (the root) with files, next to tmp/x/files2 and tmp/x/secret.txt.

    Returns tmp/x."""
    base = tmp_path / "x"
    root = base / "files"
    (root / "sub").mkdir(parents=True)
    (root / "b.txt").write_bytes(b"bbb")
    (root / "a.txt").write_bytes(b"a")
    (root / "Z.txt").write_bytes(b"zz")
    (root / "sub" / "inner.txt").write_bytes(b"inner")
    (base / "files2").mkdir()
    (base / "files2" / "secret.txt").write_bytes(b"sibling secret")
    (base / "secret.txt").write_bytes(b"parent secret")
    return base


def read_all(opened) -> bytes:
    try:
        return os.pread(opened.fd, opened.size + 1, 0)
    finally:
        opened.close()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# --- list ------------------------------------------------------------------------


def test_list_only_regular_files_sorted(tree):
    root = tree / "files"
    os.mkfifo(root / "pipe")
    (root / "link.txt").symlink_to("a.txt")
    (root / "outside.txt").symlink_to(tree / "secret.txt")
    (root / "sibling.txt").symlink_to(tree / "files2" / "secret.txt")
    (root / "dangling.txt").symlink_to("nothing.txt")
    (root / "dir-link").symlink_to("sub")
    entries = listed_files(Storage(str(root)))
    assert [entry.name for entry in entries] == ["Z.txt", "a.txt", "b.txt", "link.txt"]
    assert [entry.size for entry in entries] == [2, 1, 3, 1]


def test_list_of_empty_root(tmp_path):
    assert listed_files(Storage(str(tmp_path))) == []


def test_every_listed_plain_file_can_be_opened(tree):
    root = tree / "files"
    (root / "a\\b.txt").write_bytes(b"x")
    (root / "line\nbreak.txt").write_bytes(b"x")
    storage = Storage(str(root))
    names = [entry.name for entry in listed_files(storage)]
    assert "a\\b.txt" not in names
    for name in names:
        if "\n" not in name:
            storage.open(name).close()


# --- open: names -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["..", ".", "../secret.txt", "../files2/secret.txt", "sub/inner.txt", "sub/../a.txt", "", "a.txt\x00"],
)
def test_open_refuses_anything_but_a_plain_name(tree, name):
    with pytest.raises(NoSuchFile):
        Storage(str(tree / "files")).open(name)


def test_open_refuses_an_absolute_path(tree):
    with pytest.raises(NoSuchFile):
        Storage(str(tree / "files")).open(str(tree / "secret.txt"))


def test_open_refuses_a_backslash(tree):
    root = tree / "files"
    (root / "a\\b").write_bytes(b"x")  # a legal name on POSIX, but not a plain one
    with pytest.raises(NoSuchFile):
        Storage(str(root)).open("a\\b")


@pytest.mark.parametrize("name", ["a" * 256, "é" * 128, "x" * 4000])
def test_names_over_255_bytes_are_not_plain(tree, name):
    assert not is_plain_name(name)
    with pytest.raises(NoSuchFile):
        Storage(str(tree / "files")).open(name)


def test_name_of_255_bytes_is_served(tree):
    name = "é" * 127 + "a"
    (tree / "files" / name).write_bytes(b"long")
    assert read_all(Storage(str(tree / "files")).open(name)) == b"long"


def test_missing_file(tree):
    with pytest.raises(NoSuchFile):
        Storage(str(tree / "files")).open("nada.txt")


def test_plain_file_is_served(tree):
    opened = Storage(str(tree / "files")).open("b.txt")
    assert (opened.name, opened.size) == ("b.txt", 3)
    assert read_all(opened) == b"bbb"


# --- open: symlinks -------------------------------------------------------------------


def test_symlink_to_file_inside_is_served(tree):
    (tree / "files" / "link.txt").symlink_to("b.txt")
    opened = Storage(str(tree / "files")).open("link.txt")
    assert (opened.name, opened.size) == ("link.txt", 3)
    assert read_all(opened) == b"bbb"


def test_symlink_into_a_subdirectory_inside_is_served(tree):
    (tree / "files" / "deep.txt").symlink_to(tree / "files" / "sub" / "inner.txt")
    assert read_all(Storage(str(tree / "files")).open("deep.txt")) == b"inner"


@pytest.mark.parametrize(
    "target",
    [
        "../secret.txt",
        "../files2/secret.txt",
        "/etc/passwd",
    ],
)
def test_symlink_leading_outside_is_no_such_file(tree, target):
    (tree / "files" / "link.txt").symlink_to(target)
    with pytest.raises(NoSuchFile):
        Storage(str(tree / "files")).open("link.txt")


def test_symlink_chain_leading_outside_is_no_such_file(tree):
    root = tree / "files"
    (root / "hop").symlink_to(tree / "secret.txt")
    (root / "link.txt").symlink_to("hop")
    with pytest.raises(NoSuchFile):
        Storage(str(root)).open("link.txt")


@pytest.mark.parametrize("target", ["nothing.txt", "../nothing.txt"])
def test_dangling_symlink_is_no_such_file(tree, target):
    (tree / "files" / "link.txt").symlink_to(target)
    with pytest.raises(NoSuchFile):
        Storage(str(tree / "files")).open("link.txt")


def test_symlink_to_the_root_itself_is_no_such_file(tree):
    (tree / "files" / "self").symlink_to(".")
    with pytest.raises(NoSuchFile):
        Storage(str(tree / "files")).open("self")


# --- open: not regular files -------------------------------------------------------------


def test_directory_is_not_a_file(tree):
    with pytest.raises(NotAFile):
        Storage(str(tree / "files")).open("sub")


def test_symlink_to_directory_is_not_a_file(tree):
    (tree / "files" / "dir-link").symlink_to("sub")
    with pytest.raises(NotAFile):
        Storage(str(tree / "files")).open("dir-link")


def test_fifo_is_not_a_file_and_does_not_block(tree, deadline):
    os.mkfifo(tree / "files" / "pipe")
    before = open_fds()
    with pytest.raises(NotAFile):
        Storage(str(tree / "files")).open("pipe")  # blocks for a writer without O_NONBLOCK
    assert open_fds() == before  # the descriptor opened to check it is closed again


def test_symlink_to_fifo_is_not_a_file(tree, deadline):
    os.mkfifo(tree / "files" / "pipe")
    (tree / "files" / "pipe-link").symlink_to("pipe")
    with pytest.raises(NotAFile):
        Storage(str(tree / "files")).open("pipe-link")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a chmod 000 file")
def test_unreadable_file(tree):
    path = tree / "files" / "secret.txt"
    path.write_bytes(b"x")
    path.chmod(0)
    with pytest.raises(Unreadable):
        Storage(str(tree / "files")).open("secret.txt")


def open_as_nobody(storage: Storage, names: list[str]) -> list[str]:
    """What a forked child running as uid/gid 65534 gets from `storage.open`."""
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(reading)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            results = []
            for name in names:
                try:
                    storage.open(name).close()
                    results.append("served")
                except FileProblem as problem:
                    results.append(type(problem).__name__)
            os.write(writing, " ".join(results).encode())
        finally:
            os._exit(0)
    os.close(writing)
    with os.fdopen(reading, "rb") as pipe:
        output = pipe.read().decode()
    os.waitpid(pid, 0)
    return output.split()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to check as another user")
def test_unreadable_file_as_an_unprivileged_user():
    root = Path(tempfile.mkdtemp(prefix="ftplab-unreadable-"))
    try:
        root.chmod(0o755)
        (root / "public.txt").write_bytes(b"x")
        (root / "public.txt").chmod(0o644)
        (root / "secret.txt").write_bytes(b"x")
        (root / "secret.txt").chmod(0)
        results = open_as_nobody(Storage(str(root)), ["public.txt", "secret.txt"])
    finally:
        for item in root.iterdir():
            item.unlink()
        root.rmdir()
    assert results == ["served", "Unreadable"]


# --- the root -------------------------------------------------------------------------------


def test_contains_compares_whole_components(tree):
    storage = Storage(str(tree / "files"))
    assert storage.contains(str(tree / "files" / "a.txt"))
    assert storage.contains(str(tree / "files" / "sub" / ".." / "a.txt"))
    assert not storage.contains(str(tree / "files2" / "secret.txt"))
    assert not storage.contains(str(tree / "files2"))
    assert not storage.contains(str(tree / "files"))
    assert not storage.contains(str(tree / "files" / ".." / "secret.txt"))


def test_contains_resolves_symlinks(tree):
    (tree / "files" / "out").symlink_to(tree / "files2")
    storage = Storage(str(tree / "files"))
    assert not storage.contains(str(tree / "files" / "out" / "secret.txt"))


def test_relative_root(tree, monkeypatch):
    monkeypatch.chdir(tree)
    (tree / "files" / "link.txt").symlink_to("a.txt")
    storage = Storage("files")
    assert os.path.isabs(storage.root)
    monkeypatch.chdir(tree / "files" / "sub")  # the root was resolved once, not per call
    assert read_all(storage.open("a.txt")) == b"a"
    assert read_all(storage.open("link.txt")) == b"a"
    assert [entry.name for entry in listed_files(storage)] == ["Z.txt", "a.txt", "b.txt", "link.txt"]


def test_root_given_through_a_symlink(tree):
    (tree / "alias").symlink_to("files")
    (tree / "files" / "link.txt").symlink_to(tree / "alias" / "b.txt")
    storage = Storage(str(tree / "alias"))
    assert read_all(storage.open("link.txt")) == b"bbb"
    assert "link.txt" in [entry.name for entry in listed_files(storage)]
    with pytest.raises(NoSuchFile):
        storage.open("../secret.txt")


def test_root_must_be_a_directory(tree):
    with pytest.raises(NotADirectoryError):
        Storage(str(tree / "secret.txt"))


def test_names_with_control_characters_are_listed_but_never_served(tree):
    root = tree / "files"
    for name in ("a\rb.txt", "new\nline.txt", "esc\x1b[31m.txt"):
        (root / name).write_bytes(b"x")
    storage = Storage(str(root))
    listed = {entry.name for entry in listed_files(storage)}
    assert {"a\rb.txt", "new\nline.txt", "esc\x1b[31m.txt"} <= listed
    for name in ("a\rb.txt", "new\nline.txt", "esc\x1b[31m.txt"):
        with pytest.raises(NoSuchFile):
            storage.open(name)


# --- one rule for names, shared with the client ---------------------------------------


def test_hidden_files_are_neither_listed_nor_served(tree):
    root = tree / "files"
    (root / ".oculto").write_bytes(b"secret\n")
    (root / ".git").mkdir()
    storage = Storage(str(root))
    assert not any(entry.name.startswith(".") for entry in listed_files(storage))
    with pytest.raises(NoSuchFile):
        storage.open(".oculto")


def test_every_served_name_is_one_the_client_saves(tree):
    root = tree / "files"
    for name in (".oculto", "bidi\u202etxt.exe", "esc\x1b.txt", "zw\u200bsp.txt", "ok.txt", "Café.txt"):
        (root / name).write_bytes(b"x")
    storage = Storage(str(root))
    for entry in listed_files(storage):
        try:
            storage.open(entry.name).close()
        except NoSuchFile:
            with pytest.raises(UnsafeName):
                safe_name(entry.name)
        else:
            assert safe_name(entry.name) == entry.name


# --- names typed in another Unicode form ----------------------------------------------

NFC_CAFE = unicodedata.normalize("NFC", "Café.txt")
NFD_CAFE = unicodedata.normalize("NFD", "Café.txt")


@pytest.mark.parametrize(("on_disk", "typed"), [(NFD_CAFE, NFC_CAFE), (NFC_CAFE, NFD_CAFE)])
def test_a_name_typed_in_another_unicode_form_finds_the_file(tmp_path, on_disk, typed):
    (tmp_path / on_disk).write_bytes(b"cafe")
    opened = Storage(str(tmp_path)).open(typed)
    assert opened.name == on_disk, "the file keeps its own name"
    assert read_all(opened) == b"cafe"


def test_the_exact_name_wins_over_its_twin(tmp_path):
    (tmp_path / NFC_CAFE).write_bytes(b"composed")
    (tmp_path / NFD_CAFE).write_bytes(b"decomposed")
    storage = Storage(str(tmp_path))
    assert read_all(storage.open(NFC_CAFE)) == b"composed"
    assert read_all(storage.open(NFD_CAFE)) == b"decomposed"


def test_a_name_typed_in_a_third_form_when_both_forms_are_on_disk_is_ambiguous(tmp_path):
    (tmp_path / "\u1e30.txt").write_bytes(b"composed")  # NFC
    (tmp_path / "K\u0301.txt").write_bytes(b"decomposed")  # NFD
    storage = Storage(str(tmp_path))
    with pytest.raises(AmbiguousName):
        storage.open("K\u0341.txt")  # U+0341 is U+0301 after normalization: neither form


def test_a_name_on_disk_in_a_third_form_is_found_by_its_own_name_only(tmp_path):
    """Twins are looked up by their composed and decomposed forms, never searched for."""
    (tmp_path / "\u212a.txt").write_bytes(b"kelvin sign")  # NFC turns it into K
    storage = Storage(str(tmp_path))
    assert read_all(storage.open("\u212a.txt")) == b"kelvin sign"
    with pytest.raises(NoSuchFile):
        storage.open("K.txt")


def test_twins_are_listed_apart_and_other_names_as_they_are(tmp_path):
    for name in (NFC_CAFE, NFD_CAFE, "té.txt", "esc\x1b.txt"):
        (tmp_path / name).write_bytes(b"x")
    shown = {entry.name: entry.shown for entry in listed_files(Storage(str(tmp_path)))}
    assert shown[NFC_CAFE] == "Café.txt"
    assert shown[NFD_CAFE] == "Cafe\\u0301.txt"
    assert shown["té.txt"] == "té.txt"
    assert shown["esc\x1b.txt"] == "esc\\x1b.txt"
