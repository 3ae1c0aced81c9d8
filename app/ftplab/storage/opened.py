"""An open regular file of the served directory, and how to tell that it changed."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class OpenFile:
    """An open regular file, `name`d by its path from the root ("/sub/notes.txt").
    `identity` changes whenever its content may have."""

    fd: int
    name: str
    size: int
    identity: tuple

    @property
    def file_name(self) -> str:
        """The file's own name, as found on disk (the last component of `name`)."""
        return self.name.rsplit("/", 1)[-1]

    def close(self) -> None:
        os.close(self.fd)


def file_identity(info: os.stat_result) -> tuple:
    """Changes whenever the content may have: ctime too, since a rewrite in
    place can keep the size and put the mtime back (`touch -d`, `cp -p`)."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
