"""Tests for candidates/images.py: validation, normalisation, thumbnails and perceptual hashes."""

from __future__ import annotations

import hashlib
import io
import struct
import time
import tracemalloc
import zlib
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image, ImageOps

from candidates.dedupe import DEFAULT_MAX_DISTANCE, hamming
from candidates.images import (
    ImageRejected,
    perceptual_hash,
    phash_to_signed,
    phash_to_unsigned,
    process_image,
    sniff_format,
)
from tests.candidates.conftest import encode, jpeg_bytes


def rejection(data: bytes, **kwargs: object) -> str:
    with pytest.raises(ImageRejected) as caught:
        process_image(data, **kwargs)
    return caught.value.reason


def thumb_of(data: bytes, **kwargs: object) -> Image.Image:
    processed = process_image(data, **kwargs)
    thumb = Image.open(io.BytesIO(processed.thumbnail_jpeg))
    assert thumb.format == "JPEG"
    assert thumb.mode == "RGB"
    return thumb


def png_declaring(width: int, height: int) -> bytes:
    """A valid 1×1 PNG whose IHDR is patched to claim width × height (CRC fixed up)."""
    data = bytearray(encode(Image.new("RGB", (1, 1)), "PNG"))
    # Signature (8) + chunk length (4) + b"IHDR" (4) → width and height at offset 16.
    struct.pack_into(">II", data, 16, width, height)
    crc = zlib.crc32(bytes(data[12:29]))
    struct.pack_into(">I", data, 29, crc)
    return bytes(data)


def shifted(color: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(color, expected, strict=True))


# --- real photos --------------------------------------------------------------------------------


def test_real_photo_yields_size_hashes_and_thumbnail(sample_paths: list[Path]) -> None:
    path = sample_paths[0]
    data = path.read_bytes()
    with Image.open(path) as original:
        size = original.size
    processed = process_image(data)
    assert processed.format == "JPEG"
    assert processed.mime_type == "image/jpeg"
    assert (processed.width, processed.height) == size
    assert processed.byte_size == len(data)
    assert processed.sha256 == hashlib.sha256(data).hexdigest()
    assert -(2**63) <= processed.phash < 2**63
    thumb = Image.open(io.BytesIO(processed.thumbnail_jpeg))
    assert thumb.size == (processed.thumb_width, processed.thumb_height)
    assert max(thumb.size) == 256
    # Aspect ratio survives the thumbnail (within rounding).
    assert thumb.width / thumb.height == pytest.approx(size[0] / size[1], rel=0.02)


def test_grayscale_photo_gets_rgb_thumbnail(sample_paths: list[Path]) -> None:
    for path in sample_paths:
        with Image.open(path) as image:
            if image.mode == "L":
                break
    else:
        pytest.skip("no grayscale sample")
    processed = process_image(path.read_bytes())
    assert processed.mode == "L"
    assert Image.open(io.BytesIO(processed.thumbnail_jpeg)).mode == "RGB"


def test_every_sample_photo_is_accepted(sample_paths: list[Path]) -> None:
    for path in sample_paths:
        processed = process_image(path.read_bytes())
        assert max(processed.thumb_width, processed.thumb_height) <= 256


# --- rejections ---------------------------------------------------------------------------------


def test_empty_body_is_rejected() -> None:
    assert rejection(b"") == "empty"


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html><html><head><title>403</title></head><body>Forbidden</body></html>",
        b'{"error": "not found"}',
        b"\x00\x01\x02 definitely not an image",
        b"%PDF-1.7\n",
        b"BM but only text",
    ],
)
def test_non_image_bytes_are_rejected_by_content(body: bytes) -> None:
    assert rejection(body) == "not_an_image"


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>',
        b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
    ],
)
def test_recognised_but_unsupported_formats_are_rejected(body: bytes) -> None:
    assert rejection(body) == "unsupported_format"


