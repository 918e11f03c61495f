"""Collection jobs: run a synset's queries through a source, download, validate, deduplicate and
store candidates (Deng et al. 2009 §3.1). Resumable and idempotent: a rerun adds nothing twice.

Downloads and decoding run in a thread pool (I/O and Pillow release the GIL); all database
writes for one batch happen in one transaction holding the synset's row lock, so two jobs on the
same synset never store the same image twice.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from synsets.models import Synset

from .dedupe import HashIndex, hamming
from .fetching import FetchError, FetchPolicy, fetch_image_bytes
from .images import ImageRejected, ProcessedImage, process_image
from .models import Candidate, CollectionJob, SearchQuery
from .queries import synset_queries_ensure
from .signals import collection_job_finished_send
from .sources.base import ConfigurationError, ImageSource, SourceError, SourceResult
from .sources.registry import build_source
from .storage import blobs_store_begin, original_name, thumbnail_name

logger = logging.getLogger(__name__)

# Pages downloading behind the one being stored (each page is one search result page).
PAGES_AHEAD = 2

Progress = Callable[[CollectionJob], None]


def fetch_policy() -> FetchPolicy:
    return FetchPolicy(
        max_bytes=settings.CANDIDATES_MAX_BYTES,
        total_timeout=settings.CANDIDATES_DOWNLOAD_TIMEOUT,
        allow_loopback=settings.CANDIDATES_ALLOW_LOOPBACK,
    )


def url_hash(locator: str) -> str:
    return hashlib.sha256(locator.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Outcome:
    """What downloading and validating one source result gave (no database involved)."""

    result: SourceResult
    query: str
    processed: ProcessedImage | None = None
    data: bytes | None = None
    reason: str = ""
    detail: str = ""


def outcome_for(result: SourceResult, *, query: str, policy: FetchPolicy) -> Outcome:
    """Download (or read) and validate one result; every failure becomes a reason, never raises."""
    try:
        if result.fetch is not None:
            data = result.fetch()
            if len(data) > policy.max_bytes:
                return Outcome(result, query, reason="too_large", detail=f"{len(data)} bytes")
        else:
            data = fetch_image_bytes(result.image_url, policy=policy).data
        processed = process_image(data, min_side=settings.CANDIDATES_MIN_SIDE)
    except FetchError as exc:
        return Outcome(result, query, reason=exc.reason, detail=exc.message[:500])
    except ImageRejected as exc:
        return Outcome(result, query, reason=exc.reason, detail=exc.message[:500])
    except SourceError as exc:
        return Outcome(result, query, reason="source_error", detail=str(exc)[:500])
    except Exception as exc:  # a failing item never aborts its batch
        logger.exception("unexpected error on %s", result.image_url)
        return Outcome(result, query, reason="corrupt", detail=f"{type(exc).__name__}: {exc}"[:500])
    return Outcome(result, query, processed=processed, data=data)


@dataclass
class SynsetState:
    """What a job knows about one synset while it collects: dedupe indexes and counters."""

    synset: Synset
    cap: int
    seen_urls: set[str]
    stored_count: int
    index: HashIndex
    sha_to_id: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, synset: Synset, cap: int) -> SynsetState:
        rows = Candidate.objects.filter(synset=synset).values_list(
            "id", "url_hash", "status", "sha256", "phash"
        )
        seen, sha_to_id, keys, hashes = set(), {}, [], []
        stored = 0
        for pk, uhash, status, sha, phash in rows.iterator(5000):
            seen.add(uhash)
            if status == Candidate.Status.STORED:
                stored += 1
                sha_to_id[sha] = pk
                # A stored row may lack its pHash (restored from a backup, edited in the
                # admin): it still counts and still catches exact duplicates by SHA-256.
                if phash is not None:
                    keys.append(pk)
                    hashes.append(phash)
        index = HashIndex.from_pairs(keys, hashes) if keys else HashIndex()
        return cls(synset, cap, seen, stored, index, sha_to_id)

    @property
    def full(self) -> bool:
        return self.stored_count >= self.cap


class GlobalHashIndex:
    """All stored candidates' pHashes across synsets, to flag cross-synset duplicates (which
    need a human decision, not automatic removal).

    One index per worker process and database, built once (a bulk read of id, synset and pHash:
    about 40 bytes per hash in memory) and then brought up to date at the start of every job
    run by reading only rows with a higher primary key than the last one seen — stored rows are
    only ever inserted by collection, and primary keys only grow. A neighbour the index finds
    is confirmed in the database before it is reported, so a candidate deleted or un-stored
    since it was read is dropped, never reported. Keys pack the synset's small code with the
    primary key, so no per-hash Python object is kept.
    """

    _cache: dict[tuple[str, str], GlobalHashIndex] = {}
    _cache_lock = threading.Lock()
    # Rebuilt from scratch at least this often, in case rows came back by another way (a
    # restore of a backup with its old primary keys).
    MAX_AGE_SECONDS = 6 * 3600
    _PK_BITS = 40  # primary keys up to 10^12; synset codes above them
    _PK_MASK = (1 << _PK_BITS) - 1

    def __init__(self) -> None:
        self._index: HashIndex | None = None
        self._codes: dict[str, int] = {}
        self._wnids: list[str] = []
        self._high_water = 0
        self._added_here: set[int] = set()  # stored by this process above the high-water mark
        self._built_at = 0.0
        self._lock = threading.Lock()

    @classmethod
    def for_process(cls) -> GlobalHashIndex:
        """The process-wide index of the current database, refreshed with rows added since."""
        key = (connection.alias, str(connection.settings_dict.get("NAME")))
        with cls._cache_lock:
            index = cls._cache.get(key)
            if index is None:
                index = cls._cache[key] = cls()
        index.refresh()
        return index

    @classmethod
    def forget_all(cls) -> None:
        with cls._cache_lock:
            cls._cache.clear()

    def _code(self, wnid: str) -> int:
        code = self._codes.get(wnid)
        if code is None:
            code = self._codes[wnid] = len(self._wnids)
            self._wnids.append(wnid)
        return code

    def _pack(self, pk: int, wnid: str) -> int:
        return (self._code(wnid) << self._PK_BITS) | pk

    def _read(self, after: int) -> tuple[np.ndarray, np.ndarray, int]:
        table = Candidate._meta.db_table
        keys: list[int] = []
        hashes: list[int] = []
        high = after
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, synset_id, phash FROM {table} "  # noqa: S608 - model's own table
                "WHERE status = %s AND phash IS NOT NULL AND id > %s ORDER BY id",
                [Candidate.Status.STORED, after],
            )
            while rows := cursor.fetchmany(50_000):
                for pk, wnid, phash in rows:
                    keys.append(self._pack(pk, wnid))
                    hashes.append(phash)
                high = max(high, rows[-1][0])
        return np.array(keys, dtype=np.int64), np.array(hashes, dtype=np.int64), high

    def refresh(self) -> None:
        with self._lock:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT MAX(id) FROM {Candidate._meta.db_table}")  # noqa: S608
                newest = cursor.fetchone()[0] or 0
            stale = time.monotonic() - self._built_at > self.MAX_AGE_SECONDS
            # Rows we know of are gone (a table emptied, a test database rolled back): rebuild.
            known = max(self._high_water, max(self._added_here, default=0))
            if self._index is None or stale or newest < known:
                keys, hashes, high = self._read(0)
                self._index = HashIndex.from_pairs(keys, hashes)
                self._high_water, self._built_at = high, time.monotonic()
            elif newest > self._high_water:
                # Rows other processes stored since, between and above our own additions.
                keys, hashes, high = self._read(self._high_water)
                for key, phash in zip(keys.tolist(), hashes.tolist(), strict=True):
                    if key & self._PK_MASK not in self._added_here:
                        self._index.add(key, phash, new=True)
                self._high_water = high
            self._added_here.clear()

    def nearest_many(
        self, phashes: Sequence[int], max_distance: int
    ) -> list[list[tuple[int, int]]]:
        """What the index holds within ``max_distance`` bits of each hash (packed keys, closest
        first), to hand to ``other_synset_match`` as ``found``: a batch looks up all at once."""
        if self._index is None:
            self.refresh()
        with self._lock:
            return self._index.nearest_many(phashes, max_distance)  # type: ignore[union-attr]

    def other_synset_match(
        self,
        phash: int,
        synset_id: str,
        max_distance: int,
        *,
        found: Sequence[tuple[int, int]] | None = None,
    ) -> int | None:
        """A stored candidate of another synset within ``max_distance`` bits, or None.
        ``found`` is this hash's answer from ``nearest_many`` when the batch asked already."""
        if self._index is None:
            self.refresh()
        code = self._codes.get(synset_id)
        if found is None:
            with self._lock:
                found = self._index.nearest(phash, max_distance)  # type: ignore[union-attr]
        for key, _distance in found:
            if key >> self._PK_BITS == code:
                continue
            pk = key & self._PK_MASK
            if Candidate.objects.filter(pk=pk, status=Candidate.Status.STORED).exists():
                return pk
            with self._lock:
                self._index.remove(key)  # type: ignore[union-attr]
        return None

    def add_many(self, pks: Sequence[int], synset_id: str, phashes: Sequence[int]) -> None:
        """``add`` for each stored candidate of one synset, in one append."""
        with self._lock:
            if self._index is not None:
                keys = np.array([self._pack(pk, synset_id) for pk in pks], dtype=np.int64)
                self._index.add_new_many(keys, phashes)
                self._added_here.update(pks)

    def add(self, pk: int, synset_id: str, phash: int) -> None:
        with self._lock:
            if self._index is not None:
                self._index.add(self._pack(pk, synset_id), phash, new=True)
                self._added_here.add(pk)


