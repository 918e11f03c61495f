"""Precision audit pages (staff only): start a run, review its samples in the annotators'
keyboard-first grid, and read precision per synset and overall with 95% Wilson intervals."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboards.access import project_change_check, staff_required, staff_required_json
from dashboards.models import AuditRun
from labeling.models import Project

from . import selectors
from .services import audit_review_record, audit_run_create

INSTRUCTION = (
    "Select every image that truly shows this synset. Images left unselected are counted as "
    "errors of the dataset."
)


def _int(value: object, default: int) -> int:
    try:
        return int(str(value))
    except ValueError:
        return default


@never_cache
@staff_required
@require_http_methods(["GET", "POST"])
def audits_page(request, slug: str):
    project = get_object_or_404(Project, slug=slug)
    if request.method == "POST":
        project_change_check(project=project, user=request.user)
        try:
            run = audit_run_create(
                project=project,
                created_by=request.user,
                synsets_per_depth=_int(request.POST.get("synsets_per_depth"), 80),
                images_per_synset=_int(request.POST.get("images_per_synset"), 10),
                seed=(request.POST.get("seed") or "0")[:64],
            )
        except ValidationError as error:
            messages.error(request, f"Audit not started: {'; '.join(error.messages)}")
            return redirect("dashboards:audits", slug=project.slug)
        return redirect("dashboards:audit", slug=project.slug, pk=run.pk)
    runs = selectors.audit_run_list(project_id=project.pk)[:20]
    return render(request, "dashboards/audit/list.html", {"project": project, "runs": runs})


@never_cache
@staff_required
@require_GET
def audit_page(request, slug: str, pk: int):
    run = get_object_or_404(AuditRun.objects.select_related("project"), pk=pk, project__slug=slug)
    report = selectors.audit_report(run=run)
    names = selectors.audit_synset_names(wnids=report.per_synset)
    rows = [
        {"wnid": wnid, "name": names.get(wnid, (wnid, 0))[0], "depth": names.get(wnid, ("", 0))[1],
         "estimate": estimate}
        for wnid, estimate in report.per_synset.items()
    ]  # fmt: skip
    rows.sort(key=lambda r: (r["depth"], r["wnid"]))
    return render(
        request,
        "dashboards/audit/run.html",
        {
            "project": run.project,
            "run": run,
            "report": report,
            "rows": rows,
            "progress": selectors.audit_progress(run=run),
        },
    )


@never_cache
@staff_required
@require_GET
def audit_review_page(request, slug: str, pk: int):
    run = get_object_or_404(AuditRun.objects.select_related("project"), pk=pk, project__slug=slug)
    batch = selectors.audit_batch_next(run=run)
    return render(
        request,
        "dashboards/audit/review.html",
        {
            "project": run.project,
            "run": run,
            "hit": batch,
            "progress": selectors.audit_progress(run=run),
            "instruction": INSTRUCTION,
        },
    )


def _json_body(request) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


@staff_required_json
@require_POST
def audit_next_api(request, pk: int):
    """The grid's "next HIT": the following batch of unreviewed samples (204 when none)."""
    run = get_object_or_404(AuditRun, pk=pk)
    exclude = _json_body(request).get("exclude") or []
    if not isinstance(exclude, list):
        exclude = []
    batch = selectors.audit_batch_next(run=run, exclude=exclude[:10])
    if batch is None:
        return JsonResponse({}, status=204)
    return JsonResponse(batch)


def _ids(values: object) -> list[int]:
    if not isinstance(values, list):
        return []
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)][:1000]


@staff_required_json
@require_POST
def audit_submit_api(request, pk: int):
    """The grid's submit: selected samples are correct, unselected ones incorrect."""
    run = get_object_or_404(AuditRun, pk=pk)
    body = _json_body(request)
    try:
        recorded = audit_review_record(
            run=run,
            reviewer=request.user,
            correct_ids=_ids(body.get("selected")),
            incorrect_ids=_ids(body.get("unselected")),
        )
    except ValueError as error:
        return JsonResponse({"detail": str(error)}, status=400)
    return JsonResponse({"votes_recorded": recorded})


@never_cache
@staff_required_json
@require_GET
def audit_stats_api(request, pk: int):
    """What the grid's header shows: batches are not HITs and earn nothing, so the reviewed count
    stands in for "HITs done"."""
    run = get_object_or_404(AuditRun, pk=pk)
    progress = selectors.audit_progress(run=run)
    report = selectors.audit_report(run=run)
    overall = report.overall
    return JsonResponse(
        {
            "hits_submitted": progress["reviewed"],
            "earnings_cents": 0,
            **progress,
            "precision": overall.precision,
            "interval": [overall.low, overall.high],
        }
    )
