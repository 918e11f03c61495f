"""The precision audit's box mode (issue 17): the share of the crowd's accepted boxes whose IoU
with a reviewer's box is ≥ 0.5 and ≥ 0.7, and the share of the reviewer's instances the crowd
boxed, each with its Wilson interval. The reviews are collected by the boxes app
(``/boxes/<slug>/audit/``); this module only reports them."""

from __future__ import annotations

from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from boxes.audit import THRESHOLDS, box_audit_counts
from labeling.models import Project

from ..access import staff_required
from .maths import wilson_interval


def box_audit_report(*, project: Project, confidence: float = 0.95) -> dict:
    counts = box_audit_counts(project=project)
    rows = []
    for threshold in THRESHOLDS:
        hits = counts[f"at_{threshold}"]
        rows.append(_row(f"boxes with IoU ≥ {threshold}", hits, counts["boxes"], confidence))
    rows.append(
        _row("reviewer's instances boxed (IoU ≥ 0.5)", counts["instances_found"],
             counts["instances"], confidence)
    )  # fmt: skip
    return {"reviews": counts["reviews"], "confidence": confidence, "rows": rows}


def _row(label: str, successes: int, n: int, confidence: float) -> dict:
    low, high = wilson_interval(successes, n, confidence)
    return {
        "label": label, "successes": successes, "n": n,
        "share": successes / n if n else None, "low": low, "high": high,
    }  # fmt: skip


@never_cache
@staff_required
@require_GET
def box_audit_report_page(request, slug: str):
    project = get_object_or_404(Project, slug=slug)
    return render(
        request,
        "dashboards/box_audit.html",
        {"project": project, "report": box_audit_report(project=project)},
    )
