"""Unicode twins: names that are one name when typed (filenames.typed_form), told apart on disk.

`Café.txt` typed with one code point for `é` and `Cafe\\u0301.txt` written by
macOS are the same name to a person, so they are one name for every check the
tree makes: a name asked for and missing finds its one twin, an upload or a new
folder never lands beside a twin (unless replacing is allowed, and then it
replaces the twin), and a delete removes what `get` would have served.
"""

from __future__ import annotations

import os

from ..filenames import is_servable, typed_form


def other_forms(dir_fd: int, name: str) -> list[str]:
    """The servable names in the directory `dir_fd` that are `name` in another
    Unicode form (never `name` itself); OSError if it cannot be read."""
    wanted = typed_form(name)
    with os.scandir(dir_fd) as scan:
        return [
            item.name
            for item in scan
            if item.name != name and is_servable(item.name) and typed_form(item.name) == wanted
        ]
