"""Staff pages of a project: create it (search, preset or wnid list, with a preview), its
synsets and settings, collection from the app, and gold review on the keyboard grid; and a
staff user's API token for scripts. Thin: forms validate, services in labeling.projects,
labeling.collect and labeling.gold do the work."""

from __future__ import annotations

from django import forms
from django.conf import settings as django_settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

from candidates.models import CollectionJob
from synsets.models import Synset

from .collect import SOURCE_LABELS, CollectionInputError, project_collection_start
from .gold import gold_add, gold_batch, gold_summary
from .models import Item, Project
from .projects import (
    project_add_synsets,
    project_can_edit,
    project_create,
    project_labelled_synsets,
    project_update,
)
from .selection import (
    PRESET_NAMES,
    Selection,
    selection_internal,
    selection_resolve,
    stored_candidate_counts,
    wnid_list_parse,
)

MAX_WNID_FILE_BYTES = 1024 * 1024
LABEL_INTERNAL_TEXT = (
    "Internal synsets (those with hyponyms in the project, like “dog” above its breeds) are "
    "labelled on images of their own, as ImageNet did for leaves and internal nodes alike; "
    "an image that fits a more specific synset is collected for that one. Turn this off to "
    "label only the leaves."
)


def _editable(request, slug: str) -> Project:
    project = get_object_or_404(Project, slug=slug)
    if not project_can_edit(project=project, user=request.user):
        raise PermissionDenied("Only the project's owners may change it.")
    return project


def _messages(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [m for errors in error.message_dict.values() for m in errors]
    return list(error.messages)


class SelectionForm(forms.Form):
    """One way of selecting synsets (the service refuses two at once)."""

    SUBTREES = [("auto", "as suited: subtrees for searched synsets and presets, none for a list"),
                ("yes", "always include subtrees"), ("no", "only the synsets given")]  # fmt: skip

    synsets = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "reptile\nn02084071\nhond"}),
        help_text="One per line: a wnid or a lemma in any language.",
    )
    preset = forms.ChoiceField(
        required=False, choices=[("", "—")] + [(name, name) for name in PRESET_NAMES],
        help_text="One of the 12 subtrees of the ImageNet 2009 release.",
    )  # fmt: skip
    wnid_list = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Wnids, one per line (a file uploaded below fills this in).",
    )  # fmt: skip
    wnid_file = forms.FileField(required=False, help_text="A wnid list file (TXT, ≤ 1 MB).")
    subtrees = forms.ChoiceField(choices=SUBTREES, initial="auto")

    def clean_wnid_file(self):
        upload = self.cleaned_data.get("wnid_file")
        if upload and upload.size > MAX_WNID_FILE_BYTES:
            raise ValidationError("The wnid list file is larger than 1 MB.")
        return upload

    def selection(self) -> Selection:
        data = self.cleaned_data
        wnid_text = data.get("wnid_list") or ""
        upload = data.get("wnid_file")
        if upload:
            try:
                wnid_text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ValidationError("The wnid list file is not UTF-8 text.") from None
            if not wnid_text.strip():
                raise ValidationError("The wnid list file is empty.")
        wnids = wnid_list_parse(wnid_text) if wnid_text.strip() else []
        if upload and not wnids:
            raise ValidationError("The wnid list file names no wnid.")
        # Shown back in the form, so "Create" after "Preview" needs no second upload.
        self.data = self.data.copy()
        self.data["wnid_list"] = "\n".join(wnids)
        subtrees = {"auto": None, "yes": True, "no": False}[data.get("subtrees") or "auto"]
        return selection_resolve(
            synsets=[line for line in (data.get("synsets") or "").splitlines() if line.strip()],
            preset=data.get("preset") or "",
            wnid_list=wnids,
            include_subtrees=subtrees,
        )


