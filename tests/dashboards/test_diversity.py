"""Tests of dashboards/diversity.py (the Fig. 5 average-image measure) on generated
images."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dashboards.diversity import average_image_measure


def _textured_jpeg(rng: np.random.Generator, size: tuple[int, int] = (96, 72)) -> bytes:
    """A photo-like image: coarse random blocks, so detail survives the 32 × 32 downscale."""
    blocks = rng.integers(0, 256, size=(size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    pixels = np.kron(blocks, np.ones((8, 8, 1), dtype=np.uint8))
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def test_identical_images_give_a_larger_average_than_varied_ones():
    rng = np.random.default_rng(0)
    one = _textured_jpeg(rng)
    varied = [_textured_jpeg(rng) for _ in range(40)]

    same = average_image_measure([one] * 40)
    diverse = average_image_measure(varied)

    # Paper Fig. 5: diverse sets blur into an average that compresses better (smaller = diverse).
    assert diverse.png_size < same.png_size
    assert diverse.zlib_size < same.zlib_size
    assert same.n_images == diverse.n_images == 40


def test_average_of_identical_images_is_the_image_itself():
    image = _textured_jpeg(np.random.default_rng(1))

    single = average_image_measure([image])
    repeated = average_image_measure([image] * 7)

    assert repeated.average_png == single.average_png


def test_average_png_is_a_32_by_32_rgb_image():
    result = average_image_measure([_textured_jpeg(np.random.default_rng(2))])

    with Image.open(io.BytesIO(result.average_png)) as average:
        assert (average.format, average.size, average.mode) == ("PNG", (32, 32), "RGB")
    assert result.png_size == len(result.average_png)


def test_flat_colour_set_averages_to_that_colour():
    buffer = io.BytesIO()
    Image.new("RGB", (50, 40), (10, 200, 30)).save(buffer, format="PNG")

    result = average_image_measure([buffer.getvalue()] * 3)

    with Image.open(io.BytesIO(result.average_png)) as average:
        assert np.all(np.asarray(average) == (10, 200, 30))


def test_empty_input_gives_no_measure():
    result = average_image_measure([])

    assert (result.average_png, result.png_size, result.zlib_size) == (None, None, None)
    assert result.n_images == 0


def test_accepts_bytes_paths_and_open_files(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "a.jpg"
    path.write_bytes(_textured_jpeg(rng))
    other = tmp_path / "b.jpg"
    other.write_bytes(_textured_jpeg(rng))

    with other.open("rb") as handle:
        result = average_image_measure([_textured_jpeg(rng), path, str(path), handle])

    assert result.n_images == 4


def test_streams_a_generator_and_skips_unreadable_images():
    rng = np.random.default_rng(4)
    consumed = []

    def images():
        for i in range(5):
            consumed.append(i)
            yield b"not an image" if i == 2 else _textured_jpeg(rng)

    result = average_image_measure(images())

    assert consumed == [0, 1, 2, 3, 4]
    assert (result.n_images, result.n_skipped) == (4, 1)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK"])
def test_any_colour_mode_is_averaged_as_rgb(mode):
    buffer = io.BytesIO()
    image = Image.new("RGB", (2000, 1500), (120, 60, 30)).convert(mode)
    image.save(buffer, format="JPEG" if mode in ("L", "CMYK") else "PNG")

    result = average_image_measure([buffer.getvalue()])

    assert result.n_images == 1
