"""ImageNet-layout export of real photos (the shared ImageNet samples, scaled up to ~7,000 by ten
variants each) against ``cp`` of the same files into a fresh folder, and how much memory the
export holds for one class (peak RSS of a child process exporting one class of n images).

The sources are plain JPEG files on the media's disk, as local storage hands them to the writer:
the export hard-links them (``link``), or with ``--no-link`` clones or copies them kernel-side;
either way no pixel is decoded. Every run writes into a fresh folder on the same file system.

Usage: .venv/bin/python benchmarks/export_memory.py [--images 7000] [--repeats 3]
       [--class-sizes 700 7000] [--out DIR]
Target (issue 16): ≥ 0.5 × cp for JPEG sources.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from _bench import (  # noqa: E402
    SAMPLES,
    header,
    interleaved,
    peak_rss_mib,
    report,
    storage_type,
    timed,
    watched,
)

CLASS_SIZE = 100  # images per synthetic class in the throughput runs


def sources(count: int) -> list[Path]:
    from ingest_pipeline import VARIANTS, variants_folder

    samples = sorted(SAMPLES.glob("*.JPEG"))
    if count <= len(samples):
        return samples[:count]
    folder = variants_folder(samples)
    files = [folder / f"v{k}" / p.name for k in range(VARIANTS) for p in samples]
    return files[:count]


def records(files: list[Path], digests: dict[Path, str], class_size: int):
    from exports.writer import ExportRecord

    for i, path in enumerate(files):
        yield ExportRecord(
            wnid=f"n{10_000_000 + i // class_size:08d}",
            key=i,
            image=str(path),
            source="bench",
            url=f"https://example.org/{i}.jpg",
            license="CC BY 2.0",
            attribution="benchmark",
            votes={"yes": 5, "no": 1},
            posterior=0.99,
            sha256=digests.get(path, ""),
        )


def export(files: list[Path], digests: dict[Path, str], out: Path, *, link: bool,
           class_size: int = CLASS_SIZE):  # fmt: skip
    from exports.writer import SynsetInfo, export_imagenet

    n_classes = -(-len(files) // class_size)
    synsets = [SynsetInfo(f"n{10_000_000 + c:08d}", [f"class {c}"]) for c in range(n_classes)]
    return export_imagenet(
        records(files, digests, class_size), out_dir=out, synsets=synsets,
        edges=[("n09999999", s.wnid) for s in synsets], val_fraction=0.1, link=link,
    )  # fmt: skip


def child(count: int) -> None:
    """One class of ``count`` images: the memory the writer holds for a class."""
    files = sources(count)
    baseline = peak_rss_mib()
    with tempfile.TemporaryDirectory() as out, timed(with_db=False) as t:
        summary = export(files, {}, Path(out), link=True, class_size=count)
    print(json.dumps({"images": summary.train_images + summary.val_images,
                      "baseline_mib": round(baseline, 1), "peak_mib": round(peak_rss_mib(), 1),
                      "seconds": round(t.wall, 2)}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=7000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--class-sizes", type=int, nargs="+", default=[700, 7000])
    parser.add_argument("--out", type=Path, default=None,
                        help="parent of the scratch output folders (default: next to the sources)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()  # fmt: skip
    if args.child:
        child(args.child)
        return
    files = sources(args.images)
    total = sum(p.stat().st_size for p in files)
    parent = args.out or files[0].parent.parent
    header(f"ImageNet-layout export of {len(files)} real JPEGs ({total / 2**20:.0f} MiB)", parent)
    print(f"sources on {storage_type(files[0])}, output on {storage_type(parent)}")
    digests = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}  # in the database
    scratch = Path(tempfile.mkdtemp(prefix="bench-export-", dir=parent))
    staged = scratch / "cp-source"  # cp reads one folder, as the export reads the media folder
    staged.mkdir()
    for i, path in enumerate(files):
        shutil.copyfile(path, staged / f"{i}.JPEG")
    sources_for_cp = staged
    try:
        def run_cp(rep: int) -> float:
            target = scratch / f"cp-{rep}"
            with timed(with_db=False) as t:
                subprocess.run(["cp", "-r", str(sources_for_cp), str(target)], check=True)
            shutil.rmtree(target)
            return len(files) / t.wall

        def run_export(rep: int, link: bool) -> float:
            target = scratch / f"export-{'link' if link else 'copy'}-{rep}"
            with timed(with_db=False) as t:
                summary = export(files, digests, target, link=link)
            assert summary.converted == 0 and summary.skipped == 0, summary
            shutil.rmtree(target)
            return len(files) / t.wall

        with watched():
            series = interleaved(
                [("baseline: cp -r of the same files", run_cp),
                 ("export, copies (clone or copy_file_range)",
                  lambda rep: run_export(rep, link=False)),
                 ("export, hard links (same file system)", lambda rep: run_export(rep, link=True))],
                repeats=args.repeats, unit="images/s",
            )  # fmt: skip
        report(series[:2], target="≥ 0.50")
        report([series[0], series[2]], target="≥ 0.50")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print("memory held for one class (fresh child process per size):")
    for size in args.class_sizes:
        out = subprocess.run([sys.executable, __file__, "--child", str(size)],
                             check=True, capture_output=True, text=True).stdout  # fmt: skip
        row = json.loads(out.strip().splitlines()[-1])
        print(f"  one class of {row['images']:>6} images: peak RSS {row['peak_mib']} MiB, "
              f"+{row['peak_mib'] - row['baseline_mib']:.1f} MiB over the process before the "
              f"export ({row['seconds']} s)")  # fmt: skip


if __name__ == "__main__":
    main()
