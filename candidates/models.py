"""Candidate images per synset: the search queries that find them, collection jobs, and each
candidate with its provenance, validation outcome and duplicate links (Deng et al. 2009 §3.1)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from config.models import TimeStampedModel
from synsets.models import Synset


class SearchQuery(TimeStampedModel):
    """One image-search query for a synset (Deng et al. 2009 §3.1 query expansion)."""

    class Kind(models.TextChoices):
        SYNONYM = "synonym", "synonym"
        PARENT = "parent", "synonym + parent word"
        TRANSLATION = "translation", "translation"
        MANUAL = "manual", "added by an admin"

    synset = models.ForeignKey(Synset, on_delete=models.CASCADE, related_name="search_queries")
    text = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    language = models.CharField(max_length=8, default="eng")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["synset_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["synset", "language", "text"], name="search_query_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.synset_id} {self.language}:{self.text}"


class CollectionJob(TimeStampedModel):
    """A background run of queries through one source for a set of synsets; resumable."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        RUNNING = "running", "running"
        CANCELLING = "cancelling", "cancelling"
        CANCELLED = "cancelled", "cancelled"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    ACTIVE = (Status.PENDING, Status.RUNNING, Status.CANCELLING)

    source = models.CharField(max_length=32)
    source_config = models.JSONField(default=dict, blank=True)
    wnids = models.JSONField(default=list)
    limit_per_synset = models.PositiveIntegerField(default=10_000)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    seen = models.PositiveIntegerField(default=0)
    stored = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    # URLs this job met that were already candidates of the synset (an earlier job's, or met
    # twice in this one): not fetched again, not counted as seen.
    already_seen = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    rejected_by_reason = models.JSONField(default=dict, blank=True)
    # List-like sources: what named no synset of the job (counted by wnid, with examples) and
    # what the source refused before downloading (broken list lines, symlinks, huge members).
    source_report = models.JSONField(default=dict, blank=True)
    synsets_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"job {self.pk} {self.source} {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def progress(self) -> float:
        return self.synsets_done / len(self.wnids) if self.wnids else 1.0


class Candidate(TimeStampedModel):
    """A candidate image of a synset, stored or rejected, with where it came from."""

    class Status(models.TextChoices):
        STORED = "stored", "stored"
        DUPLICATE = "duplicate", "exact duplicate"
        NEAR_DUPLICATE = "near_duplicate", "near duplicate"
        REJECTED = "rejected", "rejected"

    class RejectReason(models.TextChoices):
        NOT_AN_IMAGE = "not_an_image", "not an image"
        EMPTY = "empty", "empty file"
        CORRUPT = "corrupt", "corrupt"
        TRUNCATED = "truncated", "truncated"
        TOO_SMALL = "too_small", "too small"
        TOO_MANY_PIXELS = "too_many_pixels", "too many pixels (decompression bomb)"
        TOO_LARGE_DECODED = "too_large_decoded", "too large once decoded (bytes of its pixels)"
        UNSUPPORTED_FORMAT = "unsupported_format", "unsupported format"
        TOO_LARGE = "too_large", "file too large"
        TIMEOUT = "timeout", "download timed out"
        BLOCKED_ADDRESS = "blocked_address", "blocked address"
        BAD_URL = "bad_url", "bad URL"
        TOO_MANY_REDIRECTS = "too_many_redirects", "too many redirects"
        HTTP_ERROR = "http_error", "HTTP error"
        CONNECTION_ERROR = "connection_error", "connection error"
        SOURCE_ERROR = "source_error", "source error"

    # Indexed by "candidate_url_once" and "candidate_by_synset_status" (synset first); no
    # single-column index and pattern-ops twin of its own, which every stored photo paid for.
    synset = models.ForeignKey(
        Synset, on_delete=models.CASCADE, related_name="candidates", db_index=False
    )
    job = models.ForeignKey(
        CollectionJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="candidates"
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    reject_reason = models.CharField(max_length=24, choices=RejectReason.choices, blank=True)
    reject_detail = models.CharField(max_length=500, blank=True)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cross_synset_duplicate_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="A near-identical image stored under another synset: needs a human decision.",
    )
    # Provenance.
    source = models.CharField(max_length=32)
    query = models.CharField(max_length=255, blank=True)
    rank = models.PositiveIntegerField(null=True, blank=True)
    image_url = models.TextField()
    url_hash = models.CharField(max_length=64, help_text="SHA-256 of image_url (idempotency key).")
    page_url = models.TextField(blank=True)
    title = models.CharField(max_length=500, blank=True)
    license = models.CharField(max_length=200, blank=True)
    attribution = models.CharField(max_length=500, blank=True)
    # The image.
    sha256 = models.CharField(max_length=64, blank=True)
    phash = models.BigIntegerField(null=True, blank=True, help_text="64-bit pHash, signed.")
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    format = models.CharField(max_length=16, blank=True)
    bytes = models.PositiveIntegerField(null=True, blank=True)
    image = models.FileField(upload_to="candidates/%Y/%m/", max_length=255, blank=True)
    thumbnail = models.FileField(upload_to="thumbnails/%Y/%m/", max_length=255, blank=True)

    class Meta:
        ordering = ["synset_id", "id"]
        constraints = [
            # A rerun of a job adds nothing twice.
            models.UniqueConstraint(fields=["synset", "url_hash"], name="candidate_url_once"),
            # Exact duplicates (same bytes) are stored at most once per synset.
            models.UniqueConstraint(
                fields=["synset", "sha256"],
                condition=models.Q(status="stored"),
                name="candidate_stored_sha256_once",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="rejected") | ~models.Q(reject_reason=""),
                name="candidate_rejected_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["synset", "status"], name="candidate_by_synset_status"),
            models.Index(fields=["sha256"], name="candidate_by_sha256"),
        ]

    def __str__(self) -> str:
        return f"candidate {self.pk} {self.synset_id} {self.status}"
