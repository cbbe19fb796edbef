"""Images and PDFs in: formats, channels, bit depths, and one-line errors on bad input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ecgtrace.io.images import InputError, decode_image, read_image
from ecgtrace.io.pdf import rasterize_pdf


def _rgb() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = np.full((20, 30, 3), 255, np.uint8)
    img[5:15, 10:20] = (200, 40, 60)
    img[:, :3] = rng.integers(0, 255, size=(20, 3, 3), dtype=np.uint8)
    return img


def _write(path: Path, array: np.ndarray, params: list[int] | None = None) -> Path:
    ok, buf = cv2.imencode(path.suffix, array, params or [])
    assert ok
    path.write_bytes(buf.tobytes())
    return path


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif", ".webp"])
def test_lossless_formats_round_trip_as_rgb(tmp_path: Path, suffix: str) -> None:
    img = _rgb()
    params = [cv2.IMWRITE_WEBP_QUALITY, 101] if suffix == ".webp" else None
    path = _write(tmp_path / f"a{suffix}", img[..., ::-1], params)  # cv2 writes BGR
    out = read_image(path)
    assert out.dtype == np.uint8 and out.shape == (20, 30, 3)
    assert np.array_equal(out, img)


def test_jpeg_grey_rgba_and_16_bit(tmp_path: Path) -> None:
    img = _rgb()
    jpg = read_image(_write(tmp_path / "a.jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95]))
    assert jpg.shape == (20, 30, 3) and np.abs(jpg.astype(int) - img).mean() < 8
    grey = np.arange(600, dtype=np.uint8).reshape(20, 30)
    out = read_image(_write(tmp_path / "g.png", grey))
    assert out.shape == (20, 30, 3) and np.array_equal(out[..., 1], grey)
    bgra = np.zeros((4, 4, 4), np.uint8)
    bgra[..., 2] = 200  # red where opaque
    bgra[:2, ..., 3] = 255  # top half opaque, bottom half transparent
    out = read_image(_write(tmp_path / "t.png", bgra))
    assert tuple(out[0, 0]) == (200, 0, 0) and tuple(out[3, 3]) == (255, 255, 255)
    deep = (np.arange(600, dtype=np.uint16).reshape(20, 30) * 100).astype(np.uint16)
    out = read_image(_write(tmp_path / "d.png", deep))
    assert out.dtype == np.uint8
    assert np.array_equal(out[..., 0], np.round(deep / 257).astype(np.uint8))


def test_bad_files_raise_one_line_naming_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    text = tmp_path / "notes.jpg"
    text.write_text("not an image at all")
    cases = [
        (tmp_path / "missing.png", "no such file"),
        (empty, "empty"),
        (corrupt, "cannot decode"),
        (text, "cannot decode"),
        (tmp_path, "folder"),
    ]
    for path, cause in cases:
        with pytest.raises(InputError) as info:
            read_image(path)
        msg = str(info.value)
        assert str(path) in msg and cause in msg and "\n" not in msg
        assert isinstance(info.value, ValueError)


def test_too_large_is_refused_before_decoding() -> None:
    # A PNG header claiming 20000 x 20000 px: refused from the header, nothing allocated.
    header = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (20000).to_bytes(4, "big") * 2
    with pytest.raises(InputError, match="too large"):
        decode_image(header + b"\x08\x02\x00\x00\x00" + b"\x00" * 16, name="big.png")


def _tiny_pdf() -> bytes:
    """A one-page PDF (72 x 36 pt) with a filled red square, written by hand."""
    content = b"1 0 0 rg 10 10 20 20 re f"
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 72 36] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


def test_pdf_rasterised_at_dpi(tmp_path: Path) -> None:
    path = tmp_path / "one.pdf"
    path.write_bytes(_tiny_pdf())
    pages = rasterize_pdf(path, dpi=144)
    assert len(pages) == 1
    img = pages[0]
    assert img.shape == (72, 144, 3) and img.dtype == np.uint8
    # The square spans 10..30 pt from the bottom-left: rows 12..52, cols 20..60 at 2 px/pt.
    assert tuple(img[40, 40]) == (255, 0, 0) and tuple(img[5, 5]) == (255, 255, 255)


def test_bad_pdfs_raise_input_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\nthis is not a pdf body")
    for path, cause in [(tmp_path / "none.pdf", "no such file"), (empty, "empty"), (broken, "")]:
        with pytest.raises(InputError) as info:
            rasterize_pdf(path, dpi=100)
        assert str(path) in str(info.value) and cause in str(info.value)
        assert "\n" not in str(info.value)
