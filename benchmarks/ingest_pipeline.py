"""Candidate ingest: real ImageNet photos served by a local HTTP server go through the whole
collection pipeline (download, validate, thumbnail, hash, dedupe, store files, write rows) and
are compared with an honest baseline doing the same image work without the rest: GET + draft
decode + thumbnail + JPEG encode of the thumbnail, with the same number of threads.

Sizes: the 700 shared samples, and 7,000 (each photo in ten variants — the eight flips and
rotations, and two crops — generated once into a cache folder, each under its own URL, so every
one is a distinct image the pipeline stores). Baseline and pipeline alternate order every
repetition. Media go to a fresh folder on a real disk (``--media``; tmpfs would hide the cost),
one per pipeline run, and none is deleted before the end: on ext4 without a journal (this
machine's disk) a file created within a minute or more of mass deletions costs ~10× the kernel
time (the inode allocator steps over every recently deleted inode), which a media store that
only grows never sees, and which an earlier version of this script inflicted on its own runs by
deleting the previous run's files.

Usage: .venv/bin/python benchmarks/ingest_pipeline.py [--sizes 700 7000] [--repeats 3]
       [--threads 8] [--media DIR] [--profile]
Target (issue 16): pipeline ≥ 0.8 × baseline at 700 and at 7,000 images.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import io
import itertools
import pstats
import shutil
import sys
import tempfile
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from _bench import (  # noqa: E402
    ROOT,
    SAMPLES,
    django_setup,
    header,
    interleaved,
    report,
    scratch_database,
    watched,
)

VARIANTS = 10
WNIDS = itertools.count(99_000_000)


class QuietHandler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as image hosts serve

    def log_message(self, *args):
        pass


def serve(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder))
    )
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _make_variants(path: Path, out: Path) -> None:
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB")
        w, h = image.size
        transforms = [None, *Image.Transpose][:8]
        images = [image if t is None else image.transpose(t) for t in transforms]
        crop = image.crop((w // 10, h // 10, w - w // 10, h - h // 10))
        images += [crop, crop.transpose(Image.Transpose.FLIP_TOP_BOTTOM)]
        for k, variant in enumerate(images[:VARIANTS]):
            target = out / f"v{k}" / path.name
            if not target.exists():
                variant.save(target, format="JPEG", quality=90)


def variants_folder(samples: list[Path]) -> Path:
    """Ten distinct variants of every sample, generated once (kept in var/bench-cache)."""
    out = ROOT / "var" / "bench-cache" / "ingest-variants"
    for k in range(VARIANTS):
        (out / f"v{k}").mkdir(parents=True, exist_ok=True)
    missing = [p for p in samples if not (out / f"v{VARIANTS - 1}" / p.name).exists()]
    if missing:
        print(f"generating {len(missing) * VARIANTS} variants into {out} (once)")
        with ProcessPoolExecutor() as pool:
            list(pool.map(_make_variants, missing, [out] * len(missing), chunksize=20))
    return out


MEDIA_RUNS = itertools.count()


@contextlib.contextmanager
def media_folder(media_root: Path):
    """Point Django's default storage at a new folder under ``media_root`` for one run."""
    from django.conf import settings
    from django.test.utils import override_settings

    folder = media_root / f"run-{next(MEDIA_RUNS)}"
    folder.mkdir()
    default = settings.STORAGES["default"]
    storages = {**settings.STORAGES,
                "default": {**default, "OPTIONS": {**default.get("OPTIONS", {}),
                                                   "location": str(folder)}}}  # fmt: skip
    with override_settings(MEDIA_ROOT=str(folder), STORAGES=storages):
        yield folder


def baseline_rate(urls: list[str], threads: int) -> float:
    """GET + draft decode + thumbnail + JPEG encode: the image work the pipeline cannot skip.
    The GET is a bare ``http.client`` request on a fresh connection, as the pipeline opens one
    per image (each image comes from its own host, and the pipeline pins each connection to the
    address it checked), without the pipeline's checks, so the ratio flatters nothing."""
    import http.client
    import time
    from urllib.parse import urlsplit

    from PIL import Image

    def one(url: str) -> None:
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            connection.request("GET", parts.path)
            data = connection.getresponse().read()
        finally:
            connection.close()
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (512, 512))
            image.load()
            thumb = image.convert("RGB")
            thumb.thumbnail((256, 256), Image.Resampling.BILINEAR, reducing_gap=2.0)
            thumb.save(io.BytesIO(), format="JPEG", quality=85)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, urls))
    return len(urls) / (time.perf_counter() - started)