class ProjectCreateForm(SelectionForm):
    # Checked on "Create" only, so "Preview" works before the project has a name.
    name = forms.CharField(max_length=200, required=False)
    slug = forms.SlugField(max_length=80, required=False, help_text="Made from the name if empty.")
    label_internal = forms.BooleanField(
        required=False, initial=True, label="Label internal synsets"
    )
    target_per_synset = forms.IntegerField(
        min_value=1, required=False, label="Target per synset",
        help_text="Accepted images wanted per synset; empty: the suggestion from the preview.",
    )  # fmt: skip
    images_per_hit = forms.IntegerField(min_value=1, max_value=200, initial=24)
    gold_per_hit = forms.IntegerField(min_value=0, max_value=50, initial=2)
    seed_size = forms.IntegerField(min_value=0, initial=50, label="Seed images per synset")
    min_votes = forms.IntegerField(min_value=1, initial=2)
    max_votes = forms.IntegerField(min_value=1, initial=10)
    accept_threshold = forms.FloatField(min_value=0.5, max_value=1.0, initial=0.95)
    reward_cents_per_hit = forms.IntegerField(min_value=0, initial=5)
    owners = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.filter(is_staff=True, is_active=True),
        required=False, help_text="You are always an owner.",
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip

    SETTINGS = ("images_per_hit", "gold_per_hit", "seed_size", "min_votes", "max_votes",
                "accept_threshold", "reward_cents_per_hit", "label_internal")  # fmt: skip


@staff_member_required
@require_http_methods(["GET", "POST"])
def project_create_page(request):
    """Pick synsets, preview what they cover, set the project up; nothing is saved until
    "Create project" succeeds."""
    form = ProjectCreateForm(request.POST or None, request.FILES or None)
    preview = None
    if request.method == "POST" and form.is_valid():
        try:
            selection = form.selection()
            preview = _preview(selection)
            if request.POST.get("action") == "create" and not form.cleaned_data["name"]:
                form.add_error("name", "Give the project a name.")
            elif request.POST.get("action") == "create":
                data = form.cleaned_data
                settings = {key: data[key] for key in ProjectCreateForm.SETTINGS}
                settings["target_per_synset"] = data["target_per_synset"] or (
                    selection.suggested_target(label_internal=data["label_internal"])
                )
                project = project_create(
                    name=data["name"],
                    slug=data["slug"] or None,
                    wnids=selection.wnids,
                    include_subtrees=False,  # the previewed selection, exactly
                    owners={request.user, *data["owners"]},
                    **settings,
                )
                items = Item.objects.filter(project=project).count()
                messages.success(
                    request,
                    f"Project “{project.name}” created over {len(selection.wnids)} synsets; "
                    f"{items} stored candidates became images to label. Collect more below.",
                )
                return redirect("labeling:project-collect", slug=project.slug)
        except ValidationError as error:
            for message in _messages(error):
                form.add_error(None, message)
    return render(
        request,
        "labeling/projects/create.html",
        {"form": form, "preview": preview, "label_internal_text": LABEL_INTERNAL_TEXT},
    )


def _preview(selection: Selection) -> dict:
    synsets = {s.wnid: s for s in Synset.objects.filter(wnid__in=selection.wnids[:200])}
    return {
        **selection.as_dict(),
        "roots_list": selection.roots,
        "rows": [
            {
                "synset": synsets[wnid],
                "internal": wnid in selection.internal,
                "stored": selection.stored.get(wnid, 0),
            }
            for wnid in selection.wnids[:200]
            if wnid in synsets
        ],  # fmt: skip
        "suggested_leaves_only": selection.suggested_target(label_internal=False),
    }


class ProjectSettingsForm(forms.Form):
    target_per_synset = forms.IntegerField(min_value=1, label="Target per synset")
    label_internal = forms.BooleanField(required=False, label="Label internal synsets")


