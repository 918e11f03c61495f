"""Crowd pages: the MTurk HIT page (framed by MTurk), the panel participant flow, and the staff
page to publish a project, see its budget and costs, and download panel payments.

The MTurk pages are the only framable pages of the site: X-Frame-Options is lifted for them alone
and CSP ``frame-ancestors`` names MTurk's two worker origins (docs/crowds.md). Inside MTurk's
frame our cookies are third-party and browsers withhold them, so these pages use no session and
no CSRF cookie: a signed token names the assignment instead.
"""

from __future__ import annotations

import re
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import login
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from candidates.models import Candidate
from candidates.serving import candidate_view_response
from config.throttling import AddressRateThrottle
from crowds.costs import project_costs, task_costs
from labeling.hits.submission import SubmissionError
from labeling.models import Project
from labeling.projects import project_can_edit
from labeling.roles import USER_BACKEND

from . import conf
from .assignments import crowd_assignment_submit, mturk_assignment_open
from .base import CrowdError, PublishSpec
from .forms import CrowdSettingsForm, MTurkPublishForm, PanelForm
from .models import CrowdAssignment, CrowdHIT, PanelConfig
from .mturk import ANSWER_DIGEST_FIELD, MTurkApi
from .panels import (
    panel_configure,
    panel_payments_csv_rows,
    participant_complete,
    participant_for_user,
    participant_hit_next,
    participant_quota_left,
    participant_start,
    participant_submit,
)
from .selectors import crowd_hit_payload, crowd_image_unsign, crowd_preview_payload
from .services import (
    crowd_close,
    crowd_publish,
    crowd_sync,
    project_crowd_set,
    project_crowd_status,
)

INSTRUCTION = (
    "Select every image that shows this, regardless of occlusion, number of objects and clutter."
)
PREVIEW_ASSIGNMENT = "ASSIGNMENT_ID_NOT_AVAILABLE"
MTURK_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SUBMIT_SALT = "crowds.mturk.submit"
SUBMIT_TOKEN_MAX_AGE = 24 * 3600
MAX_SELECTED = 500
CSP_MIDDLEWARE = "csp.middleware.CSPMiddleware"


def mturk_frameable(view):
    """Let MTurk (and only MTurk, plus the configured extra origin) frame this view, and let its
    answer form post to them. The rest of the site's CSP (django-csp) stays as configured."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        origins = list(conf.crowds_worker_origins())
        if CSP_MIDDLEWARE in settings.MIDDLEWARE:
            response._csp_replace = {
                "frame-ancestors": origins,
                "form-action": ["'self'", *origins],
            }
        else:
            response["Content-Security-Policy"] = (
                f"frame-ancestors {' '.join(origins)}; form-action 'self' {' '.join(origins)}"
            )
        return response

    return xframe_options_exempt(wrapped)


def _submit_origin(value: str) -> str | None:
    """``turkSubmitTo`` reduced to an allowed origin, or None: the answer form must never post
    to an address a URL parameter chose."""
    value = (value or "").rstrip("/")
    return value if value in conf.crowds_worker_origins() else None


def _selected_ids(raw: str) -> list[int]:
    ids = []
    for part in (raw or "").split(","):
        part = part.strip()
        if part.isdigit():
            ids.append(int(part))
    return ids[:MAX_SELECTED]


def _duration(raw: str) -> int:
    try:
        return max(0, min(int(raw), 24 * 3600 * 1000))
    except (TypeError, ValueError):
        return 0


def _mturk_message(request, text: str, status: int = 200):
    return render(request, "crowds/message.html", {"message": text}, status=status)


def _external_submit_page(request, crowd: CrowdAssignment):
    return render(
        request,
        "crowds/mturk_submit.html",
        {
            "action": crowd.submit_origin + "/mturk/externalSubmit",
            "assignment_id": crowd.external_assignment_id,
            "digest_field": ANSWER_DIGEST_FIELD,
            "digest": crowd.answer_digest,
        },
    )


def per_address_limit(view):
    """Rate-limit a session-less page per client address (the ``crowd_anon`` throttle rate):
    forging MTurk ids must not lease images in bulk."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        throttle = AddressRateThrottle()
        if not throttle.allow_request(request, None):
            response = _mturk_message(
                request, "Too many requests from your address. Please wait a minute.", 429
            )
            response["Retry-After"] = str(int(throttle.wait() or 60))
            return response
        return view(request, *args, **kwargs)

    return wrapped


