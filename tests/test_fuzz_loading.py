"""Bad inputs through the loading path (image and PDF decoding): a corpus of nasty files, and
fuzzing with Hypothesis. Either pages of RGB uint8 within the pixel limit come back, or an
``InputError`` whose message is one line starting with the file's path; nothing else.

``python tests/test_fuzz_loading.py`` rebuilds the corpus in ``tests/fixtures/nasty/`` (see its
README). ``ECGTRACE_FUZZ_EXAMPLES`` sets the examples per fuzz test (default 300).
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ecgtrace.io.images import MAX_PIXELS, InputError, decode_image
from ecgtrace.io.pages import Page, read_pages

NASTY = Path(__file__).parent / "fixtures" / "nasty"
EXAMPLES = int(os.environ.get("ECGTRACE_FUZZ_EXAMPLES", "300"))

# --------------------------------------------------------------------------- building files


def _ecg_crop(rows: int = 48, cols: int = 64) -> np.ndarray:
    """A small BGR picture like an ECG: pink grid, one black trace with beats."""
    img = np.full((rows, cols, 3), 255, np.uint8)
    img[::4, :] = img[:, ::4] = (210, 210, 255)
    img[::20, :] = img[:, ::20] = (150, 150, 245)
    x = np.arange(cols)
    beat = np.exp(-(((x % 32) - 16) ** 2) / 3.0) * (rows * 0.35)
    y = np.clip((rows * 0.6 - beat).astype(int), 0, rows - 2)
    img[y, x] = img[y + 1, x] = 0
    return img


def _encode(ext: str, image: np.ndarray, params: tuple[int, ...] = ()) -> bytes:
    ok, buf = cv2.imencode(ext, image, list(params))
    assert ok
    return buf.tobytes()


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, body: bytes, length: int | None = None) -> bytes:
    """A PNG chunk; ``length`` overrides the declared length (the CRC stays right)."""
    size = len(body) if length is None else length
    return struct.pack(">I", size) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(
    width: int, height: int, depth: int, colour: int, idat: bytes, before: tuple[bytes, ...] = ()
) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", ihdr)
        + b"".join(before)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def _rows(pixels: np.ndarray) -> bytes:
    """PNG scanlines (filter 0) of a (rows, bytes per row) uint8 array."""
    return b"".join(b"\x00" + row.tobytes() for row in pixels)


def _grey_alpha_png() -> bytes:
    grey = np.tile(np.arange(0, 240, 40, dtype=np.uint8), (4, 1))
    alpha = np.full_like(grey, 255)
    alpha[2:] = 0  # bottom half transparent: white after compositing
    pixels = np.stack([grey, alpha], axis=2).reshape(4, -1)
    return _png(6, 4, 8, 4, zlib.compress(_rows(pixels)))


def _palette_png() -> bytes:
    plte = bytes([255, 255, 255, 255, 0, 0, 0, 0, 255, 0, 0, 0])
    index = (np.arange(24, dtype=np.uint8) % 4).reshape(4, 6)
    trns = _chunk(b"tRNS", bytes([255, 255, 255, 0]))  # index 3 transparent
    return _png(6, 4, 8, 3, zlib.compress(_rows(index)), (_chunk(b"PLTE", plte), trns))


def _png_bomb(side: int) -> bytes:
    """A complete, valid all-black 1-bit grey PNG of side x side px: ~1000:1 compressed."""
    row = b"\x00" * (1 + (side + 7) // 8)
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    return _png(side, side, 1, 0, idat)


def _with_png_size(data: bytes, width: int, height: int) -> bytes:
    """A PNG whose IHDR (with a right CRC) claims width x height; the image data stays."""
    ihdr = struct.pack(">II", width, height) + data[24:29]
    return data[:8] + _chunk(b"IHDR", ihdr) + data[33:]


def _with_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    at = data.index(b"\xff\xc0")  # baseline frame header: FFC0, length, precision, height, width
    return data[: at + 5] + struct.pack(">HH", height, width) + data[at + 9 :]


def _tiff(
    width: int, height: int, pixels: bytes, extra: dict[int, tuple[int, int]] | None = None
) -> bytes:
    """A little-endian 8-bit grey TIFF, one uncompressed strip; ``extra``: tag -> (type, value)."""
    tags = {256: (4, width), 257: (4, height), 258: (3, 8), 259: (3, 1), 262: (3, 1)}
    tags |= {273: (4, 0), 277: (3, 1), 278: (4, height), 279: (4, len(pixels))}
    tags |= extra or {}
    start = 8 + 2 + 12 * len(tags) + 4
    tags[273] = (4, start)
    ifd = struct.pack("<H", len(tags))
    for tag, (kind, value) in sorted(tags.items()):
        field = struct.pack("<I", value) if kind == 4 else struct.pack("<HH", value, 0)
        ifd += struct.pack("<HHI", tag, kind, 1) + field
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * 4 + pixels


def _bigtiff(width: int, height: int, pixels: bytes) -> bytes:
    """The same as a BigTIFF: 8-byte offsets and counts, 20-byte entries."""
    tags = {256: (16, width), 257: (16, height), 258: (3, 8), 259: (3, 1), 262: (3, 1)}
    tags |= {273: (16, 0), 277: (3, 1), 278: (16, height), 279: (16, len(pixels))}
    start = 16 + 8 + 20 * len(tags) + 8
    tags[273] = (16, start)
    ifd = struct.pack("<Q", len(tags))
    for tag, (kind, value) in sorted(tags.items()):
        ifd += struct.pack("<HHQQ", tag, kind, 1, value)
    return b"II+\x00" + struct.pack("<HHQ", 8, 0, 16) + ifd + b"\x00" * 8 + pixels


def _webp_vp8x(width: int, height: int, inner: bytes) -> bytes:
    """A WebP with a VP8X canvas of width x height around the chunks of ``inner`` (a WebP)."""
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00" * 4
    vp8x += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + vp8x + inner[12:]
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _with_vp8l_size(data: bytes, width: int, height: int) -> bytes:
    bits = int.from_bytes(data[21:25], "little")
    bits = (bits & ~0xFFFFFFF) | (width - 1) | ((height - 1) << 14)
    return data[:21] + bits.to_bytes(4, "little") + data[25:]


def _flip(data: bytes, where: tuple[int, ...], mask: int) -> bytes:
    out = bytearray(data)
    for at in where:
        out[at] ^= mask
    return bytes(out)


def _pdf(objects: list[bytes], trailer: bytes = b"") -> bytes:
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\n" % (len(objects) + 1, trailer)
    return out + b"startxref\n%d\n%%%%EOF\n" % xref


def _stream(entries: bytes, body: bytes) -> bytes:
    return b"<< %s /Length %d >>\nstream\n" % (entries, len(body)) + body + b"\nendstream"


_CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"


def _one_page_pdf(media_box: bytes = b"0 0 72 36") -> bytes:
    return _pdf(
        [
            _CATALOG,
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [%s] /Contents 4 0 R >>" % media_box,
            _stream(b"", b"1 0 0 rg 10 10 20 20 re f 0 g BT ET"),
        ]
    )


def _many_pages_pdf(n: int) -> bytes:
    """n pages that are all the same letter-size page object: a page-count bomb."""
    kids = b" ".join([b"3 0 R"] * n)
    return _pdf(
        [
            _CATALOG,
            b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, n),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        ]
    )


def _image_bomb_pdf(side: int) -> bytes:
    """A letter page drawing a side x side grey image, Flate-compressed twice (~1 MB -> ~1 KB)."""
    z = zlib.compressobj(9)
    row = b"\x00" * side
    once = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    image = b"/Type /XObject /Subtype /Image /Width %d /Height %d " % (side, side)
    image += b"/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter [/FlateDecode /FlateDecode]"
    return _pdf(
        [
            _CATALOG,
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R >>",
            _stream(b"", b"q 612 0 0 792 0 0 cm /Im0 Do Q"),
            _stream(image, zlib.compress(once, 9)),
        ]
    )


_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def _rc4(key: bytes, data: bytes) -> bytes:
    s, j = list(range(256)), 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def _encrypted_pdf(user: bytes = b"secret", owner: bytes = b"owner") -> bytes:
    """One page under the standard security handler, RC4 40-bit (revision 2), user password."""

    def pad(password: bytes) -> bytes:
        return (password + _PAD)[:32]

    doc_id = hashlib.md5(b"ecgtrace nasty").digest()
    o_entry = _rc4(hashlib.md5(pad(owner)).digest()[:5], pad(user))
    p_entry = -4  # every permission
    key = hashlib.md5(pad(user) + o_entry + struct.pack("<i", p_entry) + doc_id).digest()[:5]
    u_entry = _rc4(key, _PAD)
    encrypt = b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>" % (
        o_entry.hex().encode(),
        u_entry.hex().encode(),
        p_entry,
    )
    ids = b"/ID [<%s> <%s>] " % (doc_id.hex().encode(), doc_id.hex().encode())
    return _pdf(
        [
            _CATALOG,
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 72 36] >>",
            encrypt,
        ],
        trailer=b"/Encrypt 4 0 R " + ids,
    )


def _no_pages_pdf() -> bytes:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument.new()
    buf = io.BytesIO()
    doc.save(buf)
    doc.close()
    return buf.getvalue()


def corpus() -> dict[str, Callable[[], bytes]]:
    """How to make each nasty file, by name (deterministic, but for the no-pages PDF's date)."""
    crop = _ecg_crop()
    png, jpg = _encode(".png", crop), _encode(".jpg", crop, (cv2.IMWRITE_JPEG_QUALITY, 80))
    tiny = _ecg_crop(8, 8)
    tiny_png, tiny_jpg, gif = _encode(".png", tiny), _encode(".jpg", tiny), _encode(".gif", tiny)
    lossless = _encode(".webp", tiny, (cv2.IMWRITE_WEBP_QUALITY, 101))
    bmp = _encode(".bmp", tiny)
    deep = (np.arange(48, dtype=np.uint16).reshape(6, 8) * 1300).astype(np.uint16)
    one_page = _one_page_pdf()

    def noise(seed: int, size: int) -> Callable[[], bytes]:
        return lambda: np.random.default_rng(seed).integers(0, 256, size, np.uint8).tobytes()

    return {
        "empty.png": lambda: b"",
        "empty.jpg": lambda: b"",
        "empty.pdf": lambda: b"",
        "truncated.png": lambda: png[: len(png) // 2],
        "truncated.jpg": lambda: jpg[: len(jpg) // 2],
        "corrupt_scan.jpg": lambda: _flip(jpg, (len(jpg) // 2, len(jpg) // 2 + 7), 0xFF),
        "corrupt_idat.png": lambda: _fix_png_crcs(_flip(png, (60, 61, 62), 0x5A)),
        "truncated.gif": lambda: gif[:40],
        "truncated.webp": lambda: lossless[:30],
        "truncated.bmp": lambda: bmp[:70],
        "text.jpg": lambda: b"not an image at all\n",
        "heif_named.jpg": lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64),
        "huge_30000x30000.png": lambda: _with_png_size(tiny_png, 30000, 30000),
        "huge_30000x30000.jpg": lambda: _with_jpeg_size(tiny_jpg, 30000, 30000),
        "huge_30000x30000.tif": lambda: _tiff(30000, 30000, bytes(64)),
        "huge_30000x30000_bigtiff.tif": lambda: _bigtiff(30000, 30000, bytes(64)),
        "huge_tiles.tif": lambda: _tiff(8, 8, bytes(64), {322: (4, 16384), 323: (4, 16384)}),
        "huge_30000x30000.bmp": lambda: bmp[:18] + struct.pack("<ii", 30000, 30000) + bmp[26:],
        "huge_30000x30000.webp": lambda: _webp_vp8x(30000, 30000, lossless),
        "huge_16384x16384_vp8l.webp": lambda: _with_vp8l_size(lossless, 16384, 16384),
        "huge_30000x30000.gif": lambda: gif[:6] + struct.pack("<HH", 30000, 30000) + gif[10:],
        "bomb_28000x28000.png": lambda: _png_bomb(28000),
        "chunk_4gb.png": lambda: png[:33] + _chunk(b"tEXt", b"Comment\x00x", 0xFFFFFFF0) + png[33:],
        "zero_height.png": lambda: _with_png_size(tiny_png, 8, 0),
        "zero_width.bmp": lambda: bmp[:18] + struct.pack("<ii", 0, 8) + bmp[26:],
        "deep_16bit.png": lambda: _encode(".png", deep),
        "grey_alpha.png": _grey_alpha_png,
        "palette.png": _palette_png,
        "one_pixel.png": lambda: _encode(".png", np.full((1, 1, 3), 90, np.uint8)),
        "pdf_named.png": lambda: one_page,
        "no_pages.pdf": _no_pages_pdf,
        "encrypted.pdf": _encrypted_pdf,
        "huge_page.pdf": lambda: _one_page_pdf(b"0 0 1000000 1000000"),
        "many_pages.pdf": lambda: _many_pages_pdf(1000),
        "image_bomb.pdf": lambda: _image_bomb_pdf(30000),
        "truncated.pdf": lambda: one_page[: len(one_page) // 2],
        "corrupt.pdf": lambda: b"%PDF-1.4\n" + noise(1, 300)(),
        "random.png": noise(2, 512),
        "random.jpg": noise(3, 512),
        "random.tif": noise(4, 512),
        "random.webp": noise(5, 512),
        "random.bmp": noise(6, 512),
    }


def build_corpus(folder: Path = NASTY) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in corpus().items():
        (folder / name).write_bytes(make())


# --------------------------------------------------------------------------- the corpus

# What each file gives: a part of the error message, or (rows, cols) of the one page read.
EXPECTED: dict[str, str | tuple[int, int]] = {
    "empty.png": "the file is empty",
    "empty.jpg": "the file is empty",
    "empty.pdf": "the file is empty",
    "truncated.png": "truncated or corrupt PNG",
    "truncated.jpg": "corrupt or truncated JPEG",
    "corrupt_scan.jpg": (48, 64),  # libjpeg warns on stderr, and goes on
    "corrupt_idat.png": "corrupt or truncated PNG",  # libpng errors on stderr
    "truncated.gif": "corrupt or truncated GIF",
    "truncated.webp": "cannot decode it",
    "truncated.bmp": "corrupt or truncated BMP",
    "text.jpg": "not a PNG, JPEG, TIFF, BMP, WebP or GIF image",
    "heif_named.jpg": "AVIF, HEIF",
    "huge_30000x30000.png": "30000 x 30000 px is too large",
    "huge_30000x30000.jpg": "30000 x 30000 px is too large",
    "huge_30000x30000.tif": "30000 x 30000 px is too large",
    "huge_30000x30000_bigtiff.tif": "30000 x 30000 px is too large",
    "huge_tiles.tif": "tiles",
    "huge_30000x30000.bmp": "30000 x 30000 px is too large",
    "huge_30000x30000.webp": "30000 x 30000 px is too large",
    "huge_16384x16384_vp8l.webp": "16384 x 16384 px is too large",
    "huge_30000x30000.gif": "30000 x 30000 px is too large",
    "bomb_28000x28000.png": "28000 x 28000 px is too large",
    "chunk_4gb.png": "truncated or corrupt PNG",
    "zero_height.png": "has no pixels",
    "zero_width.bmp": "has no pixels",
    "deep_16bit.png": (6, 8),
    "grey_alpha.png": (4, 6),
    "palette.png": (4, 6),
    "one_pixel.png": (1, 1),
    "pdf_named.png": (100, 200),
    "no_pages.pdf": "no pages",
    "encrypted.pdf": "encrypted",
    "huge_page.pdf": "would exceed 100 million pixels",
    "many_pages.pdf": "million pixels in all",
    "image_bomb.pdf": (2200, 1700),
    "truncated.pdf": "cannot read the PDF",
    "corrupt.pdf": "cannot read the PDF",
    "random.png": "cannot decode it",
    "random.jpg": "cannot decode it",
    "random.tif": "cannot decode it",
    "random.webp": "cannot decode it",
    "random.bmp": "cannot decode it",
}


def test_corpus_is_complete_and_tiny() -> None:
    names = {p.name for p in NASTY.iterdir() if p.name != "README.md"}
    assert names == set(EXPECTED) == set(corpus())
    sizes = {p.name: p.stat().st_size for p in NASTY.iterdir()}
    assert sum(sizes.values()) < 200_000 and max(sizes.values()) < 100_000


def _check_pages(pages: list[Page]) -> None:
    assert pages and all(isinstance(p, Page) for p in pages)
    for p in pages:
        image = p.image
        assert isinstance(image, np.ndarray) and image.dtype == np.uint8
        assert image.ndim == 3 and image.shape[2] == 3 and image.flags.c_contiguous
        assert 0 < image.shape[0] * image.shape[1] <= MAX_PIXELS


def _check_error(exc: InputError, name: str) -> None:
    message = str(exc)
    assert message.startswith(f"{name}: ") and "\n" not in message and message.isprintable()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_nasty_file(name: str, capfd: pytest.CaptureFixture[str]) -> None:
    path = NASTY / name
    expected = EXPECTED[name]
    if isinstance(expected, tuple):
        pages = read_pages(path)
        _check_pages(pages)
        assert len(pages) == 1 and pages[0].image.shape[:2] == expected
    else:
        with pytest.raises(InputError) as info:
            read_pages(path)
        _check_error(info.value, str(path))
        assert expected in str(info.value)
    chatter = capfd.readouterr()
    # No codec chatter on stdout or stderr; it is silenced only while this is the process's
    # one Python thread (earlier tests, a Dask cluster's, may have left others running).
    if threading.active_count() == 1:
        assert chatter == ("", "")


def test_odd_formats_decode_to_the_right_colours() -> None:
    ga = read_pages(NASTY / "grey_alpha.png")[0].image
    assert ga[0, 1].tolist() == [40, 40, 40] and ga[3, 1].tolist() == [255, 255, 255]
    pal = read_pages(NASTY / "palette.png")[0].image
    assert pal[0, :4].tolist() == [[255, 255, 255], [255, 0, 0], [0, 0, 255], [255, 255, 255]]
    deep = read_pages(NASTY / "deep_16bit.png")[0].image
    assert deep[5, 7, 0] == round(47 * 1300 / 257)


def test_a_folder_named_like_an_image(tmp_path: Path) -> None:
    folder = tmp_path / "scan.png"
    folder.mkdir()
    with pytest.raises(InputError, match="folder"):
        read_pages(folder)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")
def test_a_fifo_or_a_device_named_like_an_image(tmp_path: Path) -> None:
    """Refused before opening: a FIFO with no writer would block, a device never end."""
    fifo = tmp_path / "scan.png"
    os.mkfifo(fifo)
    device = tmp_path / "null.pdf"
    device.symlink_to(os.devnull)
    for path in (fifo, device):
        with pytest.raises(InputError, match="not a regular file"):
            read_pages(path)


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB")
def test_memory_stays_bounded_on_the_corpus() -> None:
    """Peak memory of reading every nasty file, in a fresh process: the bombs allocate nothing."""
    code = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from ecgtrace.io.images import InputError\n"
        "from ecgtrace.io.pages import read_pages\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "for path in sorted(Path(sys.argv[1]).iterdir()):\n"
        "    try:\n"
        "        read_pages(path)\n"
        "    except InputError:\n"
        "        pass\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(NASTY)], capture_output=True, text=True, check=True
    )
    assert int(out.stdout.strip()) < 300, out.stdout  # MB; a decoded bomb would be 784 MB+


# --------------------------------------------------------------------------- fuzzing

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _seeds() -> dict[str, bytes]:
    bgr = _ecg_crop(24, 32)
    grey16 = (np.arange(24 * 32, dtype=np.uint16).reshape(24, 32) * 80).astype(np.uint16)
    bgra = np.dstack([bgr, np.full(bgr.shape[:2], 128, np.uint8)])
    return {
        "rgb.png": _encode(".png", bgr),
        "rgba.png": _encode(".png", bgra),
        "grey16.png": _encode(".png", grey16),
        "palette.png": _palette_png(),
        "grey_alpha.png": _grey_alpha_png(),
        "base.jpg": _encode(".jpg", bgr, (cv2.IMWRITE_JPEG_QUALITY, 80)),
        "progressive.jpg": _encode(".jpg", bgr, (cv2.IMWRITE_JPEG_PROGRESSIVE, 1)),
        "rgb.bmp": _encode(".bmp", bgr),
        "rgb.tif": _encode(".tif", bgr),
        "grey.tif": _tiff(8, 8, bytes(range(0, 256, 4))),
        "lossless.webp": _encode(".webp", bgr, (cv2.IMWRITE_WEBP_QUALITY, 101)),
        "lossy.webp": _encode(".webp", bgr, (cv2.IMWRITE_WEBP_QUALITY, 60)),
        "rgb.gif": _encode(".gif", bgr),
        "one.pdf": _one_page_pdf(),
        "image.pdf": _image_bomb_pdf(64),
    }


SEEDS = _seeds()
MAGICS = [
    PNG_SIGNATURE + b"\x00\x00\x00\x0dIHDR",
    b"\xff\xd8\xff",
    b"II*\x00",
    b"MM\x00*",
    b"II+\x00\x08\x00\x00\x00",
    b"BM",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"RIFF\x00\x00\x00\x00WEBPVP8L",
    b"RIFF\x00\x00\x00\x00WEBPVP8X",
    b"GIF89a",
    b"%PDF-1.4\n",
]
_NUMBERS = [0, 1, 0x7F, 0xFF, 0x3FFF, 0x7FFF, 0xFFFF, 30000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]
_PIECES = [
    _chunk(b"tEXt", b"k\x00v"),
    _chunk(b"acTL", struct.pack(">II", 2, 0)),
    _chunk(b"fcTL", struct.pack(">IIIIIHHBB", 0, 8, 8, 0, 0, 1, 10, 0, 0)),
    _chunk(b"eXIf", b"MM\x00*\x00\x00\x00\x08\x00\x00"),
    _chunk(b"IDAT", zlib.compress(b"\x00" * 64)),
    b"\xff\xe1\x00\x10Exif\x00\x00MM\x00*\x00\x00\x00\x08",  # JPEG APP1
    b"\xff\xdd\x00\x04\x00\x01",  # JPEG DRI
    b"\xff\xc0\x00\x0b\x08\x75\x30\x75\x30\x01\x01\x11\x00",  # JPEG SOF0 30000 x 30000
    b" 0 0 1000000 1000000 ",
    b"/Rotate 90 /UserUnit 75000 ",
    b"<< /Length 99999999 >>",
]


def _fix_png_crcs(data: bytes) -> bytes:
    """The PNG with every whole chunk's CRC made right, so that edits reach zlib and libpng."""
    out, pos = bytearray(data), 8
    while pos + 12 <= len(out):
        length = int.from_bytes(out[pos : pos + 4], "big")
        end = pos + 12 + length
        if end > len(out):
            break
        out[end - 4 : end] = struct.pack(">I", zlib.crc32(out[pos + 4 : end - 4]))
        pos = end
    return bytes(out)


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


@st.composite
def _png_pixel_edit(draw: st.DrawFn, data: bytes) -> bytes:
    """The PNG with its inflated image data edited (bytes changed, cut or added) and deflated
    again into one IDAT, so the edits reach libpng's filters and rows, not just zlib's checks."""
    chunks = _png_chunks(data)
    raw = bytearray(zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT")))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(raw) - 1))
        edit = draw(st.sampled_from(["byte", "byte", "cut", "add"]))
        if edit == "byte":
            raw[at] = draw(st.integers(0, 255))
        elif edit == "cut":
            del raw[at:]
        else:
            raw[at:at] = draw(st.binary(min_size=1, max_size=64))
        if not raw:
            break
    out, idat = [PNG_SIGNATURE], _chunk(b"IDAT", zlib.compress(bytes(raw)))
    for kind, body in chunks:
        if kind != b"IDAT":
            out.append(_chunk(kind, body))
        elif idat:
            out.append(idat)
            idat = b""
    return b"".join(out)


# Edits by weight: mostly small ones that keep the file parseable a little further.
_EDITS = ["flip"] * 4 + ["number"] * 3 + ["piece"] * 2 + ["insert", "delete", "truncate"]
# The signature bytes, left alone: test_fuzz_magic_then_random_bytes fuzzes them.
_MAGIC = {".png": 8, ".jpg": 3, ".tif": 4, ".bmp": 2, ".webp": 12, ".gif": 6, ".pdf": 5}


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A seed file with 1-3 edits: byte flips, numbers overwritten with big values, inserted
    pieces (PNG chunks, JPEG segments, PDF tokens) or bytes, deletions, truncation; half the
    time, near the start where the headers are, but past the signature. A PNG may have its
    pixel data edited first, and have its CRCs made right after (half the time each)."""
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[name])
    if name.endswith(".png") and draw(st.booleans()):
        data = bytearray(draw(_png_pixel_edit(bytes(data))))
    keep = _MAGIC[Path(name).suffix]
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2, 2, 3]))):
        n = len(data)
        if n <= keep:
            break
        near_header = draw(st.booleans())
        at = draw(st.integers(keep, min(n, 64) - 1 if near_header and n > 64 else n - 1))
        edit = draw(st.sampled_from(_EDITS))
        if edit == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif edit == "truncate":
            del data[at:]
        elif edit == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif edit == "piece":
            data[at:at] = draw(st.sampled_from(_PIECES))
        else:
            width = draw(st.sampled_from([1, 2, 3, 4]))
            value = draw(st.sampled_from(_NUMBERS)) & ((1 << (8 * width)) - 1)
            order = draw(st.sampled_from(["big", "little"]))
            data[at : at + width] = value.to_bytes(width, order)
    if name.endswith(".png") and draw(st.booleans()):
        return name, _fix_png_crcs(bytes(data))
    return name, bytes(data)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _decode_or_refuse(data: bytes) -> None:
    try:
        image = decode_image(data, name="<fuzz>")
    except InputError as exc:
        _check_error(exc, "<fuzz>")
        event("refused")
        return
    _check_pages([Page(image, "<fuzz>", 1)])
    event("decoded")


@FUZZ
@given(data=st.binary(max_size=4096))
def test_fuzz_random_bytes_decode_or_refuse(data: bytes) -> None:
    _decode_or_refuse(data)


@FUZZ
@given(magic=st.sampled_from(MAGICS), tail=st.binary(max_size=2048))
def test_fuzz_magic_then_random_bytes(magic: bytes, tail: bytes) -> None:
    _decode_or_refuse(magic + tail)


@FUZZ
@given(case=mutated())
def test_fuzz_mutated_files_read_or_refuse(case: tuple[str, bytes], fuzz_dir: Path) -> None:
    name, data = case
    path = fuzz_dir / f"case{Path(name).suffix}"
    path.write_bytes(data)
    try:
        pages = read_pages(path)
    except InputError as exc:
        _check_error(exc, str(path))
        event(f"{path.suffix} refused")
        return
    _check_pages(pages)
    event(f"{path.suffix} read")


def test_seeds_are_valid(fuzz_dir: Path) -> None:
    for name, data in SEEDS.items():
        path = fuzz_dir / name
        path.write_bytes(data)
        _check_pages(read_pages(path))


if __name__ == "__main__":
    build_corpus()
