"""Unicode twins: names that are one name when typed (filenames.typed_form), told apart on disk.

`Café.txt` typed with one code point for `é` and `Cafe\\u0301.txt` written by
macOS are the same name to a person, so they are one name for every check the
tree makes: a name asked for and missing finds its one twin, an upload or a new
folder never lands beside a twin (unless replacing is allowed, and then it
replaces the twin), and a delete removes what `get` would have served.

A twin is looked up, never searched for: the name's composed (NFC, as typed on
Linux and Windows) and decomposed (NFD, as macOS writes) forms are asked for as
exact names, two lookups whatever the folder's size. Reading the folder to
compare every name would hold the loop for a folder of 30,000 at each name not
found. A name on disk in a third form (partly composed, or with a singleton
such as the Kelvin sign for K) is found only by its own name; a listing still
shows it apart from its twins.
"""

from __future__ import annotations

import os
import unicodedata

from ..filenames import is_servable, typed_form


def other_forms(dir_fd: int, name: str) -> list[str]:
    """The servable names in the directory `dir_fd` that are `name` in its other Unicode form,
    composed or decomposed (never `name` itself); OSError if the directory cannot be searched."""
    forms = dict.fromkeys((typed_form(name), unicodedata.normalize("NFD", name)))
    return [form for form in forms if form != name and is_servable(form) and _has_entry(dir_fd, form)]


def _has_entry(dir_fd: int, name: str) -> bool:
    """Whether the directory has an entry of exactly this name (a link counts, not followed)."""
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True
