"""Ingest the 700 real ImageNet photos from a local HTTP server through the whole candidate
pipeline (download, validate, thumbnail, hash, dedupe, store) and compare with a minimal baseline
(plain HTTP GET + Pillow full decode + thumbnail, no storage), both with the same thread count.

Usage: .venv/bin/python benchmarks/ingest_pipeline.py [--samples DIR] [--threads 8]
Uses a scratch PostgreSQL database ``synsetlab_bench_ingest`` (created and dropped).
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
DB = "synsetlab_bench_ingest"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def baseline(urls: list[str], threads: int) -> float:
    import requests
    from PIL import Image

    session = requests.Session()

    def one(url: str) -> None:
        data = session.get(url, timeout=10).content
        image = Image.open(io.BytesIO(data))
        image.load()
        image.convert("RGB").thumbnail((256, 256))

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, urls))
    return len(urls) / (time.perf_counter() - started)


def pipeline(url_file: Path, media: Path, threads: int) -> tuple[float, dict]:
    os.environ.update(
        {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
            "SECRET_KEY": os.environ.get("SECRET_KEY", "benchmark-only"),
            "MEDIA_ROOT": str(media),
            "CANDIDATES_ALLOW_LOOPBACK": "1",
            # The job runs in this process; its queued copy goes nowhere.
            "CELERY_BROKER_URL": "memory://",
            "CANDIDATES_DOWNLOAD_CONCURRENCY": str(threads),
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from candidates.collection import collection_job_create, collection_job_run
    from synsets.models import Synset

    synset, _ = Synset.objects.get_or_create(wnid="n99000001", defaults={"lemmas": ["bench"]})
    job = collection_job_create(
        wnids=[synset.wnid], source="urls", source_config={"path": str(url_file)}
    )
    started = time.perf_counter()
    job = collection_job_run(job_id=job.pk)
    elapsed = time.perf_counter() - started
    return job.seen / elapsed, {
        "stored": job.stored, "duplicates": job.duplicates, "rejected": job.rejected,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", default=str(ROOT.parent / "shared/data/imagenet-samples"))
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    samples = Path(args.samples)
    names = sorted(p.name for p in samples.glob("*.JPEG"))
    server, base = serve(samples)
    urls = [f"{base}/{name}" for name in names]
    subprocess.run(["psql", ADMIN, "-qc", f"DROP DATABASE IF EXISTS {DB}"], check=True)
    subprocess.run(["psql", ADMIN, "-qc", f"CREATE DATABASE {DB}"], check=True)
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
           "SECRET_KEY": "benchmark-only"}  # fmt: skip
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], env=env, check=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url_file = Path(tmp) / "urls.txt"
            url_file.write_text("\n".join(urls) + "\n")
            base_rate = baseline(urls, args.threads)
            rate, counts = pipeline(url_file, Path(tmp) / "media", args.threads)
        print(f"{len(urls)} photos, {args.threads} threads, 2-core machine")
        print(f"baseline (GET + full decode + thumbnail): {base_rate:6.1f} images/s")
        print(
            f"pipeline (download, validate, thumbnail, hash, dedupe, store): {rate:6.1f} images/s"
        )
        print(f"ratio pipeline/baseline: {rate / base_rate:.2f}  counts: {counts}")
    finally:
        from django.db import connections

        connections.close_all()
        server.shutdown()
        subprocess.run(["psql", ADMIN, "-qc", f"DROP DATABASE IF EXISTS {DB}"], check=True)


if __name__ == "__main__":
    main()
