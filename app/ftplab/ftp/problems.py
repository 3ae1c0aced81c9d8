"""File problems as FTP reply codes, and the one problem only the FTP door has."""

from __future__ import annotations

from ..storage import AlreadyExists, DiskFull, FileProblem, FolderReadFailed, UploadFailed, UploadTooBig


class NameNotAllowed(FileProblem):
    """A name that cannot be made: hidden (a dotfile, a `-name`) or otherwise unservable."""

    message_key = "name_not_allowed"


def failure_code(problem: FileProblem) -> int:
    """552 over the size limit, 452 without space, 553 for a name taken, 451 for an upload or a
    listing's folder that failed partway, else 550."""
    if isinstance(problem, UploadTooBig):
        return 552
    if isinstance(problem, DiskFull):
        return 452
    if isinstance(problem, (AlreadyExists, NameNotAllowed)):
        return 553
    return 451 if isinstance(problem, (UploadFailed, FolderReadFailed)) else 550
