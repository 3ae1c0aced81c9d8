"""Unicode twins are one name for every check: `Café.txt` typed with one code point for `é`
and the teacher's `Cafe\\u0301.txt` (as macOS writes it) are the same file to a person, so
an upload through either door never lands beside the twin or replaces it without
--allow-overwrite, and a delete removes what `get` would have served (issue 19, item 4)."""

from __future__ import annotations

import hashlib
import os
import unicodedata
from pathlib import Path

import pytest
from test_handlers import FakeDownloads, FakeRoom, line

from ftplab import protocol
from ftplab.handlers import Handlers
from ftplab.protocol import ErrorCode
from ftplab.session import Session
from ftplab.storage import AlreadyExists, AmbiguousName, NoSuchFile, Storage, Tree
from ftplab.uploads import Uploads, UploadSettings
from support.ftp_loop import logged_in

NFC_CAFE = unicodedata.normalize("NFC", "Café.txt")
NFD_CAFE = unicodedata.normalize("NFD", "Café.txt")
TEACHERS = b"the teacher's notes"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The teacher's file is in decomposed form, in the root and in a folder."""
    served = tmp_path / "root"
    (served / "clase").mkdir(parents=True)
    (served / NFD_CAFE).write_bytes(TEACHERS)
    (served / "clase" / NFD_CAFE).write_bytes(TEACHERS)
    return served


@pytest.fixture
def tree(root) -> Tree:
    return Tree(Storage(str(root)))


def names_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.is_file())


def read(tree: Tree, parts: tuple[str, ...]) -> bytes:
    opened = tree.open(parts)
    try:
        return (Path("/proc/self/fd") / str(opened.fd)).read_bytes()
    finally:
        opened.close()


# --- the tree -------------------------------------------------------------------------


@pytest.mark.parametrize("folder", [(), ("clase",)])
def test_an_upload_is_refused_when_a_twin_holds_the_name(tree, root, folder):
    with pytest.raises(AlreadyExists):
        tree.start_upload((*folder, NFC_CAFE), overwrite=False, max_bytes=100, min_free_bytes=0)
    assert names_in(root.joinpath(*folder)) == [NFD_CAFE]


def test_with_overwrite_allowed_an_upload_replaces_the_twin(tree, root):
    upload = tree.start_upload((NFC_CAFE,), overwrite=True, max_bytes=100, min_free_bytes=0)
    upload.write(b"new")
    upload.finish(overwrite=True)
    assert names_in(root) == [NFD_CAFE], "still one file, under the name it had"
    assert read(tree, (NFC_CAFE,)) == b"new"


def test_a_twin_that_appears_while_the_upload_comes_in_is_not_shadowed(tmp_path):
    tree = Tree(Storage(str(tmp_path)))
    upload = tree.start_upload((NFC_CAFE,), overwrite=False, max_bytes=100, min_free_bytes=0)
    upload.write(b"student's")
    (tmp_path / NFD_CAFE).write_bytes(TEACHERS)
    with pytest.raises(AlreadyExists):
        upload.finish(overwrite=False)
    assert names_in(tmp_path) == [NFD_CAFE]
    assert read(tree, (NFC_CAFE,)) == TEACHERS


def test_delete_removes_the_file_get_serves(tree, root):
    tree.delete(("clase", NFC_CAFE))
    assert names_in(root / "clase") == []


def test_delete_of_a_name_with_several_twins_is_ambiguous(tree, root):
    (root / "K.txt").write_bytes(b"ascii")
    (root / "\u212a.txt").write_bytes(b"kelvin")
    tree.delete(("K.txt",))  # the exact name wins
    assert (root / "\u212a.txt").exists()
    (root / "K.txt").write_bytes(b"ascii")
    twin_a, twin_b = "\u1e30.txt", "K\u0301.txt"  # composed and decomposed
    (root / twin_a).write_bytes(b"a")
    (root / twin_b).write_bytes(b"b")
    with pytest.raises(AmbiguousName):
        tree.delete(("K\u0341.txt",))  # neither form: U+0341 is U+0301 after normalization
    assert (root / twin_a).exists() and (root / twin_b).exists()


def test_a_folder_is_found_and_never_made_beside_its_twin(tree, root):
    nfd_folder = unicodedata.normalize("NFD", "año")
    (root / nfd_folder).mkdir()
    (root / nfd_folder / "x.txt").write_bytes(b"x")
    assert read(tree, (unicodedata.normalize("NFC", "año"), "x.txt")) == b"x"
    with pytest.raises(AlreadyExists):
        tree.make_dir((unicodedata.normalize("NFC", "año"),))
    assert sorted(path.name for path in root.iterdir() if path.is_dir()) == sorted(["clase", nfd_folder])


