#!/usr/bin/env python3
"""Writes the Imaging test fixtures: small PNG/JPEG files plus, for each, a .npy of the pixels Pillow decodes
(float32, shape [C, H, W], values in [0, 1]). Run: python scripts/imaging/make_fixtures.py [out_dir]
Needs numpy and pillow. Deterministic (fixed seed), so re-running only changes files if Pillow/libjpeg change."""
import io
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image, ImageOps

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "..", "Tests", "ImagingTests", "Fixtures")
os.makedirs(OUT, exist_ok=True)
W, H = 24, 16  # not square, so a wrong EXIF rotation shows up as a wrong shape


def pattern(channels, maximum=255):
    """A smooth gradient with a bright disc and a dark bar: structure JPEG keeps within a few levels."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    planes = []
    for c in range(channels):
        v = 0.15 + 0.6 * (x / (W - 1)) * (1 - c * 0.25) + 0.2 * (y / (H - 1)) * (c % 2)
        disc = (x - 7 - c) ** 2 + (y - 8) ** 2 < 16
        v[disc] = 0.95 - 0.1 * c
        v[2:4, 12:22] = 0.05
        planes.append(v)
    a = np.clip(np.stack(planes, -1), 0, 1)
    return np.round(a * maximum).astype(np.uint16 if maximum > 255 else np.uint8)


def save_ref(name, array_hwc, maximum):
    a = np.asarray(array_hwc, dtype=np.float64)
    if a.ndim == 2:
        a = a[:, :, None]
    np.save(os.path.join(OUT, name + ".npy"), (a / maximum).transpose(2, 0, 1).astype(np.float32))


def pillow_ref(name, path, mode=None, exif=False):
    with Image.open(path) as im:
        if exif:
            im = ImageOps.exif_transpose(im)
        if mode:
            im = im.convert(mode)
        save_ref(name, np.asarray(im), 255)


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def write_png(path, array_hwc, bit_depth, color_type, interlaced=False):
    """A minimal PNG writer (Pillow writes neither 48/64-bit colour nor Adam7)."""
    h, w = array_hwc.shape[:2]
    a = array_hwc.reshape(h, w, -1)
    dtype = ">u2" if bit_depth == 16 else "u1"
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)] \
        if interlaced else [(0, 0, 1, 1)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = a[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        for row in sub:
            raw += b"\x00" + row.astype(dtype).tobytes()
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlaced else 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    rgb = pattern(3)
    # PNG, written by Pillow where it can, checked against Pillow's own decoding.
    Image.fromarray(pattern(1)[:, :, 0], "L").save(os.path.join(OUT, "gray8.png"))
    pillow_ref("gray8.png", os.path.join(OUT, "gray8.png"))
    Image.fromarray(rgb, "RGB").save(os.path.join(OUT, "rgb8.png"))
    pillow_ref("rgb8.png", os.path.join(OUT, "rgb8.png"))
    rgba = np.concatenate([rgb, pattern(1)[:, ::-1]], axis=2)
    Image.fromarray(rgba, "RGBA").save(os.path.join(OUT, "rgba8.png"))
    pillow_ref("rgba8.png", os.path.join(OUT, "rgba8.png"))
    pal = Image.fromarray(rgb, "RGB").quantize(colors=16, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    pal.info["transparency"] = 0
    pal.save(os.path.join(OUT, "palette.png"), transparency=0)
    pillow_ref("palette.png", os.path.join(OUT, "palette.png"), mode="RGBA")
    # 16-bit: Pillow reads 16-bit gray at full precision but reduces 16-bit colour to 8 bits, so the 16-bit
    # references are the samples written.
    g16 = pattern(1, 65535)
    write_png(os.path.join(OUT, "gray16.png"), g16, 16, 0)
    with Image.open(os.path.join(OUT, "gray16.png")) as im:
        assert np.array_equal(np.asarray(im).astype(np.uint16), g16[:, :, 0]), "Pillow disagrees on gray16"
    save_ref("gray16.png", g16, 65535)
    rgb16 = pattern(3, 65535)
    write_png(os.path.join(OUT, "rgb16.png"), rgb16, 16, 2)
    save_ref("rgb16.png", rgb16, 65535)
    write_png(os.path.join(OUT, "interlaced.png"), rgb, 8, 2, interlaced=True)
    pillow_ref("interlaced.png", os.path.join(OUT, "interlaced.png"), mode="RGB")

    # JPEG, checked against Pillow's decoding (the Swift side allows ±2 levels: IDCTs differ).
    im = Image.fromarray(rgb, "RGB")
    im.save(os.path.join(OUT, "baseline.jpg"), quality=90)
    pillow_ref("baseline.jpg", os.path.join(OUT, "baseline.jpg"), mode="RGB")
    im.save(os.path.join(OUT, "progressive.jpg"), quality=90, progressive=True)
    pillow_ref("progressive.jpg", os.path.join(OUT, "progressive.jpg"), mode="RGB")
    Image.fromarray(pattern(1)[:, :, 0], "L").save(os.path.join(OUT, "gray.jpg"), quality=90)
    pillow_ref("gray.jpg", os.path.join(OUT, "gray.jpg"), mode="L")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: turn 90° clockwise to display
    im.save(os.path.join(OUT, "exif6.jpg"), quality=90, exif=exif.tobytes())
    pillow_ref("exif6.jpg", os.path.join(OUT, "exif6.jpg"), mode="RGB", exif=True)
    im.convert("CMYK").save(os.path.join(OUT, "cmyk.jpg"), quality=95)
    pillow_ref("cmyk.jpg", os.path.join(OUT, "cmyk.jpg"), mode="RGB")
    print("fixtures written to", os.path.abspath(OUT))


if __name__ == "__main__":
    main()
