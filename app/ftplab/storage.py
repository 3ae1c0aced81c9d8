"""The served directory: the only code that lists or opens files in it.

Which names exist is filenames.py's rule, shared with the client: `list` shows
the plain names that are not hidden, and `open` serves only names shown as they
are, matched in Unicode normal form C when no file has exactly the name asked
for. A file name from the network is a single path component. It is opened with
O_NOFOLLOW relative to the resolved root, so `..`, absolute paths, separators
and NUL bytes never reach the file system, and a symlink is served only when it
resolves to a regular file inside the root (resolved once, that path checked
and opened with O_NOFOLLOW, and the open file's real location checked again),
so a link swapped in between cannot lead outside.
Only regular files are served: a FIFO or device is refused without blocking.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections import defaultdict
from dataclasses import dataclass

from .filenames import is_listed, is_servable, shown_apart, typed_form
from .protocol import ErrorCode
from .text import visible

_OPEN_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
)
_SYMLINK_ERRNOS = frozenset({errno.ELOOP, errno.EMLINK})  # what O_NOFOLLOW says of a link (EMLINK on FreeBSD)
_DENIED_ERRNOS = frozenset({errno.EACCES, errno.EPERM})
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})


class FileProblem(Exception):
    """A file cannot be served. `code` is the wire error; `message_key` names its text in the catalogue."""

    code = ErrorCode.NO_FILE
    message_key = "no_such_file_named"

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class NoSuchFile(FileProblem):
    """Missing, or outside the root: the same answer, so nothing leaks."""


class NotAFile(FileProblem):
    """A directory, FIFO, device or socket: only regular files are served."""

    code = ErrorCode.NOT_FILE
    message_key = "not_a_file"


class Unreadable(FileProblem):
    """The server may not read it (permissions)."""

    code = ErrorCode.DENIED
    message_key = "unreadable_file"


class OutOfResources(FileProblem):
    """The server cannot open a file right now (no descriptors or memory): not the file's fault."""

    code = ErrorCode.RESOURCES
    message_key = "server_out_of_resources"


class FileChanged(Exception):
    """A file got shorter while it was being read: what was announced cannot be sent."""


class AmbiguousName(FileProblem):
    """No file has exactly the name asked for, and several have it in another
    Unicode form: which one was meant cannot be known."""

    code = ErrorCode.AMBIGUOUS
    message_key = "ambiguous_file_name"


@dataclass(frozen=True)
class Entry:
    """A file (or folder) in a listing; `shown` is its name made safe, and told apart from its twins."""

    name: str
    size: int
    mtime: float
    shown: str
    is_dir: bool = False


@dataclass(frozen=True)
class OpenFile:
    """An open regular file. `identity` changes whenever its content may have."""

    fd: int
    name: str
    size: int
    identity: tuple

    def close(self) -> None:
        os.close(self.fd)


