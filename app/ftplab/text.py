"""Making text from other people safe to show on a terminal or in a log.

Anything a peer sends could carry ESC sequences (CSI, OSC), BEL, a bare CR,
C1 controls or bidi overrides that would drive the reader's terminal or forge a
line. `visible` turns every such character into a visible escape, so what is
shown is exactly what was sent, and nothing more can happen.
"""

_SAFE_FORMAT_CHARS = frozenset({"\u200d"})  # zero-width joiner, inside emoji sequences


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _visible_char(ch: str) -> str:
    if ch.isprintable() or ch in _SAFE_FORMAT_CHARS:
        return ch
    if ch.isspace() and ch not in "\t\n\r\v\f\x1c\x1d\x1e\x1f\x85\u2028\u2029":
        return " "  # no-break and other spaces: harmless, shown as a plain space
    return _escape(ch)


def visible(text: str) -> str:
    """`text` with every character that is not printable escaped (`\\x1b`,
    `\\u202e`); unusual spaces become plain spaces."""
    if text.isprintable():
        return text
    return "".join(_visible_char(ch) for ch in text)
