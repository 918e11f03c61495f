"""The image-diversity measure of Deng et al. 2009 Fig. 5: average a synset's accepted images at
32 × 32 and measure the lossless-compressed size of that average — smaller means more diverse.

A varied set averages to a smooth blur that compresses well; near-identical images average to a
sharp picture that does not. The paper measured a lossless JPEG; Pillow writes no lossless JPEG,
so we report PNG at maximum compression and, as a format-free cross-check, zlib of the raw pixels.
"""

from __future__ import annotations

import io
import logging
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

AVERAGE_SIZE = (32, 32)  # Deng et al. 2009 Fig. 5: "average images are downsampled to 32 × 32"

ImageSource = bytes | str | os.PathLike[str] | BinaryIO


@dataclass(frozen=True, slots=True)
class DiversityResult:
    """The average image and its compressed sizes; all ``None`` when no image could be read."""

    average_png: bytes | None
    png_size: int | None
    zlib_size: int | None
    n_images: int
    n_skipped: int = 0


def _thumbnail(source: ImageSource) -> np.ndarray:
    """One image as a 32 × 32 × 3 float array; the caller drops it before reading the next."""
    stream: BinaryIO | str | os.PathLike[str] = (
        io.BytesIO(source) if isinstance(source, bytes | bytearray | memoryview) else source
    )
    with Image.open(stream) as image:
        # draft() lets the JPEG decoder scale by 1/2…1/8 while decoding: a large photo never
        # materialises at full size, which keeps both time and peak memory flat.
        image.draft("RGB", (AVERAGE_SIZE[0] * 2, AVERAGE_SIZE[1] * 2))
        rgb = image.convert("RGB")
        # The paper squashes to 32 × 32 (no crop): the whole frame contributes to the average.
        small = rgb.resize(AVERAGE_SIZE, Image.Resampling.BOX, reducing_gap=2.0)
    return np.asarray(small, dtype=np.float64)


def average_image_measure(images: Iterable[ImageSource]) -> DiversityResult:
    """Stream ``images`` (bytes, paths or binary files) into their 32 × 32 average.

    Memory stays constant: only a running sum of 32 × 32 × 3 floats is kept. Images that cannot be
    decoded are skipped and counted, so one corrupt file does not blank a synset's dashboard.
    """
    total = np.zeros((AVERAGE_SIZE[1], AVERAGE_SIZE[0], 3), dtype=np.float64)
    n_images = n_skipped = 0
    for source in images:
        try:
            total += _thumbnail(source)
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            n_skipped += 1
            logger.warning("diversity: skipped an unreadable image: %s", error)
            continue
        n_images += 1
    if n_images == 0:
        return DiversityResult(None, None, None, 0, n_skipped)
    average = np.clip(np.rint(total / n_images), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(average, mode="RGB").save(buffer, format="PNG", optimize=True, compress_level=9)
    png = buffer.getvalue()
    return DiversityResult(
        average_png=png,
        png_size=len(png),
        zlib_size=len(zlib.compress(average.tobytes(), 9)),
        n_images=n_images,
        n_skipped=n_skipped,
    )
