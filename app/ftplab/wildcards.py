"""Shell wildcards for `mget` (`*`, `?`, `[abc]`, `[a-z]`, `[!x]`), matched with bounded work.

A pattern comes from the network, so nothing about it may cost the loop more
than a bounded amount: it is at most MAX_PATTERN_CHARS long, a `[` that is
never closed is refused (fnmatch would take it literally, after compiling in
time quadratic in the number of them), nothing is cached between commands
(fnmatch keeps every compiled pattern for the life of the process), and
matching one pattern against a whole folder stops with PatternTooCostly after
MAX_MATCH_STEPS steps plus STEPS_PER_NAME for each name in it: a few
milliseconds in a small folder, and in a big one a small multiple of what
listing it has already cost, however the pattern is made.

The matcher cuts the pattern at its stars into pieces of fixed length: the
first piece must match at the start, the last at the end, and each piece
between at its leftmost place after the one before (which is enough: a star
takes any run, so an earlier place never loses a match). Names and patterns
are compared in normal form C, as `get` compares them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .filenames import typed_form
from .storage import Entry

MAX_PATTERN_CHARS = 512
"""A name is at most 255 bytes; a pattern for one, with classes, fits in twice that."""
MAX_MATCH_STEPS = 20_000
"""What one `mget` may spend matching, whatever the folder: a step is one comparison of a
piece of the pattern (about 0.2 microseconds)."""
STEPS_PER_NAME = 4
"""And for each name in the folder: `*.txt` takes one step a name, `foto_*.jpg` two."""


class PatternProblem(Exception):
    """A pattern refused; `message_key` names its text in messages.py, `values` fill it."""

    message_key = "pattern_unclosed_bracket"

    def __init__(self, **values):
        super().__init__(values)
        self.values = values


class PatternTooLong(PatternProblem):
    message_key = "pattern_too_long"


class UnclosedBracket(PatternProblem):
    """A `[` with no `]` after it."""

    message_key = "pattern_unclosed_bracket"


class PatternTooCostly(PatternProblem):
    """Matching used up its steps before every name was tried."""

    message_key = "pattern_too_costly"


@dataclass(frozen=True)
class _AnyChar:
    """`?`: one character, whatever it is."""

    def matches(self, ch: str) -> bool:
        return True


@dataclass(frozen=True)
class _CharClass:
    """`[...]`: one character among `chars` or in one of `ranges` (or in none, when `negated`)."""

    chars: frozenset[str]
    ranges: tuple[tuple[str, str], ...]
    negated: bool

    def matches(self, ch: str) -> bool:
        inside = ch in self.chars or any(low <= ch <= high for low, high in self.ranges)
        return inside != self.negated


_Atom = str | _AnyChar | _CharClass
"""A literal run of characters, or one character by `?` or a class."""


class _Budget:
    """The steps one matching may still take."""

    def __init__(self, steps: int):
        self.left = steps

    def spend(self, steps: int = 1) -> None:
        self.left -= steps
        if self.left < 0:
            raise PatternTooCostly()


@dataclass(frozen=True)
class _Piece:
    """What lies between two stars: atoms of fixed total `length`."""

    atoms: tuple[_Atom, ...]
    length: int

    def matches_at(self, name: str, start: int, budget: _Budget) -> bool:
        """Whether the piece matches `name` from `start` (which leaves room for `length`)."""
        budget.spend(len(self.atoms))  # at most one step an atom: spent at once, the cheaper way
        position = start
        for atom in self.atoms:
            if isinstance(atom, str):
                if not name.startswith(atom, position):
                    return False
                position += len(atom)
            elif not atom.matches(name[position]):
                return False
            else:
                position += 1
        return True

    def find(self, name: str, start: int, end: int, budget: _Budget) -> int | None:
        """The leftmost place in name[start:end] where the piece matches, or None."""
        if len(self.atoms) == 1 and isinstance(self.atoms[0], str):
            budget.spend()
            found = name.find(self.atoms[0], start, end)
            return None if found < 0 else found
        for position in range(start, end - self.length + 1):
            if self.matches_at(name, position, budget):
                return position
        return None


class Wildcard:
    """A parsed pattern; `matches` spends from a budget shared by one command."""

    def __init__(self, pieces: list[_Piece]):
        self._pieces = pieces

    @classmethod
    def parse(cls, text: str) -> Wildcard:
        """The pattern `text`, or PatternTooLong / UnclosedBracket."""
        if len(text) > MAX_PATTERN_CHARS:
            raise PatternTooLong(limit=MAX_PATTERN_CHARS)
        return cls([_piece(atoms) for atoms in _split_at_stars(typed_form(text))])

    def matches(self, name: str, budget: _Budget) -> bool:
        name = typed_form(name)
        first, last = self._pieces[0], self._pieces[-1]
        if len(self._pieces) == 1:
            return len(name) == first.length and first.matches_at(name, 0, budget)
        end = len(name) - last.length
        if end < first.length or not first.matches_at(name, 0, budget):
            return False
        if not last.matches_at(name, end, budget):
            return False
        position = first.length
        for piece in self._pieces[1:-1]:
            found = piece.find(name, position, end, budget)
            if found is None:
                return False
            position = found + piece.length
        return True


def _piece(atoms: list[_Atom]) -> _Piece:
    return _Piece(tuple(atoms), sum(len(atom) if isinstance(atom, str) else 1 for atom in atoms))


def _split_at_stars(text: str) -> list[list[_Atom]]:
    """The atoms between stars (runs of stars count as one): one list more than there are stars."""
    pieces: list[list[_Atom]] = [[]]
    index = 0
    while index < len(text):
        ch = text[index]
        if ch == "*":
            if index == 0 or text[index - 1] != "*":
                pieces.append([])
            index += 1
        elif ch == "?":
            pieces[-1].append(_AnyChar())
            index += 1
        elif ch == "[":
            atom, index = _char_class(text, index)
            pieces[-1].append(atom)
        else:
            _add_literal(pieces[-1], ch)
            index += 1
    return pieces


def _add_literal(atoms: list[_Atom], ch: str) -> None:
    if atoms and isinstance(atoms[-1], str):
        atoms[-1] += ch
    else:
        atoms.append(ch)


def _char_class(text: str, start: int) -> tuple[_CharClass, int]:
    """The class opening at text[start] == "[" and the index after its "]". As in the
    shell, a "]" first (after an optional "!") belongs to the class."""
    index = start + 1
    negated = index < len(text) and text[index] == "!"
    index += negated
    close = text.find("]", index + 1)
    if close < 0:
        raise UnclosedBracket(pattern=text)
    chars, ranges = _class_members(text[index:close])
    return _CharClass(frozenset(chars), tuple(ranges), negated), close + 1


def _class_members(body: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The single characters and the `a-z` ranges of a class's body (a range
    backwards matches nothing; a "-" first or last is itself)."""
    chars, ranges, index = [], [], 0
    while index < len(body):
        if index + 2 < len(body) and body[index + 1] == "-":
            ranges.append((body[index], body[index + 2]))
            index += 3
        else:
            chars.append(body[index])
            index += 1
    return chars, ranges


def matching_names(entries: list[Entry], wildcard: Wildcard) -> list[str]:
    """The served names (not those shown escaped) that `wildcard` matches, in the order
    given; PatternTooCostly once MAX_MATCH_STEPS + STEPS_PER_NAME a name are spent."""
    budget = _Budget(MAX_MATCH_STEPS + STEPS_PER_NAME * len(entries))
    served = (entry.name for entry in entries if entry.shown == entry.name)
    return [name for name in served if wildcard.matches(name, budget)]