def _candidate_from(outcome: Outcome, *, job: CollectionJob, synset: Synset) -> Candidate:
    result = outcome.result
    return Candidate(
        synset=synset,
        job=job,
        source=job.source,
        query=outcome.query[:255],
        rank=result.rank,
        image_url=result.image_url,
        url_hash=url_hash(result.image_url),
        page_url=result.page_url or "",
        title=(result.title or "")[:500],
        license=(result.license or "")[:200],
        attribution=(result.attribution or "")[:500],
    )


@transaction.atomic
def candidates_store_batch(
    *,
    job: CollectionJob,
    state: SynsetState,
    outcomes: Sequence[Outcome],
    global_index: GlobalHashIndex,
    writer: Executor | None = None,
) -> Counter:
    """Write one batch of outcomes: rejects with their reason, exact and near duplicates linked to
    what they duplicate, the rest stored with files. Returns counts by status/reason.

    Files are written after every decision of the batch is made, all at once in ``writer``'s
    threads when given, while the rows go in with two bulk inserts; the rows commit only once
    every file is written."""
    max_distance = settings.CANDIDATES_NEAR_DUPLICATE_DISTANCE
    synset = Synset.objects.select_for_update().get(pk=state.synset.pk)
    # Another job may have written this synset since our state was loaded.
    hashes = [url_hash(o.result.image_url) for o in outcomes]
    state.seen_urls.update(
        Candidate.objects.filter(synset=synset, url_hash__in=hashes).values_list(
            "url_hash", flat=True
        )
    )
    shas = [o.processed.sha256 for o in outcomes if o.processed]
    for pk, sha in Candidate.objects.filter(
        synset=synset, status=Candidate.Status.STORED, sha256__in=shas
    ).values_list("id", "sha256"):
        state.sha_to_id.setdefault(sha, pk)

    # Near-duplicate lookups for the whole batch at once, against what was stored before it (the
    # synset's and every synset's index change only after the batch); within the batch below.
    looked_up = [i for i, o in enumerate(outcomes) if o.processed is not None]
    phashes = [outcomes[i].processed.phash for i in looked_up]  # type: ignore[union-attr]
    near_stored = dict(zip(looked_up, state.index.nearest_many(phashes, max_distance), strict=True))
    near_other = dict(
        zip(looked_up, global_index.nearest_many(phashes, max_distance), strict=True)
    )

    counts: Counter = Counter()
    pending_links: list[tuple[Candidate, Candidate]] = []  # (duplicate, original in same batch)
    batch_by_sha: dict[str, Candidate] = {}
    batch_stored: list[Candidate] = []  # stored by this batch, in order
    rows: list[Candidate] = []
    blobs: list[tuple[str, bytes]] = []
    for position, (outcome, uhash) in enumerate(zip(outcomes, hashes, strict=True)):
        if uhash in state.seen_urls:
            counts["skipped"] += 1
            continue
        state.seen_urls.add(uhash)
        candidate = _candidate_from(outcome, job=job, synset=synset)
        rows.append(candidate)
        processed = outcome.processed
        if processed is None:
            candidate.status = Candidate.Status.REJECTED
            candidate.reject_reason = outcome.reason
            candidate.reject_detail = outcome.detail
            counts[f"rejected:{outcome.reason}"] += 1
            continue
        candidate.sha256 = processed.sha256
        candidate.phash = processed.phash
        candidate.width, candidate.height = processed.width, processed.height
        candidate.format, candidate.bytes = processed.format, processed.byte_size
        if processed.sha256 in state.sha_to_id or processed.sha256 in batch_by_sha:
            candidate.status = Candidate.Status.DUPLICATE
            _link(
                candidate,
                state.sha_to_id.get(processed.sha256),
                batch_by_sha.get(processed.sha256),
                pending_links,
            )
            counts["duplicate"] += 1
            continue
        near = near_stored[position]
        batch_original = _nearest_in_batch(processed.phash, batch_stored, max_distance)
        if near or batch_original is not None:
            candidate.status = Candidate.Status.NEAR_DUPLICATE
            _link(candidate, near[0][0] if near else None, batch_original, pending_links)
            counts["near_duplicate"] += 1
            continue
        if state.full:
            rows.pop()
            state.seen_urls.discard(uhash)
            counts["over_cap"] += 1
            continue
        candidate.status = Candidate.Status.STORED
        candidate.image.name = original_name(processed.sha256, processed.format)
        candidate.thumbnail.name = thumbnail_name(processed.sha256)
        blobs.append((candidate.image.name, outcome.data))
        blobs.append((candidate.thumbnail.name, processed.thumbnail_jpeg))
        cross = global_index.other_synset_match(
            processed.phash, synset.pk, max_distance, found=near_other[position]
        )
        candidate.cross_synset_duplicate_of_id = cross
        batch_by_sha[processed.sha256] = candidate
        batch_stored.append(candidate)
        state.stored_count += 1
        counts["stored"] += 1
        if cross:
            counts["cross_synset_duplicate"] += 1

    # Content-addressed names: a file written for a batch that then rolls back is reused by the
    # retry, never orphaned under a second name. The rows go in while the writer's threads
    # write the files; they become visible only when this transaction commits, after every
    # file is written (a failed write raises here and rolls the rows back).
    files_written = blobs_store_begin(blobs, pool=writer)
    stored = [c for c in rows if c.status == Candidate.Status.STORED]
    Candidate.objects.bulk_create(stored)
    for duplicate, original in pending_links:
        duplicate.duplicate_of_id = original.pk
    Candidate.objects.bulk_create([c for c in rows if c.status != Candidate.Status.STORED])
    files_written()
    for candidate in stored:
        state.sha_to_id[candidate.sha256] = candidate.pk
    stored_pks = [c.pk for c in stored]
    stored_phashes = [c.phash for c in stored]
    state.index.add_new_many(stored_pks, stored_phashes)
    global_index.add_many(stored_pks, synset.pk, stored_phashes)
    _job_count(job, counts)
    return counts