def file_identity(info: os.stat_result) -> tuple:
    """Changes whenever the content may have: ctime too, since a rewrite in
    place can keep the size and put the mtime back (`touch -d`, `cp -p`)."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _typed_twins(names) -> set[str]:
    """The names that share their typed form with another name."""
    by_form = defaultdict(list)
    for name in names:
        by_form[typed_form(name)].append(name)
    return {name for group in by_form.values() if len(group) > 1 for name in group}


class Storage:
    """The served directory: listing and opening its files, safely."""

    def __init__(self, root: str):
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise NotADirectoryError(self.root)

    def contains(self, path: str) -> bool:
        """True when the resolved `path` lies strictly inside the root.

        commonpath compares whole components, so /srv/files2 is not inside
        /srv/files."""
        return self._holds(os.path.realpath(path))

    def _holds(self, resolved: str) -> bool:
        """`contains` for a path that is already resolved."""
        return resolved != self.root and os.path.commonpath([self.root, resolved]) == self.root

    def list(self) -> list[Entry]:
        """The listed regular files in the root, sorted by name: those that
        `open` serves, and those shown escaped (nobody can ask for them).
        Names that are one name when typed are shown apart. The rule is
        Tree's: one rule for the root and its folders."""
        return [entry for entry in Tree(self).list_shown(()) if not entry.is_dir]

    def open(self, name: str) -> OpenFile:
        """Open `name` for reading, or raise a FileProblem saying why not: the
        file of exactly that name, else the one file whose name is `name` in
        another Unicode form (AmbiguousName if several are)."""
        if not is_servable(name):
            raise NoSuchFile(name)
        if not os.path.lexists(os.path.join(self.root, name)):
            name = self._only_other_form(name)
        return self._open_exact(name)

    def _only_other_form(self, name: str) -> str:
        wanted = typed_form(name)
        try:
            with os.scandir(self.root) as scan:
                matches = [
                    item.name for item in scan if is_servable(item.name) and typed_form(item.name) == wanted
                ]
        except OSError as error:
            raise self._problem(error, name) from None
        if not matches:
            raise NoSuchFile(name)
        if len(matches) > 1:
            raise AmbiguousName(name)
        return matches[0]

    def _open_exact(self, name: str) -> OpenFile:
        path = os.path.join(self.root, name)
        fd = self._open_no_follow(path, name)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise NotAFile(name)
        except BaseException:
            os.close(fd)
            raise
        return OpenFile(fd, name, info.st_size, file_identity(info))

    def _open_no_follow(self, path: str, name: str) -> int:
        try:
            return os.open(path, _OPEN_FLAGS)
        except OSError as error:
            if error.errno in _SYMLINK_ERRNOS:
                return self._open_link_target(path, name)
            raise self._problem(error, name) from None

    def _open_link_target(self, path: str, name: str) -> int:
        """Resolve the link once, check that very path, open it without
        following a link again, then check where the open file really is: a
        link swapped in at any moment cannot lead outside the root."""
        target = os.path.realpath(path)
        if not self._holds(target):
            raise NoSuchFile(name)
        try:
            fd = os.open(target, _OPEN_FLAGS)
        except OSError as error:
            raise self._problem(error, name) from None
        if not self._opened_inside(fd):
            os.close(fd)
            raise NoSuchFile(name)
        return fd

    def _opened_inside(self, fd: int) -> bool:
        """Where the kernel says `fd` is (Linux's /proc); elsewhere the single
        resolution above has to do."""
        try:
            return self._holds(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            return True

    @staticmethod
    def _problem(error: OSError, name: str) -> FileProblem:
        if error.errno in _DENIED_ERRNOS:
            return Unreadable(name)
        if error.errno in _RESOURCE_ERRNOS:
            return OutOfResources(name)
        if error.errno in (errno.ENXIO, errno.ENODEV):
            return NotAFile(name)
        return NoSuchFile(name)


# --- subdirectories and uploads (the FTP door) --------------------------------
#
# A path from the network is a list of plain names under the root, walked one
# directory at a time with O_NOFOLLOW relative to the directory before it; a
# symlink is followed only when it resolves inside the root, and whatever was
# opened is checked again where the kernel says it is. An upload is written to
# a file with no name (O_TMPFILE; else a hidden temporary) in its directory and
# gets its final name only in `Upload.finish`, with a link that fails rather
# than replace a file unless overwriting is allowed.

UPLOAD_TEMP_PREFIX = ".ftplab-upload\\"
"""Where O_TMPFILE is missing, an upload's hidden temporary is named with this:
the backslash makes it no plain name, so neither door ever lists or opens one."""
MIN_FREE_BYTES = 16 * 1024 * 1024
"""Uploads stop before the file system's free space falls below this."""
MIN_FREE_INODES = 1024
"""Folders are not made once the file system has fewer free inodes than this."""

_SPACE_CHECK_BYTES = 1024 * 1024
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_WRITE_FLAGS = os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV})


class NotADirectory(FileProblem):
    """A path that should name a directory names something else."""

    message_key = "not_a_directory"


class AlreadyExists(FileProblem):
    """The name is taken, and replacing is not allowed."""

    message_key = "already_exists"


class UploadTooBig(FileProblem):
    """The upload went over the size limit."""

    message_key = "upload_too_big"


class DiskFull(FileProblem):
    """Not enough free space for the upload."""

    message_key = "disk_full"


