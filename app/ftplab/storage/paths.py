"""Paths from the network as tuples of names under the root: ("sub", "dir") is /sub/dir.

A path is split here once, with "." and ".." applied and never above the root,
so the tree only ever walks names that can be served (filenames.is_servable).
"""

from __future__ import annotations

from ..filenames import is_servable
from .problems import NoSuchFile


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


def display_path(parts: tuple[str, ...]) -> str:
    """ "/sub/dir" for ("sub", "dir"); "/" for the root."""
    return "/" + "/".join(parts)


def require_plain(parts: tuple[str, ...]) -> None:
    """NoSuchFile unless every component can be served (what
    split_path makes): Tree checks its input itself."""
    if not all(is_servable(part) for part in parts):
        raise NoSuchFile(display_path(parts))
