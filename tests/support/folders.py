"""A folder as the lab's `list` shows it, read by the live path: `Tree.read_folder`, step by
step to its end (`read_in_steps`), then its entries in name order with their shown names."""

from __future__ import annotations

from ftplab.storage import Entry, Storage, Tree, read_in_steps


def listed(tree: Tree, parts: tuple[str, ...] = ()) -> list[Entry]:
    """Every entry of the folder `parts`, files and folders, as the lab lists them."""
    reading = tree.read_folder(parts, twins=True)
    for _step in read_in_steps(reading):
        pass
    return list(reading.shown_entries())


def listed_files(storage: Storage) -> list[Entry]:
    """The regular files the lab lists in the root, in name order."""
    return [entry for entry in listed(Tree(storage)) if not entry.is_dir]