class UploadFailed(FileProblem):
    """The upload could not be written (an I/O error)."""

    message_key = "upload_failed"


def split_path(cwd: tuple[str, ...], text: str) -> tuple[str, ...]:
    """The components of `text` (absolute, or relative to `cwd`), with "." and
    ".." applied and never above the root; NoSuchFile for a component that is
    not a name that can be served (filenames.is_servable)."""
    parts = [] if text.startswith("/") else list(cwd)
    for component in text.split("/"):
        if component in ("", "."):
            continue
        if component == "..":
            if parts:
                parts.pop()
            continue
        if not is_servable(component):
            raise NoSuchFile(text)
        parts.append(component)
    return tuple(parts)


def _require_plain(parts: tuple[str, ...]) -> None:
    """NoSuchFile unless every component can be served (what
    split_path makes): Tree checks its input itself."""
    if not all(is_servable(part) for part in parts):
        raise NoSuchFile(display_path(parts))


def display_path(parts: tuple[str, ...]) -> str:
    """ "/sub/dir" for ("sub", "dir"); "/" for the root."""
    return "/" + "/".join(parts)


@dataclass(frozen=True)
class TreeEntry:
    """A file or directory inside the tree, as a listing shows it."""

    name: str
    is_dir: bool
    size: int
    mtime: float


