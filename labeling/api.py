"""REST API of the labeling app: next HIT, submit, my stats (annotators and staff, throttled per
worker), projects (staff; edits by project owners) and invite links (project owners)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import CodedError
from config.throttling import ScopedRateThrottle

from .hits.scheduler import assignment_release, hit_next_for_worker
from .hits.selectors import hit_payload, worker_stats
from .hits.submission import (
    AssignmentNotFound,
    NotALabeler,
    SubmissionError,
    assignment_submit,
)
from .invites import DEFAULT_INVITE_DAYS, MAX_INVITE_DAYS, invite_create, invite_resolve
from .models import Assignment, LeasedAssignment, Project
from .permissions import IsAnnotatorOrStaff, IsStaff, can_label, label_access
from .projects import PROJECT_SETTINGS, project_can_edit, project_create, project_update
from .selection import PRESET_NAMES

# Refusals caused by time or by another request: the client is told 409 (conflict).
REFUSAL_CONFLICTS = frozenset({"lease_expired", "already_submitted", "project_closed"})


def assignment_project_check(
    model: type[LeasedAssignment], user: AbstractBaseUser, assignment_id: int
) -> None:
    """The worker's own assignment (of ``model``) must belong to a project they may still label
    through this API: a panel participant's or MTurk worker's HIT goes through their crowd's
    flow, never here. (Someone else's assignment is left to the service, which answers 404.)"""
    assignment = (
        model.objects.select_related("project")
        .annotate(**label_access(user, project="project_id"))
        .filter(pk=assignment_id, worker=user)
        .first()
    )
    if assignment is not None and not can_label(
        user, assignment.project, access=(assignment.label_owner, assignment.label_member)
    ):
        raise PermissionDenied("you are not an annotator of this project")


def submission_refusal(error: CodedError) -> Response:
    """The answer to a refused submission (any error with a stable ``code`` and a ``message``).
    Every refusal is final: re-posting the same answers can never succeed, so the client
    releases the assignment (POST …/release/) and moves on to the next one."""
    body = {"code": error.code, "detail": error.message, "final": True}
    if error.code == AssignmentNotFound.code:
        return Response(body, status=404)
    return Response(body, status=409 if error.code in REFUSAL_CONFLICTS else 400)


# A worker's endpoint: annotators and staff, throttled per worker. (A comment, not a docstring:
# the OpenAPI schema would show it for a subclass without one.)
class WorkerApi(APIView):
    permission_classes = [IsAnnotatorOrStaff]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "worker"


class HitSerializer(serializers.Serializer):
    class SynsetSerializer(serializers.Serializer):
        class ParentSerializer(serializers.Serializer):
            wnid = serializers.CharField()
            name = serializers.CharField()

        wnid = serializers.CharField()
        name = serializers.CharField()
        lemmas = serializers.ListField(child=serializers.CharField())
        gloss = serializers.CharField()
        wikipedia_url = serializers.URLField()
        parent = ParentSerializer(allow_null=True)

    class ItemSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        thumbnail_url = serializers.CharField()
        image_url = serializers.CharField()

    id = serializers.IntegerField()
    project = serializers.CharField()
    lease_expires_at = serializers.DateTimeField()
    submit_url = serializers.CharField()
    release_url = serializers.CharField()
    synset = SynsetSerializer()
    items = ItemSerializer(many=True)


class HitNextApi(WorkerApi):
    """Lease the worker's next HIT in a project (or return their live one).

    ``exclude`` lists assignment ids the client already holds, to prefetch the following HIT.
    204 when there is nothing to label for this worker.
    """

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "HitNextInput"

        exclude = serializers.ListField(
            child=serializers.IntegerField(), required=False, default=list, max_length=10
        )

    @extend_schema(
        request=InputSerializer,
        responses={200: HitSerializer, 204: OpenApiResponse(description="No work left")},
    )
    def post(self, request, slug: str):
        project = get_object_or_404(
            Project.objects.annotate(**label_access(request.user)), slug=slug, active=True
        )
        if not can_label(request.user, project, access=(project.label_owner, project.label_member)):
            raise PermissionDenied("you are not an annotator of this project")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assignment = hit_next_for_worker(
            project=project, worker=request.user, exclude=data.validated_data["exclude"]
        )
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(HitSerializer(hit_payload(assignment=assignment)).data)


class AssignmentSubmitApi(WorkerApi):
    """Submit the answers of one assignment. Idempotent: a re-post returns the same result."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AssignmentSubmitInput"

        selected = serializers.ListField(child=serializers.IntegerField(), max_length=500)
        unselected = serializers.ListField(child=serializers.IntegerField(), max_length=500)
        duration_ms = serializers.IntegerField(min_value=0, max_value=24 * 3600 * 1000)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AssignmentSubmitResult"

        assignment_id = serializers.IntegerField()
        votes_recorded = serializers.IntegerField()
        reward_cents = serializers.IntegerField()
        counted = serializers.BooleanField()
        flags = serializers.ListField(child=serializers.CharField())
        blocked = serializers.BooleanField()
        hits_submitted = serializers.IntegerField(
            help_text="The worker's HITs submitted over every project, this one included."
        )
        earnings_cents = serializers.IntegerField(
            help_text="The worker's earnings over every project, this HIT included."
        )

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer})
    def post(self, request, assignment_id: int):
        data = self.InputSerializer(data=request.data)
        if not data.is_valid():
            # The project is checked before the body, as on every worker request.
            assignment_project_check(Assignment, request.user, assignment_id)
            raise ApiValidationError(data.errors)
        try:
            # The project check is made by the statement that locks the assignment.
            result = assignment_submit(
                assignment_id=assignment_id,
                worker=request.user,
                labeler_check=True,
                **data.validated_data,
            )
        except NotALabeler as error:
            raise PermissionDenied(error.message) from None
        except SubmissionError as error:
            return submission_refusal(error)
        return Response(self.OutputSerializer(result.as_dict()).data)


class AssignmentReleaseApi(WorkerApi):
    """Give up a leased HIT: its images return to the pool at once (they stay "shown" to this
    worker). The page calls this when a submission was refused for good."""

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AssignmentReleaseResult"

        released = serializers.BooleanField()

    @extend_schema(request=None, responses={200: OutputSerializer})
    def post(self, request, assignment_id: int):
        assignment_project_check(Assignment, request.user, assignment_id)
        released = assignment_release(assignment_id=assignment_id, worker=request.user)
        return Response(self.OutputSerializer({"released": released}).data)


class MeStatsApi(WorkerApi):
    """The signed-in worker's HITs, votes, gold accuracy (smoothed) and earnings."""

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "WorkerStats"

        hits_submitted = serializers.IntegerField()
        votes = serializers.IntegerField()
        votes_counted = serializers.IntegerField()
        gold_answers = serializers.IntegerField()
        gold_accuracy = serializers.FloatField(allow_null=True)
        earnings_cents = serializers.IntegerField()
        blocked = serializers.BooleanField()

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request):
        return Response(self.OutputSerializer(worker_stats(worker=request.user)).data)


