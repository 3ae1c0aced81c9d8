"""handlers for cd, pwd, list of folders, get of a path and put, with the real Uploads and
storage on a temporary directory, and the fake room of test_handlers that records calls."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from test_handlers import FakeDownloads, FakeRoom, line

from ftplab import protocol
from ftplab.handlers import Handlers
from ftplab.protocol import ErrorCode
from ftplab.session import Session
from ftplab.storage import Storage, Tree
from ftplab.uploads import Uploads, UploadSettings


@pytest.fixture
def root(tmp_path: Path) -> Path:
    served = tmp_path / "root"
    (served / "fotos" / "viejas").mkdir(parents=True)
    (served / "fotos" / "clase.jpg").write_bytes(b"j" * 1536)
    (served / "notas.txt").write_text("hola")
    return served


@pytest.fixture
def room():
    return FakeRoom()


@pytest.fixture
def downloads():
    return FakeDownloads()


def make_handlers(room, downloads, root: Path, **settings) -> Handlers:
    storage = Storage(str(root))
    uploads = Uploads(Tree(storage), room, UploadSettings(**settings))
    return Handlers(room, downloads, storage, uploads)


@pytest.fixture
def handlers(room, downloads, root):
    return make_handlers(room, downloads, root, allowed=True, min_free_bytes=0)


@pytest.fixture
def ana(sockets, room):
    session = Session(sockets(), ("127.0.0.1", 40000), now=0.0)
    room.add_member(session, "ana")
    return session


def errors(room) -> list[ErrorCode]:
    return [args[1] for args, _ in room.called("send_error")]


def events(room) -> list:
    return [args[1] for args, _ in room.called("send_event")]


# --- folders --------------------------------------------------------------------------


def test_cd_and_pwd(handlers, room, ana):
    handlers.on_line(ana, line(ana, "cd fotos"), 0.0)
    handlers.on_line(ana, line(ana, "pwd"), 0.0)
    handlers.on_line(ana, line(ana, "cd viejas"), 0.0)
    handlers.on_line(ana, line(ana, "cd ../.."), 0.0)
    replies = [args[1] for args, _ in room.called("reply")]
    assert replies == [
        room.say("current_dir", path="/fotos"),
        room.say("current_dir", path="/fotos"),
        room.say("current_dir", path="/fotos/viejas"),
        room.say("current_dir", path="/"),
    ]
    assert ana.cwd == ()


@pytest.mark.parametrize("target", ["notas.txt", "nada", ".oculta", "fotos/../../.."])
def test_cd_to_no_folder_keeps_the_current_one(handlers, room, ana, root, target):
    (root / ".oculta").mkdir()
    handlers.on_line(ana, line(ana, "cd fotos"), 0.0)
    handlers.on_line(ana, line(ana, f"cd {target}"), 0.0)
    if target == "fotos/../../..":  # never above the root: that is the root
        assert ana.cwd == ()
        return
    assert errors(room) == [ErrorCode.NOT_DIR]
    assert ana.cwd == ("fotos",)


def test_list_shows_folders_and_readable_sizes(handlers, room, ana):
    handlers.on_line(ana, line(ana, "list fotos"), 0.0)
    ((_, texts), _) = room.called("reply_in_pieces")[0]
    texts = list(texts)
    assert texts[0] == room.say("list_header_in", path="/fotos", count=2)
    assert texts[1].lstrip().startswith("1.5 KiB  ") and texts[1].endswith("  clase.jpg")
    assert texts[2].lstrip().startswith("<dir>  ") and texts[2].endswith("  viejas/")


def test_list_of_an_empty_folder_and_of_no_folder(handlers, room, ana):
    handlers.on_line(ana, line(ana, "cd fotos/viejas"), 0.0)
    handlers.on_line(ana, line(ana, "list"), 0.0)
    handlers.on_line(ana, line(ana, "list nada"), 0.0)
    ((_, texts), _) = room.called("reply_in_pieces")[-1]  # read as the answer goes out, like any listing
    assert [text for text in texts if text is not None] == [room.say("list_empty_in", path="/fotos/viejas")]
    assert errors(room) == [ErrorCode.NOT_DIR]


def test_get_takes_the_root_by_name_and_a_folder_by_path(handlers, downloads, room, ana):
    handlers.on_line(ana, line(ana, "get notas.txt"), 0.0)
    handlers.on_line(ana, line(ana, "cd fotos"), 0.0)
    handlers.on_line(ana, line(ana, "get clase.jpg"), 0.0)
    handlers.on_line(ana, line(ana, "get /notas.txt"), 0.0)
    handlers.on_line(ana, line(ana, "get .."), 0.0)
    assert [name for _, name in downloads.requests] == ["notas.txt", "fotos/clase.jpg", "notas.txt"]
    assert errors(room) == [ErrorCode.NO_FILE]


# --- put ----------------------------------------------------------------------------------


def put_line(content: bytes, path: str) -> str:
    return f"put {len(content)} {hashlib.sha256(content).hexdigest()} {path}"


def upload(handlers, session, content: bytes, path: str, pieces: int = 3) -> None:
    handlers.on_line(session, line(session, put_line(content, path)), 0.0)
    step = max(1, len(content) // pieces)
    for start in range(0, len(content), step):
        handlers.on_line(session, protocol.FileData("ana", content[start : start + step]), 0.0)


def test_put_answers_go_then_saved_and_tells_the_others(handlers, room, ana, root):
    upload(handlers, ana, b"contenido nuevo", "nuevo.txt")
    assert events(room) == [
        protocol.UploadReady(room.name, "nuevo.txt"),
        protocol.UploadSaved(room.name, 15, "nuevo.txt"),
    ]
    ((key,), values) = room.called("announce")[0]
    assert (key, values) == ("uploaded", {"exclude": ana, "name": "ana", "path": "nuevo.txt", "size": "15 B"})
    assert (root / "nuevo.txt").read_bytes() == b"contenido nuevo"


def test_nothing_has_the_name_until_the_last_byte(handlers, room, ana, root):
    handlers.on_line(ana, line(ana, put_line(b"abcdef", "fotos/x.txt")), 0.0)
    handlers.on_line(ana, protocol.FileData("ana", b"abc"), 0.0)
    assert not (root / "fotos" / "x.txt").exists()
    assert sorted(p.name for p in (root / "fotos").iterdir()) == ["clase.jpg", "viejas"]
    handlers.on_line(ana, protocol.FileData("ana", b"def"), 0.0)
    assert (root / "fotos" / "x.txt").read_bytes() == b"abcdef"


def test_put_is_refused_when_uploads_are_off(room, downloads, root, ana):
    handlers = make_handlers(room, downloads, root)
    handlers.on_line(ana, line(ana, put_line(b"x", "x.txt")), 0.0)
    assert errors(room) == [ErrorCode.NO_UPLOAD]
    assert not (root / "x.txt").exists()


@pytest.mark.parametrize(
    ("argument", "code"),
    [
        ("notas.txt", ErrorCode.USAGE),
        (put_line(b"x", "notas.txt"), ErrorCode.EXISTS),
        (put_line(b"x", "fotos"), ErrorCode.BAD_PATH),
        (put_line(b"x", ".oculto"), ErrorCode.BAD_PATH),
        (put_line(b"x", "nada/x.txt"), ErrorCode.BAD_PATH),
        (put_line(b"x", ".."), ErrorCode.BAD_PATH),
        (put_line(b"x" * 11, "grande.bin"), ErrorCode.TOO_BIG),
    ],
)
def test_put_refusals(room, downloads, root, ana, argument, code):
    handlers = make_handlers(room, downloads, root, allowed=True, max_bytes=10, min_free_bytes=0)
    text = argument if argument.startswith("put ") else f"put {argument}"
    handlers.on_line(ana, line(ana, text), 0.0)
    assert errors(room) == [code]
    assert not events(room), "no !GO"


def test_a_second_put_while_one_is_going_is_busy(handlers, room, ana):
    handlers.on_line(ana, line(ana, put_line(b"abc", "a.txt")), 0.0)
    handlers.on_line(ana, line(ana, put_line(b"def", "b.txt")), 0.0)
    assert errors(room) == [ErrorCode.UPLOAD_BUSY]
    handlers.on_line(ana, protocol.FileData("ana", b"abc"), 0.0)  # the first one goes on
    assert events(room)[-1] == protocol.UploadSaved(room.name, 3, "a.txt")


def test_a_wrong_digest_or_too_many_bytes_keep_nothing(handlers, room, ana, root):
    handlers.on_line(ana, line(ana, f"put 3 {'0' * 64} a.txt"), 0.0)
    handlers.on_line(ana, protocol.FileData("ana", b"abc"), 0.0)
    handlers.on_line(ana, line(ana, put_line(b"abc", "b.txt")), 0.0)
    handlers.on_line(ana, protocol.FileData("ana", b"abcd"), 0.0)
    assert errors(room) == [ErrorCode.CORRUPT, ErrorCode.CORRUPT]
    assert sorted(p.name for p in root.iterdir()) == ["fotos", "notas.txt"]


def test_abort_and_a_lost_session_keep_nothing(handlers, room, ana, root):
    handlers.on_line(ana, line(ana, put_line(b"abcdef", "a.txt")), 0.0)
    handlers.on_line(ana, protocol.FileData("ana", b"abc"), 0.0)
    handlers.on_line(ana, protocol.FileAbort("ana", "changed"), 0.0)
    handlers.on_line(ana, line(ana, put_line(b"abcdef", "b.txt")), 0.0)
    handlers.on_line(ana, protocol.FileData("ana", b"abc"), 0.0)
    handlers._uploads.forget(ana)
    handlers.on_line(ana, protocol.FileData("ana", b"def"), 0.0)
    assert errors(room) == [ErrorCode.PROTOCOL], "data after the upload ended is refused"
    assert sorted(p.name for p in root.iterdir()) == ["fotos", "notas.txt"]


def test_frames_from_another_name_or_before_joining(handlers, room, ana, sockets):
    handlers.on_line(ana, protocol.FileData("bob", b"x"), 0.0)
    stranger = Session(sockets(), ("127.0.0.1", 1), now=0.0)
    handlers.on_line(stranger, protocol.FileData("eve", b"x"), 0.0)
    assert errors(room) == [ErrorCode.IMPERSONATION]
    assert [args[1] for args, _ in room.called("refuse")] == [ErrorCode.NO_NAME]


def test_a_bad_frame_closes_the_connection(handlers, room, ana):
    handlers.on_bad_line(ana, protocol.BadFrame("bad number"))
    assert room.called("refuse") == [((ana, ErrorCode.BAD_FRAME, "bad_frame"), {})]


def test_the_log_says_why_a_put_was_refused_in_words_not_a_class_name(handlers, room, ana, caplog):
    with caplog.at_level("INFO", logger="ftplab.server"):
        handlers.on_line(ana, line(ana, put_line(b"x", "notas.txt")), 0.0)
    assert "ana@127.0.0.1:40000: put notas.txt refused: Already exists: notas.txt" in caplog.messages
    assert not any("AlreadyExists" in message for message in caplog.messages)


def test_a_failed_upload_is_a_warning_on_the_console_in_the_class_language(handlers, room, ana):
    handlers.on_line(ana, line(ana, f"put 3 {'0' * 64} a.txt"), 0.0)
    handlers.on_line(ana, protocol.FileData("ana", b"abc"), 0.0)
    reason = room.say("upload_corrupt", name="a.txt")
    assert room.called("show") == [((room.say("console_upload_failed", name="ana", reason=reason),), {})]


def test_mget_takes_a_folder_before_its_pattern(handlers, room, downloads, ana, root):
    (root / "fotos" / "otra.jpg").write_bytes(b"o")
    handlers.on_line(ana, line(ana, "mget fotos/*.jpg"), 0.0)
    handlers.on_line(ana, line(ana, "cd fotos/viejas"), 0.0)
    handlers.on_line(ana, line(ana, "mget ../../*.txt"), 0.0)
    handlers.on_line(ana, line(ana, "mget /fotos/c*"), 0.0)
    queued = [event.name for (_, event), _ in room.called("send_event") if isinstance(event, protocol.Queued)]
    assert queued == ["fotos/clase.jpg", "fotos/otra.jpg", "../../notas.txt", "/fotos/clase.jpg"]
    assert room.called("send_error") == []


def test_mget_in_a_folder_that_is_not_there_says_so(handlers, room, ana):
    handlers.on_line(ana, line(ana, "mget nada/*.jpg"), 0.0)
    handlers.on_line(ana, line(ana, "mget notas.txt/*"), 0.0)
    assert errors(room) == [ErrorCode.NOT_DIR, ErrorCode.NOT_DIR]
    assert [values["name"] for _, values in room.called("send_error")] == ["nada", "notas.txt"]