class Tree:
    """The served directory with its subdirectories: walk, list, open, upload."""

    def __init__(self, storage: Storage):
        self.storage = storage

    # -- walking --

    def _open_dir(self, parts: tuple[str, ...]) -> int:
        """An fd of the directory at `parts`; NotADirectory or NoSuchFile."""
        return self._walk(parts)[0]

    def _walk(self, parts: tuple[str, ...]) -> tuple[int, str]:
        """The directory at `parts`: its fd and its real path (known from the
        walk itself: no /proc needed)."""
        _require_plain(parts)
        fd, path = os.open(self.storage.root, _DIR_FLAGS), self.storage.root
        try:
            for index, name in enumerate(parts):
                child, path = self._open_child_dir(fd, path, name, display_path(parts[: index + 1]))
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd, path

    def _open_child_dir(self, parent_fd: int, parent_path: str, name: str, shown: str) -> tuple[int, str]:
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=parent_fd), os.path.join(parent_path, name)
        except OSError as error:
            if error.errno in _SYMLINK_ERRNOS or error.errno == errno.ENOTDIR:
                return self._follow_link(parent_path, name, shown, _DIR_FLAGS)
            raise self.storage._problem(error, shown) from None

    def _follow_link(self, parent_path: str, name: str, shown: str, flags: int) -> tuple[int, str]:
        """A symlink (or something else O_NOFOLLOW refused): resolve it once,
        open that path only when it is inside the root, then check where the
        open file really is, so a link swapped in meanwhile cannot lead out."""
        target = os.path.realpath(os.path.join(parent_path, name))
        if not self.storage._holds(target):
            raise NoSuchFile(shown)
        try:
            fd = os.open(target, flags)
        except OSError as error:
            problem = (
                NotADirectory(shown) if error.errno == errno.ENOTDIR else self.storage._problem(error, shown)
            )
            raise problem from None
        if not self.storage._opened_inside(fd):
            os.close(fd)
            raise NoSuchFile(shown)
        return fd, target

    def is_dir(self, parts: tuple[str, ...]) -> bool:
        try:
            os.close(self._open_dir(parts))
        except FileProblem:
            return False
        return True

    # -- reading --

    def list(self, parts: tuple[str, ...]) -> list[TreeEntry]:
        """Regular files and directories in the directory `parts`, sorted by
        name; links only when they lead inside the root; no upload temporaries."""
        fd, base = self._walk(parts)
        try:
            with os.scandir(fd) as scan:
                entries = [entry for item in scan if (entry := self._tree_entry(base, item)) is not None]
        finally:
            os.close(fd)
        return sorted(entries, key=lambda entry: entry.name)

    def _tree_entry(self, base: str, item: os.DirEntry) -> TreeEntry | None:
        if not is_listed(item.name):
            return None
        try:
            if item.is_symlink() and not self.storage.contains(os.path.join(base, item.name)):
                return None
            info = item.stat()
        except OSError:
            return None
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
            return None
        return TreeEntry(item.name, stat.S_ISDIR(info.st_mode), info.st_size, info.st_mtime)

    def list_shown(self, parts: tuple[str, ...]) -> list[Entry]:
        """`list` as the lab's `list` shows it: each name escaped when it
        cannot be served, and names that are one name when typed shown apart."""
        entries = self.list(parts)
        twins = _typed_twins(entry.name for entry in entries)
        return [
            Entry(
                entry.name,
                entry.size,
                entry.mtime,
                shown_apart(entry.name) if entry.name in twins else visible(entry.name),
                entry.is_dir,
            )
            for entry in entries
        ]

    def entry(self, parts: tuple[str, ...]) -> TreeEntry:
        """The file or directory at `parts` (the root too)."""
        if not parts or self.is_dir(parts):
            fd = self._open_dir(parts)
            try:
                info = os.fstat(fd)
            finally:
                os.close(fd)
            return TreeEntry(parts[-1] if parts else "/", True, info.st_size, info.st_mtime)
        opened = self.open(parts)
        try:
            return TreeEntry(parts[-1], False, opened.size, os.fstat(opened.fd).st_mtime)
        finally:
            opened.close()

    def open(self, parts: tuple[str, ...]) -> OpenFile:
        """Open the regular file at `parts` for reading, or a FileProblem."""
        shown = display_path(parts)
        _require_plain(parts)
        if not parts:
            raise NoSuchFile(shown)
        parent, parent_path = self._walk(parts[:-1])
        try:
            fd = self._open_file_in(parent, parent_path, parts[-1], shown)
        finally:
            os.close(parent)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise NotAFile(shown)
        except BaseException:
            os.close(fd)
            raise
        return OpenFile(fd, shown, info.st_size, file_identity(info))

    def _open_file_in(self, parent_fd: int, parent_path: str, name: str, shown: str) -> int:
        try:
            fd = os.open(name, _OPEN_FLAGS, dir_fd=parent_fd)
        except OSError as error:
            if error.errno in _SYMLINK_ERRNOS:
                return self._follow_link(parent_path, name, shown, _OPEN_FLAGS)[0]
            raise self.storage._problem(error, shown) from None
        if not self.storage._opened_inside(fd):
            os.close(fd)
            raise NoSuchFile(shown)
        return fd

    # -- changing --

    def make_dir(self, parts: tuple[str, ...]) -> None:
        shown = display_path(parts)
        _require_plain(parts)
        if not parts:
            raise AlreadyExists(shown)
        parent = self._open_dir(parts[:-1])
        try:
            os.mkdir(parts[-1], 0o777, dir_fd=parent)
        except FileExistsError:
            raise AlreadyExists(shown) from None
        except OSError as error:
            raise self.storage._problem(error, shown) from None
        finally:
            os.close(parent)

    def delete(self, parts: tuple[str, ...]) -> None:
        """Remove the regular file at `parts` (never a directory or a link)."""
        shown = display_path(parts)
        _require_plain(parts)
        if not parts:
            raise NotAFile(shown)
        parent = self._open_dir(parts[:-1])
        try:
            info = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode):
                raise NotAFile(shown)
            os.unlink(parts[-1], dir_fd=parent)
        except OSError as error:
            raise self.storage._problem(error, shown) from None
        finally:
            os.close(parent)

    def start_upload(
        self,
        parts: tuple[str, ...],
        *,
        overwrite: bool,
        max_bytes: int,
        append: bool = False,
        min_free_bytes: int = MIN_FREE_BYTES,
    ) -> Upload:
        """An Upload to `parts`; AlreadyExists when the name is taken and
        `overwrite` is off. `append` starts from the existing file's content."""
        shown = display_path(parts)
        _require_plain(parts)
        if not parts:
            raise NoSuchFile(shown)
        parent = self._open_dir(parts[:-1])
        try:
            existing = self._existing(parent, parts[-1], shown)
            if existing is not None and not overwrite:
                raise AlreadyExists(shown)
            upload = Upload(parent, parts[-1], shown, max_bytes=max_bytes, min_free_bytes=min_free_bytes)
        except BaseException:
            os.close(parent)
            raise
        if append and existing is not None:
            upload.copy_from(self.open(parts))
        return upload

    @staticmethod
    def _existing(parent_fd: int, name: str, shown: str) -> os.stat_result | None:
        try:
            info = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(info.st_mode):
            raise NotAFile(shown)  # a directory, a link, a device: never replaced by an upload
        return info

    # --- FTP door operations (rename, rmdir, mtime, digest)
    # Each walks to the parent with _walk (O_NOFOLLOW, never above the root),
    # takes plain names only (_require_plain: no hidden names) and acts on the
    # entry itself, never through a link.

    def rename(self, source: tuple[str, ...], target: tuple[str, ...], *, overwrite: bool) -> None:
        """Rename the file or folder `source` to `target`. A taken name (or its
        Unicode twin) is AlreadyExists unless `overwrite`, and then only a
        regular file of exactly that name is replaced; a folder never is."""
        _require_plain(source)
        _require_plain(target)
        if not source or not target:
            raise NoSuchFile(display_path(source or target))
        old_parent = self._open_dir(source[:-1])
        try:
            new_parent = self._open_dir(target[:-1])
            try:
                self._rename_in(old_parent, new_parent, source, target, overwrite)
            finally:
                os.close(new_parent)
        finally:
            os.close(old_parent)

    def _rename_in(
        self,
        old_parent: int,
        new_parent: int,
        source: tuple[str, ...],
        target: tuple[str, ...],
        overwrite: bool,
    ) -> None:
        shown = display_path(target)
        moved = self._lstat_entry(old_parent, source[-1], display_path(source))
        same_folder = source[:-1] == target[:-1]
        taken = self._taken(new_parent, target[-1], shown, exclude=source[-1] if same_folder else None)
        try:
            if taken is None:
                self._move_to_free_name(old_parent, source[-1], new_parent, target[-1], moved)
            elif overwrite and stat.S_ISREG(moved.st_mode) and stat.S_ISREG(taken.st_mode):
                os.replace(source[-1], target[-1], src_dir_fd=old_parent, dst_dir_fd=new_parent)
            else:
                raise AlreadyExists(shown)
        except FileExistsError:
            raise AlreadyExists(shown) from None
        except OSError as error:
            raise self.storage._problem(error, shown) from None

    @staticmethod
    def _lstat_entry(parent_fd: int, name: str, shown: str) -> os.stat_result:
        """The entry itself (not what a link points to): a regular file or a folder."""
        try:
            info = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        except OSError:
            raise NoSuchFile(shown) from None
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
            raise NotAFile(shown)
        return info

    @staticmethod
    def _taken(parent_fd: int, name: str, shown: str, exclude: str | None) -> os.stat_result | None:
        """What holds `name` in the folder: the entry of exactly that name, else
        AlreadyExists when another entry is its Unicode twin (not `exclude`)."""
        try:
            return os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            pass
        wanted = typed_form(name)
        with os.scandir(parent_fd) as scan:
            if any(item.name != exclude and typed_form(item.name) == wanted for item in scan):
                raise AlreadyExists(shown)
        return None

    @staticmethod
    def _move_to_free_name(
        old_parent: int, old: str, new_parent: int, new: str, moved: os.stat_result
    ) -> None:
        """A file gets its new name by a link that fails if the name was taken
        meanwhile, then loses the old one; a folder (no links) by rename."""
        if stat.S_ISDIR(moved.st_mode):
            os.rename(old, new, src_dir_fd=old_parent, dst_dir_fd=new_parent)
            return
        try:
            os.link(old, new, src_dir_fd=old_parent, dst_dir_fd=new_parent, follow_symlinks=False)
        except OSError as error:
            if error.errno not in _NO_HARD_LINKS:
                raise
            os.rename(old, new, src_dir_fd=old_parent, dst_dir_fd=new_parent)
            return
        os.unlink(old, dir_fd=old_parent)

    def remove_dir(self, parts: tuple[str, ...]) -> None:
        """Remove the empty folder at `parts` (never the root, never a link);
        FolderNotEmpty when anything is in it, hidden files too."""
        shown = display_path(parts)
        _require_plain(parts)
        if not parts:
            raise NotADirectory(shown)
        parent = self._open_dir(parts[:-1])
        try:
            info = self._lstat_entry(parent, parts[-1], shown)
            if not stat.S_ISDIR(info.st_mode):
                raise NotADirectory(shown)
            os.rmdir(parts[-1], dir_fd=parent)
        except OSError as error:
            empty = error.errno not in (errno.ENOTEMPTY, errno.EEXIST)
            raise (self.storage._problem(error, shown) if empty else FolderNotEmpty(shown)) from None
        finally:
            os.close(parent)

    def set_mtime(self, parts: tuple[str, ...], mtime: float) -> None:
        """Set the regular file's modification time, through the file opened
        with the same walk as a download (never through a link outside)."""
        opened = self.open(parts)
        try:
            os.utime(opened.fd, (mtime, mtime))
        except OSError as error:
            raise self.storage._problem(error, opened.name) from None
        finally:
            opened.close()

    def make_dir_within_reserve(
        self, parts: tuple[str, ...], *, min_free_bytes: int, min_free_inodes: int
    ) -> None:
        """`make_dir`, refused (DiskFull, NoFreeInodes) when the file system has
        less than the reserve left: folders cannot fill a disk uploads may not."""
        shown = display_path(parts)
        _require_plain(parts)
        if not parts:
            raise AlreadyExists(shown)
        parent = self._open_dir(parts[:-1])
        try:
            self._check_reserve(parent, shown, min_free_bytes, min_free_inodes)
            os.mkdir(parts[-1], 0o777, dir_fd=parent)
        except FileExistsError:
            raise AlreadyExists(shown) from None
        except OSError as error:
            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                self._check_reserve(parent, shown, 1, 1)
                raise DiskFull(shown) from None
            raise self.storage._problem(error, shown) from None
        finally:
            os.close(parent)

    @staticmethod
    def _check_reserve(dir_fd: int, shown: str, min_free_bytes: int, min_free_inodes: int) -> None:
        """NoFreeInodes or DiskFull when the file system holding `dir_fd` is below the reserve."""
        info = os.fstatvfs(dir_fd)
        if info.f_files and info.f_favail < min_free_inodes:  # f_files 0: no inode count (btrfs)
            raise NoFreeInodes(shown)
        if info.f_bavail * info.f_frsize < min_free_bytes:
            raise DiskFull(shown)