def _nearest_in_batch(
    phash: int, batch_stored: Sequence[Candidate], max_distance: int
) -> Candidate | None:
    """The closest candidate stored earlier in the same batch within ``max_distance`` bits (the
    earliest among equally close ones), or None. A batch holds at most a page of results: a
    plain loop costs less than an index here."""
    best: Candidate | None = None
    best_distance = max_distance + 1
    for candidate in batch_stored:
        distance = hamming(phash, candidate.phash)  # type: ignore[arg-type]
        if distance < best_distance:
            best, best_distance = candidate, distance
    return best


def _link(
    candidate: Candidate,
    stored_id: int | None,
    batch_original: Candidate | None,
    pending: list[tuple[Candidate, Candidate]],
) -> None:
    if stored_id is not None:
        candidate.duplicate_of_id = stored_id
    elif batch_original is not None:
        pending.append((candidate, batch_original))


def _job_count(job: CollectionJob, counts: Counter) -> None:
    """Add a batch's counts to the job row (locked: the JSON reasons merge in Python)."""
    locked = CollectionJob.objects.select_for_update().get(pk=job.pk)
    reasons = dict(locked.rejected_by_reason)
    rejected = 0
    for key, n in counts.items():
        if key.startswith("rejected:"):
            reason = key.removeprefix("rejected:")
            reasons[reason] = reasons.get(reason, 0) + n
            rejected += n
    not_seen = {"skipped", "over_cap", "cross_synset_duplicate"}
    seen = sum(n for key, n in counts.items() if key not in not_seen)
    CollectionJob.objects.filter(pk=job.pk).update(
        seen=F("seen") + seen,
        stored=F("stored") + counts["stored"],
        duplicates=F("duplicates") + counts["duplicate"] + counts["near_duplicate"],
        already_seen=F("already_seen") + counts["skipped"],
        rejected=F("rejected") + rejected,
        rejected_by_reason=reasons,
        updated_at=timezone.now(),
    )


