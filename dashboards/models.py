"""The precision audit (Deng et al. 2009 §2 "Accuracy"): a run samples accepted images per synset,
stratified over tree depth, and trusted reviewers mark each sampled image correct or incorrect.

The tables keep the names they had in ``labeling`` (``db_table``); moving them changed no row.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from config.models import TimeStampedModel


class AuditRun(TimeStampedModel):
    """One audit of a project: which synsets and images were drawn, with the seed that drew them."""

    project = models.ForeignKey(
        "labeling.Project", on_delete=models.CASCADE, related_name="audit_runs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    seed = models.CharField(max_length=64, default="0")
    synsets_per_depth = models.PositiveIntegerField(
        default=80, validators=[MinValueValidator(1), MaxValueValidator(10_000)]
    )
    images_per_synset = models.PositiveIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(1_000)]
    )

    class Meta:
        db_table = "labeling_auditrun"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"audit {self.pk} of project {self.project_id}"


class AuditSample(models.Model):
    """One sampled accepted image and a reviewer's verdict (``None`` until reviewed)."""

    run = models.ForeignKey(AuditRun, on_delete=models.CASCADE, related_name="samples")
    item = models.ForeignKey("labeling.Item", on_delete=models.CASCADE, related_name="+")
    synset = models.ForeignKey("synsets.Synset", on_delete=models.PROTECT, related_name="+")
    depth = models.PositiveSmallIntegerField()
    correct = models.BooleanField(null=True, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "labeling_auditsample"
        ordering = ["run_id", "synset_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "item"], name="audit_sample_item_once"),
            models.CheckConstraint(
                condition=Q(correct__isnull=True) | Q(reviewed_at__isnull=False),
                name="audit_sample_verdict_has_time",
            ),
        ]
        indexes = [
            # The reviewer grid: a run's unreviewed samples, one synset at a time.
            models.Index(
                fields=["run", "synset", "id"],
                condition=Q(correct__isnull=True),
                name="audit_sample_open",
            ),
        ]

    def __str__(self) -> str:
        return f"audit sample {self.pk} ({self.synset_id}: {self.correct})"
