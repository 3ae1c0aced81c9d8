"""The served directory and its folders: the one way in, for listing, reading, uploading and deleting.

Which names exist is filenames.py's rule, shared with the client: listings show
the plain names that are not hidden, and only names shown as they are can be
asked for. A path from the network is a list of such names under the root,
walked one directory at a time with O_NOFOLLOW relative to the directory
before it, so `..`, absolute paths, separators and NUL bytes never reach the
file system. A symlink is followed only when it resolves inside the root
(resolved once, that path checked and opened with O_NOFOLLOW, and the open
file's real location checked again where the kernel says it is), so a link
swapped in between cannot lead outside. Only regular files are served: a FIFO
or device is refused without blocking.

A name that no entry has exactly finds its one Unicode twin (twins.py): the
same rule for every step of the walk, for reading, uploading, making folders
and deleting.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager

from ..filenames import is_servable
from .folder_reading import FolderReading, TreeEntry
from .incoming import MIN_FREE_BYTES, NO_HARD_LINKS, Upload
from .opened import OpenFile, file_identity
from .paths import display_path, require_plain
from .problems import (
    SYMLINK_ERRNOS,
    AlreadyExists,
    AmbiguousName,
    DiskFull,
    FileProblem,
    FolderNotEmpty,
    NoFreeInodes,
    NoSuchFile,
    NotADirectory,
    NotAFile,
    problem_for,
)
from .twins import other_forms

_OPEN_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
MIN_FREE_INODES = 1024
"""FTP door operations: folders are not made once the file system has fewer free inodes than this."""


class Storage:
    """The served directory's root, resolved once; `Tree` is the way into it."""

    def __init__(self, root: str):
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise NotADirectoryError(self.root)

    def contains(self, path: str) -> bool:
        """True when the resolved `path` lies strictly inside the root.

        commonpath compares whole components, so /srv/files2 is not inside
        /srv/files."""
        return self.holds(os.path.realpath(path))

    def holds(self, resolved: str) -> bool:
        """`contains` for a path that is already resolved."""
        return resolved != self.root and os.path.commonpath([self.root, resolved]) == self.root

    def opened_inside(self, fd: int) -> bool:
        """Where the kernel says `fd` is (Linux's /proc); elsewhere the single
        resolution that led to it has to do."""
        try:
            return self.holds(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            return True

    def open(self, name: str) -> OpenFile:
        """The root's file `name` (or its one Unicode twin) through the Tree,
        named by its own name; a FileProblem says why not."""
        if not is_servable(name):
            raise NoSuchFile(name)
        opened = Tree(self).open((name,))
        return dataclasses.replace(opened, name=opened.file_name)


class Tree:
    """The served directory with its subdirectories: walk, list, open, upload, delete."""

    def __init__(self, storage: Storage):
        self.storage = storage

    # -- walking --

    def _open_dir(self, parts: tuple[str, ...]) -> int:
        """An fd of the directory at `parts`; NotADirectory or NoSuchFile."""
        return self._walk(parts)[0]

    def _walk(self, parts: tuple[str, ...]) -> tuple[int, str]:
        """The directory at `parts`: its fd and its real path (known from the
        walk itself: no /proc needed)."""
        require_plain(parts)
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

    def _open_child_dir(
        self, parent_fd: int, parent_path: str, name: str, shown: str, *, twin_allowed: bool = True
    ) -> tuple[int, str]:
        """The folder `name` in the parent; when no folder has exactly that name
        (and `twin_allowed`), the one that has it in another Unicode form."""
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=parent_fd), os.path.join(parent_path, name)
        except OSError as error:
            if error.errno == errno.ENOENT and twin_allowed:
                twin = self._only_twin(parent_fd, name, shown)
                return self._open_child_dir(parent_fd, parent_path, twin, shown, twin_allowed=False)
            if error.errno in SYMLINK_ERRNOS or error.errno == errno.ENOTDIR:
                return self._follow_link(parent_path, name, shown, _DIR_FLAGS)
            raise problem_for(error, shown) from None

    def _follow_link(self, parent_path: str, name: str, shown: str, flags: int) -> tuple[int, str]:
        """A symlink (or something else O_NOFOLLOW refused): resolve it once,
        open that path only when it is inside the root, then check where the
        open file really is, so a link swapped in meanwhile cannot lead out."""
        target = os.path.realpath(os.path.join(parent_path, name))
        if not self.storage.holds(target):
            raise NoSuchFile(shown)
        try:
            fd = os.open(target, flags)
        except OSError as error:
            problem = NotADirectory(shown) if error.errno == errno.ENOTDIR else problem_for(error, shown)
            raise problem from None
        if not self.storage.opened_inside(fd):
            os.close(fd)
            raise NoSuchFile(shown)
        return fd, target

    # -- names: exactly, else the one Unicode twin --

    def _present(self, parent_fd: int, name: str, shown: str) -> str:
        """The entry's name on disk: `name` when it exists, else its one twin
        (NoSuchFile when none, AmbiguousName when several)."""
        if _exists(parent_fd, name):
            return name
        return self._only_twin(parent_fd, name, shown)

    @staticmethod
    def _only_twin(parent_fd: int, name: str, shown: str) -> str:
        matches = _twins(parent_fd, name, shown)
        if not matches:
            raise NoSuchFile(shown)
        if len(matches) > 1:
            raise AmbiguousName(shown)
        return matches[0]

    def _open_parent(self, parts: tuple[str, ...], at_root: type[FileProblem]) -> tuple[int, str]:
        """The folder holding the last name of `parts` (its fd and real path),
        after the checks every operation on an entry makes: plain names only,
        and `at_root` when `parts` is the root itself (which has no parent)."""
        require_plain(parts)
        if not parts:
            raise at_root(display_path(parts))
        return self._walk(parts[:-1])

    @contextmanager
    def _in_parent(self, parts: tuple[str, ...], at_root: type[FileProblem]) -> Iterator[int]:
        """`_open_parent`'s fd, closed when the block ends."""
        parent, _ = self._open_parent(parts, at_root)
        try:
            yield parent
        finally:
            os.close(parent)

    def is_dir(self, parts: tuple[str, ...]) -> bool:
        try:
            os.close(self._open_dir(parts))
        except FileProblem:
            return False
        return True

    # -- reading --

    def read_folder(self, parts: tuple[str, ...], *, twins: bool = False) -> FolderReading:
        """The regular files and directories in the directory `parts` (links only when they
        lead inside the root; no upload temporaries), read a step at a time (folder_reading.py).
        The folder is opened now, so a FileProblem comes at once. `twins`: note the names a
        listing shows apart."""
        fd, base = self._walk(parts)
        return FolderReading(fd, base, display_path(parts), self.storage.contains, twins=twins)

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
        """Open the regular file at `parts` for reading (its last name matched
        exactly, else its one Unicode twin), or a FileProblem. The OpenFile is
        named by its path, with the file's own name last."""
        shown = display_path(parts)
        parent, parent_path = self._open_parent(parts, NoSuchFile)
        try:
            fd, name = self._open_file_in(parent, parent_path, parts[-1], shown, twin_allowed=True)
        finally:
            os.close(parent)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise NotAFile(shown)
        except BaseException:
            os.close(fd)
            raise
        return OpenFile(fd, display_path((*parts[:-1], name)), info.st_size, file_identity(info))

    def _open_file_in(
        self, parent_fd: int, parent_path: str, name: str, shown: str, *, twin_allowed: bool = False
    ) -> tuple[int, str]:
        """The file `name` in the parent, opened, and its name on disk: when no entry has exactly
        that name (and `twin_allowed`), the one that has it in another Unicode form. Opened
        first, looked for only when missing: a download costs no stat of its name."""
        try:
            fd = os.open(name, _OPEN_FLAGS, dir_fd=parent_fd)
        except OSError as error:
            if error.errno == errno.ENOENT and twin_allowed:
                twin = self._only_twin(parent_fd, name, shown)
                return self._open_file_in(parent_fd, parent_path, twin, shown)
            if error.errno in SYMLINK_ERRNOS:
                return self._follow_link(parent_path, name, shown, _OPEN_FLAGS)[0], name
            raise problem_for(error, shown) from None
        if not self.storage.opened_inside(fd):
            os.close(fd)
            raise NoSuchFile(shown)
        return fd, name

    # -- changing --

    def make_dir(
        self,
        parts: tuple[str, ...],
        *,
        min_free_bytes: int = MIN_FREE_BYTES,
        min_free_inodes: int = MIN_FREE_INODES,
    ) -> None:
        """A new folder at `parts`; AlreadyExists when the name, or a twin of it,
        is taken; DiskFull or NoFreeInodes (said as such) below the reserve, so
        folders cannot fill a disk that uploads may not."""
        shown = display_path(parts)
        with self._in_parent(parts, AlreadyExists) as parent:
            try:
                self._check_reserve(parent, shown, min_free_bytes, min_free_inodes)
                if _twins(parent, parts[-1], shown):
                    raise AlreadyExists(shown)
                os.mkdir(parts[-1], 0o777, dir_fd=parent)
            except FileExistsError:
                raise AlreadyExists(shown) from None
            except OSError as error:
                if error.errno in (errno.ENOSPC, errno.EDQUOT):
                    self._check_reserve(parent, shown, 1, 1)
                    raise DiskFull(shown) from None
                raise problem_for(error, shown) from None

    def delete(self, parts: tuple[str, ...]) -> None:
        """Remove the regular file at `parts`, the one `open` would read (never a directory or a link)."""
        shown = display_path(parts)
        with self._in_parent(parts, NotAFile) as parent:
            try:
                name = self._present(parent, parts[-1], shown)
                info = os.stat(name, dir_fd=parent, follow_symlinks=False)
                if not stat.S_ISREG(info.st_mode):
                    raise NotAFile(shown)
                os.unlink(name, dir_fd=parent)
            except OSError as error:
                raise problem_for(error, shown) from None

    def start_upload(
        self,
        parts: tuple[str, ...],
        *,
        overwrite: bool,
        max_bytes: int,
        append: bool = False,
        min_free_bytes: int = MIN_FREE_BYTES,
    ) -> Upload:
        """An Upload to `parts`; AlreadyExists when the name (or a Unicode twin
        of it) is taken and `overwrite` is off; with it on, a twin is what gets
        replaced. `append` starts from the existing file's content."""
        shown = display_path(parts)
        parent, _ = self._open_parent(parts, NoSuchFile)
        try:
            name = self._landing_name(parent, parts[-1], shown, overwrite=overwrite)
            existing = self._existing(parent, name, shown)
            if existing is not None and not overwrite:
                raise AlreadyExists(shown)
            upload = Upload(parent, name, shown, max_bytes=max_bytes, min_free_bytes=min_free_bytes)
        except BaseException:
            os.close(parent)
            raise
        if append and existing is not None:
            upload.copy_from(self.open((*parts[:-1], name)))
        return upload

    @staticmethod
    def _landing_name(
        parent_fd: int, name: str, shown: str, *, overwrite: bool, exclude: str | None = None
    ) -> str:
        """The name an upload or a rename lands on: `name`, unless a Unicode
        twin holds it (then AlreadyExists, or that twin when replacing is
        allowed); `exclude` (a rename's source, renamed to its own twin) does not count."""
        if _exists(parent_fd, name):
            return name
        twins = [twin for twin in _twins(parent_fd, name, shown) if twin != exclude]
        if not twins:
            return name
        if not overwrite:
            raise AlreadyExists(shown)
        if len(twins) > 1:
            raise AmbiguousName(shown)
        return twins[0]

    @staticmethod
    def _existing(parent_fd: int, name: str, shown: str) -> os.stat_result | None:
        info = _lstat_or_none(parent_fd, name)
        if info is not None and not stat.S_ISREG(info.st_mode):
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
        require_plain(source)
        require_plain(target)
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
        old = self._present(old_parent, source[-1], display_path(source))
        moved = self._lstat_entry(old_parent, old, display_path(source))
        same_folder = source[:-1] == target[:-1]
        new = self._landing_name(
            new_parent, target[-1], shown, overwrite=overwrite, exclude=old if same_folder else None
        )
        taken = _lstat_or_none(new_parent, new)
        try:
            if taken is None:
                self._move_to_free_name(old_parent, old, new_parent, new, moved)
            elif overwrite and stat.S_ISREG(moved.st_mode) and stat.S_ISREG(taken.st_mode):
                os.replace(old, new, src_dir_fd=old_parent, dst_dir_fd=new_parent)
            else:
                raise AlreadyExists(shown)
        except FileExistsError:
            raise AlreadyExists(shown) from None
        except OSError as error:
            raise problem_for(error, shown) from None

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
            if error.errno not in NO_HARD_LINKS:
                raise
            os.rename(old, new, src_dir_fd=old_parent, dst_dir_fd=new_parent)
            return
        os.unlink(old, dir_fd=old_parent)

    def remove_dir(self, parts: tuple[str, ...]) -> None:
        """Remove the empty folder at `parts` (never the root, never a link);
        FolderNotEmpty when anything is in it, hidden files too."""
        shown = display_path(parts)
        with self._in_parent(parts, NotADirectory) as parent:
            try:
                info = self._lstat_entry(parent, parts[-1], shown)
                if not stat.S_ISDIR(info.st_mode):
                    raise NotADirectory(shown)
                os.rmdir(parts[-1], dir_fd=parent)
            except OSError as error:
                empty = error.errno not in (errno.ENOTEMPTY, errno.EEXIST)
                raise (problem_for(error, shown) if empty else FolderNotEmpty(shown)) from None

    def set_mtime(self, parts: tuple[str, ...], mtime: float) -> None:
        """Set the regular file's modification time, through the file opened
        with the same walk as a download (never through a link outside)."""
        opened = self.open(parts)
        try:
            os.utime(opened.fd, (mtime, mtime))
        except OSError as error:
            raise problem_for(error, opened.name) from None
        finally:
            opened.close()

    @staticmethod
    def _check_reserve(dir_fd: int, shown: str, min_free_bytes: int, min_free_inodes: int) -> None:
        """NoFreeInodes or DiskFull when the file system holding `dir_fd` is below the reserve."""
        info = os.fstatvfs(dir_fd)
        if info.f_files and info.f_favail < min_free_inodes:  # f_files 0: no inode count (btrfs)
            raise NoFreeInodes(shown)
        if info.f_bavail * info.f_frsize < min_free_bytes:
            raise DiskFull(shown)


def _lstat_or_none(parent_fd: int, name: str) -> os.stat_result | None:
    """The entry itself (a link not followed), or None when there is none."""
    try:
        return os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _exists(parent_fd: int, name: str) -> bool:
    """Whether the directory has an entry of exactly this name (a link counts, not followed)."""
    try:
        os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # there, but not to be looked at: opening it will say why
    return True


def _twins(parent_fd: int, name: str, shown: str) -> list[str]:
    """other_forms, with a directory that cannot be read as a FileProblem."""
    try:
        return other_forms(parent_fd, name)
    except OSError as error:
        raise problem_for(error, shown) from None