class ProjectOutputSerializer(serializers.ModelSerializer):
    synsets = serializers.SerializerMethodField()
    owners = serializers.SlugRelatedField(many=True, read_only=True, slug_field="username")

    class Meta:
        model = Project
        fields = ["id", "name", "slug", "owners", "synsets", *PROJECT_SETTINGS, "created_at"]

    def get_synsets(self, project) -> list[str]:
        return [ps.synset_id for ps in project.project_synsets.all()]


class _ProjectSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["name", *PROJECT_SETTINGS]
        extra_kwargs = {field: {"required": False} for field in ["name", *PROJECT_SETTINGS]}


def _validation_error(error: DjangoValidationError) -> ApiValidationError:
    detail = error.message_dict if hasattr(error, "error_dict") else error.messages
    return ApiValidationError(detail)


class ProjectListApi(APIView):
    """List projects, or create one over synsets chosen one way (``synsets``, ``preset`` or
    ``wnid_list``); the candidates already stored for them become items at once.
    Permission: staff; the creator becomes an owner."""

    permission_classes = [IsStaff]

    class InputSerializer(_ProjectSettingsSerializer):
        synsets = serializers.ListField(
            child=serializers.CharField(max_length=100), required=False, default=list,
            max_length=100,
        )  # fmt: skip
        preset = serializers.ChoiceField(
            choices=PRESET_NAMES, required=False, allow_blank=True, default=""
        )
        wnid_list = serializers.ListField(
            child=serializers.CharField(max_length=20), required=False, default=list,
            max_length=5000,
        )  # fmt: skip
        include_subtrees = serializers.BooleanField(required=False, allow_null=True, default=None)
        slug = serializers.SlugField(required=False, max_length=80)

        class Meta(_ProjectSettingsSerializer.Meta):
            ref_name = "ProjectCreateInput"
            fields = [
                *_ProjectSettingsSerializer.Meta.fields,
                "synsets", "preset", "wnid_list", "include_subtrees", "slug",
            ]  # fmt: skip
            extra_kwargs = {
                **_ProjectSettingsSerializer.Meta.extra_kwargs, "name": {"required": True},
            }  # fmt: skip

    @extend_schema(responses={200: ProjectOutputSerializer(many=True)})
    def get(self, request):
        projects = Project.objects.prefetch_related("owners", "project_synsets").order_by("name")
        return Response(ProjectOutputSerializer(projects, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: ProjectOutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        specs = fields.pop("synsets")
        try:
            project = project_create(synset_specs=specs, owners=[request.user], **fields)
        except DjangoValidationError as error:
            raise _validation_error(error) from None
        return Response(ProjectOutputSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailApi(APIView):
    """One project; PATCH its settings. Permission: staff read; owners and superusers edit."""

    permission_classes = [IsStaff]

    class InputSerializer(_ProjectSettingsSerializer):
        class Meta(_ProjectSettingsSerializer.Meta):
            ref_name = "ProjectUpdateInput"

    @extend_schema(responses={200: ProjectOutputSerializer})
    def get(self, request, slug: str):
        project = get_object_or_404(Project, slug=slug)
        return Response(ProjectOutputSerializer(project).data)

    @extend_schema(request=InputSerializer, responses={200: ProjectOutputSerializer})
    def patch(self, request, slug: str):
        project = get_object_or_404(Project, slug=slug)
        if not project_can_edit(project=project, user=request.user):
            raise PermissionDenied("only the project's owners may edit it")
        data = self.InputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        try:
            project = project_update(project=project, **data.validated_data)
        except DjangoValidationError as error:
            raise _validation_error(error) from None
        return Response(ProjectOutputSerializer(project).data)


class ProjectInviteApi(APIView):
    """Create an invite link for the built-in crowd: whoever signs up through it becomes an
    annotator. Permission: the project's owners and superusers. Links are signed and expire;
    they have no per-link use limit (see labeling/invites.py)."""

    permission_classes = [IsStaff]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ProjectInviteInput"

        days = serializers.IntegerField(
            min_value=1, max_value=MAX_INVITE_DAYS, default=DEFAULT_INVITE_DAYS
        )

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ProjectInvite"

        url = serializers.URLField()
        token = serializers.CharField()
        expires_at = serializers.DateTimeField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request, slug: str):
        project = get_object_or_404(Project, slug=slug)
        if not project_can_edit(project=project, user=request.user):
            raise PermissionDenied("only the project's owners may invite annotators")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token = invite_create(project=project, days=data.validated_data["days"])
        invite = invite_resolve(token=token)
        out = {
            "url": request.build_absolute_uri(reverse("labeling:invite", args=[token])),
            "token": token,
            "expires_at": invite.expires_at,
        }
        return Response(self.OutputSerializer(out).data, status=status.HTTP_201_CREATED)
