"""Benchmark: images/second of candidates.images.process_image on the real ImageNet samples,
against a minimal baseline (Pillow full decode + thumbnail only, no validation or hashing).

Run: .venv/bin/python benchmarks/image_processing.py [--dir ../shared/data/imagenet-samples]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from _bench import header  # noqa: E402

from candidates.images import process_image  # noqa: E402

DEFAULT_DIR = Path("/work/shared/data/imagenet-samples")


def baseline(data: bytes) -> None:
    image = Image.open(io.BytesIO(data))
    image.load()  # full-size decode: what a naive validator does
    image.thumbnail((256, 256))


def baseline_with_jpeg(data: bytes) -> None:
    image = Image.open(io.BytesIO(data))
    image.load()
    image.thumbnail((256, 256))
    image.convert("RGB").save(io.BytesIO(), "JPEG", quality=85)


def run(name: str, fn: Callable[[bytes], object], datas: list[bytes], repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        for data in datas:
            fn(data)
        rates.append(len(datas) / (time.perf_counter() - started))
    rate = statistics.median(rates)
    print(f"{name:<44}: {rate:7.1f} images/s  ({1e3 / rate:.2f} ms/image, median of {repeats})")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    header("process_image against a decode + thumbnail baseline (image_processing)")

    paths = sorted(args.dir.glob("*.JPEG"))
    datas = [p.read_bytes() for p in paths]
    megapixels = 0.0
    for data in datas:
        with Image.open(io.BytesIO(data)) as image:
            megapixels += image.width * image.height / 1e6
    print(
        f"{len(datas)} images, {sum(map(len, datas)) / len(datas) / 1024:.0f} KiB and "
        f"{megapixels / len(datas):.3f} MP on average, single core"
    )
    base = run("baseline: decode + thumbnail", baseline, datas, args.repeats)
    run("baseline + RGB + JPEG thumbnail encode", baseline_with_jpeg, datas, args.repeats)
    ours = run("process_image (validate+thumb+sha256+pHash)", process_image, datas, args.repeats)
    print(f"process_image / baseline: {ours / base:.2f}×")


if __name__ == "__main__":
    main()