# --- jobs -----------------------------------------------------------------------------------


@transaction.atomic
def collection_job_create(
    *,
    wnids: Sequence[str],
    source: str,
    source_config: dict | None = None,
    limit_per_synset: int | None = None,
    created_by=None,
) -> CollectionJob:
    """Create a job (validated: known synsets, known source, ``source_config`` by the source's
    own schema) and enqueue it after commit."""
    from .sources.registry import SOURCE_NAMES, job_config_validate

    if source not in SOURCE_NAMES:
        raise ValueError(f"unknown source {source!r}; choose one of {', '.join(SOURCE_NAMES)}")
    try:
        source_config = job_config_validate(source, source_config or {})
    except ConfigurationError as exc:
        raise ValueError(str(exc)) from None
    wnids = list(dict.fromkeys(wnids))
    known = set(Synset.objects.filter(wnid__in=wnids).values_list("wnid", flat=True))
    missing = [w for w in wnids if w not in known]
    if missing:
        raise ValueError(f"unknown synsets: {', '.join(missing[:10])}")
    cap = settings.CANDIDATES_PER_SYNSET_CAP
    job = CollectionJob.objects.create(
        source=source,
        source_config=source_config or {},
        wnids=wnids,
        limit_per_synset=min(limit_per_synset or cap, cap),
        created_by=created_by,
    )
    from .tasks import collection_job_run_task

    transaction.on_commit(partial(collection_job_run_task.delay, job.pk))
    return job