def pipeline_rate(url_file: Path, wnid: str, *, profile: bool = False) -> tuple[float, dict]:
    import time

    from candidates.collection import collection_job_create, collection_job_run
    from candidates.models import Candidate
    from synsets.models import Synset

    # Each run is a fresh project: the previous run's copies would all be cross-synset matches.
    Candidate.objects.all().delete()
    synset, _ = Synset.objects.get_or_create(wnid=wnid, defaults={"lemmas": ["bench"]})
    job = collection_job_create(
        wnids=[synset.wnid], source="urls", source_config={"path": str(url_file)}
    )
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    job = collection_job_run(job_id=job.pk)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - started
    if profiler:
        print("profile of the job's main thread (downloads run in the pool), top 15 cumulative:")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(15)
    counts = {"seen": job.seen, "stored": job.stored, "duplicates": job.duplicates,
              "rejected": job.rejected}  # fmt: skip
    return job.seen / elapsed, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=Path, default=SAMPLES)
    parser.add_argument("--sizes", type=int, nargs="+", default=[700, 7000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--media", type=Path, default=None,
                        help="parent folder of the scratch media folder (default: system temp)")
    parser.add_argument("--profile", action="store_true",
                        help="profile one extra pipeline run per size and print the top lines")
    args = parser.parse_args()  # fmt: skip

    samples = sorted(args.samples.glob("*.JPEG"))
    if not samples:
        sys.exit(f"no *.JPEG photos in {args.samples}")
    media_parent = Path(args.media or tempfile.gettempdir())
    header(f"ingest pipeline vs baseline, {args.threads} threads", media_parent)
    served = Path(tempfile.mkdtemp(prefix="bench-ingest-www-"))
    (served / "s").symlink_to(args.samples.resolve())
    if max(args.sizes) > len(samples):
        (served / "v").symlink_to(variants_folder(samples))
    server, base = serve(served)
    with scratch_database("ingest") as url:
        media_root = Path(tempfile.mkdtemp(prefix="bench-ingest-media-", dir=media_parent))
        django_setup(url, MEDIA_ROOT=str(media_root), CANDIDATES_ALLOW_LOOPBACK="1",
                     CANDIDATES_DOWNLOAD_CONCURRENCY=str(args.threads))  # fmt: skip
        try:
            for size in args.sizes:
                if size <= len(samples):
                    urls = [f"{base}/s/{p.name}" for p in samples[:size]]
                else:
                    urls = [f"{base}/v/v{k}/{p.name}" for k in range(VARIANTS) for p in samples]
                    urls = urls[:size]
                url_file = media_parent / f"bench-ingest-urls-{size}.txt"
                url_file.write_text("\n".join(urls) + "\n")
                print(f"-- {len(urls)} photos")
                last_counts: dict = {}

                def run_pipeline(_rep: int, urls_file: Path = url_file, out: dict = last_counts):
                    # A fresh synset per run: nothing is skipped as already seen; a fresh media
                    # folder: every file is written (and no file is deleted meanwhile).
                    with media_folder(media_root):
                        rate, counts = pipeline_rate(urls_file, f"n{next(WNIDS):08d}")
                    out.update(counts)
                    return rate

                with watched():
                    series = interleaved(
                        [("baseline (GET + draft decode + thumbnail + encode)",
                          lambda _rep, u=urls: baseline_rate(u, args.threads)),
                         ("pipeline (+ validate, hash, dedupe, store, rows)", run_pipeline)],
                        repeats=args.repeats, unit="images/s",
                    )  # fmt: skip
                report(series, target="≥ 0.80")
                print(f"last pipeline run: {last_counts}")
                if args.profile:
                    with media_folder(media_root):
                        pipeline_rate(url_file, f"n{next(WNIDS):08d}", profile=True)
                url_file.unlink()
        finally:
            server.shutdown()
            shutil.rmtree(media_root, ignore_errors=True)
            shutil.rmtree(served, ignore_errors=True)


if __name__ == "__main__":
    main()
