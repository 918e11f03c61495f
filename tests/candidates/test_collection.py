"""The collection pipeline end to end (in-process): URL lists served by a real HTTP server on
127.0.0.1, folders and archives, validation rejects, deduplication, idempotent reruns, cancel."""

from __future__ import annotations

import functools
import io
import threading
import time
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.management import call_command
from PIL import Image

from candidates.collection import collection_job_cancel, collection_job_create, collection_job_run
from candidates.models import Candidate, CollectionJob
from tests.factories import SynsetFactory

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "imagenet-samples"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    settings.CANDIDATES_ALLOW_LOOPBACK = True
    settings.CANDIDATES_DOWNLOAD_TIMEOUT = 3


class _Handler(SimpleHTTPRequestHandler):
    served: list[str] = []  # paths asked for, in order (list.append is atomic)

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.served.append(self.path)
        if self.path == "/to-metadata":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/html.jpg":
            body = b"<!doctype html><html><body>not an image</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


@pytest.fixture
def image_server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_Handler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _samples(n: int) -> list[Path]:
    paths = sorted(SAMPLES.glob("*.JPEG"))[:n]
    assert len(paths) == n, "needs ../shared/data/imagenet-samples"
    return paths


def _reencoded_smaller(path: Path) -> bytes:
    image = Image.open(path).convert("RGB")
    image = image.resize((image.width * 3 // 4, image.height * 3 // 4))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=60)
    return out.getvalue()


@pytest.fixture
def bad_and_good_urls(image_server):
    root, base = image_server
    urls = []
    for i, path in enumerate(_samples(6)):
        (root / f"good{i}.jpg").write_bytes(path.read_bytes())
        urls.append(f"{base}/good{i}.jpg")
    first = _samples(1)[0]
    (root / "same-bytes.jpg").write_bytes(first.read_bytes())  # exact duplicate of good0
    (root / "reencoded.jpg").write_bytes(_reencoded_smaller(first))  # near duplicate of good0
    (root / "truncated.jpg").write_bytes(first.read_bytes()[:4000])
    (root / "empty.jpg").write_bytes(b"")
    gif = io.BytesIO()
    Image.new("P", (1, 1)).save(gif, "GIF")
    (root / "pixel.gif").write_bytes(gif.getvalue())
    urls += [
        f"{base}/same-bytes.jpg",
        f"{base}/reencoded.jpg",
        f"{base}/truncated.jpg",
        f"{base}/empty.jpg",
        f"{base}/pixel.gif",
        f"{base}/html.jpg",
        f"{base}/missing.jpg",
        f"{base}/to-metadata",
        "http://[::ffff:127.0.0.2]:1/x.jpg",
        "http://2130706433:1/x.jpg",
        f"{base}/good1.jpg",  # the same URL twice in one list
    ]
    return urls


def _url_list(tmp_path: Path, urls: list[str], bom: bool = True) -> Path:
    path = tmp_path / "urls.csv"
    text = "url\n" + "\n".join(urls) + "\nnot a url at all\n,,,\n"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    return path


def test_url_list_job_stores_rejects_and_dedupes(tmp_path, bad_and_good_urls):
    synset = SynsetFactory()
    path = _url_list(tmp_path, bad_and_good_urls)
    job = collection_job_create(
        wnids=[synset.wnid], source="urls", source_config={"path": str(path)}
    )
    job = collection_job_run(job_id=job.pk)

    assert job.status == CollectionJob.Status.DONE
    by_status = {
        s: Candidate.objects.filter(synset=synset, status=s).count()
        for s in Candidate.Status.values
    }
    assert by_status["stored"] == 6
    assert by_status["duplicate"] == 1
    assert by_status["near_duplicate"] == 1
    reasons = dict(
        Candidate.objects.filter(status="rejected").values_list("image_url", "reject_reason")
    )
    base = bad_and_good_urls[0].rsplit("/", 1)[0]
    assert reasons[f"{base}/truncated.jpg"] == "truncated"
    assert reasons[f"{base}/empty.jpg"] == "empty"
    assert reasons[f"{base}/pixel.gif"] == "too_small"
    assert reasons[f"{base}/html.jpg"] == "not_an_image"
    assert reasons[f"{base}/missing.jpg"] == "http_error"
    assert reasons[f"{base}/to-metadata"] == "blocked_address"
    assert reasons["http://[::ffff:127.0.0.2]:1/x.jpg"] in {"blocked_address", "connection_error"}
    assert reasons["http://2130706433:1/x.jpg"] in {"blocked_address", "connection_error"}
    assert job.stored == 6 and job.duplicates == 2
    assert job.rejected == sum(job.rejected_by_reason.values()) == len(reasons)

    duplicate = Candidate.objects.get(synset=synset, status="duplicate")
    original = Candidate.objects.get(pk=duplicate.duplicate_of_id)
    assert original.sha256 == duplicate.sha256
    near = Candidate.objects.get(synset=synset, status="near_duplicate")
    assert near.duplicate_of_id == original.pk
    stored = Candidate.objects.filter(synset=synset, status="stored").first()
    assert stored.thumbnail.storage.exists(stored.thumbnail.name)
    assert stored.width and stored.height and stored.sha256 and stored.phash is not None


def test_rerun_adds_nothing_twice(tmp_path, bad_and_good_urls):
    synset = SynsetFactory()
    path = _url_list(tmp_path, bad_and_good_urls)
    for _ in range(2):
        job = collection_job_create(
            wnids=[synset.wnid], source="urls", source_config={"path": str(path)}
        )
        collection_job_run(job_id=job.pk)
    assert Candidate.objects.filter(synset=synset).count() == len(set(bad_and_good_urls))
    first, second = CollectionJob.objects.order_by("id")
    assert second.stored == 0 and second.seen == 0
    # The second job says why it stored nothing: every URL was already a candidate (the list's
    # duplicate line is the source's to report, once per job).
    assert first.already_seen == 0
    assert second.already_seen == len(set(bad_and_good_urls))


def test_cross_synset_duplicates_are_flagged_not_removed(tmp_path, image_server):
    root, base = image_server
    path = _samples(1)[0]
    (root / "a.jpg").write_bytes(path.read_bytes())
    (root / "b.jpg").write_bytes(_reencoded_smaller(path))
    first, second = SynsetFactory(), SynsetFactory()
    for synset, name in ((first, "a.jpg"), (second, "b.jpg")):
        urls = tmp_path / f"{name}.txt"
        urls.write_text(f"{base}/{name}\n")
        job = collection_job_create(
            wnids=[synset.wnid], source="urls", source_config={"path": str(urls)}
        )
        collection_job_run(job_id=job.pk)
    kept = Candidate.objects.get(synset=second)
    assert kept.status == "stored"
    assert kept.cross_synset_duplicate_of == Candidate.objects.get(synset=first)


def test_downloads_run_two_pages_ahead_of_the_store(tmp_path, image_server, monkeypatch):
    """While one page is stored (files, rows), the next two pages download: the download
    threads never wait for the store."""
    from candidates import collection

    root, base = image_server
    for i, path in enumerate(_samples(6)):
        (root / f"p{i}.jpg").write_bytes(path.read_bytes())
    # Three and a half pages of 100 (the URL list's page size), six distinct photos.
    urls = [f"{base}/p{k % 6}.jpg?k={k}" for k in range(350)]
    synset = SynsetFactory()
    job = collection_job_create(
        wnids=[synset.wnid], source="urls", source_config={"path": str(_url_list(tmp_path, urls))}
    )
    _Handler.served.clear()
    real_store = collection.candidates_store_batch
    downloaded_before_first_store: list[int] = []

    def store_held_back(**kwargs):
        if not downloaded_before_first_store:
            # Hold the first page's store until the pages behind it have downloaded (or 10 s).
            give_up = time.monotonic() + 10
            while len(_Handler.served) < 300 and time.monotonic() < give_up:
                time.sleep(0.02)
            downloaded_before_first_store.append(len(_Handler.served))
        return real_store(**kwargs)

    monkeypatch.setattr(collection, "candidates_store_batch", store_held_back)
    job = collection_job_run(job_id=job.pk)

    assert downloaded_before_first_store == [300]
    assert (job.seen, job.stored, job.duplicates) == (350, 6, 344)


def test_limit_caps_stored_candidates_per_synset(tmp_path, bad_and_good_urls):
    synset = SynsetFactory()
    path = _url_list(tmp_path, bad_and_good_urls)
    job = collection_job_create(
        wnids=[synset.wnid], source="urls", source_config={"path": str(path)}, limit_per_synset=3
    )
    collection_job_run(job_id=job.pk)
    assert Candidate.objects.filter(synset=synset, status="stored").count() == 3


def test_cancelled_job_stops(tmp_path, bad_and_good_urls):
    synset = SynsetFactory()
    path = _url_list(tmp_path, bad_and_good_urls)
    job = collection_job_create(
        wnids=[synset.wnid], source="urls", source_config={"path": str(path)}
    )
    collection_job_cancel(job_id=job.pk)
    job = collection_job_run(job_id=job.pk)
    assert job.status == CollectionJob.Status.CANCELLED
    assert not Candidate.objects.filter(synset=synset).exists()


def test_folder_with_zip_and_wnid_names(tmp_path):
    dog = SynsetFactory()
    folder = tmp_path / "images"
    (folder / "nested").mkdir(parents=True)
    samples = _samples(3)
    (folder / "nested" / f"{dog.wnid}_a.JPEG").write_bytes(samples[0].read_bytes())
    with zipfile.ZipFile(folder / "more.zip", "w") as archive:
        archive.writestr(f"{dog.wnid}_b.JPEG", samples[1].read_bytes())
        archive.writestr(f"../../{dog.wnid}_evil.JPEG", samples[2].read_bytes())
    job = collection_job_create(
        wnids=[dog.wnid], source="folder", source_config={"root": str(folder)}
    )
    collection_job_run(job_id=job.pk)
    stored = Candidate.objects.filter(synset=dog, status="stored")
    assert stored.count() == 2
    assert not any("evil" in c.image_url for c in Candidate.objects.filter(synset=dog))
    assert not (tmp_path.parent / f"{dog.wnid}_evil.JPEG").exists()


def test_cli_prints_summary_line(tmp_path, bad_and_good_urls, capsys):
    synset = SynsetFactory()
    path = _url_list(tmp_path, bad_and_good_urls)
    call_command("collect_candidates", synset.wnid, "--urls", str(path), "--inline")
    out = capsys.readouterr().out
    assert "stored 6" in out and "duplicates 2" in out
    assert "not_an_image=1" in out and "blocked_address=" in out


def test_unknown_source_and_synset_are_clear_errors():
    from django.core.management.base import CommandError

    with pytest.raises(ValueError, match="unknown source"):
        collection_job_create(wnids=["n02084071"], source="bing")
    with pytest.raises(CommandError, match="unknown synsets"):
        call_command("collect_candidates", "n99999999", "--source", "openverse", "--inline")


def test_running_job_with_a_fresh_heartbeat_is_not_started_twice(tmp_path, bad_and_good_urls):
    synset = SynsetFactory()
    path = _url_list(tmp_path, bad_and_good_urls)
    job = collection_job_create(
        wnids=[synset.wnid], source="urls", source_config={"path": str(path)}
    )
    CollectionJob.objects.filter(pk=job.pk).update(status=CollectionJob.Status.RUNNING)
    again = collection_job_run(job_id=job.pk)
    assert again.status == CollectionJob.Status.RUNNING
    assert not Candidate.objects.filter(synset=synset).exists()


def test_running_job_with_a_stale_heartbeat_is_taken_over(tmp_path, bad_and_good_urls, settings):
    settings.CANDIDATES_JOB_LEASE_SECONDS = 0
    synset = SynsetFactory()
    path = _url_list(tmp_path, bad_and_good_urls)
    job = collection_job_create(
        wnids=[synset.wnid], source="urls", source_config={"path": str(path)}
    )
    CollectionJob.objects.filter(pk=job.pk).update(status=CollectionJob.Status.RUNNING)
    assert collection_job_run(job_id=job.pk).status == CollectionJob.Status.DONE
