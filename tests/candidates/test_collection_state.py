"""What a collection job loads before it collects: a synset's state (also with stored rows that
lack a pHash), the process-wide cross-synset index kept up to date between runs, and the
content-addressed local file writes that several threads may race on."""

from __future__ import annotations

import errno
import shutil
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from candidates import storage
from candidates.collection import (
    GlobalHashIndex,
    Outcome,
    SynsetState,
    candidates_store_batch,
)
from candidates.images import process_image
from candidates.models import Candidate, CollectionJob
from candidates.sources.base import SourceResult
from candidates.storage import blob_store, blobs_store, original_name, thumbnail_name
from tests.factories import CandidateFactory, SynsetFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    GlobalHashIndex.forget_all()
    yield
    GlobalHashIndex.forget_all()


def test_state_loads_a_stored_candidate_without_phash():
    synset = SynsetFactory()
    hashed = CandidateFactory(synset=synset, phash=12345)
    bare = CandidateFactory(synset=synset, phash=None)  # as after a restore or an admin edit
    CandidateFactory(
        synset=synset, status=Candidate.Status.REJECTED, reject_reason="corrupt", phash=None
    )

    state = SynsetState.load(synset, cap=10)

    assert state.stored_count == 2  # both stored rows count towards the cap
    assert state.sha_to_id[bare.sha256] == bare.pk  # still an exact-duplicate target
    assert state.index.nearest(12345, 0) == [(hashed.pk, 0)]
    assert len(state.index) == 1
    assert len(state.seen_urls) == 3


def test_global_index_is_built_once_per_process_and_refreshed_incrementally():
    first, second = SynsetFactory(), SynsetFactory()
    a = CandidateFactory(synset=first, phash=0x0F0F_0000)
    index = GlobalHashIndex.for_process()
    assert GlobalHashIndex.for_process() is index
    assert index.other_synset_match(0x0F0F_0001, second.wnid, 4) == a.pk
    assert index.other_synset_match(0x0F0F_0001, first.wnid, 4) is None  # same synset

    # Stored by another process since: the next run's refresh reads only the newer rows.
    b = CandidateFactory(synset=second, phash=0x7777_0000)
    assert index.other_synset_match(0x7777_0000, first.wnid, 4) is None  # not refreshed yet
    assert GlobalHashIndex.for_process() is index
    assert index.other_synset_match(0x7777_0000, first.wnid, 4) == b.pk

    # Added by this process: found at once; a phantom (rolled back) is verified away.
    index.add(10**9, first.wnid, 0x5555_0000)
    assert index.other_synset_match(0x5555_0000, second.wnid, 4) is None  # row does not exist
    assert len(index._index) == 2

    # The table emptied behind the index's back (rows it knows of are gone): rebuilt.
    index.add(b.pk + 1, first.wnid, 0x3333_0000)
    Candidate.objects.all().delete()
    assert GlobalHashIndex.for_process() is index
    assert len(index._index) == 0


def test_global_index_never_reports_a_candidate_that_is_no_longer_stored():
    first, second = SynsetFactory(), SynsetFactory()
    a = CandidateFactory(synset=first, phash=0x1234_5678)
    index = GlobalHashIndex.for_process()
    Candidate.objects.filter(pk=a.pk).update(
        status=Candidate.Status.REJECTED, reject_reason="corrupt"
    )
    assert index.other_synset_match(0x1234_5678, second.wnid, 4) is None
    Candidate.objects.filter(pk=a.pk).delete()
    assert index.other_synset_match(0x1234_5678, second.wnid, 4) is None


def test_global_index_skips_stored_candidates_without_phash():
    CandidateFactory(phash=None)
    index = GlobalHashIndex.for_process()
    assert len(index._index) == 0


def test_local_blobs_race_to_one_file_under_the_exact_name(settings):
    name = original_name("ef" * 32, "JPEG")
    data = b"\xff\xd8\xff" + b"x" * 100_000
    barrier = threading.Barrier(8)

    def write(_: int) -> str:
        barrier.wait()
        return blob_store(name, data)

    with ThreadPoolExecutor(8) as pool:
        names = list(pool.map(write, range(8)))
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    assert names == [name] * 8
    assert (root / name).read_bytes() == data
    assert [p.name for p in (root / name).parent.iterdir()] == [Path(name).name]  # no temp left
    assert blob_store(name, b"other bytes never overwrite") == name
    assert (root / name).read_bytes() == data


def test_blobs_store_writes_a_batch_in_a_pool(settings):
    blobs = [(original_name(f"{i:02x}" * 32, "PNG"), bytes([i]) * 10) for i in range(20)]
    with ThreadPoolExecutor(4) as pool:
        assert blobs_store(blobs, pool=pool) == [name for name, _ in blobs]
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    assert all((root / name).read_bytes() == data for name, data in blobs)


