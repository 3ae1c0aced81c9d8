"""storage.Tree and storage.Upload: subdirectories and uploads, never outside the root."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftplab.storage import (
    UPLOAD_TEMP_PREFIX,
    AlreadyExists,
    DiskFull,
    NoSuchFile,
    NotADirectory,
    NotAFile,
    Storage,
    Tree,
    UploadFailed,
    UploadTooBig,
    display_path,
    split_path,
)
from support.folders import listed


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """tmp/x/files (the root, with sub/inner.txt and sub/deep/d.txt), beside
    tmp/x/files2/secret.txt and tmp/x/secret.txt. Returns tmp/x."""
    root = tmp_path / "x" / "files"
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"a")
    (root / "sub" / "inner.txt").write_bytes(b"inner")
    (root / "sub" / "deep" / "d.txt").write_bytes(b"ddd")
    (tmp_path / "x" / "files2").mkdir()
    (tmp_path / "x" / "files2" / "secret.txt").write_bytes(b"sibling secret")
    (tmp_path / "x" / "secret.txt").write_bytes(b"parent secret")
    return tmp_path / "x"


@pytest.fixture
def tree(base: Path) -> Tree:
    return Tree(Storage(str(base / "files")))


@pytest.fixture
def no_fd_leaks():
    before = sorted(os.listdir("/proc/self/fd"))
    yield
    assert sorted(os.listdir("/proc/self/fd")) == before, "descriptors left open"


def read(tree: Tree, parts: tuple[str, ...]) -> bytes:
    opened = tree.open(parts)
    try:
        return os.pread(opened.fd, opened.size + 1, 0)
    finally:
        opened.close()


def temporaries(directory: Path) -> list[str]:
    return [name for name in os.listdir(directory) if name.startswith(UPLOAD_TEMP_PREFIX)]


# --- split_path ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cwd", "text", "parts"),
    [
        ((), "a.txt", ("a.txt",)),
        (("sub",), "inner.txt", ("sub", "inner.txt")),
        (("sub",), "/a.txt", ("a.txt",)),
        (("sub",), "..", ()),
        ((), "..", ()),
        ((), "../../..", ()),
        ((), "/../../etc/passwd", ("etc", "passwd")),
        (("sub", "deep"), "../x//./y/", ("sub", "x", "y")),
        ((), "", ()),
        ((), "a b/ c ", ("a b", " c ")),
    ],
)
def test_split_path(cwd, text, parts):
    assert split_path(cwd, text) == parts


@pytest.mark.parametrize("text", ["a\\b", "sub/a\x00b", "x\r\ny", "esc\x1b", "n" * 256])
def test_split_path_refuses_components_that_are_not_plain(text):
    with pytest.raises(NoSuchFile):
        split_path((), text)


def test_display_path():
    assert display_path(()) == "/" and display_path(("a", "b c")) == "/a/b c"


# --- walking and reading ------------------------------------------------------------


def test_open_in_subdirectories(tree, no_fd_leaks):
    assert read(tree, ("sub", "inner.txt")) == b"inner"
    assert read(tree, ("sub", "deep", "d.txt")) == b"ddd"


def test_opened_file_is_named_by_its_path(tree):
    opened = tree.open(("sub", "inner.txt"))
    opened.close()
    assert opened.name == "/sub/inner.txt"


@pytest.mark.parametrize(
    "parts",
    [("sub",), ("nothing",), ("sub", "nothing"), ("a.txt", "x"), ("sub", "deep"), ()],
)
def test_open_refuses_what_is_not_a_file_below(tree, parts, no_fd_leaks):
    with pytest.raises((NoSuchFile, NotAFile, NotADirectory)):
        tree.open(parts)


def test_directory_link_out_of_the_root_is_refused(tree, base, no_fd_leaks):
    (base / "files" / "sub" / "up").symlink_to(base)
    (base / "files" / "sib").symlink_to(base / "files2")
    with pytest.raises(NoSuchFile):
        tree.open(("sub", "up", "secret.txt"))
    with pytest.raises(NoSuchFile):
        tree.open(("sib", "secret.txt"))
    assert not tree.is_dir(("sub", "up")) and not tree.is_dir(("sib",))
    with pytest.raises(NoSuchFile):
        listed(tree, ("sib",))


def test_file_link_out_of_the_root_is_refused(tree, base, no_fd_leaks):
    (base / "files" / "sub" / "leak.txt").symlink_to(base / "secret.txt")
    (base / "files" / "sub" / "rel.txt").symlink_to("../../files2/secret.txt")
    for name in ("leak.txt", "rel.txt"):
        with pytest.raises(NoSuchFile):
            tree.open(("sub", name))


def test_links_inside_the_root_are_followed(tree, base, no_fd_leaks):
    (base / "files" / "shortcut").symlink_to("sub/deep")
    (base / "files" / "sub" / "back.txt").symlink_to("../a.txt")
    assert read(tree, ("shortcut", "d.txt")) == b"ddd"
    assert read(tree, ("sub", "back.txt")) == b"a"
    assert tree.is_dir(("shortcut",))


def test_a_link_swapped_between_resolving_and_opening_is_caught(tree, base, monkeypatch):
    """The resolved path looked inside, but a directory on it became a link
    out of the root: the open file is checked where the kernel says it is."""
    root = base / "files"
    (root / "gate").symlink_to(base)
    (root / "x.txt").symlink_to("nothing")
    monkeypatch.setattr(os.path, "realpath", lambda path: str(root / "gate" / "secret.txt"))
    with pytest.raises(NoSuchFile):
        tree.open(("x.txt",))


def test_without_proc_the_single_resolution_still_refuses_links_out(tree, base, monkeypatch):
    """Where there is no /proc to ask, the resolved path alone decides."""
    (base / "files" / "sub" / "up").symlink_to(base)
    (base / "files" / "sub" / "leak.txt").symlink_to(base / "secret.txt")
    (base / "files" / "sub" / "ok.txt").symlink_to("deep/d.txt")

    monkeypatch.setattr(Storage, "opened_inside", lambda self, fd: True)  # what it says without /proc
    with pytest.raises(NoSuchFile):
        tree.open(("sub", "up", "secret.txt"))
    with pytest.raises(NoSuchFile):
        tree.open(("sub", "leak.txt"))
    assert read(tree, ("sub", "ok.txt")) == b"ddd"


def test_fifo_below_is_not_a_file_and_does_not_block(tree, base, deadline):
    os.mkfifo(base / "files" / "sub" / "pipe")
    with pytest.raises(NotAFile):
        tree.open(("sub", "pipe"))


def test_list_a_subdirectory(tree, base, no_fd_leaks):
    sub = base / "files" / "sub"
    os.mkfifo(sub / "pipe")
    (sub / "out.txt").symlink_to(base / "secret.txt")
    (sub / "ok.txt").symlink_to("inner.txt")
    (sub / f"{UPLOAD_TEMP_PREFIX}1234").write_bytes(b"partial")  # a named temporary of an upload
    entries = listed(tree, ("sub",))
    assert [(e.name, e.is_dir, e.size) for e in entries if not e.is_dir] == [
        ("inner.txt", False, 5),
        ("ok.txt", False, 5),
    ]
    assert [e.name for e in entries if e.is_dir] == ["deep"]
    with pytest.raises(NoSuchFile):
        tree.open(("sub", f"{UPLOAD_TEMP_PREFIX}1234"))


def test_list_of_a_file_is_not_a_directory(tree):
    with pytest.raises(NotADirectory):
        listed(tree, ("a.txt",))


def test_entry(tree):
    assert tree.entry(()).is_dir and tree.entry(("sub",)).is_dir
    file_entry = tree.entry(("sub", "deep", "d.txt"))
    assert (file_entry.name, file_entry.is_dir, file_entry.size) == ("d.txt", False, 3)


# --- changing -------------------------------------------------------------------------


def test_make_dir_and_delete(tree, base, no_fd_leaks):
    tree.make_dir(("sub", "new"))
    assert (base / "files" / "sub" / "new").is_dir()
    with pytest.raises(AlreadyExists):
        tree.make_dir(("sub", "new"))
    tree.delete(("sub", "inner.txt"))
    assert not (base / "files" / "sub" / "inner.txt").exists()
    with pytest.raises(NotAFile):
        tree.delete(("sub", "deep"))


def test_delete_never_follows_a_link(tree, base):
    (base / "files" / "link.txt").symlink_to(base / "secret.txt")
    with pytest.raises(NotAFile):
        tree.delete(("link.txt",))
    assert (base / "secret.txt").exists()


# --- uploads --------------------------------------------------------------------------


def upload(tree: Tree, parts, chunks, **options) -> int:
    options.setdefault("overwrite", False)
    options.setdefault("max_bytes", 1 << 20)
    options.setdefault("min_free_bytes", 0)
    receiving = tree.start_upload(parts, **options)
    for chunk in chunks:
        receiving.write(chunk)
    return receiving.finish(overwrite=options["overwrite"])


@pytest.fixture(params=["unnamed", "named"])
def temp_kind(request, monkeypatch):
    """Uploads with O_TMPFILE and, as on systems without it, with a hidden named temporary."""
    if request.param == "named":
        monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    return request.param


def test_upload_gets_its_name_only_at_the_end(tree, base, temp_kind, no_fd_leaks):
    sub = base / "files" / "sub"
    receiving = tree.start_upload(("sub", "new.txt"), overwrite=False, max_bytes=100, min_free_bytes=0)
    receiving.write(b"part one, ")
    assert not (sub / "new.txt").exists()
    assert len(temporaries(sub)) == (1 if temp_kind == "named" else 0)
    receiving.write(b"part two")
    assert receiving.finish(overwrite=False) == 18
    assert (sub / "new.txt").read_bytes() == b"part one, part two"
    assert temporaries(sub) == []


def test_aborted_upload_leaves_nothing(tree, base, temp_kind, no_fd_leaks):
    receiving = tree.start_upload(("gone.txt",), overwrite=False, max_bytes=100, min_free_bytes=0)
    receiving.write(b"data")
    receiving.abort()
    receiving.abort()
    assert not (base / "files" / "gone.txt").exists() and temporaries(base / "files") == []


def test_no_write_after_abort(tree, base, no_fd_leaks):
    receiving = tree.start_upload(("late.txt",), overwrite=False, max_bytes=100, min_free_bytes=0)
    receiving.abort()
    with pytest.raises(UploadFailed):
        receiving.write(b"late")
    assert not (base / "files" / "late.txt").exists()


def test_upload_never_overwrites_unless_allowed(tree, base, temp_kind, no_fd_leaks):
    with pytest.raises(AlreadyExists):
        upload(tree, ("a.txt",), [b"new"])
    assert (base / "files" / "a.txt").read_bytes() == b"a"
    assert upload(tree, ("a.txt",), [b"new"], overwrite=True) == 3
    assert (base / "files" / "a.txt").read_bytes() == b"new"
    assert temporaries(base / "files") == []


def test_a_name_taken_during_the_upload_is_not_replaced(tree, base, temp_kind, no_fd_leaks):
    receiving = tree.start_upload(("race.txt",), overwrite=False, max_bytes=100, min_free_bytes=0)
    receiving.write(b"mine")
    (base / "files" / "race.txt").write_bytes(b"theirs")
    with pytest.raises(AlreadyExists):
        receiving.finish(overwrite=False)
    assert (base / "files" / "race.txt").read_bytes() == b"theirs"
    assert temporaries(base / "files") == []


def test_append_starts_from_the_existing_content(tree, base, no_fd_leaks):
    assert upload(tree, ("sub", "inner.txt"), [b"+more"], overwrite=True, append=True) == 10
    assert (base / "files" / "sub" / "inner.txt").read_bytes() == b"inner+more"


def test_upload_over_the_limit(tree, base, temp_kind, no_fd_leaks):
    with pytest.raises(UploadTooBig):
        upload(tree, ("big.bin",), [b"x" * 60, b"x" * 60], max_bytes=100)
    assert not (base / "files" / "big.bin").exists() and temporaries(base / "files") == []


def test_upload_stops_before_the_disk_fills(tree, base, no_fd_leaks):
    with pytest.raises(DiskFull):
        upload(tree, ("big.bin",), [b"x"], min_free_bytes=2**62)
    assert not (base / "files" / "big.bin").exists()


def test_an_announced_size_that_would_not_fit_is_refused_before_writing(
    tree, base, temp_kind, monkeypatch, no_fd_leaks
):
    free = os.statvfs(base).f_bavail * os.statvfs(base).f_frsize
    receiving = tree.start_upload(("big.bin",), overwrite=False, max_bytes=2**62, min_free_bytes=0)
    receiving.expect(1024)  # fits
    with pytest.raises(DiskFull):
        receiving.expect(free + 2**30)
    assert receiving.done, "the refused upload is already dropped"
    assert not (base / "files" / "big.bin").exists() and temporaries(base / "files") == []


def test_after_the_announced_size_the_space_is_still_checked_as_it_is_written(tree, base, monkeypatch):
    receiving = tree.start_upload(("big.bin",), overwrite=False, max_bytes=2**62, min_free_bytes=0)
    receiving.expect(10 * 1024 * 1024)
    monkeypatch.setattr(receiving, "_min_free", 2**62)  # the disk fills meanwhile
    with pytest.raises(DiskFull):
        for _ in range(3):
            receiving.write(b"x" * (1024 * 1024))
    assert not (base / "files" / "big.bin").exists()


def test_a_listing_marks_folders_and_escapes_what_cannot_be_served(tree, base):
    (base / "files" / "esc\x1b.txt").write_bytes(b"x")
    entries = {entry.name: entry for entry in listed(tree)}
    assert entries["sub"].is_dir and entries["sub"].shown == "sub"
    assert entries["esc\x1b.txt"].shown == "esc\\x1b.txt"
    assert not entries["a.txt"].is_dir


def test_no_space_while_writing(tree, base, temp_kind, monkeypatch, no_fd_leaks):
    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    receiving = tree.start_upload(("full.bin",), overwrite=False, max_bytes=100, min_free_bytes=0)
    monkeypatch.setattr(os, "write", full)
    with pytest.raises(DiskFull):
        receiving.write(b"x")
    assert not (base / "files" / "full.bin").exists() and temporaries(base / "files") == []


def test_other_write_errors_are_upload_failed(tree, monkeypatch, no_fd_leaks):
    def broken(fd, data):
        raise OSError(errno.EIO, "I/O error")

    receiving = tree.start_upload(("x.bin",), overwrite=False, max_bytes=100, min_free_bytes=0)
    monkeypatch.setattr(os, "write", broken)
    with pytest.raises(UploadFailed):
        receiving.write(b"x")


@pytest.mark.parametrize("parts", [("sub",), ("sub", "deep"), (), ("nodir", "x"), ("a.txt", "x")])
def test_upload_refuses_directories_and_missing_parents(tree, parts, no_fd_leaks):
    with pytest.raises((NotAFile, NoSuchFile, NotADirectory)):
        tree.start_upload(parts, overwrite=True, max_bytes=10, min_free_bytes=0)


def test_upload_never_replaces_a_link(tree, base, no_fd_leaks):
    (base / "files" / "link.txt").symlink_to(base / "secret.txt")
    with pytest.raises(NotAFile):
        tree.start_upload(("link.txt",), overwrite=True, max_bytes=10, min_free_bytes=0)
    assert (base / "secret.txt").read_bytes() == b"parent secret"


def test_upload_through_a_directory_link_out_of_the_root(tree, base, no_fd_leaks):
    (base / "files" / "out").symlink_to(base)
    with pytest.raises(NoSuchFile):
        tree.start_upload(("out", "evil.txt"), overwrite=True, max_bytes=10, min_free_bytes=0)
    assert not (base / "evil.txt").exists()


def test_upload_to_a_temporary_name_is_refused(tree, no_fd_leaks):
    with pytest.raises(NoSuchFile):
        tree.start_upload((f"{UPLOAD_TEMP_PREFIX}x",), overwrite=True, max_bytes=10, min_free_bytes=0)


def test_a_named_temporary_is_invisible_to_the_lab_door_too(tree, base, monkeypatch):
    monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    receiving = tree.start_upload(("a-coming.txt",), overwrite=False, max_bytes=100, min_free_bytes=0)
    receiving.write(b"partial")
    try:
        (temp,) = temporaries(base / "files")
        lab = Storage(str(base / "files"))
        assert temp not in [entry.name for entry in listed(Tree(lab))]
        with pytest.raises(NoSuchFile):
            lab.open(temp)
    finally:
        receiving.abort()


@pytest.mark.parametrize("parts", [("sub/deep",), ("..",), ("sub", "."), ("a\x1bb",), ("",)])
def test_tree_checks_its_own_input(tree, parts, no_fd_leaks):
    for call in (tree.open, tree.read_folder, tree.make_dir, tree.delete):
        with pytest.raises(NoSuchFile):
            call(parts)
    assert not tree.is_dir(parts)


_COMPONENTS = st.sampled_from(
    ["..", ".", "", "sub", "deep", "a.txt", "up", "sib", "leak.txt", "x", "inner.txt"]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_COMPONENTS, max_size=8), st.booleans())
def test_fuzz_no_path_reaches_outside(base, path, absolute):
    """Whatever the path, what opens is inside the root (links out included)."""
    root = base / "files"
    for name, target in (("up", base), ("sib", base / "files2"), ("leak.txt", base / "secret.txt")):
        if not (root / "sub" / name).is_symlink():
            (root / "sub" / name).symlink_to(target)
    tree = Tree(Storage(str(root)))
    text = ("/" if absolute else "") + "/".join(path)
    parts = split_path(("sub",), text)
    assert all(part not in ("", ".", "..") for part in parts)
    try:
        opened = tree.open(parts)
    except (NoSuchFile, NotAFile, NotADirectory):
        return
    try:
        where = os.readlink(f"/proc/self/fd/{opened.fd}")
    finally:
        opened.close()
    assert where.startswith(tree.storage.root + os.sep)


def test_file_systems_without_hard_links(tree, base, monkeypatch, no_fd_leaks):
    monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    real_link = os.link

    def no_links(source, target, **options):
        if not str(source).startswith("/proc/"):
            raise OSError(errno.EPERM, "Operation not permitted")
        real_link(source, target, **options)

    monkeypatch.setattr(os, "link", no_links)
    assert upload(tree, ("sub", "fat.txt"), [b"vfat"]) == 4
    assert (base / "files" / "sub" / "fat.txt").read_bytes() == b"vfat"
    with pytest.raises(AlreadyExists):
        upload(tree, ("sub", "fat.txt"), [b"again"])
    assert (base / "files" / "sub" / "fat.txt").read_bytes() == b"vfat"
    assert temporaries(base / "files" / "sub") == []


def test_append_read_error_leaves_nothing(tree, base, monkeypatch, no_fd_leaks):
    def broken(fd, size, offset):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "pread", broken)
    with pytest.raises(UploadFailed):
        tree.start_upload(("a.txt",), overwrite=True, max_bytes=100, min_free_bytes=0, append=True)
    assert (base / "files" / "a.txt").read_bytes() == b"a" and temporaries(base / "files") == []