@staff_member_required
@require_http_methods(["GET", "POST"])
def project_settings_page(request, slug: str):
    """The project's synsets — depth, leaf or internal, labelled or not, stored candidates and
    accepted images against the target — with the target and internal-synset settings, and a
    form to add synsets."""
    project = get_object_or_404(Project, slug=slug)
    can_edit = project_can_edit(project=project, user=request.user)
    settings_form = ProjectSettingsForm(
        initial={"target_per_synset": project.target_per_synset,
                 "label_internal": project.label_internal}
    )  # fmt: skip
    add_form = SelectionForm()
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only the project's owners may change it.")
        if request.POST.get("action") == "settings":
            settings_form = ProjectSettingsForm(request.POST)
            if settings_form.is_valid():
                project_update(project=project, **settings_form.cleaned_data)
                messages.success(request, "Settings saved.")
                return redirect("labeling:project-settings", slug=slug)
        else:
            add_form = SelectionForm(request.POST, request.FILES)
            if add_form.is_valid():
                try:
                    added = project_add_synsets(project=project, selection=add_form.selection())
                except ValidationError as error:
                    for message in _messages(error):
                        add_form.add_error(None, message)
                else:
                    messages.success(request, f"{added} synsets added; their stored candidates "
                                              "are now images to label.")  # fmt: skip
                    return redirect("labeling:project-settings", slug=slug)
    return render(
        request,
        "labeling/projects/settings.html",
        {
            "project": project,
            "can_edit": can_edit,
            "rows": _synset_rows(project),
            "settings_form": settings_form,
            "add_form": add_form,
            "label_internal_text": LABEL_INTERNAL_TEXT,
        },
    )


def _synset_rows(project: Project) -> list[dict]:
    wnids = list(project.project_synsets.values_list("synset_id", flat=True))
    internal = selection_internal(wnids)
    labelled = set(project_labelled_synsets(project=project))
    stored = stored_candidate_counts(wnids)
    items = {
        row["synset_id"]: row
        for row in Item.objects.filter(project=project)
        .values("synset_id")
        .annotate(n=Count("pk"), accepted=Count("pk", filter=Q(state=Item.State.ACCEPTED,
                                                                 is_gold=False)))
        .order_by()
    }  # fmt: skip
    synsets = Synset.objects.filter(wnid__in=wnids).order_by("depth", "wnid")
    return [
        {
            "synset": synset,
            "internal": synset.wnid in internal,
            "labelled": synset.wnid in labelled,
            "stored": stored.get(synset.wnid, 0),
            "items": items.get(synset.wnid, {}).get("n", 0),
            "accepted": items.get(synset.wnid, {}).get("accepted", 0),
            "percent": min(
                100,
                round(
                    100
                    * items.get(synset.wnid, {}).get("accepted", 0)
                    / max(1, project.target_per_synset)
                ),
            ),
        }  # fmt: skip
        for synset in synsets
    ]


class CollectForm(forms.Form):
    source = forms.ChoiceField(choices=list(SOURCE_LABELS.items()), widget=forms.RadioSelect)
    wnids = forms.MultipleChoiceField(
        required=False, label="Synsets",
        help_text="Empty: every synset of the project. An internal synset covers its subtree.",
    )  # fmt: skip
    limit_per_synset = forms.IntegerField(min_value=1, required=False)
    url_list = forms.FileField(required=False, allow_empty_file=True, label="URL list (CSV or TXT)")
    folder = forms.CharField(required=False, max_length=1000, label="Folder on the server")
    s3_bucket = forms.CharField(required=False, max_length=63, label="S3 bucket")
    s3_prefix = forms.CharField(required=False, max_length=1024, label="S3 prefix")
    s3_endpoint_url = forms.CharField(required=False, max_length=500, label="S3 endpoint URL")
    s3_region = forms.CharField(required=False, max_length=40, label="S3 region")

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        wnids = list(project.project_synsets.values_list("synset_id", flat=True))
        internal = selection_internal(wnids)
        synsets = Synset.objects.filter(wnid__in=wnids).order_by("depth", "wnid")
        self.fields["wnids"].choices = [
            (s.wnid, f"{s.name} ({s.wnid}){' — and its subtree' if s.wnid in internal else ''}")
            for s in synsets
        ]


