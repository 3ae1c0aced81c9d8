"""The served directory: the only code that lists, opens, receives or deletes files in it.

One gate: `Tree` walks a path one directory at a time with O_NOFOLLOW and is
the only way in (tree.py), with paths split once (paths.py) and folders read a
step at a time (folder_reading.py); the problems it answers with carry their wire codes
(problems.py); an upload is a nameless file until it is whole (incoming.py);
names that are one name when typed are one name for every check (twins.py).
The names other modules import are all here.
"""

from .folder_reading import ENTRIES_PER_STEP, Entry, FolderReading, TreeEntry, read_in_steps, serves
from .incoming import MIN_FREE_BYTES, UPLOAD_TEMP_PREFIX, Upload
from .opened import OpenFile, file_identity
from .paths import display_path, split_path
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
from .tree import MIN_FREE_INODES, Storage, Tree

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
    "read_in_steps",
    "serves",
    "split_path",
]
