"""Admin pages of a project (staff only): the dashboard, one synset's consensus picture, the
workers with block/unblock, and dataset exports with live progress and a streamed download."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from exports.models import ExportJob
from exports.service import export_job_create, export_tar_stream
from labeling.models import Project, ProjectSynset
from labeling.quality import worker_block, worker_unblock

from . import charts, selectors
from .access import project_change_check, staff_required, staff_required_json

BLOCK_REASON_MAX = 255


@never_cache
@staff_required
@require_GET
def project_list_page(request):
    """Where staff land: every project with its progress, open work, cost and its pages."""
    rows = selectors.projects_overview(projects=Project.objects.order_by("-active", "name"))
    return render(request, "dashboards/index.html", {"rows": rows})


@never_cache
@staff_required
@require_GET
def project_candidates_page(request, slug: str):
    project = get_object_or_404(Project, slug=slug)
    rows = selectors.project_candidates(project=project)
    return render(request, "dashboards/candidates.html", {"project": project, "rows": rows})


@never_cache
@staff_required
@require_GET
def project_dashboard_page(request, slug: str):
    project = get_object_or_404(Project, slug=slug)
    data = selectors.project_dashboard(project=project)
    context = {
        "project": project,
        **data,
        "funnel_svg": charts.funnel_chart(data["total"], title=f"{project.name}: funnel"),
        "progress_svg": charts.progress_bars(
            data["progress_rows"], title="Accepted images per synset, to target"
        ),
        "throughput_svg": charts.throughput_chart(
            data["throughput"], title=f"Votes per {data['throughput_unit']}"
        ),
    }
    return render(request, "dashboards/project.html", context)


@never_cache
@staff_required
@require_GET
def synset_page(request, slug: str, wnid: str):
    project = get_object_or_404(Project, slug=slug)
    if not ProjectSynset.objects.filter(project=project, synset_id=wnid).exists():
        raise Http404("synset not in this project")
    data = selectors.synset_page(project=project, wnid=wnid)
    label = f"{data['synset'].name} ({wnid})"
    if data["table_rows"]:
        table_svg = charts.confidence_heat_table(
            [(label, data["table_rows"])],
            accept_threshold=project.accept_threshold,
            title="Confidence table (seed set)",
        )
    elif data["empirical_rows"]:
        table_svg = charts.confidence_heat_table(
            [(label, data["empirical_rows"])],
            accept_threshold=project.accept_threshold,
            title="Mean posterior per vote pattern",
        )
    else:
        table_svg = None
    context = {
        "project": project,
        **data,
        "table_svg": table_svg,
        "votes_svg": charts.vote_distribution_chart(
            data["vote_rows"], title="Votes per outcome", normalize=False
        ),
        "diversity": selectors.synset_diversity(project=project, wnid=wnid),
    }
    return render(request, "dashboards/synset.html", context)


@never_cache
@staff_required
@require_GET
def workers_page(request, slug: str):
    project = get_object_or_404(Project, slug=slug)
    workers = selectors.project_workers(project=project)
    return render(
        request, "dashboards/workers.html", {"project": project, "workers": workers}
    )


def _project_worker(*, project: Project, user_id: int):
    """A worker who labelled in this project (blocking someone from another project's page
    would reach beyond the owner's project)."""
    return get_object_or_404(
        get_user_model().objects.filter(labeling_assignments__project=project).distinct(),
        pk=user_id,
    )


@staff_required
@require_POST
def worker_block_view(request, slug: str, user_id: int):
    """Blocking asks first: the confirmation page says how many votes leave consensus."""
    project = get_object_or_404(Project, slug=slug)
    project_change_check(project=project, user=request.user)
    worker = _project_worker(project=project, user_id=user_id)
    reason = " ".join(request.POST.get("reason", "").split())[:BLOCK_REASON_MAX]
    if not reason:
        messages.error(request, "Give a reason for the block.")
        return redirect("dashboards:workers", slug=project.slug)
    if request.POST.get("confirmed") != "yes":
        return render(
            request,
            "dashboards/worker_block_confirm.html",
            {
                "project": project,
                "worker": worker,
                "reason": reason,
                **selectors.worker_block_impact(worker=worker),
            },
        )
    excluded = worker_block(worker=worker, reason=f"{reason} (by {request.user})")
    messages.success(
        request, f"Blocked {worker}; {excluded} votes excluded and their images reopened."
    )
    return redirect("dashboards:workers", slug=project.slug)


@staff_required
@require_POST
def worker_unblock_view(request, slug: str, user_id: int):
    project = get_object_or_404(Project, slug=slug)
    project_change_check(project=project, user=request.user)
    worker = _project_worker(project=project, user_id=user_id)
    restored = worker_unblock(worker=worker)
    messages.success(
        request,
        f"Unblocked {worker}; {restored} of their votes count again and consensus recomputes "
        "the synsets they touched.",
    )
    return redirect("dashboards:workers", slug=project.slug)


@never_cache
@staff_required
@require_http_methods(["GET", "POST"])
def exports_page(request, slug: str):
    project = get_object_or_404(Project, slug=slug)
    if request.method == "POST":
        project_change_check(project=project, user=request.user)
        fmt = request.POST.get("format", ExportJob.Format.IMAGENET)
        try:
            val_fraction = float(request.POST.get("val_fraction") or 0)
            val_per_class = int(request.POST.get("val_per_class") or 0)
            if fmt not in ExportJob.Format.values:
                raise ValueError(f"unknown format {fmt!r}")
            export_job_create(
                project=project,
                created_by=request.user,
                fmt=fmt,
                val_fraction=val_fraction,
                val_per_class=val_per_class,
                seed=(request.POST.get("seed") or "0")[:64],
            )
        except ValidationError as error:
            messages.error(request, f"Export not started: {'; '.join(error.messages)}")
        except ValueError as error:
            messages.error(request, f"Export not started: {error}")
        return redirect("dashboards:exports", slug=project.slug)
    jobs = ExportJob.objects.filter(project=project)[:20]
    accepted_total = ProjectSynset.objects.filter(project=project, accepted_count__gt=0).exists()
    return render(
        request,
        "dashboards/exports.html",
        {"project": project, "jobs": jobs, "accepted_total": accepted_total},
    )


@staff_required
@require_GET
def export_download(request, slug: str, pk: int):
    job = get_object_or_404(ExportJob.objects.select_related("project"), pk=pk, project__slug=slug)
    if job.status != ExportJob.Status.DONE:
        raise Http404("export not finished")
    response = StreamingHttpResponse(export_tar_stream(job=job), content_type="application/x-tar")
    response["Content-Disposition"] = (
        f'attachment; filename="{job.project.slug}-export-{job.pk}.tar"'
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


def export_job_json(job: ExportJob) -> dict:
    done = job.status == ExportJob.Status.DONE
    return {
        "id": job.pk,
        "status": job.status,
        "format": job.format,
        "classes_total": job.classes_total,
        "classes_done": job.classes_done,
        "images_done": job.images_done,
        "progress": round(job.progress, 4),
        "error": job.error,
        "summary": job.summary,
        "download_url": reverse("dashboards:export-download", args=[job.project.slug, job.pk])
        if done
        else None,
    }


@never_cache
@staff_required_json
@require_GET
def export_status_api(request, pk: int):
    """Polled by the exports page for its live progress bars."""
    job = get_object_or_404(ExportJob.objects.select_related("project"), pk=pk)
    return JsonResponse(export_job_json(job))
