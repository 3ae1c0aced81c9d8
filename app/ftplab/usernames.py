"""User names: which are allowed, and which count as the same person.

A name is a label people read, so two names that look alike are one name.
`name_problem` refuses what cannot be seen or typed reliably: whitespace,
controls, `> @ !` (also in their compatibility forms, such as a full-width
`＞`), and the invisible characters a name could hide behind: Unicode's
default-ignorable code points (zero-width characters, the combining grapheme
joiner, variation selectors, Mongolian free variation selectors, tags) and the
blank "filler" letters (Hangul fillers, the braille blank).

`name_key` is the identity the server compares: the name's compatibility
decomposition (NFKD: `José` typed as one or two code points, a full-width `Ａ`,
a ligature, all become one spelling), case folded, with Greek and Cyrillic
letters and two digits that look like Latin letters replaced by those letters,
recomposed (NFC). It is a skeleton in the spirit of Unicode TS #39
("confusable detection") with a small table, not the full confusables data:
it covers Latin, Greek and Cyrillic look-alikes, not every script, and not
look-alikes within Latin such as `rn` for `m` or `I` for `l`.
"""

from __future__ import annotations

import functools
import unicodedata

MAX_NAME_CHARS = 32
CHECKED_NAMES_KEPT = 256
"""Names whose characters were checked lately, remembered: every line a client receives, each
`!DATA` header of a download too, carries its sender's name (at most MAX_NAME_CHARS each)."""
FORBIDDEN_NAME_CHARS = frozenset(">@!")

_IGNORABLE_RANGES = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x061C, 0x061C),  # Arabic letter mark
    (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors, vowel separator
    (0x200B, 0x200F),  # zero-width space, joiners, direction marks
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, bidi isolates
    (0x2800, 0x2800),  # braille pattern blank (a filler, not default-ignorable)
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFEFF, 0xFEFF),  # zero-width no-break space (BOM)
    (0xFFA0, 0xFFA0),  # half-width Hangul filler
    (0xFFF0, 0xFFF8),  # unassigned specials
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0000, 0xE0FFF),  # tags, variation selectors supplement
)
"""Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt),
which `unicodedata` does not expose, plus the blank filler letters."""

_LOOK_ALIKES = {
    # Greek small letters (the case-folded form of capitals too) that look like Latin ones
    "α": "a", "β": "b", "ε": "e", "ζ": "z", "η": "h", "ι": "i", "κ": "k", "μ": "m", "ν": "v",
    "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ϲ": "c", "ϳ": "j", "γ": "y",
    # Cyrillic small letters (and the case-folded form of capitals)
    "а": "a", "в": "b", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "ѕ": "s",
    "і": "i", "ј": "j", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ү": "y", "к": "k",
    "м": "m", "н": "h", "т": "t", "ь": "b",
    # digits that read as letters
    "0": "o", "1": "l",
}  # fmt: skip
"""Look-alikes of Latin letters, after TS #39's confusables.txt, for case-folded
text: a capital is caught through its small letter (Greek `Ρ` folds to `ρ`,
which maps to `p`). Where a capital and its small letter resemble different
Latin letters (Greek `Ν` looks like N and `ν` like v; `Υ` like Y and `υ` like
u), the small letter wins, so `Νικο` is not caught as `Niko`."""

_TRANSLATION = str.maketrans(_LOOK_ALIKES)


def is_invisible(ch: str) -> bool:
    """A default-ignorable or blank filler character: nothing, or a blank, on screen."""
    code = ord(ch)
    return any(low <= code <= high for low, high in _IGNORABLE_RANGES)


def _bad_character(ch: str) -> bool:
    return ch.isspace() or not ch.isprintable() or ch in FORBIDDEN_NAME_CHARS or is_invisible(ch)


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a user name ("length" or "characters"), or None when it can."""
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        return "length"
    return None if _characters_allowed(name) else "characters"


_ASCII_ALLOWED = frozenset(chr(code) for code in range(128) if not _bad_character(chr(code)))
"""The ASCII characters a name may have: an ASCII name is its own NFKC form, and no ASCII
character is invisible, so checking its characters is one set look-up (every anonymous FTP login's
`anon-N` is a new name, which the cache below would not hold)."""


@functools.lru_cache(maxsize=CHECKED_NAMES_KEPT)
def _characters_allowed(name: str) -> bool:
    if name.isascii():
        return _ASCII_ALLOWED.issuperset(name)
    return not any(_bad_character(ch) for ch in name + unicodedata.normalize("NFKC", name))


def is_valid_name(name: str) -> bool:
    return name_problem(name) is None


def name_key(name: str) -> str:
    """What the server compares: equal for names that differ only in case,
    in Unicode normal form, or by a Greek or Cyrillic look-alike letter.

    Unicode's compatibility caseless match (NFKD, fold, NFKD, fold, NFD
    first: folding can undo a normal form), then the look-alike table. An ASCII name is
    already in every normal form, and its case fold is its lower case."""
    if name.isascii():
        return name.lower().translate(_TRANSLATION)
    folded = _nfkd(_nfkd(unicodedata.normalize("NFD", name).casefold()).casefold())
    return unicodedata.normalize("NFC", folded.translate(_TRANSLATION))


def _nfkd(text: str) -> str:
    return unicodedata.normalize("NFKD", text)
