"""Issue 13 finding 4: small files must not blow up worker memory.

A 297 KB float TIFF of 7000 × 7000 peaked at 1.03 GB RSS per decode, a 95 KB 16-bit PNG at
929 MB. Images are now refused by the bytes their decoded samples take (mode × pixels), with a
reason; wide-range samples are scaled to 8 bits without float64 copies; and a per-process budget
bounds the bytes decoded at once. (Peak RSS is measured by benchmarks/image_memory.py.)
"""

from __future__ import annotations

import io
import struct
import threading
import tracemalloc
import zlib

import pytest
from PIL import Image

from candidates.images import (
    DecodeBudget,
    ImageRejected,
    _scaled_to_l,
    process_image,
)

SIDE = 7000


def png_16bit(width: int, height: int, *, color_type: int, value: int = 0x1234) -> bytes:
    """A 16-bit PNG written row by row (grey: color type 0; RGBA: 6), tiny once deflated."""
    channels = {0: 1, 2: 3, 6: 4}[color_type]
    row = b"\x00" + struct.pack(">H", value) * (width * channels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    deflate = zlib.compressobj(9)
    body = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def float_tiff() -> bytes:
    """A 7000 × 7000 32-bit float TIFF, deflate-compressed: a few hundred KB on disk."""
    out = io.BytesIO()
    Image.new("F", (SIDE, SIDE), 0.5).save(out, format="TIFF", compression="tiff_adobe_deflate")
    return out.getvalue()


def test_a_small_float_tiff_is_refused_by_its_decoded_bytes_with_a_reason(float_tiff):
    assert len(float_tiff) < 2 * 1024 * 1024
    with pytest.raises(ImageRejected) as refused:
        process_image(float_tiff)
    # 49 MP is under the pixel limit: the decoded bytes (4 per pixel) decide.
    assert refused.value.reason == "too_large_decoded"
    assert "7000×7000 F decodes to 187 MB, over 150 MB" in refused.value.message


def test_a_small_16_bit_rgba_png_is_refused_by_its_decoded_bytes():
    data = png_16bit(SIDE, SIDE, color_type=6)
    assert len(data) < 1024 * 1024
    with pytest.raises(ImageRejected) as refused:
        process_image(data)
    assert refused.value.reason == "too_large_decoded"
    assert "RGBA decodes to" in refused.value.message


def test_a_16_bit_grey_png_within_the_limit_is_scaled_not_clipped():
    data = png_16bit(SIDE, SIDE, color_type=0, value=0x8000)
    processed = process_image(data)
    assert processed.mode.startswith("I;16") and (processed.width, processed.height) == (SIDE, SIDE)
    grey = Image.open(io.BytesIO(processed.thumbnail_jpeg)).convert("L")
    # 0x8000 of 0xFFFF is mid-grey (a clipping conversion would give white, 255).
    assert 120 <= grey.getpixel((10, 10)) <= 135


def test_scaling_wide_samples_makes_no_float64_copy():
    image = Image.new("I;16", (4000, 4000), 40000)
    decoded = 4000 * 4000 * 2
    tracemalloc.start()
    try:
        scaled = _scaled_to_l(image)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert scaled.mode == "L" and scaled.getpixel((0, 0)) == int(40000 * 255 / 65535)
    # Pillow's bytes and numpy's copy of the samples, the 8-bit result and a row block; a single
    # float64 copy would be 4 × the decoded size, the old conversion made two.
    assert peak < 3 * decoded


def test_an_image_needing_more_than_the_whole_budget_is_refused_with_a_reason():
    photo = io.BytesIO()
    Image.new("RGB", (2000, 1500), (10, 200, 30)).save(photo, format="PNG")
    with pytest.raises(ImageRejected) as refused:
        process_image(photo.getvalue(), budget=DecodeBudget(capacity=4 * 1024 * 1024))
    assert refused.value.reason == "too_large_decoded"
    assert "a worker decodes at once" in refused.value.message


def test_concurrent_decodes_stay_within_the_budget():
    photo = io.BytesIO()
    Image.new("RGB", (1200, 1000), (200, 20, 30)).save(photo, format="PNG")
    data = photo.getvalue()
    one = 1200 * 1000 * 5  # the RGB peak estimate per decode
    budget = DecodeBudget(capacity=one * 2)  # room for two decodes at a time
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                process_image(data, budget=budget)
        except BaseException as exc:  # noqa: BLE001 — reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert budget.reserved == 0
    assert one <= budget.peak_reserved <= budget.capacity
