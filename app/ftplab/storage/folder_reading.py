"""A folder read a step at a time, so that no listing holds the loop.

`Tree.read_folder` opens the folder (a FileProblem comes at once); a
`FolderReading` then reads ENTRIES_PER_STEP entries (each with its stat) per
`read_some`, sorting each step's run, and merges the runs in name order as
the entries are taken. `read_in_steps` drives it as a generator that yields a
None per step, the shape of every long reply on both doors (the loop serves
the other clients between two steps); `serves` answers whether a typed path
names a served file, reading each folder in those steps once for all the
paths asked about.
"""

from __future__ import annotations

import heapq
import itertools
import os
import stat
import weakref
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from operator import attrgetter

from ..filenames import is_listed, shown_apart, typed_form
from ..text import visible
from .paths import split_path
from .problems import FileProblem, FolderReadFailed

ENTRIES_PER_STEP = 512
"""Entries of a folder read (each with its stat) in one step of a listing, a few milliseconds:
a folder of 30,000 is read over some sixty turns of the loop, between other clients' work."""


@dataclass(frozen=True)
class Entry:
    """A file (or folder) in a listing; `shown` is its name made safe, and told apart from its twins."""

    name: str
    size: int
    mtime: float
    shown: str
    is_dir: bool = False


@dataclass(frozen=True)
class TreeEntry:
    """A file or directory inside the tree, as a listing shows it."""

    name: str
    is_dir: bool
    size: int
    mtime: float


class FolderReading:
    """One folder's entries read ENTRIES_PER_STEP at a time (`read_some`), so that listing a
    folder of 30,000 never holds the loop; then taken in name order (`entries`): each step's
    entries are sorted as they are read, and the sorted runs merged as the entries are taken.
    Holds the folder open until it has been read to its end, `close`d, or dropped: a listing
    given up before its first step (an FTP LIST aborted or left without its data connection)
    is dropped unstarted, and no `finally` of its generator ever runs. `inside(path)` says
    whether a link's target is inside the root (Storage.contains): only those are listed."""

    def __init__(self, fd: int, base: str, shown: str, inside: Callable[[str], bool], *, twins: bool = False):
        try:
            self._scan = os.scandir(fd)
        except BaseException:
            os.close(fd)
            raise
        self._open = True
        self._release = weakref.finalize(self, _close_folder, self._scan, fd)
        """Closes the folder once, on `close` or when this reading is dropped."""
        self._base = base
        self._shown = shown
        self._inside = inside
        self._runs: list[list[TreeEntry]] = []
        self.count = 0
        """Entries found so far (all of them once `read_some` said it is done)."""
        self._forms: dict[str, str] | None = {} if twins else None
        self.twins: set[str] = set()
        """With `twins`: the names found so far that share their typed form with another."""

    def read_some(self, limit: int = ENTRIES_PER_STEP) -> bool:
        """Read at most `limit` more entries; True once the folder has been read to its end.
        FolderReadFailed (the folder closed) when the system fails to read it partway."""
        if not self._open:
            return True
        try:
            items = list(itertools.islice(self._scan, limit))
        except OSError as error:
            self.close()
            raise FolderReadFailed(self._shown) from error
        run = [entry for item in items if (entry := self._listed_entry(item)) is not None]
        run.sort(key=_BY_NAME)
        self._runs.append(run)
        self.count += len(run)
        if self._forms is not None:
            self._note_twins(run)
        if len(items) < limit:
            self.close()
            return True
        return False

    def _listed_entry(self, item: os.DirEntry) -> TreeEntry | None:
        """The entry a listing shows: a regular file or a folder, a link only when it leads
        inside the root, never a hidden name (an upload's temporary among them)."""
        if not is_listed(item.name):
            return None
        try:
            if item.is_symlink() and not self._inside(os.path.join(self._base, item.name)):
                return None
            info = item.stat()
        except OSError:
            return None
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
            return None
        return TreeEntry(item.name, stat.S_ISDIR(info.st_mode), info.st_size, info.st_mtime)

    def _note_twins(self, run: list[TreeEntry]) -> None:
        for entry in run:
            first = self._forms.setdefault(typed_form(entry.name), entry.name)
            if first != entry.name:
                self.twins.update((first, entry.name))

    def entries(self) -> Iterator[TreeEntry]:
        """The entries read, in name order, merged as they are taken."""
        return heapq.merge(*self._runs, key=_BY_NAME)

    def shown_entries(self) -> Iterator[Entry]:
        """`entries` as the lab's `list` shows them (read with `twins`): each name escaped when
        it cannot be served, and names that are one name when typed shown apart."""
        return _shown(self.entries(), self.twins)

    def close(self) -> None:
        self._open = False
        self._release()


def _close_folder(scan: Iterator[os.DirEntry], fd: int) -> None:
    scan.close()
    os.close(fd)


_BY_NAME = attrgetter("name")


def _shown(entries: Iterable[TreeEntry], twins: set[str]) -> Iterator[Entry]:
    """Each entry with its name as a listing shows it: escaped, or told apart from its twins."""
    for entry in entries:
        shown = shown_apart(entry.name) if entry.name in twins else visible(entry.name)
        yield Entry(entry.name, entry.size, entry.mtime, shown, entry.is_dir)


def read_in_steps(reading: FolderReading) -> Iterator[None]:
    """Read a folder a step at a time, a None for each step but the last (the loop serves the
    others between them). The folder is closed however the reading ends; FolderReadFailed
    when the system fails to read it partway."""
    try:
        while not reading.read_some():
            yield None
    finally:
        reading.close()


def serves(
    read_folder: Callable[..., FolderReading],
    cwd: tuple[str, ...],
    word: str,
    listings: dict[tuple[str, ...], set[str]],
) -> Generator[None, None, bool]:
    """Does `word` (relative to `cwd`, or a path) name a served file? Its folder is read in
    steps (`read_folder`, Tree's) into `listings` (a None each), unless an earlier word's
    reading put it there. A folder that fails partway raises FolderReadFailed; one that cannot
    be read at all serves nothing."""
    try:
        parts = split_path(cwd, word)
        if not parts:
            return False
        folder = parts[:-1]
        if folder not in listings:
            reading = read_folder(folder, twins=True)
            yield from read_in_steps(reading)
            listings[folder] = {
                entry.name
                for entry in reading.shown_entries()
                if entry.shown == entry.name and not entry.is_dir
            }
    except FolderReadFailed:
        raise
    except (FileProblem, OSError):
        return False
    return parts[-1] in listings[folder]
