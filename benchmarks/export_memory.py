"""Peak memory of the streaming export (memory must not grow with the dataset):
export N synthetic accepted images, generated on the fly, and print the peak RSS for each N.

Each size runs in a fresh child process, because ru_maxrss is a process-lifetime peak.

Run: .venv/bin/python benchmarks/export_memory.py [--sizes 2000 20000] [--class-size 500]
     [--format imagenet|webdataset]
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from exports.writer import (  # noqa: E402
    ExportRecord,
    SynsetInfo,
    export_imagenet,
    export_webdataset,
)


def _jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _records(n_images: int, class_size: int) -> Iterator[ExportRecord]:
    """Records ordered by wnid, as the database query will give them; bytes made on demand."""
    for i in range(n_images):
        wnid = f"n{10_000_000 + i // class_size:08d}"
        yield ExportRecord(
            wnid=wnid,
            key=i,
            image=lambda i=i: _jpeg(i),
            source="synthetic",
            url=f"https://example.org/{i}.jpg",
            license="CC0",
            attribution="benchmark",
            votes={"yes": 5, "no": 1},
            posterior=0.99,
        )


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def child(n_images: int, class_size: int, fmt: str) -> None:
    n_classes = -(-n_images // class_size)
    synsets = [SynsetInfo(f"n{10_000_000 + c:08d}", [f"class {c}"]) for c in range(n_classes)]
    edges = [("n09999999", s.wnid) for s in synsets]
    _jpeg(0)  # import Pillow's JPEG plugin before the baseline
    baseline = _peak_rss_mib()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        if fmt == "imagenet":
            summary = export_imagenet(
                _records(n_images, class_size),
                out_dir=Path(out),
                synsets=synsets,
                edges=edges,
                val_fraction=0.1,
            )
        else:
            summary = export_webdataset(
                _records(n_images, class_size), out_dir=Path(out), classes=synsets, val_fraction=0.1
            )
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "images": summary.train_images + summary.val_images,
                "classes": n_classes,
                "baseline_mib": round(baseline, 1),
                "peak_mib": round(_peak_rss_mib(), 1),
                "seconds": round(elapsed, 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--class-size", type=int, default=500)
    parser.add_argument("--format", choices=("imagenet", "webdataset"), default="imagenet")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.class_size, args.format)
        return
    print(f"format={args.format} class_size={args.class_size}")
    print(
        f"{'images':>8} {'classes':>8} {'baseline MiB':>13} {'peak MiB':>9} {'growth':>7} {'s':>6}"
    )
    for size in args.sizes:
        result = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                str(size),
                "--class-size",
                str(args.class_size),
                "--format",
                args.format,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        row = json.loads(result.stdout)
        growth = row["peak_mib"] - row["baseline_mib"]
        print(
            f"{row['images']:>8} {row['classes']:>8} {row['baseline_mib']:>13} "
            f"{row['peak_mib']:>9} {growth:>7.1f} {row['seconds']:>6}"
        )


if __name__ == "__main__":
    main()