def collection_job_cancel(*, job_id: int) -> CollectionJob:
    """Ask a job to stop; a running job stops after its current batch."""
    with transaction.atomic():
        job = CollectionJob.objects.select_for_update().get(pk=job_id)
        if job.status == CollectionJob.Status.PENDING:
            job.status = CollectionJob.Status.CANCELLED
            job.finished_at = timezone.now()
        elif job.status == CollectionJob.Status.RUNNING:
            job.status = CollectionJob.Status.CANCELLING
        job.save(update_fields=["status", "finished_at", "updated_at"])
    return job


def _job_status(job_id: int) -> str:
    return CollectionJob.objects.values_list("status", flat=True).get(pk=job_id)


def source_for_job(job: CollectionJob) -> ImageSource:
    """The job's source: its own ``source_config`` (checked again here, whatever wrote the row),
    then the operator's settings, which job data never overrides."""
    from .sources.registry import job_config_validate

    config = {
        **job_config_validate(job.source, job.source_config),
        "flickr_api_key": settings.FLICKR_API_KEY,
        "openverse_url": settings.OPENVERSE_API_URL,
        "wikimedia_url": settings.WIKIMEDIA_API_URL,
        "allow_loopback": settings.CANDIDATES_ALLOW_LOOPBACK,
        "max_bytes": settings.CANDIDATES_MAX_BYTES,
    }
    if "allowed_roots" in config and job.source == "urls":
        # A URL list uploaded through the web pages is read only from the server's upload
        # folder, whatever roots its row names.
        config["allowed_roots"] = [str(settings.CANDIDATES_UPLOAD_DIR)]
    elif "allowed_roots" in config:
        # A job made through the web pages is confined to the roots the operator allows now,
        # whatever roots its row names; with none allowed any more, it reads nothing.
        config["allowed_roots"] = list(settings.CANDIDATES_FOLDER_ROOTS)
        if not config["allowed_roots"]:
            raise ConfigurationError("no folder is allowed (CANDIDATES_FOLDER_ROOTS is empty)")
    return build_source(job.source, config)