@never_cache
@mturk_frameable
@per_address_limit
@require_GET
def mturk_hit(request):
    """The ExternalQuestion page: preview, or the accepted assignment's grid."""
    hit_id = request.GET.get("hitId", "")
    assignment_id = request.GET.get("assignmentId", "")
    hit = (
        CrowdHIT.objects.select_related("project").filter(hit_id=hit_id).first()
        if MTURK_ID.match(hit_id)
        else None
    )
    if hit is None:
        return _mturk_message(request, "This HIT is not known here.", status=404)
    if assignment_id == PREVIEW_ASSIGNMENT or not assignment_id:
        return render(
            request,
            "crowds/mturk_hit.html",
            {
                "hit": crowd_preview_payload(project_id=hit.project_id, synset_id=hit.synset_id),
                "preview": True,
                "instruction": INSTRUCTION,
            },
        )
    worker_id = request.GET.get("workerId", "")
    origin = _submit_origin(request.GET.get("turkSubmitTo", ""))
    if not (MTURK_ID.match(assignment_id) and MTURK_ID.match(worker_id)) or origin is None:
        return _mturk_message(request, "This page must be opened from Mechanical Turk.", 400)
    try:
        crowd = mturk_assignment_open(
            hit=hit, external_assignment_id=assignment_id, worker_id=worker_id,
            submit_origin=origin,
        )  # fmt: skip
    except SubmissionError as error:
        return _mturk_message(request, error.message, status=409)
    if crowd is None:
        return _mturk_message(
            request, "There are no images left for you in this HIT. Please return it."
        )
    if crowd.state != CrowdAssignment.State.ACCEPTED:
        # Reloaded after submitting: post the answer to MTurk again.
        return _external_submit_page(request, crowd)
    token = signing.dumps({"c": crowd.pk}, salt=SUBMIT_SALT)
    return render(
        request,
        "crowds/mturk_hit.html",
        {
            "hit": crowd_hit_payload(assignment=crowd.assignment),
            "preview": False,
            "token": token,
            "action": reverse("crowds:mturk-submit"),
            "instruction": INSTRUCTION,
        },
    )