def test_ico_is_unsupported() -> None:
    assert rejection(encode(Image.new("RGB", (64, 64), "red"), "ICO")) == "unsupported_format"


def test_allowed_formats_can_be_narrowed() -> None:
    png = encode(Image.new("RGB", (100, 100), "red"), "PNG")
    assert rejection(png, allowed_formats=frozenset({"JPEG"})) == "unsupported_format"


def test_truncated_jpeg_is_rejected(sample_paths: list[Path]) -> None:
    data = sample_paths[1].read_bytes()
    assert rejection(data[: len(data) // 2]) == "truncated"


def test_truncated_large_jpeg_is_caught_despite_draft_decoding() -> None:
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, size=(1500, 2000, 3), dtype=np.uint8)
    data = jpeg_bytes(Image.fromarray(noise, "RGB"), quality=80)
    assert process_image(data).width == 2000
    assert rejection(data[: int(len(data) * 0.8)]) == "truncated"


def test_truncated_png_is_rejected() -> None:
    rng = np.random.default_rng(2)
    data = encode(Image.fromarray(rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)), "PNG")
    assert rejection(data[: len(data) // 2]) in {"truncated", "corrupt"}


def test_garbage_after_jpeg_signature_is_corrupt() -> None:
    assert rejection(b"\xff\xd8\xff\xe0" + b"\x13\x37" * 500) in {"corrupt", "truncated"}


def test_one_pixel_gif_is_too_small() -> None:
    assert rejection(encode(Image.new("P", (1, 1)), "GIF")) == "too_small"


def test_min_side_is_configurable() -> None:
    data = encode(Image.new("RGB", (200, 40), "red"), "PNG")
    assert rejection(data, min_side=48) == "too_small"
    assert process_image(data, min_side=32).height == 40


def test_png_declaring_30000_square_is_rejected_before_decoding() -> None:
    data = png_declaring(30_000, 30_000)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        reason = rejection(data)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reason == "too_many_pixels"
    assert elapsed < 0.1
    assert peak < 2 * 1024 * 1024  # a decoded 900 MP RGB image would need 2.7 GB


def test_pixel_limit_below_pillows_own_is_enforced_from_header() -> None:
    # 8000 × 8000 = 64 MP: under Pillow's ~89 MP bomb threshold, over our 50 MP default.
    assert rejection(png_declaring(8000, 8000)) == "too_many_pixels"
    small = encode(Image.new("RGB", (200, 200)), "PNG")
    assert rejection(small, max_pixels=10_000) == "too_many_pixels"


# --- orientation and mode normalisation ---------------------------------------------------------


def test_exif_orientation_swaps_size_and_rotates_thumbnail() -> None:
    stored = Image.new("RGB", (400, 300), (220, 0, 0))
    stored.paste((0, 0, 220), (200, 0, 400, 300))  # left half red, right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    data = jpeg_bytes(stored, exif=exif.tobytes(), quality=95)

    processed = process_image(data)
    assert (processed.width, processed.height) == (300, 400)
    thumb = Image.open(io.BytesIO(processed.thumbnail_jpeg))
    assert thumb.size == (192, 256)
    # Displayed upright, the stored left (red) half is on top.
    assert shifted(thumb.getpixel((96, 20)), (220, 0, 0))
    assert shifted(thumb.getpixel((96, 236)), (0, 0, 220))
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    assert upright.size == (processed.width, processed.height)


def test_cmyk_jpeg_is_converted_to_rgb() -> None:
    data = jpeg_bytes(Image.new("CMYK", (200, 150), (0, 255, 255, 0)), quality=95)
    processed = process_image(data)
    assert processed.mode == "CMYK"
    thumb = Image.open(io.BytesIO(processed.thumbnail_jpeg))
    assert thumb.mode == "RGB"
    assert shifted(thumb.getpixel((50, 50)), (255, 0, 0))


def test_palette_transparency_is_flattened_onto_white() -> None:
    image = Image.new("P", (100, 100), 0)
    image.putpalette([0, 0, 0, 0, 200, 0] + [0] * (254 * 3))
    image.paste(1, (25, 25, 75, 75))
    data = encode(image, "PNG", transparency=0)
    thumb = thumb_of(data)
    assert shifted(thumb.getpixel((5, 5)), (255, 255, 255), 10)  # not black
    assert shifted(thumb.getpixel((50, 50)), (0, 200, 0))


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_composited_over_white(mode: str) -> None:
    image = Image.new(mode, (120, 120), (0,) * len(mode))  # fully transparent black
    image.paste((40,) * (len(mode) - 1) + (255,), (30, 30, 90, 90))
    thumb = thumb_of(encode(image, "PNG"))
    assert shifted(thumb.getpixel((5, 5)), (255, 255, 255), 10)
    assert shifted(thumb.getpixel((60, 60)), (40, 40, 40), 15)


def test_sixteen_bit_grayscale_is_scaled_not_clipped() -> None:
    image = Image.fromarray(np.full((100, 120), 32768, dtype=np.uint16))
    data = encode(image, "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    processed = process_image(data)
    thumb = Image.open(io.BytesIO(processed.thumbnail_jpeg))
    assert shifted(thumb.getpixel((10, 10)), (128, 128, 128), 6)  # clipping would give 255


def test_animated_gif_uses_first_frame() -> None:
    frames = [Image.new("RGB", (100, 100), color) for color in ("red", "blue", "green")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    processed = process_image(out.getvalue())
    assert processed.format == "GIF"
    thumb = Image.open(io.BytesIO(processed.thumbnail_jpeg))
    assert shifted(thumb.getpixel((50, 50)), (255, 0, 0))


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "BMP", "TIFF", "GIF"])
def test_common_formats_are_accepted_and_named_by_content(fmt: str) -> None:
    data = encode(Image.new("RGB", (160, 120), (10, 120, 200)), fmt)
    processed = process_image(data)
    assert processed.format == fmt
    assert sniff_format(data) == fmt
    assert (processed.width, processed.height) == (160, 120)
    # Small images are not upscaled.
    assert (processed.thumb_width, processed.thumb_height) == (160, 120)


# --- perceptual hash ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 2**63 - 1, 2**63, 2**64 - 1, 0xDEADBEEFCAFEBABE])
def test_signed_unsigned_conversion_round_trips(value: int) -> None:
    signed = phash_to_signed(value)
    assert -(2**63) <= signed < 2**63
    assert phash_to_unsigned(signed) == value


def test_phash_matches_imagehash_reference(sample_paths: list[Path]) -> None:
    for path in sample_paths[:40]:
        with Image.open(path) as image:
            image.draft("RGB", (512, 512))
            image.thumbnail((256, 256))
            assert perceptual_hash(image) == int(str(imagehash.phash(image)), 16), path.name


def _reencoded_half(data: bytes) -> bytes:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    half = image.resize((image.width // 2, image.height // 2), Image.Resampling.BILINEAR)
    return jpeg_bytes(half, quality=50)


def test_phash_survives_reencoding_and_resizing(sample_paths: list[Path]) -> None:
    chosen = sample_paths[::10]
    distances = []
    for path in chosen:
        data = path.read_bytes()
        original = process_image(data)
        variant = process_image(_reencoded_half(data), min_side=16)
        assert variant.sha256 != original.sha256
        distances.append(hamming(original.phash, variant.phash))
    assert max(distances) <= DEFAULT_MAX_DISTANCE, distances


def test_phash_separates_different_photos(sample_paths: list[Path]) -> None:
    hashes = [process_image(p.read_bytes()).phash_unsigned for p in sample_paths[::7]]
    distances = [hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :]]
    assert min(distances) > 2 * DEFAULT_MAX_DISTANCE
    assert np.mean(distances) > 24
