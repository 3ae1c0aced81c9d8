"""Why a file cannot be served or received: each problem carries its wire code and its message key.

Errors are values here: the tree and the uploads raise a FileProblem, and the
doors answer with its `code` (the lab's `!ERR`, an FTP reply) and the text its
`message_key` names in messages.py. `problem_for` maps what the operating
system said (an errno) to the problem a client is told about.
"""

from __future__ import annotations

import errno
import os

from ..protocol import ErrorCode

SYMLINK_ERRNOS = frozenset({errno.ELOOP, errno.EMLINK})
"""What O_NOFOLLOW says of a link (EMLINK on FreeBSD)."""
_DENIED_ERRNOS = frozenset({errno.EACCES, errno.EPERM})
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
_NOT_A_FILE_ERRNOS = frozenset({errno.ENXIO, errno.ENODEV})


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


class FolderReadFailed(FileProblem):
    """A folder opened for a listing failed partway through being read (EIO, a stale NFS
    handle): the listing cannot be finished; the server is not out of anything."""

    code = ErrorCode.RESOURCES
    message_key = "folder_read_failed"

    @property
    def why(self) -> str:
        """The system's reason for the log, "Input/output error": the error's own text ends with
        the folder's descriptor number (it was read by descriptor), which tells a reader nothing."""
        cause = self.__cause__
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno)
        return str(cause)


class AmbiguousName(FileProblem):
    """No file has exactly the name asked for, and several have it in another
    Unicode form: which one was meant cannot be known."""

    code = ErrorCode.AMBIGUOUS
    message_key = "ambiguous_file_name"


class NotADirectory(FileProblem):
    """A path that should name a directory names something else."""

    message_key = "not_a_directory"


class AlreadyExists(FileProblem):
    """The name is taken (exactly, or by its Unicode twin), and replacing is not allowed."""

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


class FileChanged(Exception):
    """A file got shorter while it was being read: what was announced cannot be sent."""


def problem_for(error: OSError, name: str) -> FileProblem:
    """The problem a client is told about when opening `name` failed with `error`."""
    if error.errno in _DENIED_ERRNOS:
        return Unreadable(name)
    if error.errno in _RESOURCE_ERRNOS:
        return OutOfResources(name)
    if error.errno in _NOT_A_FILE_ERRNOS:
        return NotAFile(name)
    return NoSuchFile(name)


# --- FTP door operations (rename, rmdir, mtime, digest): their problems


class FolderNotEmpty(FileProblem):
    """RMD of a folder that still holds something (hidden files count)."""

    message_key = "folder_not_empty"


class NoFreeInodes(DiskFull):
    """The file system has no room for another entry (inodes), whatever its free bytes."""

    message_key = "no_free_inodes"
