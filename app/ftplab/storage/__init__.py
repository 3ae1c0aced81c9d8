"""The served directory: the only code that lists, opens, receives or deletes files in it.

One gate: `Tree` walks a path one directory at a time with O_NOFOLLOW and is
the only way in (tree.py); the problems it answers with carry their wire codes
(problems.py); an upload is a nameless file until it is whole (incoming.py);
names that are one name when typed are one name for every check (twins.py).
The names other modules import are all here.
"""

from .incoming import MIN_FREE_BYTES, UPLOAD_TEMP_PREFIX, Upload
from .opened import OpenFile, file_identity
from .problems import (
    AlreadyExists,
    AmbiguousName,
    DiskFull,
    FileChanged,
    FileProblem,
    FolderNotEmpty,
    FolderReadFailed,
    NoFreeInodes,
    NoSuchFile,
    NotADirectory,
    NotAFile,
    OutOfResources,
    Unreadable,
    UploadFailed,
    UploadTooBig,
)
from .tree import (
    ENTRIES_PER_STEP,
    MIN_FREE_INODES,
    Entry,
    FolderReading,
    Storage,
    Tree,
    TreeEntry,
    display_path,
    split_path,
)

__all__ = [
    "ENTRIES_PER_STEP",
    "FolderReading",
    "MIN_FREE_BYTES",
    "MIN_FREE_INODES",
    "UPLOAD_TEMP_PREFIX",
    "AlreadyExists",
    "AmbiguousName",
    "DiskFull",
    "Entry",
    "FileChanged",
    "FileProblem",
    "FolderNotEmpty",
    "FolderReadFailed",
    "NoFreeInodes",
    "NoSuchFile",
    "NotADirectory",
    "NotAFile",
    "OpenFile",
    "OutOfResources",
    "Storage",
    "Tree",
    "TreeEntry",
    "Unreadable",
    "Upload",
    "UploadFailed",
    "UploadTooBig",
    "display_path",
    "file_identity",
    "split_path",
]
