"""The box audit: a reviewer boxes sampled covered images; crowd boxes are scored by IoU against
the reviewer's, reported with Wilson intervals."""

from __future__ import annotations

import pytest

from boxes.audit import box_audit_counts, box_audit_draw, box_audit_next, box_audit_sample
from boxes.models import Box, BoxImage
from boxes.services import MalformedBox
from dashboards.audit.box_report import box_audit_report
from dashboards.audit.maths import wilson_interval
from tests.boxes.factories import boxed_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def covered(db):
    """Two covered images; the crowd boxed (10, 10, 40, 40) and (60, 5, 30, 30) on each."""
    project = boxed_project(images=3)
    images = list(BoxImage.objects.filter(project=project).order_by("pk"))[:2]
    for image in images:
        image.state = BoxImage.State.COVERED
        image.save()
        Box.objects.create(image=image, x=10, y=10, w=40, h=40, state="accepted")
        Box.objects.create(image=image, x=60, y=5, w=30, h=30, state="accepted")
    return project, images


def test_sample_is_reproducible_and_only_covered_images(covered):
    project, images = covered
    sample = box_audit_sample(project=project, size=10, seed=3)
    assert sorted(sample) == sorted(i.pk for i in images)
    assert box_audit_sample(project=project, size=10, seed=3) == sample


def test_reviewer_boxes_are_scored_against_the_crowds(covered, admin_user):
    project, images = covered
    # The reviewer is given the sample in its (hash) order, not in id order.
    order = box_audit_sample(project=project)
    for image in sorted(images, key=lambda i: order.index(i.pk)):
        # Exact on the first instance (IoU 1); the second one 6 px off (IoU ≈ 0.67).
        box_audit_draw(project=project, image_id=image.pk, reviewer=admin_user,
                       box={"x": 10, "y": 10, "w": 40, "h": 40})  # fmt: skip
        box_audit_draw(project=project, image_id=image.pk, reviewer=admin_user,
                       box={"x": 66, "y": 5, "w": 30, "h": 30})  # fmt: skip
        payload = box_audit_next(project=project, reviewer=admin_user)
        assert payload["id"] == image.pk and len(payload["tasks"][0]["boxes"]) == 2
        box_audit_draw(project=project, image_id=image.pk, reviewer=admin_user, box=None,
                       nothing_left=True)  # fmt: skip
    assert box_audit_next(project=project, reviewer=admin_user) is None
    counts = box_audit_counts(project=project)
    assert counts == {
        "reviews": 2, "boxes": 4, "instances": 4, "instances_found": 4,
        "at_0.5": 4, "at_0.7": 2,
    }  # fmt: skip
    report = box_audit_report(project=project)
    at_07 = report["rows"][1]
    assert (at_07["successes"], at_07["n"]) == (2, 4)
    assert (at_07["low"], at_07["high"]) == wilson_interval(2, 4)


def test_audit_refuses_bad_boxes_and_images_outside_the_sample(covered, admin_user):
    project, images = covered
    with pytest.raises(MalformedBox, match="inside the image"):
        box_audit_draw(project=project, image_id=images[0].pk, reviewer=admin_user,
                       box={"x": 90, "y": 0, "w": 20, "h": 20})  # fmt: skip
    waiting = BoxImage.objects.filter(project=project, state="drawing").first()
    with pytest.raises(MalformedBox, match="audit sample"):
        box_audit_draw(project=project, image_id=waiting.pk, reviewer=admin_user,
                       box={"x": 0, "y": 0, "w": 20, "h": 20})  # fmt: skip
    assert box_audit_counts(project=project)["reviews"] == 0


def test_audit_pages_are_for_staff(covered, admin_user, annotator, client):
    project, _ = covered
    client.force_login(annotator)
    assert client.get(f"/boxes/{project.slug}/audit/").status_code == 403
    assert client.get(f"/dashboards/boxes/{project.slug}/audit/").status_code == 403
    client.force_login(admin_user)
    assert client.get(f"/boxes/{project.slug}/audit/").status_code == 200
    page = client.get(f"/dashboards/boxes/{project.slug}/audit/")
    assert page.status_code == 200
    assert "IoU ≥ 0.7" in page.content.decode()
    assert client.get(f"/boxes/{project.slug}/").status_code == 200
