"""Deterministic sample files for the ftplab server image (stdlib only).

    python3 gen-samples.py big DIR     write DIR/archivo-grande.bin (4 MiB), run at image build time
    python3 gen-samples.py logo DIR    (re)write DIR/logo.png, the small binary kept in git

The same bytes come out on every machine and every Python >= 3.8, so the
SHA-256 a student computes after a download can be compared with anyone's.
"""

import hashlib
import struct
import sys
import zlib
from pathlib import Path

BIG_NAME = "archivo-grande.bin"
BIG_SIZE = 4 * 1024 * 1024
BIG_SEED = b"ftplab sample v1"


def big_bytes(size: int = BIG_SIZE) -> bytes:
    """SHA-256 in counter mode: incompressible, reproducible pseudo-random bytes."""
    blocks = (size + 31) // 32
    data = b"".join(hashlib.sha256(BIG_SEED + i.to_bytes(8, "big")).digest() for i in range(blocks))
    return data[:size]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def logo_png(size: int = 96) -> bytes:
    """A small RGB picture: a folder-ish square on a gradient, with a 'network' of dots."""
    rows = []
    centre = size / 2
    for y in range(size):
        row = bytearray([0])  # filter type: none
        for x in range(size):
            r, g, b = 30 + x, 60 + y, 140 + (x + y) // 4
            if size * 0.2 <= x < size * 0.8 and size * 0.3 <= y < size * 0.75:
                r, g, b = 245, 190, 60  # the folder
                if y < size * 0.38 and x > size * 0.45:
                    r, g, b = 30 + x, 60 + y, 140 + (x + y) // 4
            dx, dy = x - centre, y - size * 0.85
            if dx * dx + dy * dy < 16 or (abs(dy) < 1 and abs(dx) < size * 0.35):
                r, g, b = 255, 255, 255  # the wire
            for px in (0.15, 0.85):
                ex, ey = x - size * px, y - size * 0.85
                if ex * ex + ey * ey < 25:
                    r, g, b = 255, 255, 255
            row += bytes((min(r, 255), min(g, 255), min(b, 255)))
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _png_chunk(b"IEND", b"")
    )


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("big", "logo"):
        print(__doc__, file=sys.stderr)
        return 2
    target = Path(argv[2])
    target.mkdir(parents=True, exist_ok=True)
    if argv[1] == "big":
        path, data = target / BIG_NAME, big_bytes()
    else:
        path, data = target / "logo.png", logo_png()
    path.write_bytes(data)
    print(f"{path}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
