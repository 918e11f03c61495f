"""Background dataset exports started from the dashboard, with their live progress.

The table keeps the name it had in ``labeling`` (``db_table``); moving it changed no row.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from config.models import TimeStampedModel


class ExportJob(TimeStampedModel):
    """One export of a project's accepted images into a folder the server owns."""

    class Format(models.TextChoices):
        IMAGENET = "imagenet", "ImageNet folders (ImageFolder)"
        WEBDATASET = "webdataset", "WebDataset tar shards"

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        RUNNING = "running", "running"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    project = models.ForeignKey(
        "labeling.Project", on_delete=models.CASCADE, related_name="export_jobs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    format = models.CharField(max_length=12, choices=Format.choices, default=Format.IMAGENET)
    val_fraction = models.FloatField(
        default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(0.9)]
    )
    # ImageNet's own convention: a fixed number of val images per class (50 in ILSVRC2012);
    # 0 uses ``val_fraction`` instead. Never both (checked below).
    val_per_class = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(10_000)]
    )
    seed = models.CharField(max_length=64, default="0")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    classes_total = models.PositiveIntegerField(default=0)
    classes_done = models.PositiveIntegerField(default=0)
    images_done = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "labeling_exportjob"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(val_fraction__gte=0, val_fraction__lt=1),
                name="export_job_val_fraction",
            ),
            models.CheckConstraint(
                condition=models.Q(val_fraction=0) | models.Q(val_per_class=0),
                name="export_job_one_val_rule",
                violation_error_message=(
                    "Choose a validation fraction or a number of images per class, not both."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.format}, {self.status})"

    @property
    def progress(self) -> float:
        if self.status == self.Status.DONE:
            return 1.0
        return self.classes_done / self.classes_total if self.classes_total else 0.0
