"""The box audit: a reviewer boxes every instance of a reproducible sample of covered images,
without seeing the crowd's boxes, and the crowd's accepted boxes are scored against the
reviewer's by IoU (the share at IoU ≥ 0.5 and ≥ 0.7; dashboards add the Wilson intervals).

The sample is "bottom-k by hash" of (seed, image id): uniform, reproducible, and an image stays
in the sample as more images are covered.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.urls import reverse

from labeling.models import Project

from .geometry import best_iou, match_greedy
from .models import Box, BoxAuditReview, BoxImage
from .project_settings import box_settings_get
from .selectors import synset_summary
from .services import MalformedBox, box_checked

DEFAULT_SAMPLE = 50
THRESHOLDS = (0.5, 0.7)


def _rank(seed: int | str, image_id: int) -> int:
    digest = hashlib.blake2b(f"{seed}\x1f{image_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def box_audit_sample(
    *, project: Project, size: int = DEFAULT_SAMPLE, seed: int | str = 0
) -> list[int]:
    """Ids of ``size`` covered images drawn uniformly and reproducibly from ``seed``."""
    ids = BoxImage.objects.filter(
        project=project, state=BoxImage.State.COVERED, is_gold=False
    ).values_list("pk", flat=True)
    return sorted(ids.iterator(), key=lambda pk: _rank(seed, pk))[:size]


def box_audit_next(
    *, project: Project, reviewer: AbstractBaseUser, size: int = DEFAULT_SAMPLE, seed: int | str = 0
) -> dict | None:
    """The reviewer's next sampled image not finished yet, in the draw page's shape (their own
    boxes so far are the grey ones); None when the sample is done."""
    done = set(
        BoxAuditReview.objects.filter(project=project, reviewer=reviewer, done=True).values_list(
            "image_id", flat=True
        )
    )
    for image_id in box_audit_sample(project=project, size=size, seed=seed):
        if image_id in done:
            continue
        image = BoxImage.objects.select_related("item").get(pk=image_id)
        review = BoxAuditReview.objects.filter(image=image, reviewer=reviewer).first()
        boxes = review.boxes if review else []
        return {
            "id": image.pk,
            "kind": "audit",
            "project": project.slug,
            "instruction": "Audit: box every instance, one box at a time; press n when done.",
            "submit_url": reverse("api-box-audit-draw", args=[project.slug, image.pk]),
            "release_url": reverse("api-box-audit-next", args=[project.slug]),
            "synset": synset_summary(image.synset_id),
            "tasks": [
                {
                    "id": image.pk,
                    "image_url": reverse("labeling:image", args=[image.item.candidate_id]),
                    "width": image.width,
                    "height": image.height,
                    "boxes": [
                        {"id": i, "x": b[0], "y": b[1], "w": b[2], "h": b[3]}
                        for i, b in enumerate(boxes)
                    ],
                }
            ],
        }
    return None


@transaction.atomic
def box_audit_draw(
    *, project: Project, image_id: int, reviewer: AbstractBaseUser, box: dict | None,
    nothing_left: bool = False,
) -> BoxAuditReview:  # fmt: skip
    """Add one reviewer box to a sampled image, or finish it ("nothing left")."""
    image = BoxImage.objects.filter(project=project, pk=image_id, is_gold=False).first()
    if image is None or image.state != BoxImage.State.COVERED:
        raise MalformedBox("that image is not in this project's audit sample")
    if (box is None) == (not nothing_left):
        raise MalformedBox("send either one box or nothing_left, not both or neither")
    review, _ = BoxAuditReview.objects.select_for_update().get_or_create(
        image=image, reviewer=reviewer, defaults={"project": project}
    )
    if review.done:
        raise MalformedBox("this image's review is finished")
    if box is not None:
        parsed = box_checked(box, image=image, config=box_settings_get(project=project))
        review.boxes = [*review.boxes, list(asdict(parsed).values())]
    else:
        review.done = True
    review.save(update_fields=["boxes", "done", "updated_at"])
    return review


def box_audit_counts(*, project: Project) -> dict:
    """Over the finished reviews: crowd boxes scored by their best IoU with the reviewer's boxes
    (``at_0.5``, ``at_0.7`` of ``boxes``), and the reviewer's instances the crowd found (one-to-one
    at IoU ≥ 0.5: ``instances_found`` of ``instances``)."""
    reviews = BoxAuditReview.objects.filter(project=project, done=True)
    crowd: dict[int, list[tuple[int, int, int, int]]] = {}
    image_ids = list(reviews.values_list("image_id", flat=True).distinct())
    for image_id, x, y, w, h in Box.objects.filter(
        image_id__in=image_ids, state=Box.State.ACCEPTED
    ).values_list("image_id", "x", "y", "w", "h"):
        crowd.setdefault(image_id, []).append((x, y, w, h))
    counts = {"reviews": 0, "boxes": 0, "instances": 0, "instances_found": 0}
    counts |= {f"at_{t}": 0 for t in THRESHOLDS}
    for review in reviews:
        theirs = [tuple(b) for b in review.boxes]
        ours = crowd.get(review.image_id, [])
        counts["reviews"] += 1
        counts["instances"] += len(theirs)
        counts["instances_found"] += len(match_greedy(ours, theirs, threshold=THRESHOLDS[0]))
        for box in ours:
            counts["boxes"] += 1
            value = best_iou(box, theirs)
            for t in THRESHOLDS:
                counts[f"at_{t}"] += value >= t
    return counts