@staff_member_required
@require_http_methods(["GET", "POST"])
def project_collect_page(request, slug: str):
    """Start a collection job for the project or some of its synsets; the job page shows live
    progress with the summary by reason. When it ends, its images become items."""
    project = get_object_or_404(Project, slug=slug)
    can_edit = project_can_edit(project=project, user=request.user)
    form = CollectForm(request.POST or None, request.FILES or None, project=project)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only the project's owners may collect for it.")
        if form.is_valid():
            data = form.cleaned_data
            try:
                job = project_collection_start(
                    project=project,
                    source=data["source"],
                    wnids=data["wnids"],
                    limit_per_synset=data["limit_per_synset"],
                    url_list=data["url_list"],
                    folder=data["folder"],
                    s3={key.removeprefix("s3_"): data[key]
                        for key in ("s3_bucket", "s3_prefix", "s3_endpoint_url", "s3_region")},
                    created_by=request.user,
                )  # fmt: skip
            except CollectionInputError as error:
                form.add_error(None, str(error))
            else:
                return redirect("candidates:job", pk=job.pk)
    wnids = set(project.project_synsets.values_list("synset_id", flat=True))
    jobs = [job for job in CollectionJob.objects.order_by("-id")[:200]
            if wnids.intersection(job.wnids)][:20]  # fmt: skip
    return render(
        request,
        "labeling/projects/collect.html",
        {
            "project": project,
            "can_edit": can_edit,
            "form": form,
            "jobs": jobs,
            "folder_roots": django_settings.CANDIDATES_FOLDER_ROOTS,
            "flickr_ready": bool(django_settings.FLICKR_API_KEY),
            "url_list_max_mb": django_settings.CANDIDATES_URL_LIST_MAX_BYTES // (1024 * 1024),
            "items": Item.objects.filter(project=project).count(),
        },
    )


@staff_member_required
@require_http_methods(["GET", "POST"])
def project_gold_page(request, slug: str):
    """Review proposed gold on the keyboard grid (gold yes / gold no / skip), browse any image
    of the project to add gold, or add a candidate by its id."""
    project = get_object_or_404(Project, slug=slug)
    can_edit = project_can_edit(project=project, user=request.user)
    mode = request.GET.get("mode") if request.GET.get("mode") in {"proposals", "items"} else (
        "proposals")  # fmt: skip
    synset = request.GET.get("synset") or ""
    if synset and not project.project_synsets.filter(synset_id=synset).exists():
        synset = ""
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only the project's owners may set gold.")
        label = request.POST.get("label")
        try:
            candidate_id = int(request.POST.get("candidate", ""))
            if label not in {"yes", "no"}:
                raise ValidationError("Choose gold yes or gold no.")
            gold_add(project=project, candidate_id=candidate_id, label=label == "yes",
                     reviewer=request.user)  # fmt: skip
        except ValueError:
            messages.error(request, "Give the candidate's number (an integer).")
        except ValidationError as error:
            for message in _messages(error):
                messages.error(request, message)
        else:
            messages.success(request, f"Candidate {candidate_id} is now gold {label}.")
        return redirect(request.get_full_path())
    batch = gold_batch(project=project, mode=mode, synset_id=synset or None) if can_edit else None
    gold = (
        Item.objects.filter(project=project, is_gold=True)
        .select_related("synset")
        .order_by("-updated_at")[:48]
    )
    return render(
        request,
        "labeling/projects/gold.html",
        {
            "project": project,
            "can_edit": can_edit,
            "mode": mode,
            "synset": synset,
            "synsets": Synset.objects.filter(
                wnid__in=project.project_synsets.values("synset_id")
            ).order_by("depth", "wnid")[:500],
            "batch": batch,
            "summary": gold_summary(project=project),
            "gold": gold,
        },
    )


@staff_member_required
@require_http_methods(["GET", "POST"])
def api_tokens_page(request):
    """A staff user's API token for scripts (``Authorization: Token <key>``): create, replace,
    revoke. The key is shown once, when it is made. Annotators get no token: labeling is done
    in the grid, where gold and timing checks see it."""
    new_key = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action in {"create", "replace"}:
            Token.objects.filter(user=request.user).delete()
            new_key = Token.objects.create(user=request.user).key
            messages.success(request, "New token made: copy it now, it is not shown again.")
        elif action == "revoke":
            deleted, _ = Token.objects.filter(user=request.user).delete()
            messages.success(request, "Token revoked." if deleted else "You had no token.")
            return redirect("labeling:api-tokens")
        else:
            messages.error(request, "Unknown action.")
    token = Token.objects.filter(user=request.user).first()
    return render(request, "labeling/projects/tokens.html", {"token": token, "new_key": new_key})