class Upload:
    """A file being received: nameless (or hidden) in its directory until
    `finish` gives it its name; `abort` leaves nothing behind. Owns `dir_fd`."""

    def __init__(self, dir_fd: int, name: str, shown: str, *, max_bytes: int, min_free_bytes: int):
        self.name = shown
        self.received = 0
        self._dir_fd = dir_fd
        self._final = name
        self._max_bytes = max_bytes
        self._min_free = min_free_bytes
        self._next_space_check = 0
        self._check_space(0)
        self._fd, self._temp = self._open_temp()
        self.done = False  # finished or aborted: the descriptors are closed

    def _open_temp(self) -> tuple[int, str | None]:
        unnamed = getattr(os, "O_TMPFILE", 0)
        if unnamed:
            try:
                return os.open(".", unnamed | _WRITE_FLAGS, 0o644, dir_fd=self._dir_fd), None
            except OSError as error:
                if error.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                    raise UploadFailed(self.name) from None
        temp = f"{UPLOAD_TEMP_PREFIX}{os.urandom(8).hex()}"
        flags = _WRITE_FLAGS | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            return os.open(temp, flags, 0o644, dir_fd=self._dir_fd), temp
        except OSError:
            raise UploadFailed(self.name) from None

    def _check_space(self, coming: int) -> None:
        """DiskFull when the next `coming` bytes would leave less than the reserve."""
        if self.received + coming < self._next_space_check:
            return
        info = os.fstatvfs(self._dir_fd)
        free = info.f_bavail * info.f_frsize
        if free - coming < self._min_free:
            raise DiskFull(self.name)
        self._next_space_check = self.received + coming + _SPACE_CHECK_BYTES

    def expect(self, size: int) -> None:
        """DiskFull (and the upload aborted) when `size` more bytes would not
        fit above the reserve: an announced upload is refused before it starts."""
        self._next_space_check = 0
        try:
            self._check_space(size)
        except BaseException:
            self.abort()
            raise
        self._next_space_check = self.received + _SPACE_CHECK_BYTES  # then checked as it is written

    def write(self, data: bytes) -> None:
        """Append `data`; UploadTooBig, DiskFull or UploadFailed (then the
        upload is already aborted)."""
        if self.done:
            raise UploadFailed(self.name)  # aborted meanwhile (ABOR): nothing more is written
        try:
            if self.received + len(data) > self._max_bytes:
                raise UploadTooBig(self.name)
            self._check_space(len(data))
            self._write_all(data)
        except BaseException:
            self.abort()
            raise
        self.received += len(data)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as error:
            raise (DiskFull if error.errno in (errno.ENOSPC, errno.EDQUOT) else UploadFailed)(
                self.name
            ) from None

    def copy_from(self, source: OpenFile) -> None:
        """Start with `source`'s bytes (APPE), counted against the limit.
        The copy is made at once, so appending to a big file takes a moment."""
        try:
            offset = 0
            while offset < source.size:
                chunk = os.pread(source.fd, min(_SPACE_CHECK_BYTES, source.size - offset), offset)
                if not chunk:
                    break
                self.write(chunk)
                offset += len(chunk)
        except OSError:
            self.abort()
            raise UploadFailed(self.name) from None
        finally:
            source.close()

    def finish(self, *, overwrite: bool) -> int:
        """Give the file its final name; returns its size. AlreadyExists when
        the name was taken meanwhile and `overwrite` is off."""
        try:
            os.fsync(self._fd)
            if overwrite:
                self._replace()
            else:
                self._link(self._final)
        except FileExistsError:
            raise AlreadyExists(self.name) from None
        except OSError as error:
            kind = DiskFull if error.errno in (errno.ENOSPC, errno.EDQUOT) else UploadFailed
            raise kind(self.name) from None
        finally:
            self.abort()
        return self.received

    def _link(self, name: str) -> None:
        """A new name for the file; FileExistsError if `name` is taken."""
        if self._temp is None:
            os.link(f"/proc/self/fd/{self._fd}", name, dst_dir_fd=self._dir_fd, follow_symlinks=True)
            return
        try:
            os.link(self._temp, name, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd, follow_symlinks=False)
        except OSError as error:
            if error.errno not in _NO_HARD_LINKS:
                raise
            self._claim_then_replace(name)

    def _claim_then_replace(self, name: str) -> None:
        """For file systems without hard links: create the name empty (which
        fails if it exists), then replace our own claim with the file."""
        flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
        os.close(os.open(name, flags, 0o644, dir_fd=self._dir_fd))
        os.replace(self._temp, name, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd)
        self._temp = None

    def _replace(self) -> None:
        if self._temp is None:  # an unnamed file gets a hidden name first: rename needs one
            temp = f"{UPLOAD_TEMP_PREFIX}{os.urandom(8).hex()}"
            self._link(temp)
            self._temp = temp
        os.replace(self._temp, self._final, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd)
        self._temp = None

    def abort(self) -> None:
        """Drop the temporary and close everything; safe to call twice."""
        if self.done:
            return
        self.done = True
        os.close(self._fd)
        if self._temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._temp, dir_fd=self._dir_fd)
        os.close(self._dir_fd)


# --- FTP door operations (rename, rmdir, mtime, digest): their problems


class FolderNotEmpty(FileProblem):
    """RMD of a folder that still holds something (hidden files count)."""

    message_key = "folder_not_empty"


class NoFreeInodes(DiskFull):
    """The file system has no room for another entry (inodes), whatever its free bytes."""

    message_key = "no_free_inodes"
