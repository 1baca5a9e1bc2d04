"""ncfx_images: fax images for the tests (Python 3 standard library, libtiff's tools).

make_tiff writes a minimal uncompressed bilevel fax TIFF by hand; tiff_pages (tiffinfo) and
tiff_bitmaps (tiffcp) read what a fax delivered, page by page and pixel by pixel; sha256_file
compares documents byte for byte.
"""

import hashlib
import os
import random
import re
import struct
import subprocess


def make_tiff(path, pages=1, height=200, seed=0, noise=False):
    """Writes a valid little-endian, uncompressed, 1-bit min-is-white TIFF, 1728 pixels wide,
    204x196 dpi, one strip per page, one IFD per page. seed varies the pixels so that two
    documents made with different seeds differ. noise makes every pixel random (from seed): a
    page that compresses badly, so its fax image is about twice the upload. Returns the file
    size."""
    width = 1728
    rowbytes = width // 8
    entries_per_ifd = 15
    rnd = random.Random(seed)
    out = bytearray(b"II*\x00" + struct.pack("<I", 0))   # first IFD offset patched below
    prev_next_ptr = 4
    for page in range(pages):
        if noise:
            strip = bytearray(rnd.randbytes(rowbytes * height))
        else:
            # white, with a few black bars whose position depends on page and seed
            strip = bytearray(rowbytes * height)
            for row in range(height):
                if (row + page * 7 + seed * 13) % 23 < 3:
                    start = row * rowbytes + ((page * 5 + seed * 11 + row) % (rowbytes - 40))
                    for i in range(start, start + 32):
                        strip[i] = 0xFF
        strip_off = len(out)
        out += strip
        if len(out) % 2:
            out += b"\x00"
        ifd_off = len(out)
        rat_off = ifd_off + 2 + entries_per_ifd * 12 + 4
        struct.pack_into("<I", out, prev_next_ptr, ifd_off)

        def short(tag, v, v2=0):
            return struct.pack("<HHI", tag, 3, 2 if v2 or tag == 297 else 1) + struct.pack("<HH", v, v2)

        def long_(tag, v):
            return struct.pack("<HHII", tag, 4, 1, v)

        def rational(tag, off):
            return struct.pack("<HHII", tag, 5, 1, off)

        ents = [
            long_(254, 2),                       # NewSubfileType: page of a multi-page image
            long_(256, width),                   # ImageWidth
            long_(257, height),                  # ImageLength
            short(258, 1),                       # BitsPerSample
            short(259, 1),                       # Compression: none
            short(262, 0),                       # Photometric: min-is-white
            short(266, 1),                       # FillOrder: msb2lsb
            long_(273, strip_off),               # StripOffsets
            short(277, 1),                       # SamplesPerPixel
            long_(278, height),                  # RowsPerStrip
            long_(279, len(strip)),              # StripByteCounts
            rational(282, rat_off),              # XResolution
            rational(283, rat_off + 8),          # YResolution
            short(296, 2),                       # ResolutionUnit: inch
            short(297, page, pages),             # PageNumber
        ]
        assert len(ents) == entries_per_ifd
        out += struct.pack("<H", len(ents)) + b"".join(ents)
        prev_next_ptr = len(out)
        out += struct.pack("<I", 0)              # next IFD, patched by the next page
        out += struct.pack("<II", 204, 1) + struct.pack("<II", 196, 1)
    with open(path, "wb") as f:
        f.write(out)
    return len(out)


def tiff_pages(path):
    """[(width, height, xres, yres, bits), ...] for each page, read by libtiff's tiffinfo."""
    out = subprocess.run(["tiffinfo", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, timeout=30).stdout
    pages = []
    for block in out.split("TIFF Directory")[1:]:
        w, h = re.search(r"Image Width: (\d+) Image Length: (\d+)", block).groups()
        xr, yr = re.search(r"Resolution: ([\d.]+), ([\d.]+)", block).groups()
        bits = re.search(r"Bits/Sample: (\d+)", block).group(1)
        pages.append((int(w), int(h), round(float(xr)), round(float(yr)), int(bits)))
    return pages


def tiff_bitmaps(path, scratch_dir):
    """The pixels of every page: [(width, height, bytes of 1-bit rows, MSB first), ...].
    libtiff's tiffcp decodes (G3, G4, any fill order) into an uncompressed copy, whose strips
    are then read here; photometric is normalised so 0 bits are white."""
    flat = os.path.join(scratch_dir, "flat-%d.tif" % os.getpid())
    subprocess.run(["tiffcp", "-c", "none", "-f", "msb2lsb", "-r", "1000000", path, flat],
                   check=True, timeout=60)
    with open(flat, "rb") as f:
        data = f.read()
    os.unlink(flat)
    endian = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack(endian + "I", data[4:8])
    sizes = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8}
    pages = []
    while ifd:
        (n,) = struct.unpack(endian + "H", data[ifd:ifd + 2])
        tags = {}
        for i in range(n):
            e = ifd + 2 + 12 * i
            tag, typ, count = struct.unpack(endian + "HHI", data[e:e + 8])
            size = sizes.get(typ, 1) * count
            where = e + 8 if size <= 4 else struct.unpack(endian + "I", data[e + 8:e + 12])[0]
            if typ in (3, 4):
                fmt = endian + ("H" if typ == 3 else "I") * count
                tags[tag] = struct.unpack(fmt, data[where:where + size])
        w, h = tags[256][0], tags[257][0]
        pixels = b"".join(data[o:o + c] for o, c in zip(tags[273], tags[279]))
        if tags.get(262, (0,))[0] == 1:            # min-is-black: make 0 white
            pixels = bytes(255 - b for b in pixels)
        pages.append((w, h, pixels))
        (ifd,) = struct.unpack(endian + "I", data[ifd + 2 + 12 * n:ifd + 6 + 12 * n])
    return pages


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()