@never_cache
@csrf_exempt  # framed cross-site: no CSRF cookie reaches us; the signed token authorises.
@mturk_frameable
@per_address_limit
@require_POST
def mturk_submit(request):
    """Store the answers as pending votes, then post to MTurk's externalSubmit."""
    try:
        payload = signing.loads(
            request.POST.get("token", ""), salt=SUBMIT_SALT, max_age=SUBMIT_TOKEN_MAX_AGE
        )
        crowd = CrowdAssignment.objects.select_related("assignment").get(pk=int(payload["c"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError, CrowdAssignment.DoesNotExist):
        return _mturk_message(request, "This submission is not valid.", status=400)
    item_ids = set(crowd.assignment.assignment_items.values_list("item_id", flat=True))
    selected = sorted(set(_selected_ids(request.POST.get("selected", ""))) & item_ids)
    try:
        crowd = crowd_assignment_submit(
            crowd_assignment_id=crowd.pk,
            selected=selected,
            unselected=sorted(item_ids - set(selected)),
            duration_ms=_duration(request.POST.get("duration_ms")),
        )
    except SubmissionError as error:
        return _mturk_message(request, error.message, status=409)
    return _external_submit_page(request, crowd)


@require_GET
def crowd_image(request, token: str):
    """A HIT image by signed URL (the framed page has no session to check)."""
    unsigned = crowd_image_unsign(token)
    if unsigned is None:
        raise Http404("no such image")
    candidate_id, large = unsigned
    candidate = get_object_or_404(
        Candidate.objects.only("thumbnail", "image", "format"),
        pk=candidate_id,
        status=Candidate.Status.STORED,
    )
    return candidate_view_response(candidate, large=large)


# --- Link-based panels -------------------------------------------------------------------------


def _panel(token: str) -> PanelConfig:
    return get_object_or_404(PanelConfig.objects.select_related("project"), token=token)


@never_cache
@require_http_methods(["GET", "POST"])
def panel_entry(request, token: str):
    """The participant link: ``?PROLIFIC_PID=…`` (names configurable) starts or resumes.

    Opening it signs the visitor in as the participant. Someone already signed in as anybody
    else is asked first, and the switch happens only on their POST (CSRF-checked): a link alone
    never replaces a session (login CSRF).
    """
    panel = _panel(token)
    data = request.POST if request.method == "POST" else request.GET
    external_id = data.get(panel.participant_param, "")
    params = {name: data.get(name, "") for name in panel.extra_params}
    if request.user.is_authenticated and request.method == "GET":
        current = participant_for_user(panel=panel, user=request.user)
        if current is not None and current.external_id == external_id:
            return redirect("crowds:panel-work", token=panel.token)
        return render(
            request,
            "crowds/panel_switch.html",
            {
                "panel": panel,
                "participant_id": external_id,
                "params": {panel.participant_param: external_id, **params},
            },
        )
    try:
        participant = participant_start(
            panel=panel,
            external_id=external_id,
            params=params,
        )
    except ValidationError as error:
        return render(request, "crowds/message.html",
                      {"message": "; ".join(error.messages)}, status=400)  # fmt: skip
    except CrowdError as error:
        return render(request, "crowds/message.html", {"message": error.message},
                      status=410)  # fmt: skip
    # The participant's worker account has no password: the link is how they sign in.
    login(request, participant.user, backend=USER_BACKEND)
    return redirect("crowds:panel-work", token=panel.token)


@never_cache
@require_http_methods(["GET", "POST"])
def panel_work(request, token: str):
    panel = _panel(token)
    participant = participant_for_user(panel=panel, user=request.user)
    if participant is None:
        return render(request, "crowds/message.html",
                      {"message": "Please open this study from your panel's link."},
                      status=403)  # fmt: skip
    if request.method == "POST":
        try:
            participant_submit(
                participant=participant,
                assignment_id=int(request.POST.get("assignment", "0") or 0),
                selected=_selected_ids(request.POST.get("selected", "")),
                duration_ms=_duration(request.POST.get("duration_ms")),
            )
        except SubmissionError as error:
            messages.warning(request, error.message)
        return redirect("crowds:panel-work", token=panel.token)
    participant.refresh_from_db()
    assignment = participant_hit_next(participant=participant)
    if assignment is None:
        participant_complete(participant=participant)
        return redirect("crowds:panel-done", token=panel.token)
    return render(
        request,
        "crowds/panel_hit.html",
        {
            "hit": crowd_hit_payload(assignment=assignment),
            "panel": panel,
            "participant": participant,
            "done_hits": participant.hits_submitted,
            "quota": panel.hits_per_participant,
            "left": participant_quota_left(participant=participant),
            "instruction": INSTRUCTION,
        },
    )


@never_cache
@require_GET
def panel_done(request, token: str):
    panel = _panel(token)
    participant = participant_for_user(panel=panel, user=request.user)
    if participant is None or participant.completed_at is None:
        return redirect("crowds:panel-work", token=panel.token)
    return render(
        request,
        "crowds/panel_done.html",
        {"panel": panel, "participant": participant, "completion_url": _completion_url(panel)},
    )


def _completion_url(panel: PanelConfig) -> str:
    url = panel.completion_url
    if url and "{code}" in url:
        url = url.replace("{code}", panel.completion_code)
    return url


# --- Staff pages -------------------------------------------------------------------------------


@staff_member_required
@require_http_methods(["GET", "POST"])
def project_crowd_page(request, slug: str):
    """Publish a project to its crowd; see status, balance, budget. POST actions are CSRF-checked
    Django forms, each calling one service."""
    project = get_object_or_404(Project, slug=slug)
    settings_form = CrowdSettingsForm(
        initial={
            "crowd_backend": project.crowd_backend,
            "budget_dollars": None if project.budget_cents is None else project.budget_cents / 100,
        }
    )
    publish_form = MTurkPublishForm(initial={"reward_cents": project.reward_cents_per_hit})
    panel = PanelConfig.objects.filter(project=project).first()
    panel_form = PanelForm(
        initial=(
            {
                "participant_param": panel.participant_param,
                "extra_params": ", ".join(panel.extra_params),
                "hits_per_participant": panel.hits_per_participant,
                "reward_cents_per_hit": panel.reward_cents_per_hit,
                "fee_percent": panel.fee_percent,
                "completion_code": panel.completion_code,
                "completion_url": panel.completion_url,
            }
            if panel
            else {"reward_cents_per_hit": project.reward_cents_per_hit}
        )
    )
    balance = None
    if request.method == "POST":
        # Staff may read any project's crowd page; only its owners and superusers change it.
        if not project_can_edit(project=project, user=request.user):
            raise PermissionDenied("Only the project's owners may change its crowd settings.")
        action = request.POST.get("action")
        try:
            if action == "settings":
                settings_form = CrowdSettingsForm(request.POST)
                if settings_form.is_valid():
                    project_crowd_set(
                        project=project,
                        crowd_backend=settings_form.cleaned_data["crowd_backend"],
                        budget_cents=settings_form.budget_cents(),
                    )
                    messages.success(request, "Crowd settings saved.")
                    return redirect("crowds:project", slug=slug)
            elif action == "publish":
                publish_form = MTurkPublishForm(request.POST)
                if publish_form.is_valid():
                    data = publish_form.cleaned_data
                    result = crowd_publish(
                        project=project,
                        user=request.user,
                        spec=PublishSpec(
                            reward_cents=data["reward_cents"],
                            bonus_cents=data.get("bonus_cents") or 0,
                            assignments_per_hit=data["assignments_per_hit"],
                            max_hits=data.get("max_hits"),
                            title=data.get("title") or "",
                            description=data.get("description") or "",
                            keywords=data["keywords"],
                        ),
                    )
                    messages.success(
                        request,
                        f"Published {result.hits_created} HITs ({result.assignments} "
                        "assignments). " + " ".join(result.messages),
                    )
                    return redirect("crowds:project", slug=slug)
            elif action == "panel":
                panel_form = PanelForm(request.POST)
                if panel_form.is_valid():
                    data = panel_form.cleaned_data
                    panel_configure(
                        project=project,
                        participant_param=data["participant_param"],
                        extra_params=panel_form.extra_param_list(),
                        hits_per_participant=data["hits_per_participant"],
                        reward_cents_per_hit=data["reward_cents_per_hit"],
                        fee_percent=data["fee_percent"],
                        completion_code=data["completion_code"],
                        completion_url=data.get("completion_url") or "",
                    )
                    messages.success(request, "Panel link saved.")
                    return redirect("crowds:project", slug=slug)
            elif action == "balance":
                balance = MTurkApi().balance_cents()
            elif action == "sync":
                result = crowd_sync(project=project)
                messages.success(
                    request,
                    f"Synced: {result.confirmed} confirmed, {result.approved} approved, "
                    f"{result.rejected} rejected, {result.bonuses} bonuses, "
                    f"{result.expired_hits} HITs expired.",
                )
                return redirect("crowds:project", slug=slug)
            elif action == "close":
                closed = crowd_close(project=project)
                messages.success(request, f"Closed ({closed}).")
                return redirect("crowds:project", slug=slug)
            else:
                messages.error(request, "Unknown action.")
        except CrowdError as error:
            messages.error(request, error.message)
        except ValidationError as error:
            messages.error(request, "; ".join(error.messages))
    status = project_crowd_status(project=project)
    panel = status["panel"]
    participant_url = ""
    if panel is not None:
        example = "&".join(
            f"{name}={{{{%{name}%}}}}" for name in [panel.participant_param, *panel.extra_params]
        )
        participant_url = (
            request.build_absolute_uri(reverse("crowds:panel-entry", args=[panel.token]))
            + "?"
            + example
        )
    return render(
        request,
        "crowds/project_crowd.html",
        {
            "project": project,
            "status": status,
            "balance_cents": balance,
            "settings_form": settings_form,
            "publish_form": publish_form,
            "panel_form": panel_form,
            "participant_url": participant_url,
        },
    )


@staff_member_required
@require_GET
def project_costs_page(request, slug: str):
    project = get_object_or_404(Project, slug=slug)
    costs = project_costs(project=project)
    return render(
        request,
        "crowds/costs.html",
        {"project": project, "costs": costs, "tasks": task_costs(project=project, costs=costs)},
    )


@staff_member_required
@require_GET
def panel_payments_csv(request, slug: str):
    """Completed participants and what each is owed, streamed as CSV for the panel's upload."""
    panel = get_object_or_404(PanelConfig, project__slug=slug)
    response = StreamingHttpResponse(
        panel_payments_csv_rows(panel=panel), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{slug}-panel-payments.csv"'
    return response
