"""Staff pages of a project: create it, collect candidates for it, review its gold images; and
a user's API tokens. (Being filled in: issue 12 items 1, 2, 4, 8.)"""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404

from .models import Project


@staff_member_required
def project_create_page(request):
    return HttpResponse("Project creation page: work in progress.")


@staff_member_required
def project_settings_page(request, slug: str):
    get_object_or_404(Project, slug=slug)
    return HttpResponse("Project settings: work in progress.")


@staff_member_required
def project_collect_page(request, slug: str):
    get_object_or_404(Project, slug=slug)
    return HttpResponse("Collection page: work in progress.")


@staff_member_required
def project_gold_page(request, slug: str):
    get_object_or_404(Project, slug=slug)
    return HttpResponse("Gold review: work in progress.")


@login_required
def api_tokens_page(request):
    return HttpResponse("API tokens: work in progress.")
