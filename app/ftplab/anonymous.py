"""The names anonymous FTP logins get: `anon-N`, one N for each address's visit.

Logins with one name from one address are one person (roster.py). An anonymous
login has no name of its own, so the door gives it one, and gives the same one to
every anonymous login from that address while its visit lasts: FileZilla logs in
again for each transfer beside its browsing connection, and `lftp pget` logs in
several connections at once. Without this each of them was another person in
`who`, announced and seen off on its own.
"""

from __future__ import annotations

import itertools
from typing import Protocol

ADDRESSES_KEPT = 64
"""Addresses whose number is kept beyond twice the room's size before those whose visit ended
are forgotten: the table stays about as big as the room, however many addresses came and went."""


class Visitor(Protocol):
    """A person in the room, as far as the names need to know."""

    address: str
    by_ftp: bool


class Visits(Protocol):
    """What the names need from the room."""

    def visitor_named(self, name: str) -> Visitor | None: ...

    def __len__(self) -> int: ...


def anonymous_name(number: int) -> str:
    return f"anon-{number}"


class AnonymousNumbers:
    """N for each anonymous login (sans-IO: the room says whose visit lasts)."""

    def __init__(self, room: Visits):
        self._room = room
        self._next = itertools.count(1)
        self._given: dict[str, tuple[int, bool]] = {}
        """The number last given to each address, and whether the room has had that person since
        (until then its first login is still under way, and a second one at once joins it)."""

    def number_for(self, address_key: str) -> int:
        """The number of the address's visit that lasts, or of its login under way; else a new one,
        skipping the names people chose themselves (`USER anon-2`)."""
        number, seen = self._given.get(address_key, (0, True))
        if number and self._lasts(number, address_key):
            self._given[address_key] = (number, True)
            return number
        if number and not seen:
            return number
        if len(self._given) > 2 * len(self._room) + ADDRESSES_KEPT:
            self._given = {key: (n, True) for key, (n, _) in self._given.items() if self._lasts(n, key)}
        number = next(self._next)
        while self._room.visitor_named(anonymous_name(number)) is not None:  # someone chose that name
            number = next(self._next)
        self._given[address_key] = (number, False)
        return number

    def _lasts(self, number: int, address_key: str) -> bool:
        """Is the FTP user with that number from that address still here, or in its visit's grace?"""
        visitor = self._room.visitor_named(anonymous_name(number))
        return visitor is not None and visitor.by_ftp and visitor.address == address_key