def test_blobs_share_one_level_of_256_shard_folders(settings):
    """Files of one shard share its folder: a new collection creates at most 256 folders per
    kind, not one or two per photo."""
    sha = "ab" + "12" * 31
    assert original_name(sha, "JPEG") == f"originals/ab/{sha}.jpg"
    assert thumbnail_name(sha) == f"thumbnails/ab/{sha}.jpg"
    blobs = [(original_name(f"ab{i:062x}", "JPEG"), bytes([i]) * 10) for i in range(30)]
    blobs_store(blobs)
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    assert [p.name for p in (root / "originals").iterdir()] == ["ab"]
    assert len(list((root / "originals" / "ab").iterdir())) == 30


def test_blob_store_recreates_a_missing_shard_folder_with_the_storage_permissions(settings):
    settings.FILE_UPLOAD_PERMISSIONS = 0o640
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    name = thumbnail_name("cd" * 32)
    assert blob_store(name, b"first") == name
    shutil.rmtree(root / "thumbnails")  # the folder goes away behind the process's back
    other = thumbnail_name("cd" + "01" * 31)
    assert blob_store(other, b"second") == other
    assert (root / other).read_bytes() == b"second"
    assert stat.S_IMODE((root / other).stat().st_mode) == 0o640
    assert [p.name for p in (root / other).parent.iterdir()] == [Path(other).name]


def test_failed_blob_write_leaves_neither_the_file_nor_a_temporary(settings, monkeypatch):
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    blob_store(original_name("aa" * 32, "JPEG"), b"makes the shard folder")

    real_fdopen = storage.os.fdopen

    class DiskFull:
        """The temporary file, on a disk that fills up at the first write."""

        def __init__(self, fd, mode):
            self.file = real_fdopen(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage.os, "fdopen", DiskFull)
    name = original_name("aa" + "02" * 31, "JPEG")
    with pytest.raises(OSError, match="No space left"):
        blob_store(name, b"x" * 1000)
    assert [p.name for p in (root / name).parent.iterdir()] == ["aa" * 32 + ".jpg"]


def _outcomes(paths: list[Path]) -> list[Outcome]:
    return [
        Outcome(
            SourceResult(image_url=f"http://example.org/{path.name}", rank=rank),
            query="q",
            processed=process_image(path.read_bytes()),
            data=path.read_bytes(),
        )
        for rank, path in enumerate(paths)
    ]


def test_a_failed_file_write_rolls_the_batch_rows_back(settings, monkeypatch, sample_paths):
    """The rows go in while the files are written; they must never outlive a failed write."""
    synset = SynsetFactory()
    job = CollectionJob.objects.create(source="urls", wnids=[synset.wnid])
    state = SynsetState.load(synset, cap=100)
    real_store = storage.blob_store

    def failing_store(name: str, data: bytes) -> str:
        if name.startswith("thumbnails/"):
            raise OSError(errno.EIO, "Input/output error")
        return real_store(name, data)

    monkeypatch.setattr(storage, "blob_store", failing_store)
    with ThreadPoolExecutor(2) as writer, pytest.raises(OSError, match="Input/output"):
        candidates_store_batch(
            job=job, state=state, outcomes=_outcomes(sample_paths[:4]),
            global_index=GlobalHashIndex.for_process(), writer=writer,
        )  # fmt: skip
    assert not Candidate.objects.filter(synset=synset).exists()
    assert len(state.index) == 0


def test_batch_links_near_duplicates_to_stored_and_to_earlier_batch_photos(
    settings, sample_paths, tmp_path
):
    """Looked up for the whole batch at once, a photo near one stored before the batch links to
    it; one near a photo stored earlier in the same batch links to that one."""
    synset = SynsetFactory()
    job = CollectionJob.objects.create(source="urls", wnids=[synset.wnid])
    first, second = sample_paths[0], sample_paths[1]
    stored_before = candidates_store_batch(
        job=job, state=(state := SynsetState.load(synset, cap=100)), outcomes=_outcomes([first]),
        global_index=GlobalHashIndex.for_process(),
    )  # fmt: skip
    assert stored_before["stored"] == 1
    copies = []
    for path in (first, second):
        image = Image.open(path).convert("RGB")
        copy = tmp_path / f"smaller-{path.name}"
        image.resize((image.width * 3 // 4, image.height * 3 // 4)).save(copy, "JPEG", quality=60)
        copies.append(copy)
    counts = candidates_store_batch(
        job=job, state=state, outcomes=_outcomes([copies[0], second, copies[1]]),
        global_index=GlobalHashIndex.for_process(),
    )  # fmt: skip
    assert counts["stored"] == 1 and counts["near_duplicate"] == 2
    rows = {c.image_url.rsplit("/", 1)[1]: c for c in Candidate.objects.filter(synset=synset)}
    original, batch_original = rows[first.name], rows[second.name]
    assert rows[copies[0].name].duplicate_of_id == original.pk
    assert rows[copies[1].name].duplicate_of_id == batch_original.pk
    assert state.index.nearest(batch_original.phash, 0) == [(batch_original.pk, 0)]