def test_a_missing_name_without_twins_is_still_missing(tree):
    with pytest.raises(NoSuchFile):
        tree.delete(("nada.txt",))


@pytest.fixture
def folders_unread(monkeypatch):
    """Reading a folder's entries fails the test: a twin is looked up by name, never searched
    for, so a name missing from a folder of 30,000 costs two lookups, not a turn of the loop."""

    def scandir(target=None):
        raise AssertionError(f"folder {target!r} read to find a twin")

    monkeypatch.setattr(os, "scandir", scandir)


def test_twins_are_found_and_refused_without_reading_the_folder(tree, root, folders_unread):
    assert read(tree, ("clase", NFC_CAFE)) == TEACHERS
    with pytest.raises(NoSuchFile):
        tree.open(("clase", "nada.txt"))
    with pytest.raises(NoSuchFile):
        tree.entry(("nada", "x.txt"))
    with pytest.raises(AlreadyExists):
        tree.start_upload((NFC_CAFE,), overwrite=False, max_bytes=10, min_free_bytes=0)
    with pytest.raises(AlreadyExists):
        tree.make_dir(("clase", NFC_CAFE))
    tree.make_dir(("nueva",))
    upload = tree.start_upload(("nuevo.txt",), overwrite=False, max_bytes=10, min_free_bytes=0)
    upload.write(b"new")
    upload.finish(overwrite=False)
    tree.delete((NFC_CAFE,))
    assert names_in(root) == ["nuevo.txt"]


# --- the lab door: put ----------------------------------------------------------------


def put_line(content: bytes, path: str) -> str:
    return f"put {len(content)} {hashlib.sha256(content).hexdigest()} {path}"


def lab_put(root: Path, sockets, path: str, **settings) -> FakeRoom:
    room = FakeRoom()
    storage = Storage(str(root))
    uploads = Uploads(Tree(storage), room, UploadSettings(allowed=True, min_free_bytes=0, **settings))
    handlers = Handlers(room, FakeDownloads(), storage, uploads)
    ana = Session(sockets(), ("127.0.0.1", 40000), now=0.0)
    ana.name = "ana"
    handlers.on_line(ana, line(ana, put_line(b"student's", path)), 0.0)
    if room.called("send_event"):  # the client sends its bytes only after a `!GO`
        handlers.on_line(ana, protocol.FileData("ana", b"student's"), 0.0)
    return room


@pytest.mark.parametrize("path", [NFC_CAFE, f"clase/{NFC_CAFE}"])
def test_lab_put_of_a_twin_is_refused_as_existing(root, sockets, path):
    room = lab_put(root, sockets, path)
    assert [args[1] for args, _ in room.called("send_error")] == [ErrorCode.EXISTS]
    folder = root / path.rpartition("/")[0]
    assert names_in(folder) == [NFD_CAFE]
    assert (folder / NFD_CAFE).read_bytes() == TEACHERS


def test_lab_put_with_overwrite_replaces_the_twin_in_place(root, sockets):
    room = lab_put(root, sockets, NFC_CAFE, overwrite=True)
    assert not room.called("send_error")
    assert names_in(root) == [NFD_CAFE]
    assert (root / NFD_CAFE).read_bytes() == b"student's"


# --- the FTP door: STOR and DELE --------------------------------------------------------


def ftp_codes(replies: list[str]) -> list[int]:
    return [int(reply[:3]) for reply in replies]


def test_ftp_stor_of_a_twin_is_refused_without_overwrite(root):
    loop = logged_in(root, allow_upload=True)
    loop.upload_data = b"student's"
    assert ftp_codes(loop.feed(b"EPSV\r\n")) == [229]
    assert ftp_codes(loop.feed(f"STOR {NFC_CAFE}\r\n".encode())) == [553]
    assert names_in(root) == [NFD_CAFE]
    assert (root / NFD_CAFE).read_bytes() == TEACHERS


def test_ftp_dele_of_a_twin_name_deletes_that_file(root):
    loop = logged_in(root, allow_upload=True, allow_overwrite=True)
    assert ftp_codes(loop.feed(f"DELE clase/{NFC_CAFE}\r\n".encode())) == [250]
    assert names_in(root / "clase") == []
    assert names_in(root) == [NFD_CAFE]
