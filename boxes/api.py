"""REST API of the box stage: next box task, draw, verify, release (workers of the project), and
a project's box progress and costs (staff)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api import WorkerApi, assignment_project_check, submission_refusal
from labeling.models import Project
from labeling.permissions import IsStaff, can_label

from .audit import box_audit_draw, box_audit_next
from .models import BoxAssignment, TaskKind
from .scheduler import box_assignment_release, box_task_next_for_worker
from .selectors import box_assignment_payload, box_costs, box_progress
from .services import (
    AssignmentNotFound,
    BoxSubmissionError,
    box_draw_submit,
    box_verify_submit,
)


class BoxSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    x = serializers.IntegerField()
    y = serializers.IntegerField()
    w = serializers.IntegerField()
    h = serializers.IntegerField()


class BoxAssignmentSerializer(serializers.Serializer):
    class TaskSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        image_url = serializers.CharField()
        width = serializers.IntegerField()
        height = serializers.IntegerField()
        boxes = BoxSerializer(many=True)

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=TaskKind.choices)
    project = serializers.CharField()
    lease_expires_at = serializers.DateTimeField()
    instruction = serializers.CharField()
    submit_url = serializers.CharField()
    release_url = serializers.CharField()
    synset = serializers.DictField()
    tasks = TaskSerializer(many=True)


class BoxTaskNextApi(WorkerApi):
    """Lease the worker's next box task of ``kind`` (draw, quality or coverage); 204 when none."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "BoxTaskNextInput"

        kind = serializers.ChoiceField(choices=TaskKind.choices)
        exclude = serializers.ListField(
            child=serializers.IntegerField(), required=False, default=list, max_length=10
        )

    @extend_schema(
        request=InputSerializer,
        responses={200: BoxAssignmentSerializer, 204: OpenApiResponse(description="No work")},
    )
    def post(self, request, slug: str):
        project = get_object_or_404(Project, slug=slug, active=True)
        if not can_label(request.user, project):
            raise PermissionDenied("you are not an annotator of this project")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assignment = box_task_next_for_worker(
            project=project, worker=request.user, kind=data.validated_data["kind"],
            exclude=data.validated_data["exclude"],
        )  # fmt: skip
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(BoxAssignmentSerializer(box_assignment_payload(assignment=assignment)).data)


class BoxSubmitResultSerializer(serializers.Serializer):
    class Meta:
        ref_name = "BoxSubmitResult"

    assignment_id = serializers.IntegerField()
    kind = serializers.CharField()
    answers_recorded = serializers.IntegerField()
    reward_cents = serializers.IntegerField()
    box_id = serializers.IntegerField(allow_null=True)
    nothing_left = serializers.BooleanField()


class BoxDrawApi(WorkerApi):
    """Submit one drawn box (image pixels) or ``nothing_left``. Idempotent on a re-post."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "BoxDrawInput"

        task = serializers.IntegerField()
        # Checked by the service (whole pixels, inside the image, big enough).
        box = serializers.JSONField(required=False, allow_null=True, default=None)
        nothing_left = serializers.BooleanField(required=False, default=False)
        duration_ms = serializers.IntegerField(min_value=0, max_value=24 * 3600 * 1000)

    @extend_schema(request=InputSerializer, responses={200: BoxSubmitResultSerializer})
    def post(self, request, assignment_id: int):
        assignment_project_check(BoxAssignment, request.user, assignment_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            result = box_draw_submit(
                assignment_id=assignment_id, worker=request.user, task_id=values["task"],
                box=values["box"], nothing_left=values["nothing_left"],
                duration_ms=values["duration_ms"],
            )  # fmt: skip
        except BoxSubmissionError as error:
            return submission_refusal(error)
        return Response(BoxSubmitResultSerializer(result.as_dict()).data)


class BoxVerifyApi(WorkerApi):
    """Submit yes/no answers for every task of a quality or coverage assignment."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "BoxVerifyInput"

        yes = serializers.ListField(child=serializers.IntegerField(), max_length=200)
        no = serializers.ListField(child=serializers.IntegerField(), max_length=200)
        duration_ms = serializers.IntegerField(min_value=0, max_value=24 * 3600 * 1000)

    @extend_schema(request=InputSerializer, responses={200: BoxSubmitResultSerializer})
    def post(self, request, assignment_id: int):
        assignment_project_check(BoxAssignment, request.user, assignment_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        kind = (
            BoxAssignment.objects.filter(pk=assignment_id, worker=request.user)
            .values_list("kind", flat=True)
            .first()
        )
        try:
            result = box_verify_submit(
                assignment_id=assignment_id, worker=request.user, kind=kind or "",
                **data.validated_data,
            )  # fmt: skip
        except BoxSubmissionError as error:
            if kind is None:
                return submission_refusal(
                    AssignmentNotFound("no such box assignment for this worker")
                )
            return submission_refusal(error)
        return Response(BoxSubmitResultSerializer(result.as_dict()).data)


class BoxReleaseApi(WorkerApi):
    """Give up a leased box assignment: its tasks return to the pool at once."""

    @extend_schema(request=None, responses={200: OpenApiResponse(description="released or not")})
    def post(self, request, assignment_id: int):
        assignment_project_check(BoxAssignment, request.user, assignment_id)
        released = box_assignment_release(assignment_id=assignment_id, worker=request.user)
        return Response({"released": released})


class BoxProgressApi(APIView):
    """A project's box progress per synset, agreement and costs per task type (staff)."""

    permission_classes = [IsStaff]

    @extend_schema(responses={200: OpenApiResponse(description="progress and costs")})
    def get(self, request, slug: str):
        project = get_object_or_404(Project, slug=slug)
        return Response({**box_progress(project=project), "costs": box_costs(project=project)})


class BoxAuditNextApi(APIView):
    """Staff: the reviewer's next sampled covered image to box (204 when the sample is done).
    Accepts and ignores the draw page's ``kind`` and ``exclude``: an image comes back until the
    reviewer says nothing is left on it."""

    permission_classes = [IsStaff]

    @extend_schema(request=None, responses={200: BoxAssignmentSerializer, 204: None})
    def post(self, request, slug: str):
        project = get_object_or_404(Project, slug=slug)
        payload = box_audit_next(project=project, reviewer=request.user)
        if payload is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(payload)


class BoxAuditDrawApi(APIView):
    """Staff: add one reviewer box to a sampled image, or finish it with ``nothing_left``."""

    permission_classes = [IsStaff]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "BoxAuditDrawInput"

        task = serializers.IntegerField(required=False)
        box = serializers.JSONField(required=False, allow_null=True, default=None)
        nothing_left = serializers.BooleanField(required=False, default=False)
        duration_ms = serializers.IntegerField(required=False, min_value=0)

    @extend_schema(request=InputSerializer, responses={200: OpenApiResponse(description="saved")})
    def post(self, request, slug: str, image_id: int):
        project = get_object_or_404(Project, slug=slug)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            review = box_audit_draw(
                project=project, image_id=image_id, reviewer=request.user,
                box=data.validated_data["box"], nothing_left=data.validated_data["nothing_left"],
            )  # fmt: skip
        except BoxSubmissionError as error:
            return submission_refusal(error)
        return Response({"boxes": len(review.boxes), "done": review.done})
