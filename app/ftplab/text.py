"""Making text from other people safe to show on a terminal or in a log.

Anything a peer sends could carry ESC sequences (CSI, OSC), BEL, a bare CR,
C1 controls or bidi overrides that would drive the reader's terminal or forge a
line. `visible` turns every such character into a visible escape, so what is
shown is exactly what was sent, and nothing more can happen.
"""

import unicodedata

_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SAFE_FORMAT_CHARS = frozenset({"\u200d"})  # zero-width joiner, inside emoji sequences


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _is_unsafe(ch: str) -> bool:
    return unicodedata.category(ch) in _UNSAFE_CATEGORIES and ch not in _SAFE_FORMAT_CHARS


def visible(text: str) -> str:
    """`text` with every control, format or separator character escaped."""
    if text.isprintable():
        return text
    return "".join(_escape(ch) if _is_unsafe(ch) else ch for ch in text)