def collection_job_run(*, job_id: int, progress: Progress | None = None) -> CollectionJob:
    """Run (or resume) a job to completion. Safe to call again after a crash: finished synsets
    are skipped and already-seen URLs are not fetched twice."""
    with transaction.atomic():
        job = CollectionJob.objects.select_for_update().get(pk=job_id)
        if job.status in (CollectionJob.Status.DONE, CollectionJob.Status.CANCELLED):
            return job
        if job.status == CollectionJob.Status.CANCELLING:
            job.status = CollectionJob.Status.CANCELLED
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "finished_at", "updated_at"])
            return job
        # Every batch refreshes updated_at (the job's heartbeat). A running job with a fresh
        # heartbeat belongs to another worker — Redis re-delivers a long task after its
        # visibility timeout although its worker is alive — so this delivery leaves it alone.
        lease = timedelta(seconds=settings.CANDIDATES_JOB_LEASE_SECONDS)
        if job.status == CollectionJob.Status.RUNNING and job.updated_at > timezone.now() - lease:
            logger.info("collection job %s is running elsewhere; not starting it twice", job.pk)
            return job
        job.status = CollectionJob.Status.RUNNING
        job.started_at = job.started_at or timezone.now()
        job.save(update_fields=["status", "started_at", "updated_at"])
    try:
        source = source_for_job(job)
        _job_report_source(job, source)
        policy = fetch_policy()
        global_index = GlobalHashIndex.for_process()
        workers = settings.CANDIDATES_DOWNLOAD_CONCURRENCY
        writers = max(2, workers // 2)
        with (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool,
            ThreadPoolExecutor(max_workers=writers, thread_name_prefix="store") as writer,
        ):
            for position in range(job.synsets_done, len(job.wnids)):
                if _job_status(job.pk) == CollectionJob.Status.CANCELLING:
                    break
                synset = Synset.objects.get(pk=job.wnids[position])
                _collect_synset(
                    job, synset, source, policy, (pool, writer), global_index, progress
                )
                CollectionJob.objects.filter(pk=job.pk).update(
                    synsets_done=position + 1, updated_at=timezone.now()
                )
                if progress:
                    job.refresh_from_db()
                    progress(job)
    except Exception as exc:
        logger.exception("collection job %s failed", job.pk)
        CollectionJob.objects.filter(pk=job.pk).update(
            status=CollectionJob.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        # What was stored before the failure is usable all the same.
        collection_job_finished_send(
            job_id=job.pk, wnids=list(job.wnids), status=CollectionJob.Status.FAILED
        )
        raise
    final = (
        CollectionJob.Status.CANCELLED
        if _job_status(job.pk) == CollectionJob.Status.CANCELLING
        else CollectionJob.Status.DONE
    )
    CollectionJob.objects.filter(pk=job.pk).update(status=final, finished_at=timezone.now())
    job.refresh_from_db()
    collection_job_finished_send(job_id=job.pk, wnids=list(job.wnids), status=job.status)
    return job


REPORT_EXAMPLES = 20


def source_report_build(source: ImageSource, wnids: Sequence[str]) -> dict:
    """What a list-like source holds that no synset of the job will take — counted by the wnid
    it names (or "no wnid" when others in the same source name one) — and what it refused
    before downloading. Nothing is dropped silently: the job page shows this report."""
    report: dict = {}
    named = source.named()
    if named is not None and any(wnid for _, wnid in named):
        wanted = set(wnids)
        by_wnid: Counter = Counter()
        examples: list[str] = []
        for name, wnid in named:
            if wnid in wanted:
                continue
            by_wnid[wnid or "no wnid"] += 1
            if len(examples) < REPORT_EXAMPLES:
                examples.append(name[-300:])
        report["unmatched_count"] = sum(by_wnid.values())
        report["unmatched_by_wnid"] = dict(by_wnid.most_common(200))
        report["unmatched_examples"] = examples
    refused = source.refused()
    if refused:
        report["refused_count"] = len(refused)
        report["refused_examples"] = [
            {"where": where[-300:], "why": why[:200]} for where, why in refused[:REPORT_EXAMPLES]
        ]
        # Per reason, so a summary names every kind of refusal, not only the first examples.
        report["refused_by_reason"] = dict(
            Counter(_reason_kind(why) for _, why in refused).most_common(50)
        )
    repeated = getattr(source, "duplicate_lines", None) or []
    if repeated:
        report["duplicate_lines"] = len(repeated)
        report["duplicate_examples"] = [
            {"where": where[-300:], "why": why[:200]} for where, why in repeated[:REPORT_EXAMPLES]
        ]
    return report


def _reason_kind(why: str) -> str:
    """A refusal reason without its specifics (sizes, names), to count refusals by kind; the
    scheme of a refused URL stays, as it is the kind ("scheme 'file'")."""
    kind = why.split(":", 1)[0] if why.startswith("unreadable") else why
    return re.sub(r"\b\d+\b", "N", kind)[:80]


def _job_report_source(job: CollectionJob, source: ImageSource) -> None:
    report = source_report_build(source, job.wnids)
    CollectionJob.objects.filter(pk=job.pk).update(source_report=report)
    job.source_report = report


def _collect_synset(
    job: CollectionJob,
    synset: Synset,
    source: ImageSource,
    policy: FetchPolicy,
    pools: tuple[ThreadPoolExecutor, ThreadPoolExecutor],
    global_index: GlobalHashIndex,
    progress: Progress | None,
) -> None:
    """Collect one synset page by page. The next page downloads while the current one is
    stored (files in the writer pool, rows in one transaction), so the network, Pillow and the
    disk stay busy together instead of taking turns."""
    pool, writer = pools
    state = SynsetState.load(synset, job.limit_per_synset)
    if state.full:
        return
    if source.uses_queries:
        queries = [q.text for q in synset_queries_ensure(synset=synset) if q.enabled]
    else:
        queries = [synset.wnid]

    def pages() -> Iterator[list[Future]]:
        for query in queries:
            page = 1
            while not state.full:
                if _job_status(job.pk) == CollectionJob.Status.CANCELLING:
                    return
                try:
                    results = source.search(query, page, wnid=synset.wnid)
                except SourceError as exc:
                    logger.warning(
                        "source %s failed on %r page %s: %s", job.source, query, page, exc
                    )
                    CollectionJob.objects.filter(pk=job.pk).update(error=str(exc)[:2000])
                    break
                if not results:
                    break
                fresh = [r for r in results if url_hash(r.image_url) not in state.seen_urls]
                if len(fresh) < len(results):  # candidates already: not fetched again
                    CollectionJob.objects.filter(pk=job.pk).update(
                        already_seen=F("already_seen") + len(results) - len(fresh)
                    )
                if fresh:
                    work = partial(outcome_for, query=query, policy=policy)
                    yield [pool.submit(work, r) for r in fresh]
                page += 1

    upcoming = pages()
    queued: deque[list[Future]] = deque()
    try:
        while True:
            # Keep PAGES_AHEAD pages downloading behind the one being stored, so the download
            # threads never wait for the store (its file writes and rows) to finish.
            while len(queued) <= PAGES_AHEAD and not state.full:
                page = next(upcoming, None)
                if page is None:
                    break
                queued.append(page)
            if not queued:
                break
            outcomes = [future.result() for future in queued.popleft()]
            candidates_store_batch(
                job=job, state=state, outcomes=outcomes, global_index=global_index, writer=writer
            )
            if progress:
                job.refresh_from_db()
                progress(job)
    finally:
        upcoming.close()
        for page in queued:
            for future in page:
                future.cancel()


__all__ = [
    "SearchQuery",
    "collection_job_cancel",
    "collection_job_create",
    "collection_job_run",
    "candidates_store_batch",
    "outcome_for",
]
