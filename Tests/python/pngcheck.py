"""A small strict PNG reader for the tests: checks the signature, every chunk's CRC, IHDR, IEND,
and decodes 8-bit non-interlaced images (undoing the row filters) so tests can look at pixels."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel


@dataclass
class PNG:
    width: int
    height: int
    bit_depth: int
    color_type: int
    interlace: int
    chunks: list[bytes]
    rows: list[bytes] | None  # unfiltered scanlines (8-bit, non-interlaced only)

    @property
    def channels(self) -> int:
        return CHANNELS[self.color_type]

    def pixels(self) -> list[tuple[int, ...]]:
        assert self.rows is not None, "only 8-bit non-interlaced images are decoded"
        n = self.channels
        return [tuple(row[i : i + n]) for row in self.rows for i in range(0, len(row), n)]


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def parse_png(data: bytes) -> PNG:
    assert data[:8] == SIGNATURE, f"not a PNG signature: {data[:8]!r}"
    pos, chunks, idat = 8, [], b""
    ihdr = None
    while pos < len(data):
        assert pos + 8 <= len(data), "truncated chunk header"
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        assert len(body) == length, f"truncated {ctype!r} chunk"
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(ctype + body) == crc, f"bad CRC in {ctype!r} chunk"
        chunks.append(ctype)
        if ctype == b"IHDR":
            assert len(chunks) == 1, "IHDR must be the first chunk"
            assert length == 13, "IHDR must be 13 bytes"
            ihdr = struct.unpack(">IIBBBBB", body)
        elif ctype == b"IDAT":
            idat += body
        pos += 12 + length
        if ctype == b"IEND":
            break
    assert ihdr is not None, "no IHDR chunk"
    assert chunks[-1] == b"IEND", "no IEND chunk"
    assert pos == len(data), "bytes after IEND"
    assert b"IDAT" in chunks, "no IDAT chunk"
    width, height, depth, ctype, comp, filt, interlace = ihdr
    assert width > 0 and height > 0, f"bad size {width}x{height}"
    assert ctype in CHANNELS, f"bad colour type {ctype}"
    assert comp == 0 and filt == 0 and interlace in (0, 1)
    raw = zlib.decompress(idat)
    rows = None
    if depth == 8 and interlace == 0:
        bpp = CHANNELS[ctype]
        stride = width * bpp
        assert len(raw) == height * (stride + 1), (
            f"IDAT holds {len(raw)} bytes, expected {height * (stride + 1)} for {width}x{height}x{bpp}"
        )
        rows, prev = [], bytes(stride)
        for y in range(height):
            f = raw[y * (stride + 1)]
            line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
            assert f <= 4, f"bad filter type {f} in row {y}"
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                if f == 1:
                    line[i] = (line[i] + a) & 0xFF
                elif f == 2:
                    line[i] = (line[i] + b) & 0xFF
                elif f == 3:
                    line[i] = (line[i] + ((a + b) >> 1)) & 0xFF
                elif f == 4:
                    line[i] = (line[i] + _paeth(a, b, c)) & 0xFF
            rows.append(bytes(line))
            prev = bytes(line)
    return PNG(width, height, depth, ctype, interlace, chunks, rows)
